//! The host's files in its data dir, all sealed under the master key from the OS keystore:
//!
//! - `profile.sealed`: the [`LocalState`] as a log of sealed frames (`u32 length ‖ sealed`),
//!   one per change, each appended whole and fsynced: the frame is the change's one commit
//!   point. A frame holds the records of what changed of the profile's items (receipts, medical
//!   events, …), of the profile server's copy of them and of the versions of the server's
//!   items, and, when anything else of the state changed (tokens, the address book, the
//!   link's sequence…), the rest of the state whole; so a change to one of ten thousand items
//!   appends one small record, not the profile. Read back, the frames replay in order; a torn
//!   last frame (a crash mid-append) is ignored, and the file is then rewritten whole
//!   (atomically: temp file, fsync, rename, fsync of the directory) before anything is
//!   appended, as it is when dead records outnumber the live ones;
//! - `state.sealed` and `items.sealed`: the state and its items as hosts before the log kept
//!   them, read once and moved into the log; `state.sealed` is then left holding only a note
//!   of the state's format, which those hosts refuse in words (a newer version) rather than
//!   read an old copy;
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
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::local::keystore::{Keystore, KeystoreError, entry_name};
use crate::local::link::{KnownItem, Versions};
use crate::local::state::{LocalState, STATE_VERSION};
use profile_core::Category;
use profile_core::ItemId;
use profile_core::vault::{Items, Kept};
use serde::{Deserialize, Serialize};

