//! Another person's profile as a ticket holder may fake it, on loopback, for the tests of where
//! a host sends linked-profile requests: a profile document at `/u/mallory` naming whatever
//! `apiBase` the test sets (`PeerProfile`), and a listener that answers nothing and only counts
//! the connections that reach it (`Recorder`), to show that nothing was sent to a place.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

/// A profile document served on loopback; serves until the test ends.
#[derive(Debug, Clone)]
pub struct PeerProfile {
    /// `http://127.0.0.1:PORT/u/mallory`, where the document is.
    pub profile_url: String,
    api_base: Arc<Mutex<String>>,
    reads: Arc<AtomicUsize>,
}

impl PeerProfile {
    /// Serves a profile document naming `api_base` as where its API is.
    pub fn start(api_base: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let profile_url = format!("http://127.0.0.1:{}/u/mallory", listener.local_addr().unwrap().port());
        let peer = Self { profile_url, api_base: Arc::new(Mutex::new(api_base.to_owned())), reads: Arc::default() };
        let served = peer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let peer = served.clone();
                std::thread::spawn(move || peer.answer(&stream));
            }
        });
        peer
    }

    /// The `apiBase` the document names from now on.
    pub fn set_api_base(&self, api_base: &str) {
        *self.api_base.lock().unwrap() = api_base.to_owned();
    }

    /// How many times the document was read.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn answer(&self, stream: &std::net::TcpStream) {
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let (status, text) = if request_line.starts_with("GET /u/mallory ") {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let document = json!({
                "profileId": "mallory",
                "profileUrl": self.profile_url,
                "apiBase": *self.api_base.lock().unwrap(),
                "keys": [],
            });
            ("200 OK", document.to_string())
        } else {
            ("404 Not Found", "{}".to_owned())
        };
        let _ = write!(
            &*stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }
}

/// A loopback port that counts the connections made to it and closes each unanswered.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub port: u16,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let recorder = Self { port: listener.local_addr().unwrap().port(), connections: Arc::default() };
        let connections = recorder.connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                connections.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        recorder
    }

    /// How many connections reached it so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
