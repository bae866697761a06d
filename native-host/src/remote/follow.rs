//! Contacts that follow a profile URL: after a sync, this device reads the public part each one
//! publishes there (`displayName`, `language`, …) and keeps it beside the card.
//!
//! The reading is profile-rp's, the same a site's server does: `PublicFetcher::fetch_public`
//! GETs the profile document (https only, no redirects, 64 KiB, 3 s, and only from globally
//! routable addresses, through `profile_core::net`) and checks the part's signature against
//! the profile URL, against the key this device saw there before and the newest `issuedAt` it
//! read. A part under another key, or an older one, is refused and the contact keeps what it
//! had, with the refusal in words beside it. A plain-http profile URL on this machine itself
//! (`http://localhost…`, `http://127.0.0.1…`, which a contact's `profileUrl` allows for
//! development, as a bookmark's does: [`on_this_machine`], the rule linked profiles are reached
//! by too) is read from loopback only; nothing else private ever is.
//!
//! What is read never changes the card: the name the person typed stays theirs, and the options
//! page and `data show` show what the profile says beside it. It is this device's own reading
//! (kept in its local state, not synced): each device reads for itself.
//!
//! The work is bounded: a round reads at most [`MOST_PER_ROUND`] profiles, those read longest
//! ago first, for at most [`ROUND_BUDGET`]; in the background a profile is read at most every
//! [`FOLLOW_EVERY_SECS`]. The reading happens outside the data dir's lock, and a failure is
//! recorded with the contact, never failing the sync it follows.

use std::time::{Duration, Instant};

use profile_core::wire::Following;
use profile_core::{Category, ItemId, WireError};
use profile_rp::RpError;
use profile_rp::public::{PublicFetcher, PublicFields, PublicProfile};

use super::outward::on_this_machine;
use crate::local::state::LocalState;
use crate::local::store::{Store, now};

/// How often the background reads a followed profile again.
pub const FOLLOW_EVERY_SECS: u64 = 30 * 60;
/// Most profiles one round reads; the others wait for the next round, those read longest ago
/// first.
pub const MOST_PER_ROUND: usize = 8;
/// How long one round may spend reading (each read is also bounded by the fetcher's timeout).
pub const ROUND_BUDGET: Duration = Duration::from_secs(10);

/// Which followed profiles a round reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Those not read for [`FOLLOW_EVERY_SECS`] (after a sync in the background).
    Due,
    /// All of them, bounded as every round is (a person asked: `profile-host sync`).
    Now,
}

/// Reads followed profiles: one fetcher for https URLs, one for this machine's plain-http ones.
#[derive(Debug)]
pub struct Follower {
    outward: PublicFetcher,
    this_machine: PublicFetcher,
}

