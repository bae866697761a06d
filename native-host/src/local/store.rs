//! The host's files in its data dir, all sealed under the master key from the OS keystore:
//!
//! - `state.sealed`: the [`LocalState`], rewritten atomically (temp file, fsync, rename, fsync
//!   of the directory), so a crash leaves the old or the new state, never a torn one;
//! - `ledger.sealed`: the disclosure ledger, append-only records of `u32 length ‖ sealed JSON`;
//!   a torn last record (a crash mid-append) is ignored when read;
//! - `lock`: the OS file lock that serializes writers across host processes. Every write starts
//!   from the state on disk, so what another process saved is never lost;
//! - `activity`: an empty file whose modification time is when a person last did something with
//!   the profile (the idle auto-lock's clock, shared by every process on the data dir).
//!
//! The ledger is compacted when it grows past [`LEDGER_COMPACT_BYTES`]: repeats of one request
//! are folded into a count, and if that is not enough the sites with the most entries lose
//! their oldest ones first, so one site's flood never erases what another site received.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use profile_core::seal::{self, Purpose, SealError};
use profile_core::wire::Disclosure;
use profile_core::{ErrorCode, Origin};
use profile_core::{Secret32, WireError};
use zeroize::Zeroizing;

use crate::local::keystore::{Keystore, KeystoreError, entry_name};
use crate::local::state::{LocalState, STATE_VERSION};

const STATE_FILE: &str = "state.sealed";
const LEDGER_FILE: &str = "ledger.sealed";
const LOCK_FILE: &str = "lock";
const ACTIVITY_FILE: &str = "activity";
/// The sealed envelope's version, which the state's own format ([`STATE_VERSION`], inside it)
/// does not change: a host can then open a newer state and say in words that it is newer.
const STATE_PURPOSE: Purpose = Purpose { name: "host-state", version: 1 };
const LEDGER_PURPOSE: Purpose = Purpose { name: "host-ledger", version: 1 };
/// The ledger is compacted once it grows past this…
pub const LEDGER_COMPACT_BYTES: u64 = 4 << 20;
/// …to at most this.
const LEDGER_COMPACTED_BYTES: usize = 2 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("the state file exists but its master key is missing from the OS keystore ({keystore}); nothing was changed", keystore = crate::local::keystore::NAME)]
    KeyMissing,
    #[error("the state file cannot be decrypted with the master key from the OS keystore ({keystore}): {0}", keystore = crate::local::keystore::NAME)]
    Undecryptable(SealError),
    #[error("the state file decrypts but is not valid: {0}")]
    Corrupt(String),
    #[error(
        "the state file was written by a newer version of profile-host (format {found}; this one reads formats \
         up to {STATE_VERSION}): update profile-host. Nothing was changed"
    )]
    Newer { found: u16 },
    #[error("{0}: {1}")]
    Io(String, io::Error),
    #[error("the system random number generator failed")]
    Random,
}

impl From<StoreError> for WireError {
    fn from(error: StoreError) -> Self {
        WireError::internal(error.to_string())
    }
}

fn io_error(what: &str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let context = format!("{what} {}", path.display());
    move |e| StoreError::Io(context, e)
}

pub use super::now;

/// Reads the state's JSON, of this format or an earlier one (upgraded); a newer one is refused
/// in words before anything else of it is read, so nothing is written over it.
fn parse_state(json: &[u8]) -> Result<LocalState, StoreError> {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default)]
        version: u16,
    }
    let Version { version } = serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if version > STATE_VERSION {
        return Err(StoreError::Newer { found: version });
    }
    let mut state: LocalState = serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    state.upgrade();
    Ok(state)
}

/// Fresh random bytes from the OS.
pub fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Random)?;
    Ok(bytes)
}

