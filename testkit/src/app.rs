//! An app's web server on loopback, as the tests need one: it publishes a registration at
//! `/.well-known/personal-profile` and receives webhooks at `/webhook`, keeping each one's
//! headers and exact body; while `down`, it answers every webhook `503`, as an app that is
//! deploying does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A webhook as it arrived: its headers (names in lower case) and its exact body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// The app's server; serves until the test ends.
#[derive(Debug, Clone)]
pub struct AppSite {
    /// `http://127.0.0.1:PORT`, the app's origin.
    pub origin: String,
    pub down: Arc<AtomicBool>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    /// Webhooks answered `503` while down.
    refused: Arc<Mutex<usize>>,
}

impl AppSite {
    /// Serves `registration` (the JSON of `/.well-known/personal-profile`).
    pub fn start(registration: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let site = Self { origin, down: Arc::default(), deliveries: Arc::default(), refused: Arc::default() };
        let registration = Arc::new(registration.to_string());
        let served = site.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (site, registration) = (served.clone(), registration.clone());
                std::thread::spawn(move || site.answer(stream, &registration));
            }
        });
        site
    }

    fn answer(&self, stream: std::net::TcpStream, registration: &str) {
        let mut reader = BufReader::new(&stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut headers = HashMap::new();
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            if let Some((name, value)) = line.trim_end().split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
            line.clear();
        }
        let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0usize);
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, text) = if request_line.starts_with("GET /.well-known/personal-profile") {
            ("200 OK", registration.to_owned())
        } else if request_line.starts_with("POST /webhook") {
            if self.down.load(Ordering::SeqCst) {
                *self.refused.lock().unwrap() += 1;
                ("503 Service Unavailable", "{}".to_owned())
            } else {
                self.deliveries.lock().unwrap().push(Delivery { headers, body });
                ("200 OK", "{}".to_owned())
            }
        } else {
            ("404 Not Found", "{}".to_owned())
        };
        let _ = write!(
            &stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    /// Where its webhooks go.
    pub fn webhook_url(&self) -> String {
        format!("{}/webhook", self.origin)
    }

    /// Every webhook received so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// How many were refused while down.
    pub fn refused(&self) -> usize {
        *self.refused.lock().unwrap()
    }
}
