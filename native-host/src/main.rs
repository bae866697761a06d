//! ```text
//! browser <-[native messaging]-> profile-host <-[https/wss]-> profile-server
//!            (stdin/stdout,                     (once paired: the vault, the
//!             4-byte length + JSON)              registry, the push socket)
//!                                  |
//!                                  +-- OS keystore: one 256-bit master key per data dir
//!                                  +-- data dir: profile.sealed, ledger.sealed (AES-256-GCM)
//! ```
//!
//! The binary only picks between the native-messaging loop and the CLI; the library
//! (`profile_host`) does the work.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use profile_host::cli;
use profile_host::handler::messaging;
use profile_host::handler::{Caller, Host};

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Caller::from_args(&args) {
        Some(caller) => native_messaging(caller),
        None => cli::run(),
    }
}

/// Logs go to stderr (the browser collects a host's stderr), at `warn` unless
/// `PROFILE_HOST_LOG` says otherwise. A closed stderr is ignored, never a panic.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROFILE_HOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // Its own report of a failed write uses `eprintln!`, which panics on a closed pipe.
        .log_internal_errors(false)
        .init();
}

fn native_messaging(caller: Caller) -> ExitCode {
    let home = std::env::var_os("PROFILE_HOST_HOME").map_or_else(cli::default_home, Into::into);
    let host = Arc::new(Host::with_os_keystore(caller, home).listening());
    match messaging::serve(host, std::io::stdin().lock(), std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fatal(&e.to_string()),
    }
}

/// One line on stderr, ignoring a closed pipe, and a failing exit.
fn fatal(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "profile-host: {message}");
    ExitCode::FAILURE
}