/// The open store of one data dir.
pub struct Store {
    dir: PathBuf,
    key: Secret32,
    /// The state as last read or written, with the file version it came from.
    cache: Mutex<Option<(Stamp, Arc<LocalState>)>>,
    /// The ledger, open for appending, with its file id, while it is the file at its path.
    ledger: Mutex<Option<(File, u64)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the data dir, creating it, the master key and an empty state on first use.
    pub fn open(dir: &Path, keystore: &dyn Keystore) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let dir = dir.canonicalize().map_err(io_error("cannot resolve", dir))?;
        let _guard = FileLock::acquire(&dir)?;
        let entry = entry_name(&dir);
        let state_path = dir.join(STATE_FILE);
        let key = match keystore.load(&entry)? {
            Some(key) => key,
            None if state_path.exists() => return Err(StoreError::KeyMissing),
            None => {
                let key = Secret32::from_bytes(random()?);
                keystore.save(&entry, &key)?;
                key
            }
        };
        let store = Self { dir, cache: Mutex::new(None), key, ledger: Mutex::new(None) };
        if !state_path.exists() {
            store.write_state(&LocalState::new(Secret32::from_bytes(random()?)))?;
        }
        store.state()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The latest state: re-read when another process has replaced the file since.
    pub fn state(&self) -> Result<Arc<LocalState>, StoreError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = Stamp::of(&self.dir.join(STATE_FILE))?;
        match cache.as_ref() {
            Some((seen, state)) if *seen == stamp => Ok(state.clone()),
            _ => {
                let state = Arc::new(self.read_state()?);
                *cache = Some((stamp, state.clone()));
                Ok(state)
            }
        }
    }

    /// Applies `change` to the latest state on disk and writes the result atomically, holding
    /// the OS file lock throughout. When `change` fails nothing is written.
    pub fn update<R>(&self, change: impl FnOnce(&mut LocalState) -> Result<R, WireError>) -> Result<R, WireError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = FileLock::acquire(&self.dir)?;
        let mut state = self.read_state()?;
        let result = change(&mut state)?;
        self.write_state(&state)?;
        let stamp = Stamp::of(&self.dir.join(STATE_FILE))?;
        *cache = Some((stamp, Arc::new(state)));
        Ok(result)
    }

    /// When a person last did something with this profile, in any process on this data dir
    /// (Unix seconds; 0 when never recorded).
    pub fn last_activity(&self) -> u64 {
        fs::metadata(self.dir.join(ACTIVITY_FILE))
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_secs())
    }

    /// Records that a person did something now: only their actions keep an unlocked profile
    /// from locking for idleness.
    pub fn touch_activity(&self) -> Result<(), StoreError> {
        let path = self.dir.join(ACTIVITY_FILE);
        open_for_writing(&path)?.set_modified(SystemTime::now()).map_err(io_error("cannot touch", &path))
    }

    /// The latest state, locked first when its unlock session has run out (its time is up, or
    /// no person did anything for the auto-lock time). Also says whether it locked it now.
    pub fn enforce_session(&self, now: u64) -> Result<(Arc<LocalState>, bool), WireError> {
        let state = self.state()?;
        let last = self.last_activity();
        if !state.session_over(now, last) {
            return Ok((state, false));
        }
        self.update(|s| {
            if s.session_over(now, last) {
                s.locked = true;
            }
            Ok(())
        })?;
        Ok((self.state()?, true))
    }

    /// Fails with `locked` when the profile is locked (after its session ran out, too).
    pub fn require_unlocked(&self, now: u64) -> Result<Arc<LocalState>, WireError> {
        let (state, _) = self.enforce_session(now)?;
        if state.locked {
            return Err(WireError::new(ErrorCode::Locked, "the profile is locked"));
        }
        Ok(state)
    }

    fn read_state(&self) -> Result<LocalState, StoreError> {
        let path = self.dir.join(STATE_FILE);
        let blob = fs::read(&path).map_err(io_error("cannot read", &path))?;
        let json = seal::open(&self.key, STATE_PURPOSE, &blob).map_err(StoreError::Undecryptable)?;
        parse_state(&json)
    }

    fn write_state(&self, state: &LocalState) -> Result<(), StoreError> {
        let json = Zeroizing::new(serde_json::to_vec(state).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let blob = seal::seal(&self.key, STATE_PURPOSE, random()?, &json);
        write_atomically(&self.dir.join(STATE_FILE), &blob)
    }

    /// Appends one entry to the disclosure ledger, before the answer it records leaves: a
    /// `write` to the open file (no fsync), so a killed process has written it already.
    ///
    /// The file stays open between appends. Appenders and the compaction take the ledger
    /// file's own lock; compaction replaces the file, so an appender checks under the lock that
    /// its file is still the one at the path, and opens the new one when not.
    pub fn append_disclosure(&self, entry: &Disclosure) -> Result<(), StoreError> {
        let json = serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let record = ledger_record(&self.key, &json)?;
        let path = self.dir.join(LEDGER_FILE);
        let mut open = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        let (mut file, id, size) = loop {
            let (file, id) = match open.take() {
                Some(open) => open,
                None => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(io_error("cannot open", &path))?;
                    let id = file_id(&file.metadata().map_err(io_error("cannot stat", &path))?);
                    (file, id)
                }
            };
            file.lock().map_err(io_error("cannot lock", &path))?;
            let now_there = fs::metadata(&path).map_err(io_error("cannot stat", &path))?;
            if file_id(&now_there) == id {
                break (file, id, now_there.len());
            }
            // Compacted away by another process: this one appends to the new file.
        };
        let written = file.write_all(&record).map_err(io_error("cannot append to", &path));
        let size = size + record.len() as u64;
        let compacted = match written {
            Ok(()) if size > LEDGER_COMPACT_BYTES => self.compact_ledger(&path).map(|()| true),
            Ok(()) => Ok(false),
            Err(e) => Err(e),
        };
        let _ = file.unlock();
        if matches!(compacted, Ok(false)) && id != 0 {
            *open = Some((file, id));
        }
        compacted.map(|_| ())
    }

    /// Folds and trims the ledger into a new file at `path` (the caller holds its lock).
    fn compact_ledger(&self, path: &Path) -> Result<(), StoreError> {
        let mut records = Vec::new();
        for entry in compact(self.read_ledger_unlocked()?) {
            let json = serde_json::to_vec(&entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            records.push((entry.origin, ledger_record(&self.key, &json)?));
        }
        let bytes: Vec<u8> = trim(records, LEDGER_COMPACTED_BYTES).concat();
        write_atomically(path, &bytes)
    }

    /// The whole ledger, oldest first.
    pub fn disclosures(&self) -> Result<Vec<Disclosure>, StoreError> {
        self.read_ledger_unlocked()
    }

    fn read_ledger_unlocked(&self) -> Result<Vec<Disclosure>, StoreError> {
        let path = self.dir.join(LEDGER_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("cannot read", &path)(e)),
        };
        let mut entries = Vec::new();
        let mut rest = bytes.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_le_bytes(*len) as usize;
            let Some(blob) = tail.get(..len) else { break }; // torn last record
            let json = seal::open(&self.key, LEDGER_PURPOSE, blob).map_err(StoreError::Undecryptable)?;
            entries.push(serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            rest = &tail[len..];
        }
        Ok(entries)
    }
}

