#![doc = include_str!("../README.md")]
// A test kit fails loudly: a driver that cannot do what the test asked panics with what went
// wrong, which is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The extension's id: it follows from `extension/public-key.b64`, as
/// `profile_host::manifest::EXTENSION_ID` says (a macro, for `concat!`).
macro_rules! extension_id {
    () => {
        "anejejpdgphdflenbcklaacafpcfcman"
    };
}

pub mod app;
pub mod browser;
pub mod forms;
pub mod host;
pub mod peer;
pub mod server;

/// The extension's id (the host of its `chrome-extension://` origin).
pub const EXTENSION_ID: &str = extension_id!();

/// `target/<profile>/`: where cargo put the running test, benchmark or example's binaries.
pub fn target_dir() -> PathBuf {
    // target/debug/deps/host-… (a test or benchmark), target/release/examples/shopper (an example).
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("the running executable's directory").to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

/// The binary `name` of the package of the same name (`profile-host`, `profile-server`), as
/// cargo built it for this run.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p {name}` (in the same profile as this run; \
         `cargo test --workspace` builds it)",
        path.display()
    );
    path
}

/// The example `name` of `package` (the demo shop is `profile-rp`'s `shop`).
pub fn example(package: &str, name: &str) -> PathBuf {
    let path = target_dir().join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p {package} --example {name}` (`cargo test --workspace` builds it)",
        path.display()
    );
    path
}

/// Runs a command to its end with `input` on its stdin; its output.
pub fn run(command: &mut Command, input: &str) -> Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Starts a service with its stdout dropped and reads its log (stderr) until `ready` says a line
/// is the one that it serves; the rest of the log drains in the background. What it said, when
/// it exits before that.
fn start_service(command: &mut Command, mut ready: impl FnMut(&str) -> bool) -> Result<Child, String> {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            return Err(said);
        }
        if ready(&line) {
            break;
        }
        said.push_str(&line);
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Ok(child)
}

/// The `p` quantile (0 to 1) of ascending samples, nearest rank: what the benchmarks print as
/// p50, p95 and p99.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Fails the test unless a Secret Service is reachable (the host keeps its master key there).
pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests need a real Secret Service on a D-Bus session: run them through scripts/with-keyring \
         (`scripts/with-keyring cargo test`; make test and make bench do)"
    );
}