const STATE_FILE: &str = "state.sealed";
const LEDGER_FILE: &str = "ledger.sealed";
const ITEMS_FILE: &str = "items.sealed";
const ITEMS_PURPOSE: Purpose = Purpose { name: "host-items", version: 1 };
const PROFILE_FILE: &str = "profile.sealed";
const PROFILE_PURPOSE: Purpose = Purpose { name: "host-profile", version: 1 };
const LOCK_FILE: &str = "lock";
const ACTIVITY_FILE: &str = "activity";
/// The sealed envelope's version, which the state's own format ([`STATE_VERSION`], inside it)
/// does not change: a host can then open a newer state and say in words that it is newer.
const STATE_PURPOSE: Purpose = Purpose { name: "host-state", version: 1 };
const LEDGER_PURPOSE: Purpose = Purpose { name: "host-ledger", version: 1 };
/// The log is written anew once the states it holds that were written over pass this.
const DEAD_STATE_BYTES: usize = 1 << 20;
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
        let written = state_path.exists() || dir.join(PROFILE_FILE).exists();
        let key = match keystore.load(&entry)? {
            Some(key) => key,
            None if written => return Err(StoreError::KeyMissing),
            None => {
                let key = Secret32::from_bytes(random()?);
                keystore.save(&entry, &key)?;
                key
            }
        };
        let store = Self { dir, cache: Mutex::new(None), key, ledger: Mutex::new(None) };
        if !written {
            store.write_state(&mut LocalState::new(Secret32::from_bytes(random()?)), None)?;
        }
        store.state()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The latest state: re-read when another process has written since.
    pub fn state(&self) -> Result<Arc<LocalState>, StoreError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = Stamp::of(&self.dir.join(PROFILE_FILE))?;
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

    /// Applies `change` to the latest state on disk and writes what changed as one frame (or
    /// nothing, when nothing did), holding the OS file lock throughout. When `change` fails
    /// nothing is written.
    pub fn update<R>(&self, change: impl FnOnce(&mut LocalState) -> Result<R, WireError>) -> Result<R, WireError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = FileLock::acquire(&self.dir)?;
        // The latest on disk: what this process read or wrote last, unless another wrote since
        // (or appended a frame and died mid-way: its stamp is not this process's either).
        let stamp = Stamp::of(&self.dir.join(PROFILE_FILE))?;
        // A torn frame another process was still appending when this one read is re-read
        // here, under the lock, before anything is written over it.
        let before = match cache.take() {
            Some(cached) if cached.stamp == stamp && !cached.rewrite => cached,
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
        let tally = self.write_state(&mut state, Some(&before))?;
        let stamp = Stamp::of(&self.dir.join(PROFILE_FILE))?;
        *cache = Some(Cached { stamp, state: Arc::new(state), tally, rewrite: false });
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

    /// The log's frames replayed in order; without a log, the state and items files of hosts
    /// before it (moved into the log at the next write).
    fn read_state(&self) -> Result<Cached, StoreError> {
        let path = self.dir.join(PROFILE_FILE);
        let stamp = Stamp::of(&path)?;
        if !path.exists() {
            return self.read_before_the_log(stamp);
        }
        let (frames, _, torn) = read_records(&self.key, PROFILE_PURPOSE, &path)?;
        let mut state: Option<LocalState> = None;
        let mut tally = Tally::default();
        for frame in &frames {
            let (state_json, records_json) = split_frame(frame)?;
            if let Some(json) = state_json {
                let mut next = parse_state(json)?;
                if let Some(was) = state.take() {
                    carry_apart(was, &mut next);
                }
                state = Some(next);
                tally = tally.with_state(json);
            }
            let state = state.as_mut().ok_or_else(|| StoreError::Corrupt("a frame before any state".into()))?;
            let replayed: Vec<Record> =
                serde_json::from_slice(records_json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tally.records += replayed.len();
            for record in replayed {
                replay(state, record);
            }
        }
        let mut state = state.ok_or_else(|| StoreError::Corrupt(format!("{} holds no state", path.display())))?;
        // One copy of what the profile and the server's copy hold alike: compared by address.
        if let Some(link) = state.server.as_mut() {
            link.base.items.share_with(&state.items);
        }
        // A torn last frame (a crash mid-append) is left out, and the file rewritten whole at
        // the next write, so nothing is ever appended after it.
        Ok(Cached { stamp, state: Arc::new(state), tally, rewrite: torn })
    }

    /// The state file of a host before the log, then its items file replayed over it.
    fn read_before_the_log(&self, stamp: Stamp) -> Result<Cached, StoreError> {
        let path = self.dir.join(STATE_FILE);
        let blob = fs::read(&path).map_err(io_error("cannot read", &path))?;
        let json = seal::open(&self.key, STATE_PURPOSE, &blob).map_err(StoreError::Undecryptable)?;
        let mut state = parse_state(&json)?;
        let (read, _, _) = read_records(&self.key, ITEMS_PURPOSE, &self.dir.join(ITEMS_FILE))?;
        for json in read {
            let record: Record = serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            replay(&mut state, record);
        }
        if let Some(link) = state.server.as_mut() {
            link.base.items.share_with(&state.items);
        }
        Ok(Cached { stamp, state: Arc::new(state), tally: Tally::default(), rewrite: true })
    }

    /// Writes what changed since `before` as one frame appended to the log: the records of
    /// what changed of the items, the server's copy of them and the versions of the server's
    /// items, and the rest of the state when it changed; nothing at all when nothing did. The
    /// whole log is written anew, as one frame, when there is no `before`, after a torn frame
    /// or a state from before the log, or when the log holds more dead records than live ones
    /// or more than [`DEAD_STATE_BYTES`] of states written over since.
    fn write_state(&self, state: &mut LocalState, before: Option<&Cached>) -> Result<Tally, StoreError> {
        let path = self.dir.join(PROFILE_FILE);
        let live = kept_apart(state);
        let state_json = state_apart(state)?;
        let appendable = |b: &&Cached| {
            !b.rewrite && b.tally.records <= 2 * live + 1024 && b.tally.dead_state_bytes <= DEAD_STATE_BYTES
        };
        match before.filter(appendable) {
            Some(before) => {
                let records = records_between(&before.state, state);
                let mut tally = before.tally.clone();
                let changed = Sha256::digest(&*state_json)[..] != tally.state_digest;
                if records.is_empty() && !changed {
                    return Ok(tally);
                }
                let frame = sealed_frame(&self.key, changed.then_some(&state_json[..]), &records)?;
                append_synced(&path, &frame)?;
                if changed {
                    tally = tally.with_state(&state_json);
                }
                tally.records += records.len();
                Ok(tally)
            }
            None => {
                let records = records_between(&LocalState::new(state.device_secret.clone()), state);
                let frame = sealed_frame(&self.key, Some(&state_json), &records)?;
                write_atomically(&path, &frame)?;
                self.retire_files_before_the_log(state)?;
                let mut tally = Tally::default().with_state(&state_json);
                tally.records = records.len();
                Ok(tally)
            }
        }
    }

    /// Once the log holds the profile: the items file of hosts before it goes, and the state
    /// file keeps only a note of this format, which they refuse in words.
    fn retire_files_before_the_log(&self, state: &LocalState) -> Result<(), StoreError> {
        let items = self.dir.join(ITEMS_FILE);
        if items.exists() {
            fs::remove_file(&items).map_err(io_error("cannot remove", &items))?;
        }
        let path = self.dir.join(STATE_FILE);
        if path.exists() {
            let note = serde_json::json!({"version": STATE_VERSION, "deviceSecret": state.device_secret, "movedTo": PROFILE_FILE});
            let json = Zeroizing::new(serde_json::to_vec(&note).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            let size = fs::metadata(&path).map_or(0, |m| m.len());
            // Written once: a note is small, a state of before holds more.
            if size > 512 {
                write_atomically(&path, &seal::seal(&self.key, STATE_PURPOSE, random()?, &json))?;
            }
        }
        Ok(())
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

/// The state as read or written, with the version of the log it came from.
struct Cached {
    stamp: Stamp,
    state: Arc<LocalState>,
    tally: Tally,
    /// The log ended in a torn frame, or the state came from the files before the log: the
    /// next write writes the log whole.
    rewrite: bool,
}

/// What the log holds, to tell when to write it anew.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Records in the log.
    records: usize,
    /// SHA-256 of the state (without what the records hold) as the log holds it last…
    state_digest: [u8; 32],
    /// …and its length.
    state_bytes: usize,
    /// The bytes of the states written over since (each frame that changed the state holds it
    /// whole).
    dead_state_bytes: usize,
}

impl Tally {
    /// After a frame holding the state `json`.
    fn with_state(self, json: &[u8]) -> Self {
        let dead_state_bytes = self.dead_state_bytes + self.state_bytes;
        Self { state_digest: Sha256::digest(json).into(), state_bytes: json.len(), dead_state_bytes, ..self }
    }
}

/// The state's JSON without what the log's records hold (the items, the server's copy of
/// them, the versions of the server's items).
fn state_apart(state: &mut LocalState) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let items = std::mem::take(&mut state.items);
    let apart = state.server.as_mut().map(|l| (std::mem::take(&mut l.base.items), std::mem::take(&mut l.versions)));
    let json = serde_json::to_vec(&*state).map_err(|e| StoreError::Corrupt(e.to_string()));
    state.items = items;
    if let (Some(link), Some((base_items, versions))) = (state.server.as_mut(), apart) {
        link.base.items = base_items;
        link.versions = versions;
    }
    Ok(Zeroizing::new(json?))
}

/// Moves what the records built up (the items, the server's copy, the versions) from a state
/// to the one a later frame holds whole.
fn carry_apart(mut was: LocalState, next: &mut LocalState) {
    next.items = std::mem::take(&mut was.items);
    if let (Some(link), Some(old)) = (next.server.as_mut(), was.server.as_mut()) {
        link.base.items = std::mem::take(&mut old.base.items);
        link.versions = std::mem::take(&mut old.versions);
    }
}

/// Puts one record's change in place.
fn replay(state: &mut LocalState, record: Record) {
    match (record, state.server.as_mut()) {
        (Record::Item { base: false, category, id, kept }, _) => state.items.set(category, id, kept),
        (Record::Item { base: true, category, id, kept }, Some(link)) => link.base.items.set(category, id, kept),
        (Record::Version { id, known: Some(known) }, Some(link)) => {
            link.versions.insert(id, known);
        }
        (Record::Version { id, known: None }, Some(link)) => {
            link.versions.remove(&id);
        }
        (_, None) => {}
    }
}

/// One frame of the log, sealed and framed: `u32 length of the state's JSON (0: unchanged) ‖
/// that JSON ‖ the records as a JSON array`.
fn sealed_frame(key: &Secret32, state_json: Option<&[u8]>, records: &[Record]) -> Result<Vec<u8>, StoreError> {
    let state_json = state_json.unwrap_or_default();
    let records = Zeroizing::new(serde_json::to_vec(records).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    let mut plain = Zeroizing::new(Vec::with_capacity(4 + state_json.len() + records.len()));
    plain.extend_from_slice(&(state_json.len() as u32).to_le_bytes());
    plain.extend_from_slice(state_json);
    plain.extend_from_slice(&records);
    framed(key, PROFILE_PURPOSE, &plain)
}

/// A frame's state JSON (when it holds the state) and its records' JSON.
fn split_frame(frame: &[u8]) -> Result<(Option<&[u8]>, &[u8]), StoreError> {
    let corrupt = || StoreError::Corrupt("a frame of the log is malformed".into());
    let (len, rest) = frame.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = u32::from_le_bytes(*len) as usize;
    let (state_json, records) = (rest.get(..len).ok_or_else(corrupt)?, rest.get(len..).ok_or_else(corrupt)?);
    Ok(((len > 0).then_some(state_json), records))
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
    let no_versions = Versions::default();
    fn base<'a>(s: &'a LocalState, empty: &'a Items) -> &'a Items {
        s.server.as_ref().map_or(empty, |l| &l.base.items)
    }
    fn versions<'a>(s: &'a LocalState, none: &'a Versions) -> &'a Versions {
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
    if was.same(is) {
        return records;
    }
    for (id, known) in is.iter() {
        if was.get(id) != Some(known) {
            records.push(Record::Version { id: id.clone(), known: Some(known.clone()) });
        }
    }
    records.extend(
        was.keys().filter(|id| !is.contains_key(*id)).map(|id| Record::Version { id: id.clone(), known: None }),
    );
    records
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
    /// The file's; a file not there has one of its own (nothing of it).
    fn of(path: &Path) -> Result<Self, StoreError> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self { len: 0, modified: None, inode: 0 }),
            Err(e) => return Err(io_error("cannot stat", path)(e)),
        };
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
    fn a_change_appends_one_frame_and_a_torn_one_is_never_built_on() {
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
        let items_path = dir.path().join(PROFILE_FILE);
        let items_size = fs::metadata(&items_path).unwrap().len();
        assert!(items_size > 30_000, "items {items_size} B");
        assert!(!dir.path().join(STATE_FILE).exists(), "a new data dir keeps nothing but the log");
        store
            .update(|s| s.items.put(Category::Receipts, receipt(300)).map_err(|e| WireError::invalid(e.to_string())))
            .unwrap();
        let grown = fs::metadata(&items_path).unwrap().len() - items_size;
        assert!(grown < 400, "one item appends one record, and not the rest of the state: {grown} B");
        // A change that changes nothing writes nothing.
        store.update(|_| Ok(())).unwrap();
        assert_eq!(fs::metadata(&items_path).unwrap().len(), items_size + grown);
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
    fn changes_of_the_state_alone_keep_the_log_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let store = Store::open(dir.path(), &keystore).unwrap();
        store.update(|s| (0..30).try_for_each(|n| save(s, &format!("a{n}")))).unwrap();
        let path = dir.path().join(PROFILE_FILE);
        let one = fs::metadata(&path).unwrap().len();
        // Each change of the state alone appends it whole; the states written over go.
        let changes = 3 * DEAD_STATE_BYTES as u64 / one + 10;
        for n in 0..changes {
            store
                .update(|s| {
                    s.auto_lock_secs = n;
                    Ok(())
                })
                .unwrap();
        }
        let size = fs::metadata(&path).unwrap().len();
        assert!(size < DEAD_STATE_BYTES as u64 + 4 * one, "{size} B after {changes} changes of {one} B");
        let state = Store::open(dir.path(), &keystore).unwrap().state().unwrap();
        assert_eq!((state.auto_lock_secs, state.address_book.len()), (changes - 1, 30));
    }

    #[test]
    fn a_failed_change_writes_nothing_and_plaintext_never_lands() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &MemoryKeystore::default()).unwrap();
        store.update(|s| save(s, "home")).unwrap();
        let before = fs::read(dir.path().join(PROFILE_FILE)).unwrap();
        let err = store.update(|s| {
            s.address_book = profile_core::AddressBook::default();
            Err::<(), _>(WireError::invalid("no"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(dir.path().join(PROFILE_FILE)).unwrap(), before);
        assert!(!before.windows(6).any(|w| w == b"Hopper"));
    }

    #[test]
    fn a_state_of_the_first_format_opens_upgraded_and_a_newer_one_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = MemoryKeystore::default();
        let store = Store::open(dir.path(), &keystore).unwrap();
        let key = keystore.load(&entry_name(store.dir())).unwrap().unwrap();
        // Written by the host before address books (tests/fixtures, made with that code), in
        // the state file of the hosts before the log.
        fs::remove_file(dir.path().join(PROFILE_FILE)).unwrap();
        let v1 = include_bytes!("../../tests/fixtures/state-v1.json");
        fs::write(dir.path().join(STATE_FILE), seal::seal(&key, STATE_PURPOSE, [3; 12], v1)).unwrap();
        let state = Store::open(dir.path(), &keystore).unwrap().state().unwrap();
        assert_eq!(state.version, STATE_VERSION);
        let shipping = state.address_book.default_of(AddressKind::Shipping).unwrap();
        assert_eq!((shipping.label.as_str(), shipping.address.name.as_str()), ("Shipping", "Ada Lovelace"));
        assert_eq!(state.address_book.default_of(AddressKind::Billing).unwrap().address.name, "Ada King");
        // The next write moves it into the log, in the current format; the state file is left
        // with a note that hosts before the log refuse as newer.
        let store = Store::open(dir.path(), &keystore).unwrap();
        store.update(|_| Ok(())).unwrap();
        let json = seal::open(&key, STATE_PURPOSE, &fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
        let note: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(note["version"].as_u64() > Some(3) && note.get("addressBook").is_none(), "{note}");
        let state = Store::open(dir.path(), &keystore).unwrap().state().unwrap();
        assert_eq!((state.version, state.address_book.len()), (STATE_VERSION, 2));

        // A state from a newer host: refused in words, and left as it is.
        let newer = br#"{"version": 6, "deviceSecret": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI", "homes": []}"#;
        fs::write(dir.path().join(PROFILE_FILE), sealed_frame(&key, Some(newer), &[]).unwrap()).unwrap();
        let before = fs::read(dir.path().join(PROFILE_FILE)).unwrap();
        let refused = Store::open(dir.path(), &keystore).unwrap_err();
        assert!(matches!(refused, StoreError::Newer { found: 6 }));
        let words = refused.to_string();
        assert!(words.contains("newer version of profile-host") && words.contains("update profile-host"), "{words}");
        assert!(store.update(|_| Ok(())).unwrap_err().message.contains("newer version"));
        assert_eq!(fs::read(dir.path().join(PROFILE_FILE)).unwrap(), before, "nothing written over it");
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