/// Folds repeats (the same request with the same outcome from the same site on the same day)
/// into one entry that counts them, oldest first.
fn compact(entries: Vec<Disclosure>) -> Vec<Disclosure> {
    let mut folded: Vec<Disclosure> = Vec::with_capacity(entries.len());
    // Where the newest entry of each site went, to fold repeats that came between others.
    let mut latest: std::collections::HashMap<(Origin, String), Vec<usize>> = std::collections::HashMap::new();
    for entry in entries {
        let key = (entry.origin.clone(), entry.method.clone());
        let slots = latest.entry(key).or_default();
        match slots.iter().rev().find(|&&i| folded[i].repeats(&entry)) {
            Some(&i) => folded[i].fold(&entry),
            None => {
                slots.push(folded.len());
                folded.push(entry);
            }
        }
    }
    folded
}

/// Keeps at most `budget` bytes of `(site, record)`, oldest first: while over, the site with the
/// most records loses its oldest one, so a site that asked little keeps its history.
fn trim(records: Vec<(Origin, Vec<u8>)>, budget: usize) -> Vec<Vec<u8>> {
    let mut total: usize = records.iter().map(|(_, r)| r.len()).sum();
    let mut per_site: std::collections::HashMap<&Origin, std::collections::VecDeque<usize>> =
        std::collections::HashMap::new();
    for (i, (site, _)) in records.iter().enumerate() {
        per_site.entry(site).or_default().push_back(i);
    }
    let mut dropped = vec![false; records.len()];
    while total > budget {
        let Some(biggest) = per_site.values_mut().max_by_key(|v| v.len()) else { break };
        let Some(oldest) = biggest.pop_front() else { break };
        dropped[oldest] = true;
        total -= records[oldest].1.len();
    }
    records.into_iter().zip(dropped).filter(|(_, gone)| !gone).map(|((_, record), _)| record).collect()
}

