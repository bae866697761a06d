//! The commands people type, a file per verb group. Their output is the product, so this
//! module prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use profile_core::{AddressKind, Passphrase};

use crate::local::session::{open_store, prove_passphrase};
use crate::local::store::now;
use crate::manifest::{self, Browser, EXTENSION_ID};

/// Personal Profile's native-messaging host.
///
/// Browsers start it with the calling extension's origin as its argument; people use the
/// subcommands below.
/// `println!` for what a command prints. A reader that went away (`profile-host log | head -1`)
/// loses the rest of the output, and the command still finishes its work and exits as it would
/// have: `println!` would panic on the closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod account;
mod address;
mod data;

mod install;
mod lock;
mod server;
mod status;

#[derive(Debug, Parser)]
#[command(name = "profile-host", version, about, long_about)]
pub struct Cli {
    /// The host's data dir (default: the OS's per-user data dir, `personal-profile`).
    #[arg(long, global = true, env = "PROFILE_HOST_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install the host manifest so browsers can start this host.
    Install {
        #[command(flatten)]
        target: Target,
        /// The extension allowed to talk to this host.
        #[arg(long, default_value = EXTENSION_ID, value_name = "ID")]
        extension_id: String,
    },
    /// Remove the host manifest.
    Uninstall {
        #[command(flatten)]
        target: Target,
    },
    /// Check manifests, the OS keystore and the state file; exits non-zero on any fault.
    Doctor {
        #[command(flatten)]
        target: Target,
        /// The extension the manifests must allow (and nothing else).
        #[arg(long, default_value = EXTENSION_ID, value_name = "ID")]
        extension_id: String,
    },
    /// Show what the host keeps (no secrets).
    Status,
    /// The address book: list, show, add, change, remove addresses and choose the defaults.
    #[command(subcommand)]
    Address(AddressCommand),
    /// Everything the profile keeps, by category (identity, addresses, receipts, medical,
    /// devices, bookmarks, contacts, vehicles): list, show, set, remove, import.
    #[command(subcommand)]
    Data(DataCommand),
    /// Show the disclosure log: what left to which site, and when.
    Log {
        /// How many entries, newest first.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
    },
    /// Set or change the passphrase that `unlock` asks for.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Lock the profile: sites get nothing until it is unlocked again.
    Lock,
    /// Unlock the profile with its passphrase (typed without echo, or one line on stdin). On a
    /// device paired with a one-time ticket, this also opens the synced vault.
    Unlock,
    /// List the accounts you made at sites with this profile, or remove one.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Pair with your profile server: with your email and your profile's passphrase (typed
    /// without echo, or one line on stdin), or with a one-time ticket from its operator.
    /// Addresses and accounts then sync through your end-to-end encrypted vault.
    Pair {
        /// Your profile URL (`https://…/u/ID`), as `profile-server admin create-user` printed it.
        profile_url: String,
        /// The email your profile was created with; its passphrase is asked for next.
        #[arg(long, required_unless_present = "ticket", conflicts_with = "ticket")]
        email: Option<String>,
        /// A one-time ticket (`profile-server admin issue-ticket`); the vault then opens at the
        /// first `unlock` with your passphrase. (Tickets may start with `-`.)
        #[arg(long, allow_hyphen_values = true)]
        ticket: Option<String>,
        /// Pair even though the server offers an older copy of the profile than this device saw
        /// before (a server restored from a backup): what this device holds is merged into it.
        #[arg(long)]
        accept_older_vault: bool,
    },
    /// Sign this device out of the profile server; what is cached here stays.
    Unpair,
    /// Sync with the profile server now.
    Sync,
    /// List the devices paired with your profile, or sign one out.
    Devices {
        /// Sign this device out (its id from the list; ids may start with `-`).
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        revoke: Option<String>,
    },
    /// Lock the profile after this long without a request (`15m`, `1h`), or `off`. Needs a
    /// passphrase; an unlock lasts 12 hours at most either way.
    AutoLock {
        /// How long without a request before it locks (`15m`, `1h`, `90s`), or `off`.
        #[arg(value_parser = idle_time, value_name = "DURATION|off")]
        after: u64,
    },
}

fn idle_time(text: &str) -> Result<u64, String> {
    if text == "off" {
        return Ok(0);
    }
    let after = humantime::parse_duration(text).map_err(|e| format!("{e} (try 15m, 1h or off)"))?;
    if after.is_zero() {
        return Err("use `off` to turn auto-lock off".into());
    }
    Ok(after.as_secs().max(1))
}

