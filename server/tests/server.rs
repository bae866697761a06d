//! The real `profile-server` binary on a real SQLite file and on a real PostgreSQL server
//! (run through `scripts/with-postgres`, as the README's test command does), over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_profile-server"))
}

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL database.
struct Database {
    url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Database {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { url: format!("sqlite://{}/profile.db", dir.path().display()), dir, postgres: None }
    }

    fn postgres() -> Self {
        let admin = std::env::var("PROFILE_TEST_POSTGRES").expect(
            "PROFILE_TEST_POSTGRES is not set: run through scripts/with-postgres (scripts/test does), which starts PostgreSQL",
        );
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("profile_test_{}_{nanos}", std::process::id());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Self { url, dir: tempfile::tempdir().unwrap(), postgres: Some((admin, name)) }
    }

    fn admin(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = Command::new(binary())
            .args(["--database", &self.url, "admin"])
            .args(args)
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            psql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql").args(["-qX", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output().unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A running server; SIGTERM on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(db: &Database, public_url: &str) -> Self {
        Self::start_with(db, &["--public-url", public_url])
    }

    fn start_with(db: &Database, args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args(["--database", &db.url, "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("HOME", db.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "the server exited before serving");
            if let Some(rest) = line.split("listen=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "the server did not start");
        };
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Self { child, addr }
    }

    /// One HTTP/1.1 request; returns the status and the JSON body (`Null` when not JSON).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        let (status, body) = self.request_text(method, path, body);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// The body of a GET, as text.
    fn text(&self, path: &str) -> String {
        self.request_text("GET", path, b"").1
    }

    fn request_text(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (status, body.to_owned())
    }

    fn stop(mut self) -> bool {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap().success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin_verbs_and_profile_documents(db: Database) {
    let (ok, url, err) = db.admin(&["create-user", "--email", "Ada@Example.org"], "correct horse battery\n");
    assert!(ok, "{err}");
    let id = url.trim().rsplit('/').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:8450/u/") && id.len() == 22, "{url}");
    let (ok, _, err) = db.admin(&["create-user", "--email", "ada@example.org"], "another passphrase\n");
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, _, err) = db.admin(&["create-user", "--email", "bob@example.org"], "short\n");
    assert!(!ok && err.contains("at least 8"), "{err}");

    assert!(db.admin(&["create-tenant", "acme"], "").0);
    let (ok, _, err) = db.admin(&["create-tenant", "acme"], "");
    assert!(!ok && err.contains("exist"), "{err}");
    assert!(db.admin(&["create-user", "--email", "ada@example.org", "--tenant", "acme"], "a third passphrase\n").0);
    let (_, listed, _) = db.admin(&["list-users"], "");
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let (_, acme, _) = db.admin(&["list-users", "--tenant", "acme", "--public-url", "https://p.example"], "");
    assert!(acme.starts_with("acme  ada@example.org  https://p.example/u/") && acme.lines().count() == 1, "{acme}");

    // Tickets: printed once, spent at first use whether it succeeds or not, and expiring.
    let (ok, ticket, err) = db.admin(&["issue-ticket", "--email", "ada@example.org"], "");
    assert!(ok && ticket.trim().len() == 43, "{ticket} {err}");
    let (ok, _, err) = db.admin(&["issue-ticket", "--email", "ada@example.org", "--ttl", "11m"], "");
    assert!(!ok && err.contains("at most 10 minutes"), "{err}");
    let (ok, _, err) = db.admin(&["issue-ticket", "--email", "nobody@example.org"], "");
    assert!(!ok && err.contains("no user nobody@example.org"), "{err}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pool = profile_server::db::Db::connect(&db.url).await.unwrap();
        assert_eq!(pool.redeem_ticket(ticket.trim()).await.unwrap().unwrap(), id);
        assert!(pool.redeem_ticket(ticket.trim()).await.unwrap().is_err(), "a ticket works once");
        assert!(pool.redeem_ticket("made-up").await.unwrap().is_err());
        let expired = pool.issue_ticket(&id, 0).await.unwrap();
        assert!(pool.redeem_ticket(&expired).await.unwrap().is_err(), "an expired ticket is refused");
    });

    // Dump and load: the dump is still encrypted, and loads into another tenant whole.
    let (ok, dump, err) = db.admin(&["dump-user", "--email", "ada@example.org"], "");
    assert!(ok, "{err}");
    assert!(!dump.contains("correct horse"), "the dump holds no passphrase");
    let parsed: Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(
        (parsed["format"].clone(), parsed["vault"]["counter"].clone()),
        (json!("personal-profile.user.v1"), json!(1))
    );
    let (ok, _, err) = db.admin(&["load-user"], &dump);
    assert!(!ok && err.contains("taken"), "{err}");
    let other = if db.postgres.is_some() { Database::postgres() } else { Database::sqlite() };
    let (ok, loaded, err) = other.admin(&["load-user"], &dump);
    assert!(ok && loaded.trim().ends_with(&id), "{err}");
    assert_eq!(other.admin(&["dump-user", "--email", "ada@example.org"], "").1, dump, "a load keeps everything");
    let (ok, _, err) = other.admin(&["load-user", "--tenant", "default"], "{\"format\": \"nope\"}");
    assert!(!ok && err.contains("dump-user JSON"), "{err}");

    let server = Server::start(&db, "https://profiles.example/");
    let (status, health) = server.request("GET", "/healthz", b"");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let (status, document) = server.request("GET", &format!("/u/{id}"), b"");
    assert_eq!(status, 200);
    assert_eq!(
        document,
        json!({"profileId": id, "profileUrl": format!("https://profiles.example/u/{id}"), "apiBase": "https://profiles.example"})
    );
    let (status, error) = server.request("GET", "/u/nobody", b"");
    assert_eq!((status, error["error"]["code"].clone()), (404, json!("not_found")));
    let (status, error) = server.request("GET", "/no/such/thing", b"");
    assert_eq!((status, error["error"]["code"].clone()), (404, json!("not_found")));
    let (status, _) = server.request("POST", "/u/x", &vec![b'x'; 2 << 20]);
    assert!((400..500).contains(&status), "an oversized body is a 4xx: {status}");

    // Lockdown: a user, then the whole site; both can be lifted.
    assert!(db.admin(&["lockdown", "--email", "ada@example.org"], "").0);
    assert_eq!(server.request("GET", &format!("/u/{id}"), b"").0, 404);
    assert!(db.admin(&["list-users"], "").1.contains("locked"));
    assert!(db.admin(&["lockdown", "--email", "ada@example.org", "--lift"], "").0);
    assert_eq!(server.request("GET", &format!("/u/{id}"), b"").0, 200);
    assert!(db.admin(&["lockdown", "--site"], "").0);
    let (status, error) = server.request("GET", &format!("/u/{id}"), b"");
    assert_eq!((status, error["error"]["code"].clone()), (503, json!("locked_down")));
    assert!(db.admin(&["lockdown", "--site", "--lift"], "").0);
    assert_eq!(server.request("GET", &format!("/u/{id}"), b"").0, 200);

    // Metrics: counted by route pattern, never by the id in the path.
    let metrics = server.text("/metrics");
    assert!(
        metrics.contains(r#"profile_server_http_requests_total{method="GET",route="/u/{id}",status="200"} 3"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="unmatched",status="404""#), "{metrics}");
    assert!(metrics.contains("profile_server_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(!metrics.contains(&id), "no user id in the metrics");
    assert!(server.stop(), "SIGTERM ends the server cleanly");
}

#[test]
fn on_sqlite_admin_verbs_and_profile_documents() {
    admin_verbs_and_profile_documents(Database::sqlite());
}

#[test]
fn on_postgres_admin_verbs_and_profile_documents() {
    admin_verbs_and_profile_documents(Database::postgres());
}

#[test]
fn over_tls_with_a_given_certificate() {
    let db = Database::sqlite();
    let (cert, key) = (db.dir.path().join("cert.pem"), db.dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is missing (Debian's openssl package)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let server = Server::start_with(&db, &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-verify_ip",
            "127.0.0.1",
            "-connect",
            &server.addr,
            "-CAfile",
        ])
        .arg(&cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    let response = String::from_utf8_lossy(&out.stdout);
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains(r#""status":"ok""#),
        "{response}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Plain HTTP to the TLS port gets no answer from the API.
    assert_ne!(server.request("GET", "/healthz", b"").0, 200);
    assert!(server.stop());

    let (ok, _, err) = db.admin(&["list-users"], "");
    assert!(ok, "{err}");
    let out = Command::new(binary())
        .args(["--database", &db.url, "serve", "--tls-cert", cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
