//! Round trips of `getDeviceId` through the real `profile-host` over pipes, and cold start to
//! first answer. Prints figures; asserts nothing about time.
//!
//!     scripts/with-keyring cargo bench -p profile-host --bench roundtrip
//!
//! Side by side in the same run, every process pinned to one CPU (`taskset`): a C program that
//! only echoes frames (the floor the pipe allows) and a small Python host that computes the same
//! HMAC `getDeviceId` does, with profile-host's ratio to each. `ROUNDTRIP_COMPARE_BIN=path`
//! times another profile-host build (an older release, say) in the same run as well.
//!
//! (`make bench` does that.) The product's targets: host cold start to first answer
//! p95 ≤ 100 ms; the whole page → extension → host → page path p50 ≤ 5 ms, p99 ≤ 20 ms, of
//! which this is the host's share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use profile_testkit::host::{Framed, as_the_browser_starts_it, frame, read_frame};

const REQUEST: &[u8] = br#"{"id":1,"type":"getDeviceId","origin":"https://shop.example"}"#;

/// A C program that answers each frame with the frame itself: the floor.
const ECHO_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
static int full(int fd, char *p, size_t n, int w) {
    while (n) { ssize_t k = w ? write(fd, p, n) : read(fd, p, n); if (k <= 0) return -1; p += k; n -= k; }
    return 0;
}
int main(void) {
    static char buf[1 << 20];
    for (;;) {
        uint32_t len;
        if (full(0, (char *)&len, 4, 0) || len > sizeof buf - 4) return 0;
        if (full(0, buf + 4, len, 0)) return 0;
        *(uint32_t *)buf = len;
        if (full(1, buf, len + 4, 1)) return 0;
    }
}
"#;

/// A small Python host that answers `getDeviceId` as profile-host does: HMAC-SHA256 of the
/// origin under a device secret, base64url.
const HOST_PY: &str = r#"
import base64, hashlib, hmac, json, os, struct, sys
secret = os.urandom(32)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = stdin.read(4)
    if len(head) < 4:
        break
    request = json.loads(stdin.read(struct.unpack("=I", head)[0]))
    if request.get("type") == "getDeviceId":
        mac = hmac.new(secret, request["origin"].encode(), hashlib.sha256).digest()
        answer = {"id": request["id"], "ok": True, "result": base64.urlsafe_b64encode(mac).rstrip(b"=").decode()}
    else:
        answer = {"id": request.get("id"), "ok": False, "error": {"code": "invalid_request", "message": "unknown"}}
    body = json.dumps(answer, separators=(",", ":")).encode()
    stdout.write(struct.pack("=I", len(body)) + body)
    stdout.flush()
"#;

/// Runs `program` pinned to CPU 0 when `taskset` is there.
fn pinned(program: &str) -> Command {
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut command = Command::new("taskset");
        command.args(["-c", "0", program]);
        command
    } else {
        Command::new(program)
    }
}

/// A host (or a floor) that answers `REQUEST` over pipes, its stderr dropped.
fn spawn(mut command: Command) -> Framed {
    Framed::spawn(command.stderr(Stdio::null()))
}

/// `program` (profile-host, or another build of it) as the browser starts it, on `home`.
fn start_host(program: &str, home: &std::path::Path) -> Framed {
    let mut command = pinned(program);
    as_the_browser_starts_it(&mut command, home);
    spawn(command)
}

