//! The commands people type. Their output is the product, so this module prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use profile_core::wire::Disclosure;
use profile_core::{Address, AddressKind, Passphrase};

use crate::local::session::{
    lock_profile, open_store, prove_passphrase, remove_account, set_passphrase, unlock_profile,
};
use crate::local::store::now;
use crate::manifest::{self, Browser, EXTENSION_ID, Verdict};
use crate::remote as sync;

/// Personal Profile's native-messaging host.
///
/// Browsers start it with the calling extension's origin as its argument; people use the
/// subcommands below.
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
        #[arg(long, default_value = EXTENSION_ID, value_name = "ID")]
        extension_id: String,
    },
    /// Show what the host keeps (no secrets).
    Status,
    /// Show or set the saved addresses.
    #[command(subcommand)]
    Address(AddressCommand),
    /// Show the disclosure log: what left to which site, and when.
    Log {
        /// How many entries, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Manage the passphrase that `lock` / `unlock` use.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Lock the profile: sites get nothing until it is unlocked again.
    Lock,
    /// Unlock the profile with its passphrase (typed without echo, or one line on stdin).
    Unlock,
    /// List the accounts you made at sites with this profile, or remove one.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Pair with your profile server: with your email (the passphrase is read from stdin), or
    /// with a one-time ticket from its operator. Addresses and accounts then sync through
    /// your end-to-end encrypted vault.
    Pair {
        /// Your profile URL (`https://…/u/ID`), as `profile-server admin create-user` printed it.
        profile_url: String,
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
        #[arg(value_parser = idle_time)]
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

// Parsed once per run: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum AddressCommand {
    /// Print a saved address as JSON.
    Show {
        #[arg(value_parser = address_kind)]
        kind: AddressKind,
    },
    /// Save an address. Fields as flags, or `--json -` to read one JSON object from stdin.
    Set {
        #[arg(value_parser = address_kind)]
        kind: AddressKind,
        #[arg(long, conflicts_with_all = ["name", "line1", "city", "postal_code", "country"])]
        json: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        organization: Option<String>,
        #[arg(long)]
        line1: Option<String>,
        #[arg(long)]
        line2: Option<String>,
        #[arg(long)]
        city: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        postal_code: Option<String>,
        /// ISO 3166-1 alpha-2, e.g. DE.
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
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
    /// Set the passphrase. Reads the new one from stdin; when one is set already, the first
    /// line is the current passphrase and the second the new one. On a device paired with a
    /// profile server it is the profile's passphrase that changes, on the server too, and the
    /// profile's other devices are signed out.
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

/// The store, for a verb a person runs that changes the profile: refused while the profile is
/// locked; it counts as the person's activity for the idle auto-lock.
fn open_for_change(home: &Path) -> Result<crate::local::store::Store, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    store.require_unlocked(now()).map_err(|_| "the profile is locked: run `profile-host unlock` first".to_owned())?;
    store.touch_activity().map_err(|e| e.to_string())?;
    Ok(store)
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
        Command::Install { target, extension_id } => {
            let host = std::env::current_exe()
                .and_then(|p| p.canonicalize())
                .map_err(|e| format!("cannot locate this binary: {e}"))?;
            let browsers = target.browsers();
            if browsers.is_empty() {
                return Err("no supported browser profile found; name one with --browser".into());
            }
            for browser in browsers {
                let path = manifest::install(browser, target.user_data_dir.as_deref(), &host, &extension_id)?;
                println!("{:<9} installed {}", browser.name(), path.display());
            }
        }
        Command::Uninstall { target } => {
            let browsers = if target.browsers.is_empty() && target.user_data_dir.is_none() {
                Browser::ALL.to_vec()
            } else {
                target.browsers()
            };
            for browser in browsers {
                if let Some(path) = manifest::uninstall(browser, target.user_data_dir.as_deref())? {
                    println!("{:<9} removed {}", browser.name(), path.display());
                }
            }
        }
        Command::Doctor { target, extension_id } => return Ok(doctor(&target, &extension_id, home)),
        Command::Status => {
            let store = open_store(home).map_err(|e| e.to_string())?;
            let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
            let disclosures = store.disclosures().map_err(|e| e.to_string())?.len();
            println!("data dir     {}", store.dir().display());
            println!("keystore     {} (master key present)", crate::local::keystore::NAME);
            println!("profile URL  {}", state.profile_url.as_deref().unwrap_or("not paired"));
            if let Some(link) = &state.server {
                let vault = match (&link.data_key, link.dirty) {
                    (None, _) => "not open yet (unlock with the passphrase)".to_owned(),
                    (Some(_), true) => format!("counter {}, local changes not yet synced", link.counter),
                    (Some(_), false) => format!("counter {}, in sync", link.counter),
                };
                println!("server       {} (device {})", link.api_base, link.device_id);
                println!("vault        {vault}");
                if let Some(halt) = &link.halted {
                    println!("warning      {}", halt.explain());
                }
                if !link.outbox.is_empty() {
                    println!("registry     {} update(s) waiting for the server", link.outbox.len());
                }
            }
            println!("locked       {}", if state.locked { "yes" } else { "no" });
            let idle = match state.auto_lock_secs {
                0 => "off".to_owned(),
                secs => format!("after {} idle", humantime::format_duration(std::time::Duration::from_secs(secs))),
            };
            println!("auto-lock    {idle}");
            println!(
                "passphrase   {}",
                if state.lock.is_some() { "set" } else { "not set (the OS keystore alone unlocks)" }
            );
            let kinds: Vec<_> = state.addresses.keys().map(|k| k.as_str()).collect();
            println!("addresses    {}", if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") });
            println!("accounts     {}", state.accounts.len());
            // Which sites is personal: not shown while the profile is locked.
            if !state.locked {
                for account in &state.accounts {
                    println!("  {}  as {}  (counter {})", account.origin, account.account_guid, account.counter);
                }
            }
            println!("disclosures  {disclosures} (see `profile-host log`)");
        }
        Command::Address(AddressCommand::Show { kind }) => {
            let (_, state) = open_to_show(home)?;
            let address = state.addresses.get(&kind).ok_or_else(|| format!("no {} address saved", kind.as_str()))?;
            println!("{}", serde_json::to_string_pretty(address).map_err(|e| e.to_string())?);
        }
        Command::Address(AddressCommand::Set {
            kind,
            json,
            name,
            organization,
            line1,
            line2,
            city,
            region,
            postal_code,
            country,
            phone,
            email,
        }) => {
            let value = match json {
                Some(source) => {
                    let text = if source == "-" {
                        std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
                    } else {
                        source
                    };
                    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?
                }
                None => {
                    serde_json::json!({"name": name.unwrap_or_default(), "organization": organization, "line1": line1.unwrap_or_default(),
                    "line2": line2, "city": city.unwrap_or_default(), "region": region, "postalCode": postal_code.unwrap_or_default(),
                    "country": country.unwrap_or_default(), "phone": phone, "email": email})
                }
            };
            let address: Address = serde_json::from_value(value).map_err(|e| format!("invalid address: {e}"))?;
            let store = open_for_change(home)?;
            store
                .update(|s| {
                    s.save_address(kind, address, now());
                    Ok(())
                })
                .map_err(|e| e.message)?;
            println!("saved the {} address", kind.as_str());
            if store.state().map_err(|e| e.to_string())?.server.is_some() {
                match sync::sync(&store, &sync::Client::default()) {
                    Ok(_) => println!("synced with the profile server"),
                    Err(e) => println!("not synced yet ({}); it will go out at the next sync", e.message),
                }
            }
        }
        Command::Log { limit } => {
            let (store, _) = open_to_show(home)?;
            let entries = store.disclosures().map_err(|e| e.to_string())?;
            if entries.is_empty() {
                println!("nothing has been disclosed yet");
            }
            for Disclosure { at, origin, method, fields, outcome, count, until } in entries.iter().rev().take(limit) {
                let what = if fields.is_empty() { String::new() } else { format!(" [{}]", fields.join(", ")) };
                let times = match until {
                    Some(until) if *count > 1 => format!("  ({count} times, the last at {})", when(*until)),
                    _ => String::new(),
                };
                println!("{}  {origin}  {method}  {outcome}{what}{times}", when(*at));
            }
        }
        Command::Lock => {
            let store = open_store(home).map_err(|e| e.to_string())?;
            lock_profile(&store).map_err(|e| e.message)?;
            println!("locked");
        }
        Command::Unlock => {
            let store = open_store(home).map_err(|e| e.to_string())?;
            let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
            if !state.locked {
                println!("already unlocked");
                return Ok(ExitCode::SUCCESS);
            }
            let passphrase = read_passphrase("Passphrase: ")?;
            let until = unlock_profile(&store, &passphrase).map_err(|e| e.message)?;
            let left = std::time::Duration::from_secs(until.saturating_sub(now()));
            println!("unlocked for at most {}", humantime::format_duration(left));
        }
        Command::Account(AccountCommand::List) => {
            let (_, state) = open_to_show(home)?;
            if state.accounts.is_empty() {
                println!("no site accounts yet");
            }
            for account in &state.accounts {
                println!(
                    "{}  {}  created {}  last used {}",
                    account.origin,
                    account.account_guid,
                    when(account.created_at),
                    when(account.last_used_at)
                );
            }
        }
        Command::Account(AccountCommand::Remove { origin, account }) => {
            let site = profile_core::Origin::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
            let store = open_for_change(home)?;
            let state = store.state().map_err(|e| e.to_string())?;
            let at_site: Vec<_> = state.accounts.iter().filter(|a| a.origin == site).collect();
            let guid = match (account, at_site.as_slice()) {
                (Some(id), _) => profile_core::AccountGuid::try_from(id).map_err(str::to_owned)?,
                (None, [only]) => only.account_guid.clone(),
                (None, []) => return Err(format!("no account at {site}")),
                (None, _) => return Err(format!("several accounts at {site}: name one with --account")),
            };
            let paired = remove_account(&store, &site, &guid).map_err(|e| e.message)?;
            println!("removed the account {guid} at {site}");
            if paired {
                match sync::sync(&store, &sync::Client::default()) {
                    Ok(_) => println!("synced with the profile server"),
                    Err(e) => println!("not synced yet ({}); it will go out at the next sync", e.message),
                }
            }
        }
        Command::Pair { profile_url, email, ticket, accept_older_vault } => {
            let store = open_for_change(home)?;
            let with = match (email, ticket) {
                (_, Some(ticket)) => sync::PairWith::Ticket(profile_core::Bearer::new(ticket)),
                (Some(email), None) => {
                    let passphrase = read_passphrase("Your profile's passphrase: ")?;
                    sync::PairWith::Passphrase { email, passphrase }
                }
                (None, None) => return Err("give --email or --ticket".into()),
            };
            let paired = sync::pair(&store, &sync::Client::default(), &profile_url, with, accept_older_vault)
                .map_err(|e| e.message)?;
            println!("paired with {}", paired["profileUrl"].as_str().unwrap_or_default());
            if paired["vaultOpen"] == false {
                println!("the vault opens at the first `unlock` with your passphrase");
            }
        }
        Command::Unpair => {
            let store = open_for_change(home)?;
            let done = sync::unpair(&store, &sync::Client::default()).map_err(|e| e.message)?;
            println!(
                "unpaired{}",
                if done["signedOut"] == true {
                    ""
                } else {
                    " (the server could not be told; revoke this device there)"
                }
            );
        }
        Command::Sync => {
            let store = open_store(home).map_err(|e| e.to_string())?;
            match sync::sync(&store, &sync::Client::default()).map_err(|e| e.message)? {
                sync::Synced::Idle => println!("nothing to sync (not paired, or the vault is not open yet)"),
                sync::Synced::At(counter) => println!("in sync at vault counter {counter}"),
            }
        }
        Command::AutoLock { after } => {
            // A setting, not a secret: it may change while the profile is locked (unlocking still
            // needs the passphrase). A session that ran out ends first, under the old setting.
            let store = open_store(home).map_err(|e| e.to_string())?;
            store.enforce_session(now()).map_err(|e| e.message)?;
            store
                .update(|s| {
                    s.auto_lock_secs = after;
                    Ok(())
                })
                .map_err(|e| e.message)?;
            match after {
                0 => println!("auto-lock is off"),
                secs => println!(
                    "the profile locks after {} without a request",
                    humantime::format_duration(std::time::Duration::from_secs(secs))
                ),
            }
        }
        Command::Devices { revoke } => {
            // Signing a device out is a change; the list shows what the person's devices are.
            let store = match revoke {
                Some(_) => open_for_change(home)?,
                None => open_to_show(home)?.0,
            };
            let client = sync::Client::default();
            if let Some(id) = revoke {
                sync::revoke_device(&store, &client, &id).map_err(|e| e.message)?;
                println!("signed {id} out");
                return Ok(ExitCode::SUCCESS);
            }
            let listed = sync::devices(&store, &client).map_err(|e| e.message)?;
            for device in listed["devices"].as_array().into_iter().flatten() {
                let since = |key: &str| device[key].as_u64().map(|at| when(at).to_string());
                let state = match since("revokedAt") {
                    Some(at) => format!("signed out {at}"),
                    None => format!("last seen {}", since("lastSeenAt").unwrap_or_default()),
                };
                let current = if device["current"] == true { "  (this device)" } else { "" };
                println!(
                    "{}  {}  {state}{current}",
                    device["id"].as_str().unwrap_or_default(),
                    device["name"].as_str().unwrap_or_default()
                );
            }
        }
        Command::Passphrase(PassphraseCommand::Set { keep_devices, rotate_key }) => {
            // The current passphrase proves it is the person, locked or not.
            let store = open_store(home).map_err(|e| e.to_string())?;
            let state = store.state().map_err(|e| e.to_string())?;
            if state.server.is_some() {
                let current = read_passphrase("Your profile's current passphrase: ")?;
                let new = read_passphrase("The new passphrase: ")?;
                let paper_key = if rotate_key {
                    let line = read_passphrase("Your paper key, if you have one (else Enter): ")?;
                    (!line.expose().trim().is_empty())
                        .then(|| profile_core::vault::PaperKey::parse(line.expose()))
                        .transpose()
                        .map_err(|e| e.to_string())?
                } else {
                    None
                };
                let how = sync::PassphraseChange { keep_devices, rotate_key };
                sync::change_passphrase(&store, &sync::Client::default(), &current, &new, paper_key.as_ref(), how)
                    .map_err(|e| e.message)?;
                println!(
                    "the profile's passphrase is changed{}{}",
                    if rotate_key { ", its vault sealed under a new key" } else { "" },
                    if keep_devices { "" } else { "; your other devices are signed out until you pair them again" }
                );
                return Ok(ExitCode::SUCCESS);
            }
            if keep_devices || rotate_key {
                return Err("--keep-devices and --rotate-key are for a device paired with a profile server".into());
            }
            let has_one = state.lock.is_some();
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "{}",
                    if has_one {
                        "Type the current passphrase, Enter, then the new one, Enter:"
                    } else {
                        "Type the new passphrase, Enter:"
                    }
                );
            }
            let mut lines = stdin.lock().lines();
            let mut next = || lines.next().transpose().map_err(|e| e.to_string()).map(|l| l.map(Passphrase::new));
            let current = if has_one { Some(next()?.ok_or("expected the current passphrase on stdin")?) } else { None };
            let new = next()?.ok_or("expected the new passphrase on stdin")?;
            set_passphrase(&store, current.as_ref(), &new).map_err(|e| e.message)?;
            println!("passphrase set");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn doctor(target: &Target, extension_id: &str, home: &Path) -> ExitCode {
    let mut rows: Vec<(String, Verdict, String)> = Vec::new();
    let this_host = std::env::current_exe().unwrap_or_default();
    let explicit = !target.browsers.is_empty() || target.user_data_dir.is_some();
    let browsers = if explicit { target.browsers() } else { Browser::ALL.to_vec() };
    for browser in browsers {
        let path = match target.user_data_dir.as_deref() {
            Some(dir) => manifest::manifest_path(browser, Some(dir)),
            None => crate::manifest::platform::registered_manifest(browser)
                .ok_or_else(|| "not registered with the browser".to_owned()),
        };
        let (verdict, detail) = match path {
            Ok(path) => manifest::check(browser, &path, extension_id, &this_host),
            Err(e) if target.user_data_dir.is_none() => (Verdict::Absent, e),
            Err(e) => (Verdict::Fault, e),
        };
        // A browser the person named must have the manifest.
        let verdict = if explicit && verdict == Verdict::Absent { Verdict::Fault } else { verdict };
        rows.push((format!("{} manifest", browser.name()), verdict, detail));
    }
    if !explicit && rows.iter().all(|(_, v, _)| *v == Verdict::Absent) {
        rows.push((
            "manifests".into(),
            Verdict::Fault,
            "no browser has the host manifest: run `profile-host install`".into(),
        ));
    }
    match crate::local::keystore::OsKeystore::check() {
        Ok(_) => rows.push(("keystore".into(), Verdict::Ok, format!("{} reachable", crate::local::keystore::NAME))),
        Err(e) => rows.push(("keystore".into(), Verdict::Fault, e.to_string())),
    }
    match open_store(home).and_then(|s| s.state().map(|state| (s, state))) {
        Ok((store, state)) => {
            rows.push((
                "state".into(),
                Verdict::Ok,
                format!(
                    "{} decrypts ({} addresses, {} accounts)",
                    store.dir().display(),
                    state.addresses.len(),
                    state.accounts.len()
                ),
            ));
            match state.server.as_ref() {
                Some(link) => match &link.halted {
                    Some(halt) => rows.push(("sync".into(), Verdict::Fault, halt.explain())),
                    None => rows.push(("sync".into(), Verdict::Ok, format!("paired with {}", link.api_base))),
                },
                None => rows.push(("sync".into(), Verdict::Absent, "not paired with a profile server".into())),
            }
        }
        Err(e) => rows.push(("state".into(), Verdict::Fault, e.to_string())),
    }
    println!("{:<18} {:<6} DETAIL", "CHECK", "RESULT");
    for (check, verdict, detail) in &rows {
        let label = match verdict {
            Verdict::Ok => "ok",
            Verdict::Absent => "-",
            Verdict::Fault => "FAULT",
        };
        println!("{check:<18} {label:<6} {detail}");
    }
    let faults = rows.iter().filter(|(_, v, _)| *v == Verdict::Fault).count();
    if faults == 0 {
        println!("\nall good");
        ExitCode::SUCCESS
    } else {
        println!("\n{faults} fault(s)");
        ExitCode::FAILURE
    }
}
