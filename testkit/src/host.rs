//! The real `profile-host`: as the browser runs it (Chrome's native-messaging framing on stdin
//! and stdout) and as a person runs its CLI.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{binary, require_keyring, run};

/// The extension's own origin: the caller the browser names when it starts the host.
pub const EXTENSION_ORIGIN: &str = concat!("chrome-extension://", extension_id!());

/// How long `HostProcess::recv` waits for a frame.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// Chrome's framing: a 4-byte native-endian length, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_ne_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Reads one frame's body.
pub fn read_frame(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// What the browser passes a host it starts: its caller's origin, and here the data dir.
pub fn as_the_browser_starts_it<'a>(command: &'a mut Command, home: &Path) -> &'a mut Command {
    command.arg(format!("{EXTENSION_ORIGIN}/")).env("PROFILE_HOST_HOME", home)
}

/// A process spoken to in frames, synchronously: what a benchmark times (no thread between the
/// pipe and the clock). Any program that speaks the framing will do (the floors the benchmarks
/// compare with).
#[derive(Debug)]
pub struct Framed {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
}

impl Framed {
    /// Spawns `command` with its stdin and stdout piped (stderr as `command` says).
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Self { child, stdin, stdout }
    }

    /// Writes `body` as one frame.
    pub fn send(&mut self, body: &[u8]) {
        self.stdin.write_all(&frame(body)).unwrap();
    }

    /// The next frame's body, waiting as long as it takes.
    pub fn recv(&mut self) -> Vec<u8> {
        read_frame(&mut self.stdout).unwrap()
    }

    /// Closes stdin and waits for the exit.
    pub fn stop(self) -> ExitStatus {
        let Self { mut child, stdin, .. } = self;
        drop(stdin);
        child.wait().unwrap()
    }
}

/// One running host on a data dir, as the browser runs it: JSON messages in frames in and out,
/// every answer awaited at most 20 s. Killed on drop.
#[derive(Debug)]
pub struct HostProcess {
    pub child: Child,
    /// Taken to write from another thread (a flood), and put back.
    pub stdin: Option<ChildStdin>,
    /// Piped unless `start_with` said otherwise; taken to close it early or read it.
    pub stderr: Option<ChildStderr>,
    frames: mpsc::Receiver<Value>,
    next_id: u64,
}

impl HostProcess {
    /// The host on `home`, as the extension starts it.
    pub fn start(home: &Path) -> Self {
        Self::start_with(home, |_| {})
    }

    /// As `start`, with the command adjusted first (environment, where stderr goes).
    pub fn start_with(home: &Path, adjust: impl FnOnce(&mut Command)) -> Self {
        require_keyring();
        let mut command = Command::new(binary("profile-host"));
        as_the_browser_starts_it(&mut command, home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut command);
        let mut child = command.spawn().expect("spawn profile-host");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(body) = read_frame(&mut stdout) {
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let stderr = child.stderr.take();
        Self { child, stdin, stderr, frames, next_id: 1 }
    }

    /// Writes bytes as they are (a frame, several, or a broken one).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        let _ = stdin.write_all(bytes).and_then(|()| stdin.flush());
    }

    pub fn send(&mut self, message: &Value) {
        self.send_raw(&frame(&serde_json::to_vec(message).unwrap()));
    }

    /// The next frame from the host, within 20 s.
    pub fn recv(&mut self) -> Value {
        self.frames.recv_timeout(ANSWER_WITHIN).expect("an answer within 20 s")
    }

    /// Sends a request with `id` and reads its answer, which must carry the same id.
    pub fn call(&mut self, id: u64, origin: &str, method: &str, params: Value) -> Value {
        self.send(&json!({"id": id, "type": method, "origin": origin, "params": params}));
        let answer = self.recv();
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// A call that must succeed: its result.
    pub fn ok(&mut self, origin: &str, method: &str, params: Value) -> Value {
        let answer = self.next_call(origin, method, params);
        assert_eq!(answer["ok"], true, "{method}: {answer}");
        answer["result"].clone()
    }

    /// A call that must fail: its error's code and message.
    pub fn err(&mut self, origin: &str, method: &str, params: Value) -> (String, String) {
        let answer = self.next_call(origin, method, params);
        assert_eq!(answer["ok"], false, "{method}: {answer}");
        (answer["error"]["code"].as_str().unwrap().to_owned(), answer["error"]["message"].as_str().unwrap().to_owned())
    }

    fn next_call(&mut self, origin: &str, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.call(id, origin, method, params)
    }

    /// Closes stdin and returns the exit status and stderr.
    pub fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let mut stderr = String::new();
        if let Some(mut pipe) = self.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap();
        }
        (self.child.wait().unwrap(), stderr)
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `profile-host ARGS` with `PROFILE_HOST_HOME=home` and `input` on its stdin.
pub fn cli(home: &Path, args: &[&str], input: &str) -> Output {
    run(Command::new(binary("profile-host")).args(args).env("PROFILE_HOST_HOME", home), input)
}

/// `profile-host ARGS` at a terminal, as a person types at it: `script` (util-linux) gives it a
/// pseudo-terminal and types `input` there. Its stdout and stderr both land in `stdout`.
pub fn cli_at_terminal(home: &Path, args: &[&str], input: &str) -> Output {
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let bin = binary("profile-host");
    let line: Vec<String> = std::iter::once(bin.to_str().unwrap()).chain(args.iter().copied()).map(quote).collect();
    run(
        Command::new("script")
            .args(["--quiet", "--return", "--command", &line.join(" "), "/dev/null"])
            .env("PROFILE_HOST_HOME", home),
        input,
    )
}

/// As `cli`, which must succeed: its stdout.
pub fn cli_ok(home: &Path, args: &[&str], input: &str) -> String {
    let out = cli(home, args, input);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "profile-host {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// A host data dir of its own (another device of the person), driven through the CLI.
#[derive(Debug)]
pub struct HostHome(tempfile::TempDir);

impl HostHome {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `profile-host ARGS` on this home, which must succeed; its stdout.
    pub fn cli(&self, args: &[&str], input: &str) -> String {
        cli_ok(self.path(), args, input)
    }

    pub fn try_cli(&self, args: &[&str], input: &str) -> Output {
        cli(self.path(), args, input)
    }
}

impl Default for HostHome {
    fn default() -> Self {
        Self::new()
    }
}
