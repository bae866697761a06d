//! The host's files in its data dir, all sealed under the master key from the OS keystore:
//!
//! - `state.sealed`: the [`LocalState`], rewritten atomically (temp file, fsync, rename, fsync
//!   of the directory), so a crash leaves the old or the new state, never a torn one;
//! - `ledger.sealed`: the disclosure ledger, append-only records of `u32 length ‖ sealed JSON`;
//!   a torn last record (a crash mid-append) is ignored when read;
//! - `items.sealed`: the profile's items (receipts, medical events, …) and the profile server's
//!   copy of them as last synced, kept apart from the state so a change to one of ten thousand
//!   items writes one record (`u32 length ‖ sealed JSON`, fsynced) rather than the whole
//!   profile; the state file holds everything else. Read back, the records replay in order; a
//!   torn last record is ignored; when dead records outnumber the live ones the file is
//!   rewritten whole (atomically);
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
use crate::local::link::KnownItem;
use crate::local::state::{LocalState, STATE_VERSION};
use profile_core::Category;
use profile_core::ItemId;
use profile_core::vault::{Items, Kept};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const STATE_FILE: &str = "state.sealed";
const LEDGER_FILE: &str = "ledger.sealed";
const ITEMS_FILE: &str = "items.sealed";
const ITEMS_PURPOSE: Purpose = Purpose { name: "host-items", version: 1 };
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
    cache: Mutex<Option<Cached>>,
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
            store.write_state(&mut LocalState::new(Secret32::from_bytes(random()?)), None)?;
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
            Some(cached) if cached.stamp == stamp => Ok(cached.state.clone()),
            _ => {
                let read = self.read_state()?;
                let state = read.state.clone();
                *cache = Some(read);
                Ok(state)
            }
        }
    }

    /// Applies `change` to the latest state on disk and writes the result atomically, holding
    /// the OS file lock throughout. When `change` fails nothing is written.
    pub fn update<R>(&self, change: impl FnOnce(&mut LocalState) -> Result<R, WireError>) -> Result<R, WireError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = FileLock::acquire(&self.dir)?;
        // The latest on disk: what this process read or wrote last, unless another replaced it.
        let stamp = Stamp::of(&self.dir.join(STATE_FILE))?;
        // …and unless the items file is not as this process left it (another appended and died
        // before replacing the state file, or a torn append).
        let items_len = fs::metadata(self.dir.join(ITEMS_FILE)).map_or(0, |m| m.len());
        let before = match cache.take() {
            Some(cached) if cached.stamp == stamp && cached.items_len == items_len => cached,
            _ => self.read_state()?,
        };
        let mut state = (*before.state).clone();
        let result = match change(&mut state) {
            Ok(result) => result,
            Err(e) => {
                *cache = Some(before);
                return Err(e);
            }
        };
        let (records, items_len) = self.write_state(&mut state, Some(&before))?;
        let stamp = Stamp::of(&self.dir.join(STATE_FILE))?;
        *cache = Some(Cached { stamp, state: Arc::new(state), records, inline: false, items_len });
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

    /// The state file, then the items file replayed over it.
    fn read_state(&self) -> Result<Cached, StoreError> {
        let path = self.dir.join(STATE_FILE);
        let stamp = Stamp::of(&path)?;
        let blob = fs::read(&path).map_err(io_error("cannot read", &path))?;
        let json = seal::open(&self.key, STATE_PURPOSE, &blob).map_err(StoreError::Undecryptable)?;
        let mut state = parse_state(&json)?;
        // Items kept in the state file itself (a state written before the items file) move to
        // the items file at the next write.
        let inline = kept_apart(&state) > 0;
        let mut records = 0;
        let (read, items_len, torn) = read_records(&self.key, ITEMS_PURPOSE, &self.dir.join(ITEMS_FILE))?;
        // A torn last record (a crash mid-append) is left out, and the file rewritten whole at
        // the next write, so nothing is ever appended after it.
        let inline = inline || torn;
        for json in read {
            let record: Record = serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            records += 1;
            match (record, state.server.as_mut()) {
                (Record::Item { base: false, category, id, kept }, _) => state.items.set(category, id, kept),
                (Record::Item { base: true, category, id, kept }, Some(link)) => {
                    link.base.items.set(category, id, kept);
                }
                (Record::Version { id, known: Some(known) }, Some(link)) => {
                    link.versions.insert(id, known);
                }
                (Record::Version { id, known: None }, Some(link)) => {
                    link.versions.remove(&id);
                }
                (_, None) => {}
            }
        }
        // One copy of what the profile and the server's copy hold alike: compared by address.
        if let Some(link) = state.server.as_mut() {
            link.base.items.share_with(&state.items);
        }
        Ok(Cached { stamp, state: Arc::new(state), records, inline, items_len })
    }

    /// Writes what changed since `before` of what the items file keeps (the items, the server's
    /// copy of them, the versions of the server's items) to that file, a record each (the
    /// whole of it, into a new file, when there is no `before`, when the state file still held
    /// such things, or when the file holds more dead records than live ones), then the rest of
    /// the state atomically. Answers how many records the items file holds.
    fn write_state(&self, state: &mut LocalState, before: Option<&Cached>) -> Result<(usize, u64), StoreError> {
        let path = self.dir.join(ITEMS_FILE);
        let live = kept_apart(state);
        let mut bytes = Vec::new();
        let mut count = 0;
        let (records, items_len) = match before.filter(|b| !b.inline && b.records <= 2 * live + 1024) {
            Some(before) => {
                for record in records_between(&before.state, state) {
                    bytes.extend(sealed_record(&self.key, &record)?);
                    count += 1;
                }
                if count > 0 {
                    append_synced(&path, &bytes)?;
                }
                (before.records + count, before.items_len + bytes.len() as u64)
            }
            None => {
                for record in records_between(&LocalState::new(state.device_secret.clone()), state) {
                    bytes.extend(sealed_record(&self.key, &record)?);
                    count += 1;
                }
                write_atomically(&path, &bytes)?;
                (count, bytes.len() as u64)
            }
        };
        // The state file without what the items file holds.
        let items = std::mem::take(&mut state.items);
        let apart = state.server.as_mut().map(|l| (std::mem::take(&mut l.base.items), std::mem::take(&mut l.versions)));
        let json = serde_json::to_vec(&*state).map_err(|e| StoreError::Corrupt(e.to_string()));
        state.items = items;
        if let (Some(link), Some((base_items, versions))) = (state.server.as_mut(), apart) {
            link.base.items = base_items;
            link.versions = versions;
        }
        let json = Zeroizing::new(json?);
        let blob = seal::seal(&self.key, STATE_PURPOSE, random()?, &json);
        write_atomically(&self.dir.join(STATE_FILE), &blob)?;
        Ok((records, items_len))
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
        let (records, _, _) = read_records(&self.key, LEDGER_PURPOSE, &self.dir.join(LEDGER_FILE))?;
        records
            .iter()
            .map(|json| serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
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

/// The state as read or written, with the file version it came from and what its items file
/// holds.
struct Cached {
    stamp: Stamp,
    state: Arc<LocalState>,
    /// Records in the items file.
    records: usize,
    /// Items were found in the state file itself, or the items file ended in a torn record:
    /// the next write rewrites the items file whole.
    inline: bool,
    /// The items file's length as read or written (whole records only).
    items_len: u64,
}

/// What the items file keeps of a state: its items, and when paired the server's copy of them
/// and the versions of the server's items.
fn kept_apart(state: &LocalState) -> usize {
    state.items.len() + state.server.as_ref().map_or(0, |l| l.base.items.len() + l.versions.len())
}

/// One record of the items file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t")]
enum Record {
    /// An item's place: the profile's own (`base: false`), or the server's copy as last synced.
    #[serde(rename = "i")]
    Item {
        #[serde(rename = "b", default)]
        base: bool,
        #[serde(rename = "c")]
        category: Category,
        #[serde(rename = "i")]
        id: ItemId,
        #[serde(rename = "k")]
        kept: Kept,
    },
    /// A server item's version as this device knows it (`None`: forgotten).
    #[serde(rename = "v")]
    Version {
        #[serde(rename = "v")]
        id: String,
        #[serde(rename = "n")]
        known: Option<KnownItem>,
    },
}

/// The records that take what the items file keeps of `before` to what it keeps of `after`.
fn records_between(before: &LocalState, after: &LocalState) -> Vec<Record> {
    let empty = Items::default();
    let no_versions = BTreeMap::new();
    fn base<'a>(s: &'a LocalState, empty: &'a Items) -> &'a Items {
        s.server.as_ref().map_or(empty, |l| &l.base.items)
    }
    fn versions<'a>(s: &'a LocalState, none: &'a BTreeMap<String, KnownItem>) -> &'a BTreeMap<String, KnownItem> {
        s.server.as_ref().map_or(none, |l| &l.versions)
    }
    let mut records = Vec::new();
    for (base, (was, is)) in
        [(false, (&before.items, &after.items)), (true, (base(before, &empty), base(after, &empty)))]
    {
        for (category, id, kept) in Items::changes(was, is) {
            records.push(Record::Item { base, category, id, kept });
        }
    }
    let (was, is) = (versions(before, &no_versions), versions(after, &no_versions));
    for (id, known) in is {
        if was.get(id) != Some(known) {
            records.push(Record::Version { id: id.clone(), known: Some(known.clone()) });
        }
    }
    records.extend(
        was.keys().filter(|id| !is.contains_key(*id)).map(|id| Record::Version { id: id.clone(), known: None }),
    );
    records
}

fn sealed_record(key: &Secret32, record: &Record) -> Result<Vec<u8>, StoreError> {
    let json = Zeroizing::new(serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    framed(key, ITEMS_PURPOSE, &json)
}

/// Opened records, the length of the whole ones, and whether a torn one followed.
type Records = (Vec<Zeroizing<Vec<u8>>>, u64, bool);

/// The records of a file of `u32 length ‖ sealed` records, opened, with the length of the
/// whole records read and whether a torn last record (a crash mid-append) was left out. No
/// file: none.
fn read_records(key: &Secret32, purpose: Purpose, path: &Path) -> Result<Records, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0, false)),
        Err(e) => return Err(io_error("cannot read", path)(e)),
    };
    let mut records = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let Some(blob) = tail.get(..len) else { break };
        records.push(seal::open(key, purpose, blob).map_err(StoreError::Undecryptable)?);
        rest = &tail[len..];
    }
    Ok((records, (bytes.len() - rest.len()) as u64, !rest.is_empty()))
}