fn ledger_record(key: &Secret32, json: &[u8]) -> Result<Vec<u8>, StoreError> {
    let blob = seal::seal(key, LEDGER_PURPOSE, random()?, json);
    let mut record = Vec::with_capacity(4 + blob.len());
    record.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    record.extend_from_slice(&blob);
    Ok(record)
}

/// Temp file in the same directory, fsync, rename over the target, fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = private_file(&tmp).map_err(io_error("cannot create", &tmp))?;
    file.write_all(bytes).map_err(io_error("cannot write", &tmp))?;
    file.sync_all().map_err(io_error("cannot sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error("cannot replace", path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error("cannot sync", dir))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(()) // NTFS makes the rename durable with the file's own flush.
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error("cannot create", dir))
}

/// Identifies one version of a file: any rename or rewrite changes it.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Result<Self, StoreError> {
        let meta = fs::metadata(path).map_err(io_error("cannot stat", path))?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self { len: meta.len(), modified: meta.modified().ok(), inode })
    }
}

/// An exclusive OS lock on `DIR/lock`, released when dropped.
struct FileLock(File);

impl FileLock {
    fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = open_for_writing(&path)?;
        file.lock().map_err(io_error("cannot lock", &path))?;
        Ok(Self(file))
    }
}

/// Which file this is (its inode), to tell a replaced file from the one held open; 0 where the
/// OS does not say, and the ledger is then opened for each append.
fn file_id(meta: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(meta)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// Opens a small file of the data dir for writing, made when missing, its contents kept.
fn open_for_writing(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_error("cannot open", path))
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use profile_core::{Address, AddressId, AddressKind, Label};

    use super::*;
    use crate::local::keystore::memory::MemoryKeystore;

    fn address() -> Address {
        serde_json::from_value(serde_json::json!({"name": "Grace Hopper", "line1": "1 Navy Way",
            "city": "Arlington", "postalCode": "22202", "country": "US"}))
        .unwrap()
    }

    fn save(state: &mut LocalState, id: &str) -> Result<(), WireError> {
        let (id, label) = (AddressId::try_from(id.to_owned()).unwrap(), Label::try_from("Home".to_owned()).unwrap());
        state.address_book.save(id, label, address(), 1).map_err(|e| WireError::invalid(e.to_string()))
    }

    #[test]
    fn two_stores_on_one_dir_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let a = Store::open(dir.path(), &keystore).unwrap();
        let b = Store::open(dir.path(), &keystore).unwrap();
        a.update(|s| save(s, "home")).unwrap();
        b.update(|s| save(s, "work")).unwrap();
        let seen = a.state().unwrap();
        assert_eq!(seen.address_book.len(), 2, "a write from one process never drops the other's");
        assert_eq!(seen.device_secret, b.state().unwrap().device_secret);
    }

    #[test]
    fn a_failed_change_writes_nothing_and_plaintext_never_lands() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &MemoryKeystore::default()).unwrap();
        store.update(|s| save(s, "home")).unwrap();
        let before = fs::read(dir.path().join(STATE_FILE)).unwrap();
        let err = store.update(|s| {
            s.address_book = profile_core::AddressBook::default();
            Err::<(), _>(WireError::invalid("no"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(dir.path().join(STATE_FILE)).unwrap(), before);
        assert!(!before.windows(6).any(|w| w == b"Hopper"));
    }

    #[test]
    fn a_state_of_the_first_format_opens_upgraded_and_a_newer_one_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let store = Store::open(dir.path(), &keystore).unwrap();
        let key = keystore.load(&entry_name(store.dir())).unwrap().unwrap();
        let write = |json: &[u8]| {
            fs::write(dir.path().join(STATE_FILE), seal::seal(&key, STATE_PURPOSE, [3; 12], json)).unwrap();
        };
        // Written by the host before address books (tests/fixtures, made with that code).
        write(include_bytes!("../../tests/fixtures/state-v1.json"));
        let state = Store::open(dir.path(), &keystore).unwrap().state().unwrap();
        assert_eq!(state.version, STATE_VERSION);
        let shipping = state.address_book.default_of(AddressKind::Shipping).unwrap();
        assert_eq!((shipping.label.as_str(), shipping.address.name.as_str()), ("Shipping", "Ada Lovelace"));
        assert_eq!(state.address_book.default_of(AddressKind::Billing).unwrap().address.name, "Ada King");
        // The next write is in the current format.
        let store = Store::open(dir.path(), &keystore).unwrap();
        store.update(|_| Ok(())).unwrap();
        let json = seal::open(&key, STATE_PURPOSE, &fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            (written["version"].as_u64(), written["addressBook"]["addresses"].as_array().map(Vec::len)),
            (Some(u64::from(STATE_VERSION)), Some(2))
        );

        // A state from a newer host: refused in words, and left as it is.
        let newer = br#"{"version": 4, "deviceSecret": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI", "homes": []}"#;
        write(newer);
        let before = fs::read(dir.path().join(STATE_FILE)).unwrap();
        let refused = Store::open(dir.path(), &keystore).unwrap_err();
        assert!(matches!(refused, StoreError::Newer { found: 4 }));
        let words = refused.to_string();
        assert!(words.contains("newer version of profile-host") && words.contains("update profile-host"), "{words}");
        assert!(store.update(|_| Ok(())).unwrap_err().message.contains("newer version"));
        assert_eq!(fs::read(dir.path().join(STATE_FILE)).unwrap(), before, "nothing written over it");
    }

    #[test]
    fn ledger_survives_a_torn_tail_and_refuses_a_missing_key() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let store = Store::open(dir.path(), &keystore).unwrap();
        let entry = Disclosure::new(
            1,
            Origin::parse("https://shop.example").unwrap(),
            "getDeviceId",
            vec!["deviceId".into()],
            "disclosed".into(),
        );
        store.append_disclosure(&entry).unwrap();
        store.append_disclosure(&entry).unwrap();
        let mut file = OpenOptions::new().append(true).open(dir.path().join(LEDGER_FILE)).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        assert_eq!(store.disclosures().unwrap(), vec![entry.clone(), entry]);

        let empty = MemoryKeystore::default();
        assert!(matches!(Store::open(dir.path(), &empty), Err(StoreError::KeyMissing)));
    }

    #[test]
    fn compaction_folds_repeats_and_trims_the_biggest_site_first() {
        let site = |name: &str| Origin::parse(&format!("https://{name}.example")).unwrap();
        let entry = |at: u64, name: &str, outcome: &str| {
            Disclosure::new(at, site(name), "getDeviceId", vec!["deviceId".into()], outcome.into())
        };
        let mut entries = vec![entry(10, "bank", "disclosed")];
        entries.extend((0..1000).map(|i| entry(20 + i, "shop", "disclosed")));
        entries.push(entry(30, "shop", "user_denied"));
        entries.push(entry(86_400 + 5, "shop", "disclosed"));
        let folded = compact(entries);
        assert_eq!(folded.len(), 4, "{folded:?}");
        assert_eq!((folded[1].count, folded[1].until), (1000, Some(1019)));
        assert_eq!(folded[3].count, 1, "another day starts another entry");

        let records: Vec<(Origin, Vec<u8>)> =
            [("bank", 1), ("shop", 1), ("shop", 2), ("news", 1), ("shop", 3), ("shop", 4)]
                .iter()
                .map(|(name, n)| (site(name), vec![*n; 10]))
                .collect();
        let kept = trim(records, 40);
        assert_eq!(kept, [vec![1; 10], vec![1; 10], vec![3; 10], vec![4; 10]], "the shop lost its oldest two");
    }
}
