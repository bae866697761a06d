//! The real `profile-server`: a database for one test (a SQLite file, or a fresh database of
//! the PostgreSQL that `scripts/with-postgres` runs), the server on it, and a small HTTP client
//! that can also send what no well-behaved client would.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use profile_core::server_api::{
    Account, ApiErrorCode, Bytes, CredentialKind, ErrorBody, ItemBatch, ItemChanges, ItemPut, ItemsWritten,
    LoginRequest, PreloginRequest, PreloginResponse, Tokens, Vault, VaultWrite, VaultWritten, path,
};
use profile_core::{Passphrase, vault};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{binary, run, start_service};

/// The variable `scripts/with-postgres` sets: a URL of the server's admin database.
pub const POSTGRES_ENV: &str = "PROFILE_TEST_POSTGRES";

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL database
/// (dropped with this value). The temp dir is the server's `HOME` too (its master key).
#[derive(Debug)]
pub struct Database {
    pub url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { url: format!("sqlite://{}/profile.db", dir.path().display()), dir, postgres: None }
    }

    pub fn postgres() -> Self {
        let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: run through scripts/with-postgres (scripts/test does), which starts PostgreSQL"
            )
        });
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("profile_test_{}_{nanos}", std::process::id());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Self { url, dir: tempfile::tempdir().unwrap(), postgres: Some((admin, name)) }
    }

    /// Another database of the same kind.
    pub fn another(&self) -> Self {
        if self.is_postgres() { Self::postgres() } else { Self::sqlite() }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The server's `HOME` (its master key file), and room for a test's own files.
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// `profile-server --database URL admin ARGS` with `input` on stdin: whether it succeeded,
    /// its stdout and its stderr.
    pub fn admin(&self, args: &[&str], input: &str) -> (bool, String, String) {
        let mut command = Command::new(binary("profile-server"));
        command.args(["--database", &self.url, "admin"]).args(args).env("HOME", self.home());
        let out = run(&mut command, input);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }

    /// As `admin`, which must succeed: its stdout.
    pub fn admin_ok(&self, args: &[&str], input: &str) -> String {
        let (ok, out, err) = self.admin(args, input);
        assert!(ok, "profile-server admin {args:?}: {err}");
        out
    }

    /// Creates a user; its profile id.
    pub fn create_user(&self, email: &str, passphrase: &str) -> String {
        let url = self.admin_ok(&["create-user", "--email", email], &format!("{passphrase}\n"));
        url.trim().rsplit('/').next().unwrap().to_owned()
    }

    /// The accounts registry of a user, read from `dump-user`.
    pub fn accounts(&self, email: &str) -> Vec<Account> {
        /// The part of `dump-user`'s output read here: its registry holds the API's accounts.
        #[derive(serde::Deserialize)]
        struct Dump {
            accounts: Vec<Account>,
        }
        let dump = self.admin_ok(&["dump-user", "--email", email], "");
        serde_json::from_str::<Dump>(&dump).map_err(|e| format!("{e}: {dump}")).unwrap().accounts
    }

    /// What the database holds, to search for what must not be there: a SQLite database's files
    /// on disk (the file and its WAL, deleted rows' leftovers included); every row of every
    /// table of a PostgreSQL database, as text, with `bytea` printed as its bytes (printable
    /// ones as they are), so text hidden in a binary column shows too.
    pub fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if self.is_postgres() {
            let every_row = "SET bytea_output = 'escape';\n\
                 SELECT format('SELECT t::text FROM %I.%I t', schemaname, tablename) FROM pg_tables \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \\gexec\n";
            let mut command = Command::new("psql");
            command.args(["-qAtX", "-v", "ON_ERROR_STOP=1", &self.url]);
            let out = run(&mut command, every_row);
            assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
            assert!(!out.stdout.is_empty(), "a database with no rows at all");
            bytes = out.stdout;
        } else {
            for name in ["profile.db", "profile.db-wal"] {
                bytes.extend(std::fs::read(self.home().join(name)).unwrap_or_default());
            }
        }
        bytes
    }

    /// A copy of a SQLite database's files (its server must be stopped meanwhile).
    fn copy_files(from: &Path, to: &Path) {
        for name in SQLITE_FILES {
            let _ = std::fs::remove_file(to.join(name));
            if from.join(name).exists() {
                std::fs::copy(from.join(name), to.join(name)).unwrap();
            }
        }
    }
}

