//! Round trips of `getDeviceId` through the real `profile-host` over pipes, and cold start to
//! first answer. Prints figures; asserts nothing about time.
//!
//!     scripts/with-keyring cargo bench -p profile-host --bench roundtrip
//!
//! (`make bench` does that.) Targets, from DESIGN.md: host cold start to first answer
//! p95 ≤ 100 ms; the whole page → extension → host → page path p50 ≤ 5 ms, p99 ≤ 20 ms, of
//! which this is the host's share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_profile-host");
const REQUEST: &[u8] = br#"{"id":1,"type":"getDeviceId","origin":"https://shop.example"}"#;

struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Host {
    fn start(home: &std::path::Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("chrome-extension://anejejpdgphdflenbcklaacafpcfcman/")
            .env("PROFILE_HOST_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Self { child, stdin, stdout }
    }

    fn send(&mut self) {
        let mut frame = (REQUEST.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(REQUEST);
        self.stdin.write_all(&frame).unwrap();
    }

    fn recv(&mut self) {
        Reader(&mut self.stdout).recv();
    }

    fn stop(mut self) {
        drop(self.stdin);
        self.child.wait().unwrap();
    }
}

struct Reader<R>(R);

impl<R: Read> Reader<R> {
    fn recv(&mut self) {
        let mut len = [0u8; 4];
        self.0.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        self.0.read_exact(&mut body).unwrap();
        assert!(body.starts_with(br#"{"id":1,"ok":true"#), "{}", String::from_utf8_lossy(&body));
    }
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
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "needs a Secret Service: run through scripts/with-keyring (make bench does)"
    );
    let home = tempfile::tempdir().unwrap();
    // First start creates the master key and the state.
    let mut host = Host::start(home.path());
    host.send();
    host.recv();

    let rounds = 3000;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        host.send();
        host.recv();
        samples.push(start.elapsed());
    }
    let total: Duration = samples.iter().sum();
    println!("getDeviceId sequential: {:.0} round trips/s", rounds as f64 / total.as_secs_f64());
    report("getDeviceId round trip (warm)", samples);

    // Pipelined: one thread writes every request while this one reads the answers.
    let pipelined = 5000;
    let Host { mut child, stdin, stdout } = host;
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut stdin = stdin;
        let mut frame = (REQUEST.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(REQUEST);
        for _ in 0..pipelined {
            stdin.write_all(&frame).unwrap();
        }
        stdin
    });
    let mut reader = Reader(stdout);
    for _ in 0..pipelined {
        reader.recv();
    }
    println!("getDeviceId pipelined: {:.0} answers/s", pipelined as f64 / start.elapsed().as_secs_f64());
    drop(writer.join().unwrap());
    child.wait().unwrap();

    let starts = 40;
    let mut cold = Vec::with_capacity(starts);
    for _ in 0..starts {
        let start = Instant::now();
        let mut host = Host::start(home.path());
        host.send();
        host.recv();
        cold.push(start.elapsed());
        host.stop();
    }
    report("cold start → first answer", cold);
}