/// Appends `bytes` to the file at `path` and syncs it.
fn append_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(io_error("cannot open", path))?;
    file.write_all(bytes).map_err(io_error("cannot append to", path))?;
    file.sync_data().map_err(io_error("cannot sync", path))
}

fn ledger_record(key: &Secret32, json: &[u8]) -> Result<Vec<u8>, StoreError> {
    framed(key, LEDGER_PURPOSE, json)
}

/// One record of an append-only sealed file (the ledger, the items file): `u32 length ‖ sealed`.
fn framed(key: &Secret32, purpose: Purpose, json: &[u8]) -> Result<Vec<u8>, StoreError> {
    let blob = seal::seal(key, purpose, random()?, json);
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

    fn receipt(n: usize) -> profile_core::Item {
        let fields = serde_json::json!({"merchant": format!("Shop {n}"), "date": "2026-11-02", "currency": "EUR",
            "total": "1.00"});
        profile_core::Item {
            id: ItemId::try_from(format!("r{n}")).unwrap(),
            fields: fields.as_object().unwrap().clone(),
            updated_at: n as u64,
            source: None,
        }
    }

    #[test]
    fn items_live_in_their_own_file_and_a_change_appends_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let store = Store::open(dir.path(), &keystore).unwrap();
        store
            .update(|s| {
                for n in 0..300 {
                    s.items.put(Category::Receipts, receipt(n)).map_err(|e| WireError::invalid(e.to_string()))?;
                }
                Ok(())
            })
            .unwrap();
        let items_path = dir.path().join(ITEMS_FILE);
        let (state_size, items_size) =
            (fs::metadata(dir.path().join(STATE_FILE)).unwrap().len(), fs::metadata(&items_path).unwrap().len());
        assert!(state_size < 2_000 && items_size > 30_000, "state {state_size} B, items {items_size} B");
        store
            .update(|s| s.items.put(Category::Receipts, receipt(300)).map_err(|e| WireError::invalid(e.to_string())))
            .unwrap();
        let grown = fs::metadata(&items_path).unwrap().len() - items_size;
        assert!(grown < 400, "one item appends one record: {grown} B");
        // Another process reads the same items back; a torn last record is left out.
        let other = Store::open(dir.path(), &keystore).unwrap();
        assert_eq!(other.state().unwrap().items, store.state().unwrap().items);
        let mut file = OpenOptions::new().append(true).open(&items_path).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        // A process that did not see the tear (its cache is of before it) writes nothing after it.
        store
            .update(|s| s.items.put(Category::Receipts, receipt(301)).map_err(|e| WireError::invalid(e.to_string())))
            .unwrap();
        let other = Store::open(dir.path(), &keystore).unwrap();
        assert_eq!(other.state().unwrap().items.count(Category::Receipts), 302, "nothing lost after a torn record");
        // Records pile up with edits of the same items, and the file is rewritten whole.
        for round in 0..8 {
            other
                .update(|s| {
                    for n in 0..301 {
                        let mut item = receipt(n);
                        item.updated_at = 1000 + round;
                        s.items.put(Category::Receipts, item).map_err(|e| WireError::invalid(e.to_string()))?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        let size = fs::metadata(&items_path).unwrap().len();
        assert!(size < 4 * items_size, "compacted: {size} B for what was {items_size} B");
        assert_eq!(Store::open(dir.path(), &keystore).unwrap().state().unwrap().items, other.state().unwrap().items);
        assert!(!fs::read(&items_path).unwrap().windows(4).any(|w| w == b"Shop"), "sealed");
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
        let newer = br#"{"version": 5, "deviceSecret": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI", "homes": []}"#;
        write(newer);
        let before = fs::read(dir.path().join(STATE_FILE)).unwrap();
        let refused = Store::open(dir.path(), &keystore).unwrap_err();
        assert!(matches!(refused, StoreError::Newer { found: 5 }));
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