const SQLITE_FILES: [&str; 3] = ["profile.db", "profile.db-wal", "profile.db-shm"];

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            psql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs one statement with `psql`, which must succeed.
pub fn psql(url: &str, sql: &str) {
    let out = Command::new("psql").args(["-qX", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output().unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// How a server was started, to start it again.
#[derive(Debug, Clone)]
struct Launch {
    database: String,
    home: PathBuf,
    listen: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// A running `profile-server`; killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// Where it listens, `127.0.0.1:PORT`.
    pub addr: String,
    /// Where `/metrics` is served apart, when `metrics_listen` is set.
    pub metrics_addr: Option<String>,
    launch: Launch,
}

impl Server {
    /// On a free port, with `public_url`.
    pub fn start(db: &Database, public_url: &str) -> Self {
        Self::start_with(db, &["--public-url", public_url], &[])
    }

    /// On a free port, with more `serve` arguments and environment.
    pub fn start_with(db: &Database, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_at(db, "127.0.0.1:0", args, env)
    }

    /// On `listen`. A fixed port can be briefly taken by an outgoing connection's local end
    /// (clients draw from the same range), so a start that cannot listen is retried for a while.
    pub fn start_at(db: &Database, listen: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let launch = Launch {
            database: db.url.clone(),
            home: db.home().to_owned(),
            listen: listen.to_owned(),
            args: args.iter().map(|&a| a.to_owned()).collect(),
            env: env.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
        };
        let mut server = Self { child: None, addr: String::new(), metrics_addr: None, launch };
        server.serve();
        server
    }

    fn serve(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.try_serve() {
                Ok(()) => return,
                Err(said) if said.contains("cannot listen") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(said) => panic!("the server exited before serving: {said}"),
            }
        }
    }

    /// Starts the server and reads its log up to the line that says where it listens; what it
    /// said when it exits before that.
    fn try_serve(&mut self) -> Result<(), String> {
        let launch = &self.launch;
        let (mut addr, mut metrics_addr) = (None, None);
        let child = start_service(
            Command::new(binary("profile-server"))
                .args(["--database", &launch.database, "serve", "--listen", &launch.listen])
                .args(&launch.args)
                .envs(launch.env.clone())
                .env("HOME", &launch.home),
            |line| {
                if let Some(rest) = line.split(" metrics=").nth(1) {
                    metrics_addr = rest.split_whitespace().next().map(str::to_owned);
                }
                addr = line.split(" listen=").nth(1).and_then(|rest| rest.split_whitespace().next()).map(str::to_owned);
                addr.is_some()
            },
        )?;
        self.child = Some(child);
        self.addr = addr.unwrap();
        self.metrics_addr = metrics_addr;
        // A restart listens where the first start did.
        self.launch.listen.clone_from(&self.addr);
        Ok(())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// SIGKILL; the server stays stopped until `resume`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Serves again, on the same address and database.
    pub fn resume(&mut self) {
        self.serve();
    }

    /// SIGKILL, then the same server again on the same address and database.
    pub fn restart(&mut self) {
        self.kill();
        self.serve();
    }

    /// SIGTERM; whether the server then exited cleanly.
    pub fn stop(mut self) -> bool {
        let mut child = self.child.take().expect("a running server");
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap().success()
    }

    /// The server's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// One HTTP/1.1 request of raw bytes (malformed on purpose, or none).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        self.authorized(method, path, body, None)
    }

    /// A request with a typed JSON body and an access token.
    pub fn call(&self, method: &str, path: &str, body: &impl Serialize, token: &str) -> Reply {
        self.authorized(method, path, &serde_json::to_vec(body).unwrap(), Some(token))
    }

    /// A GET with an access token.
    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.authorized("GET", path, b"", Some(token))
    }

    /// A POST of a typed JSON body without a token.
    pub fn post(&self, path: &str, body: &impl Serialize) -> Reply {
        self.request("POST", path, &serde_json::to_vec(body).unwrap())
    }

    pub fn authorized(&self, method: &str, path: &str, body: &[u8], token: Option<&str>) -> Reply {
        let (status, body) = self.request_text(method, path, body, token);
        Reply { status, body }
    }

    pub fn request_text(&self, method: &str, path: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
        let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.raw(method, path, "application/json", body, &authorization)
    }

    /// A form POST, as a browser sends one.
    pub fn post_form(&self, path: &str, body: &str) -> (u16, String) {
        self.raw("POST", path, "application/x-www-form-urlencoded", body.as_bytes(), "")
    }

    /// A request with `headers` (whole lines, each ending in CRLF) beside the usual ones.
    pub fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8], headers: &str) -> (u16, String) {
        let (status, _, body) = self.raw_at(&self.addr, method, path, content_type, body, headers);
        (status, body)
    }

    /// A request to `addr`; returns the status, the response's head (lowercased) and its body.
    pub fn raw_at(
        &self,
        addr: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &str,
    ) -> (u16, String, String) {
        // A server killed mid-test answers status 0.
        let Ok(mut stream) = TcpStream::connect(addr) else { return (0, String::new(), String::new()) };
        let _ = stream.write_all(&http_request(addr, method, path, content_type, body, headers));
        read_response(&mut stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An answer: its status and its body, read as the contract's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).map_err(|e| format!("{self}: {e}")).unwrap()
    }

    /// The body of a 2xx answer.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!((200..300).contains(&self.status), "{self}");
        self.json()
    }

    pub fn error(&self) -> ErrorBody {
        self.json()
    }

    /// The status and the error's code.
    pub fn code(&self) -> (u16, ApiErrorCode) {
        (self.status, self.error().error.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// The bytes of one HTTP/1.1 request that closes its connection.
pub fn http_request(host: &str, method: &str, path: &str, content_type: &str, body: &[u8], headers: &str) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Reads a response to its end: the status, the head (lowercased) and the body.
pub fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A profile server with one person on it, as the cross-component tests and the page-call
/// benchmark use it: on a SQLite file, at a fixed loopback port (a restart comes back where the
/// hosts look), trusting sites on loopback (the demo shop).
#[derive(Debug)]
pub struct ProfileServer {
    pub db: Database,
    pub server: Server,
    /// The person's profile URL, what a host pairs with.
    pub profile_url: String,
}

impl ProfileServer {
    pub fn start(email: &str, passphrase: &str) -> Self {
        let db = Database::sqlite();
        let profile_id = db.create_user(email, passphrase);
        // A fixed free port, so the public URL (in profile documents) is right.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let server = Server::start_at(
            &db,
            &format!("127.0.0.1:{port}"),
            &["--public-url", &base],
            &[("PROFILE_SERVER__SITES_ON_LOOPBACK", "true")],
        );
        Self { db, server, profile_url: format!("{base}/u/{profile_id}") }
    }

    /// `admin ARGS`, which must succeed: its stdout.
    pub fn admin(&self, args: &[&str], input: &str) -> String {
        self.db.admin_ok(args, input)
    }

    /// SIGKILL, then the same server again on the same port and database.
    pub fn restart(&mut self) {
        self.server.restart();
    }

    /// Stops the server (SIGKILL) until `resume`.
    pub fn pause(&mut self) {
        self.server.kill();
    }

    pub fn resume(&mut self) {
        self.server.resume();
    }

    /// A copy of the database as it is now (the server is stopped for the copy, then served
    /// again).
    pub fn snapshot(&mut self) -> tempfile::TempDir {
        self.server.kill();
        let copy = tempfile::tempdir().unwrap();
        Database::copy_files(self.db.home(), copy.path());
        self.server.resume();
        copy
    }

    /// Puts back a `snapshot`: what a malicious operator or a restored backup does.
    pub fn rewind(&mut self, snapshot: &tempfile::TempDir) {
        self.server.kill();
        Database::copy_files(snapshot.path(), self.db.home());
        self.server.resume();
    }

    /// Everything the database holds on disk.
    pub fn stored_bytes(&self) -> Vec<u8> {
        self.db.stored_bytes()
    }

    /// Writes the person's vault as another of their devices would, signing in and opening it
    /// with the passphrase: `contents` (the vault's JSON) as the next version, which it answers.
    /// What a device running a newer version of Personal Profile does, say.
    pub fn write_vault(&self, email: &str, passphrase: &str, contents: &[u8]) -> u64 {
        let profile_id = self.profile_url.rsplit('/').next().unwrap();
        let (keys, token) = self.sign_in(profile_id, email, passphrase);
        let token = token.as_str();
        let current: Vault = self.server.get(path::VAULT, token).ok();
        let data_key = vault::unwrap(&keys.kek, &current.wrapped(CredentialKind::Passphrase).unwrap().0).unwrap();
        let counter = current.counter as u64;
        // A nonce never used under this key: the counter it is written as, and a tag of its own.
        let mut nonce = [0x7e; 12];
        nonce[..8].copy_from_slice(&(counter + 1).to_be_bytes());
        let blob = vault::seal_vault(&data_key, profile_id, counter + 1, nonce, contents);
        let write = VaultWrite { counter: current.counter, blob: Bytes(blob) };
        let _: VaultWritten = self.server.call("PUT", path::VAULT, &write, token).ok();
        counter + 1
    }

    /// Another person on the same server: their profile URL.
    pub fn add_person(&self, email: &str, passphrase: &str) -> String {
        let profile_id = self.db.create_user(email, passphrase);
        format!("{}/{profile_id}", self.profile_url.rsplit_once('/').unwrap().0)
    }

    /// Publishes `fields` at `profile_url` as a device of that person, signed by `key`, which
    /// need not be the profile's: what a profile server that swaps a public part serves.
    pub fn publish_signed_by(
        &self,
        profile_url: &str,
        email: &str,
        passphrase: &str,
        key: &profile_core::public::ProfileKey,
        fields: serde_json::Value,
    ) {
        let profile_id = profile_url.rsplit('/').next().unwrap();
        let (_, token) = self.sign_in(profile_id, email, passphrase);
        let issued_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let fields = profile_core::public::PublicFields(fields.as_object().unwrap().clone());
        let part = profile_core::public::sign_public(key, profile_url, issued_at, &fields).unwrap();
        let reply = self.server.call("PUT", path::PUBLIC, &part, &token);
        assert!((200..300).contains(&reply.status), "{}", reply.body);
    }

    /// Signs in as another device of the person: the keys their passphrase derives and a token.
    fn sign_in(&self, profile_id: &str, email: &str, passphrase: &str) -> (vault::PassphraseKeys, String) {
        let prelogin = PreloginRequest { profile_id: profile_id.into(), email: email.into() };
        let answer: PreloginResponse = self.server.post(path::PRELOGIN, &prelogin).ok();
        let keys = vault::derive(&Passphrase::new(passphrase.into()), &answer.kdf).unwrap();
        let login = LoginRequest::with_auth_key(profile_id, email, &keys.auth_key, "another device");
        let tokens: Tokens = self.server.post(path::LOGIN, &login).ok();
        (keys, tokens.access_token.expose().to_owned())
    }

    /// Signs in as another device of the person and opens the vault: the data key and a token.
    fn open_as_device(&self, email: &str, passphrase: &str) -> (profile_core::Secret32, String, String) {
        let profile_id = self.profile_url.rsplit('/').next().unwrap().to_owned();
        let (keys, token) = self.sign_in(&profile_id, email, passphrase);
        let current: Vault = self.server.get(path::VAULT, &token).ok();
        let data_key = vault::unwrap(&keys.kek, &current.wrapped(CredentialKind::Passphrase).unwrap().0).unwrap();
        (data_key, token, profile_id)
    }

    /// The vault blob's contents as JSON, as a host from before vault items reads them.
    pub fn read_vault(&self, email: &str, passphrase: &str) -> serde_json::Value {
        let (data_key, token, profile_id) = self.open_as_device(email, passphrase);
        let current: Vault = self.server.get(path::VAULT, &token).ok();
        let json = vault::open_vault(&data_key, &profile_id, current.counter as u64, &current.blob.0).unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    /// Writes a vault item as another of the person's devices would: `plain` is the sealed
    /// entry's whole plaintext (`{"v": FORMAT, "k": KEY, "d": JSON}`), written over the item of
    /// entry `key` at its current version. What a device running a newer version does, say.
    pub fn write_item(&self, email: &str, passphrase: &str, key: &str, plain: &[u8]) {
        let (data_key, token, profile_id) = self.open_as_device(email, passphrase);
        let id = vault::entries::ItemIds::new(&data_key).of(key);
        let changes: ItemChanges = self.server.get(&format!("{}?since=0", path::VAULT_ITEMS), &token).ok();
        let version = changes.items.iter().find(|c| c.id.as_str() == id).map_or(0, |c| c.version);
        let nonce = [0x6d; 12];
        let blob = vault::seal_item(&data_key, &profile_id, &id, version as u64 + 1, nonce, plain);
        let batch = ItemBatch {
            puts: vec![ItemPut { id: id.parse().unwrap(), version, blob: Bytes(blob) }],
            deletes: Vec::new(),
        };
        let _: ItemsWritten = self.server.call("POST", path::VAULT_ITEMS, &batch, &token).ok();
    }

    /// A POST of `body` with a `Personal-Profile-Signature` (a site's signed request).
    pub fn post_signed(&self, path: &str, body: &impl Serialize, signature: &str) -> Reply {
        let header = format!("Personal-Profile-Signature: {signature}\r\n");
        let (status, body) =
            self.server.raw("POST", path, "application/json", &serde_json::to_vec(body).unwrap(), &header);
        Reply { status, body }
    }
}