/// An answer to `REQUEST` that says it succeeded.
fn check(body: &[u8]) {
    assert!(body.starts_with(br#"{"id":1,"ok":true"#), "{}", String::from_utf8_lossy(body));
}

/// Sequential round trips through `host`, after a warm-up.
/// (The echo answers with the request itself: its answers are not checked.)
fn round_trips(host: &mut Framed, rounds: usize, checked: bool) -> Vec<Duration> {
    for _ in 0..200 {
        host.send(REQUEST);
        let body = host.recv();
        if checked {
            check(&body);
        }
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        host.send(REQUEST);
        let body = host.recv();
        if checked {
            check(&body);
        }
        samples.push(start.elapsed());
    }
    samples
}

fn p50(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 0.5).as_secs_f64() * 1e3
}

/// The C echo host and the Python host, built or written into `dir`.
fn floors(dir: &std::path::Path) -> (Option<Command>, Option<Command>) {
    let source = dir.join("echo.c");
    std::fs::write(&source, ECHO_C).unwrap();
    let echo = dir.join("echo");
    let built = Command::new("cc").args(["-O2", "-o"]).arg(&echo).arg(&source).status().is_ok_and(|s| s.success());
    if !built {
        println!("(no C compiler: the echo floor is skipped)");
    }
    let script = dir.join("host.py");
    std::fs::write(&script, HOST_PY).unwrap();
    let python = Command::new("python3").args(["-c", "import hmac, hashlib, base64, json"]).status();
    let python_ok = python.is_ok_and(|s| s.success());
    if !python_ok {
        println!("(no python3 with hmac: the Python host is skipped)");
    }
    let echo_command = built.then(|| pinned(echo.to_str().unwrap()));
    let python_command = python_ok.then(|| {
        let mut command = pinned("python3");
        command.arg(&script);
        command
    });
    (echo_command, python_command)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<34} n={:<5} p50={:.3} ms  p95={:.3} ms  p99={:.3} ms  max={:.3} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.95)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    );
}

fn main() {
    profile_testkit::require_keyring();
    let bin = profile_testkit::binary("profile-host");
    let bin = bin.to_str().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Pin this process too, so both ends of every pipe share CPU 0.
    let _ = Command::new("taskset").args(["-p", "-c", "0", &std::process::id().to_string()]).output();
    // First start creates the master key and the state.
    let mut host = start_host(bin, home.path());
    host.send(REQUEST);
    check(&host.recv());

    let rounds = 3000;
    let (echo, python) = floors(home.path());
    let echo_samples = echo.map(|command| {
        let mut echo = spawn(command);
        let samples = round_trips(&mut echo, rounds, false);
        echo.stop();
        samples
    });
    let python_samples = python.map(|command| {
        let mut python = spawn(command);
        let samples = round_trips(&mut python, rounds, true);
        python.stop();
        samples
    });
    // Another build keeps its own data dir: an older one may not read this one's state.
    let other_home = tempfile::tempdir().unwrap();
    let compared = std::env::var_os("ROUNDTRIP_COMPARE_BIN").map(|other_bin| {
        let mut other = start_host(other_bin.to_str().unwrap(), other_home.path());
        let samples = round_trips(&mut other, rounds, true);
        other.stop();
        samples
    });
    let samples = round_trips(&mut host, rounds, true);
    let total: Duration = samples.iter().sum();
    println!("getDeviceId sequential: {:.0} round trips/s", rounds as f64 / total.as_secs_f64());
    let host_p50 = p50(&samples);
    if let Some(echo) = &echo_samples {
        report("C echo host (the floor)", echo.clone());
    }
    if let Some(python) = &python_samples {
        report("Python host (HMAC)", python.clone());
    }
    if let Some(compared) = &compared {
        report("ROUNDTRIP_COMPARE_BIN round trip", compared.clone());
    }
    report("getDeviceId round trip (warm)", samples);
    if let Some(echo) = &echo_samples {
        println!("profile-host / C echo (p50): {:.2}x  (goal: at most 1.5x)", host_p50 / p50(echo));
    }
    if let Some(python) = &python_samples {
        println!("profile-host / Python host (p50): {:.2}x", host_p50 / p50(python));
    }

    // Pipelined: one thread writes every request while this one reads the answers.
    let pipelined = 5000;
    let Framed { mut child, stdin, mut stdout } = host;
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut stdin = stdin;
        let frame = frame(REQUEST);
        for _ in 0..pipelined {
            stdin.write_all(&frame).unwrap();
        }
        stdin
    });
    for _ in 0..pipelined {
        check(&read_frame(&mut stdout).unwrap());
    }
    println!("getDeviceId pipelined: {:.0} answers/s", pipelined as f64 / start.elapsed().as_secs_f64());
    drop(writer.join().unwrap());
    child.wait().unwrap();

    let starts = 40;
    let mut cold = Vec::with_capacity(starts);
    for _ in 0..starts {
        let start = Instant::now();
        let mut host = start_host(bin, home.path());
        host.send(REQUEST);
        check(&host.recv());
        cold.push(start.elapsed());
        host.stop();
    }
    report("cold start → first answer", cold);
}