#[derive(Debug, Args)]
struct Target {
    /// Which browsers (repeatable); default: every browser whose profile directory exists.
    #[arg(long = "browser", value_enum, value_name = "BROWSER")]
    browsers: Vec<Browser>,
    /// A Chromium-family `--user-data-dir`: the manifest goes to DIR/NativeMessagingHosts/.
    #[arg(long, value_name = "DIR")]
    user_data_dir: Option<PathBuf>,
}

impl Target {
    fn browsers(&self) -> Vec<Browser> {
        if !self.browsers.is_empty() {
            return self.browsers.clone();
        }
        if self.user_data_dir.is_some() {
            return vec![Browser::Chromium];
        }
        Browser::ALL
            .into_iter()
            .filter(|&b| {
                manifest::manifest_path(b, None)
                    .is_ok_and(|p| p.parent().and_then(Path::parent).is_some_and(Path::is_dir))
            })
            .collect()
    }
}

#[derive(Debug, Subcommand)]
enum AddressCommand {
    /// List the saved addresses: id, label, which kinds each is the default of, and its lines.
    List,
    /// Print a saved address as JSON: `shipping` or `billing` for that kind's default, or an
    /// address's id (as `address list` shows it); without one, the whole address book.
    Show {
        /// `shipping`, `billing`, or an address's id.
        #[arg(value_name = "ID|KIND")]
        which: Option<String>,
    },
    /// Add an address to the book. Fields as flags, or `--json -` to read one JSON object from
    /// stdin; checked against the country's rules (its required fields, postal-code pattern and
    /// regions; the phone is kept in E.164). The first address becomes the default for shipping
    /// and billing.
    Add {
        /// What you call it (`Home`, `Work`, `Mum's`).
        #[arg(long, value_name = "LABEL")]
        label: String,
        /// The whole address as one JSON object (`{"name": …, "postalCode": …}`, the fields
        /// below), or `-` to read it from stdin; instead of the field flags.
        #[arg(long, value_name = "JSON|-", conflicts_with_all = ["name", "line1", "city", "postalCode", "country"])]
        json: Option<String>,
        #[command(flatten)]
        fields: address::AddressFlags,
    },
    /// Change a saved address: the flags given replace those fields (an empty value clears
    /// one), `--json` the whole address. `shipping` or `billing` change that kind's default (and
    /// save one when there is none), as before address books.
    Set {
        /// `shipping`, `billing`, or an address's id.
        #[arg(value_name = "ID|KIND")]
        which: String,
        /// A new label.
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
        /// The whole address as one JSON object (`{"name": …, "postalCode": …}`, the fields
        /// below), or `-` to read it from stdin; instead of the field flags.
        #[arg(long, value_name = "JSON|-", conflicts_with_all = ["name", "line1", "city", "postalCode", "country"])]
        json: Option<String>,
        #[command(flatten)]
        fields: address::AddressFlags,
    },
    /// Remove a saved address, here and (through the vault) on your other devices.
    Remove {
        /// The address's id, as `address list` shows it.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Make a saved address the default for shipping or billing: what a site that asks for
    /// that kind of address gets, once you allow it.
    Default {
        /// The address's id, as `address list` shows it.
        #[arg(value_name = "ID")]
        id: String,
        /// Which kind it becomes the default of.
        #[arg(value_parser = address_kind, value_name = "shipping|billing")]
        kind: AddressKind,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// List the site accounts (site, account id, created, last used).
    List,
    /// Remove a site account and its login key, here and on your other devices. The site is not
    /// told: sign in there and close the account too if you want it gone.
    Remove {
        /// The site, as an origin (`https://shop.example`).
        origin: String,
        /// Which of its accounts, when there are several (the id `account list` shows).
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        account: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PassphraseCommand {
    /// Set the passphrase, or change it. At a terminal it is typed without echo, twice; from a
    /// script, one line of stdin each: the current passphrase first when one is set, then the
    /// new one. On a device paired with a profile server it is the profile's passphrase that
    /// changes, on the server too, and the profile's other devices are signed out.
    Set {
        /// Leave the profile's other devices signed in (paired devices only).
        #[arg(long, conflicts_with = "rotate_key")]
        keep_devices: bool,
        /// Also give the vault a new data key (paired devices only): a copy of the old one,
        /// wherever it was kept, no longer opens the vault. With a paper key, give it on a third
        /// line; it keeps working.
        #[arg(long)]
        rotate_key: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// How many items each category holds, or one category's items, most recent first.
    List {
        /// identity, addresses, receipts, medical, devices, bookmarks, contacts or vehicles.
        category: Option<String>,
    },
    /// One item as JSON, or a category's items.
    Show {
        /// The category.
        category: String,
        /// The item's id (from `data list CATEGORY`).
        id: Option<String>,
    },
    /// Add an item (no ID) or change one: FIELD=VALUE pairs over what is saved (an empty value
    /// clears a field), or `--json` with all its fields.
    Set {
        /// The category.
        category: String,
        /// The item's id, when changing one, then FIELD=VALUE pairs (`birthDate=1990-05-01`).
        #[arg(value_name = "[ID] FIELD=VALUE")]
        args: Vec<String>,
        /// The item's fields as one JSON object (`-`: read it from stdin).
        #[arg(long, value_name = "JSON|-", conflicts_with = "args")]
        json: Option<String>,
    },
    /// Remove an item; it stays removed on every device.
    Remove {
        /// The category.
        category: String,
        /// The item's id (from `data list CATEGORY`).
        id: String,
    },
    /// Add items from a JSON file: an array of their fields (receipts, bookmarks, …). All are
    /// checked first: all of them are saved, or none.
    Import {
        /// The category.
        category: String,
        /// The JSON file.
        file: PathBuf,
    },
}

fn address_kind(text: &str) -> Result<AddressKind, String> {
    match text {
        "shipping" => Ok(AddressKind::Shipping),
        "billing" => Ok(AddressKind::Billing),
        _ => Err("expected `shipping` or `billing`".into()),
    }
}

/// The default data dir.
pub fn default_home() -> PathBuf {
    dirs::data_local_dir().unwrap_or_else(std::env::temp_dir).join("personal-profile")
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.home.clone().unwrap_or_else(default_home);
    match execute(cli.command, &home) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("profile-host: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A Unix time as people read it in the CLI's output.
fn when(at: u64) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at))
}

/// A passphrase: typed without echo at a terminal, else one line of stdin.
fn read_passphrase(prompt: &str) -> Result<Passphrase, String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).map(Passphrase::new).map_err(|e| format!("cannot read it: {e}"));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    let passphrase = Passphrase::new(line.trim_end_matches(['\r', '\n']).to_owned());
    zeroize::Zeroize::zeroize(&mut line);
    Ok(passphrase)
}

/// A new passphrase: typed twice without echo at a terminal (a typo would lock the person out),
/// else one line of stdin, as scripts give it.
fn read_new_passphrase() -> Result<Passphrase, String> {
    confirmed(std::io::stdin().is_terminal(), read_passphrase)
}

/// A new passphrase from `read`, asked a second time to confirm when `twice`.
fn confirmed(twice: bool, mut read: impl FnMut(&str) -> Result<Passphrase, String>) -> Result<Passphrase, String> {
    let new = read("New passphrase: ")?;
    if !twice {
        return Ok(new);
    }
    let again = read("The new passphrase again: ")?;
    if new.expose() != again.expose() {
        return Err("the two passphrases did not match; nothing changed".into());
    }
    Ok(new)
}

/// `1 address`, `2 addresses`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The store, for a verb a person runs that changes the profile: refused while the profile is
/// locked; it counts as the person's activity for the idle auto-lock.
fn open_for_change(home: &Path) -> Result<crate::local::store::Store, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    store.require_unlocked(now()).map_err(|_| "the profile is locked: run `profile-host unlock` first".to_owned())?;
    store.touch_activity().map_err(|e| e.to_string())?;
    Ok(store)
}

/// Applies a change to the profile, then syncs when paired (saying so).
fn change_and_sync<T>(
    home: &Path,
    apply: impl FnOnce(&mut crate::local::state::LocalState) -> Result<T, profile_core::WireError>,
) -> Result<T, String> {
    let store = open_for_change(home)?;
    let done = store.update(apply).map_err(|e| e.message)?;
    if store.state().map_err(|e| e.to_string())?.server.is_some() {
        match crate::remote::sync(&store, &crate::remote::Client::default()) {
            Ok(_) => say!("synced with the profile server"),
            Err(e) => say!("not synced yet ({}); it will go out at the next sync", e.message),
        }
    }
    Ok(done)
}

/// What `--json` gave: the text itself, or stdin's for `-`.
fn read_source(source: &str) -> Result<String, String> {
    if source == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())
    } else {
        Ok(source.to_owned())
    }
}