impl Default for Follower {
    fn default() -> Self {
        Self { outward: PublicFetcher::new(), this_machine: PublicFetcher::allowing_loopback() }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Followed {
    /// Profiles read and checked.
    pub read: usize,
    /// Profiles that could not be read, or were refused.
    pub failed: usize,
}

impl Follower {
    /// One round: reads the followed profiles `round` names and records what came of each with
    /// its contact. Only reading the state or saving the results can fail it.
    pub fn follow(&self, store: &Store, round: Round) -> Result<Followed, WireError> {
        let due = due(&*store.state()?, round, now());
        if due.is_empty() {
            return Ok(Followed::default());
        }
        let started = Instant::now();
        let mut results = Vec::new();
        for (id, url, last) in due {
            if started.elapsed() >= ROUND_BUDGET {
                break;
            }
            let fetcher = if on_this_machine(&url) { &self.this_machine } else { &self.outward };
            let result = fetcher.fetch_public(&url, last.as_ref());
            results.push((id, url, result));
        }
        store.update(|state| Ok(record(state, results, now())))
    }
}

/// The contacts a round reads, with what was accepted from each URL before: those never read
/// first, then those read longest ago, at most [`MOST_PER_ROUND`].
fn due(state: &LocalState, round: Round, now: u64) -> Vec<(ItemId, String, Option<PublicProfile>)> {
    let mut due: Vec<(u64, ItemId, String, Option<PublicProfile>)> = Vec::new();
    for contact in state.items.list(Category::Contacts, None) {
        let Some(url) = contact.fields.get("profileUrl").and_then(|u| u.as_str()) else { continue };
        let known = state.following(&contact.id);
        let tried = known.map_or(0, |f| f.tried_at);
        if round == Round::Due && known.is_some() && now < tried.saturating_add(FOLLOW_EVERY_SECS) {
            continue;
        }
        let last = known.and_then(|f| {
            let key = f.key.clone()?;
            Some(PublicProfile {
                profile_url: url.to_owned(),
                key,
                issued_at: f.issued_at,
                fields: PublicFields(f.fields.clone()),
            })
        });
        due.push((tried, contact.id.clone(), url.to_owned(), last));
    }
    due.sort_by_key(|(tried, ..)| *tried);
    due.into_iter().take(MOST_PER_ROUND).map(|(_, id, url, last)| (id, url, last)).collect()
}

/// Records what came of each read with its contact (one that changed its URL meanwhile starts
/// afresh at the next round), and forgets the readings of contacts gone or no longer following.
fn record(
    state: &mut LocalState,
    results: Vec<(ItemId, String, Result<Option<PublicProfile>, RpError>)>,
    now: u64,
) -> Followed {
    let mut followed = Followed::default();
    for (id, url, result) in results {
        let still = state.items.get(Category::Contacts, &id).and_then(|c| c.fields.get("profileUrl"));
        if still.and_then(|u| u.as_str()) != Some(url.as_str()) {
            continue;
        }
        let entry = state.follows.entry(id.to_string()).or_default();
        if entry.profile_url != url {
            *entry = Following { profile_url: url, ..Following::default() };
        }
        entry.tried_at = now;
        match result {
            Ok(part) => {
                followed.read += 1;
                let (key, issued_at, fields) = match part {
                    Some(part) => (Some(part.key), part.issued_at, part.fields.0),
                    // The profile publishes nothing now; the key seen stays the one expected.
                    None => (entry.key.take(), entry.issued_at, Default::default()),
                };
                if fields != entry.fields {
                    entry.changed_at = now;
                }
                (entry.key, entry.issued_at, entry.fields) = (key, issued_at, fields);
                entry.fetched_at = now;
                entry.problem = None;
            }
            Err(error) => {
                followed.failed += 1;
                tracing::info!("a followed profile was not taken: {error}");
                entry.problem = Some(refusal(&error));
            }
        }
    }
    let following =
        |state: &LocalState, id: &str| ItemId::try_from(id.to_owned()).is_ok_and(|id| state.following(&id).is_some());
    let gone: Vec<String> = state.follows.keys().filter(|id| !following(state, id)).cloned().collect();
    for id in gone {
        state.follows.remove(&id);
    }
    followed
}

/// Why a profile was not taken, in words a person reads beside the contact.
fn refusal(error: &RpError) -> String {
    match error {
        RpError::PublicKeyChanged => {
            "refused: what it publishes now is signed by another key than before (kept what was read)".into()
        }
        RpError::PublicOlder { .. } => "refused: what it publishes now is older than what was read before".into(),
        RpError::Public(e) => format!("refused: {e}"),
        RpError::Fetch(what) => format!("could not be read: {what}"),
        other => format!("could not be read: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_round_reads_the_longest_unread_first_and_keeps_what_it_had_on_a_refusal() {
        let mut state = LocalState::new(profile_core::Secret32::from_bytes([1; 32]));
        for n in 0..MOST_PER_ROUND + 2 {
            let fields = json!({"name": format!("Friend {n}"), "profileUrl": format!("https://p.example/u/{n}")});
            let input = profile_core::ItemInput { id: None, fields: fields.as_object().unwrap().clone() };
            let id = ItemId::try_from(format!("c{n}")).unwrap();
            state.save_item(Category::Contacts, input, id, 1, None).unwrap();
        }
        let first = due(&state, Round::Due, 100);
        assert_eq!(first.len(), MOST_PER_ROUND, "bounded");
        let key = profile_core::public::ProfileKey::from_secret(&profile_core::Secret32::from_bytes([2; 32]))
            .unwrap()
            .public_jwk();
        let read = |id: &ItemId, url: &str| {
            let fields = PublicFields(json!({"displayName": "Ada"}).as_object().unwrap().clone());
            (
                id.clone(),
                url.to_owned(),
                Ok(Some(PublicProfile { profile_url: url.into(), key: key.clone(), issued_at: 5, fields })),
            )
        };
        let results = first.iter().map(|(id, url, _)| read(id, url)).collect();
        assert_eq!(record(&mut state, results, 100), Followed { read: MOST_PER_ROUND, failed: 0 });
        let next = due(&state, Round::Due, 200);
        assert_eq!(next.len(), 2, "the two left wait for the next round; the rest are not due");
        assert!(next.iter().all(|(_, _, last)| last.is_none()));
        let again = due(&state, Round::Now, 200);
        assert_eq!(again.len(), MOST_PER_ROUND);
        assert!(again[..2].iter().all(|(_, _, last)| last.is_none()), "never read first");
        let (id, url, last) = again[2].clone();
        assert_eq!(last.map(|l| l.issued_at), Some(5), "what was accepted is passed to the next read");

        // Refused: the contact keeps what it had, and says why.
        record(&mut state, vec![(id.clone(), url, Err(RpError::PublicKeyChanged))], 300);
        let kept = state.following(&id).unwrap();
        assert_eq!((kept.fields["displayName"].as_str(), kept.tried_at, kept.fetched_at), (Some("Ada"), 300, 100));
        assert!(kept.problem.as_deref().unwrap().contains("another key"));

        // A contact that stops following forgets what was read.
        let mut fields = state.items.get(Category::Contacts, &id).unwrap().fields.clone();
        fields.remove("profileUrl");
        let input = profile_core::ItemInput { id: Some(id.clone()), fields };
        state.save_item(Category::Contacts, input, id.clone(), 2, None).unwrap();
        record(&mut state, Vec::new(), 400);
        assert!(!state.follows.contains_key(id.as_str()));
    }
}