/// The store and its state, for a verb that shows personal data (an address, the log, the
/// accounts): while the profile is locked its passphrase must be given, and is checked like an
/// unlock (with the same back-off), but the profile stays locked.
fn open_to_show(
    home: &Path,
) -> Result<(crate::local::store::Store, std::sync::Arc<crate::local::state::LocalState>), String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
    if !state.locked {
        store.touch_activity().map_err(|e| e.to_string())?;
        return Ok((store, state));
    }
    let passphrase = read_passphrase("The profile is locked. Its passphrase: ")?;
    if passphrase.expose().is_empty() {
        return Err("the profile is locked: give its passphrase (typed, or one line on stdin) to see this".into());
    }
    prove_passphrase(&store, &passphrase).map_err(|e| format!("the profile is locked, and {}", e.message))?;
    Ok((store, state))
}

fn execute(command: Command, home: &Path) -> Result<ExitCode, String> {
    match command {
        Command::Install { target, extension_id } => install::install(target, extension_id),
        Command::Uninstall { target } => install::uninstall(target),
        Command::Doctor { target, extension_id } => Ok(install::doctor(&target, &extension_id, home)),
        Command::Status => status::status(home),
        Command::Log { limit } => status::log(home, limit),
        Command::Data(DataCommand::List { category }) => data::list(home, category),
        Command::Data(DataCommand::Show { category, id }) => data::show(home, category, id),
        Command::Data(DataCommand::Set { category, args, json }) => data::set(home, category, args, json),
        Command::Data(DataCommand::Remove { category, id }) => data::remove(home, category, id),
        Command::Data(DataCommand::Import { category, file }) => data::import(home, category, &file),
        Command::Address(AddressCommand::List) => address::list(home),
        Command::Address(AddressCommand::Show { which }) => address::show(home, which),
        Command::Address(AddressCommand::Add { label, json, fields }) => address::add(home, label, json, fields),
        Command::Address(AddressCommand::Set { which, label, json, fields }) => {
            address::set(home, which, label, json, fields)
        }
        Command::Address(AddressCommand::Remove { id }) => address::remove(home, id),
        Command::Address(AddressCommand::Default { id, kind }) => address::make_default(home, id, kind),
        Command::Account(AccountCommand::List) => account::list(home),
        Command::Account(AccountCommand::Remove { origin, account }) => account::remove(home, origin, account),
        Command::Lock => lock::lock(home),
        Command::Unlock => lock::unlock(home),
        Command::AutoLock { after } => lock::auto_lock(home, after),
        Command::Passphrase(PassphraseCommand::Set { keep_devices, rotate_key }) => {
            lock::set_passphrase_verb(home, keep_devices, rotate_key)
        }
        Command::Pair { profile_url, email, ticket, accept_older_vault } => {
            server::pair(home, profile_url, email, ticket, accept_older_vault)
        }
        Command::Unpair => server::unpair(home),
        Command::Sync => server::sync_now(home),
        Command::Devices { revoke } => server::devices(home, revoke),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every verb, argument and flag says what it is in `--help`.
    #[test]
    fn every_verb_argument_and_flag_is_explained() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if command.get_about().is_none() {
                missing.push(path.clone());
            }
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    /// A script's passphrase.
    fn lines<'a>(given: &'a [&'a str]) -> impl FnMut(&str) -> Result<Passphrase, String> + 'a {
        let mut given = given.iter();
        move |_prompt| given.next().map(|l| Passphrase::new((*l).to_owned())).ok_or_else(|| "no more input".to_owned())
    }

    #[test]
    fn a_new_passphrase_typed_at_a_terminal_is_asked_twice() {
        let typed = confirmed(true, lines(&["correct horse battery", "correct horse battery"])).unwrap();
        assert_eq!(typed.expose(), "correct horse battery");
        let error = confirmed(true, lines(&["correct horse battery", "correct horse batterz"])).unwrap_err();
        assert!(error.contains("did not match") && error.contains("nothing changed"), "{error}");
        // From a script, one line, as before.
        assert_eq!(
            confirmed(false, lines(&["correct horse battery", "other"])).unwrap().expose(),
            "correct horse battery"
        );
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(count(1, "address", "addresses"), "1 address");
        assert_eq!(count(0, "address", "addresses"), "0 addresses");
        assert_eq!(count(2, "fault", "faults"), "2 faults");
    }
}
