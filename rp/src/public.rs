//! The public part of a person's profile: the fields they chose to publish at their profile URL
//! (a display name, a language, their vehicles…), signed by their own key, which a site reads
//! without asking them.
//!
//! [`PublicFetcher::fetch_public`] GETs the profile document at the profile URL (a short
//! timeout, no redirects, no proxy, 64 KiB at most, https only, and only from globally routable
//! addresses: a visitor's profile URL cannot point your server at your own network) and hands
//! it to [`public_from_document`], which you can also call on a document you fetched yourself.
//! That checks the document is the one at that URL, the part's signature under its key (through
//! `profile-core`'s one signature check), that the part was published for that URL, and, given
//! what you accepted last time, that the key is the same and the part no older. Keep the
//! [`PublicProfile`] you accept and pass it next time: the profile server stores and serves the
//! part but cannot change it, and with your copy it cannot swap it for one it signed itself
//! nor serve an older one.
//!
//! ```no_run
//! use profile_rp::public::{PublicFetcher, PublicProfile};
//!
//! # fn example(profile_url: &str, last: Option<PublicProfile>) -> Result<(), profile_rp::RpError> {
//! // Blocking: from async code, call it inside `tokio::task::spawn_blocking`.
//! let fetcher = PublicFetcher::new();
//! match fetcher.fetch_public(profile_url, last.as_ref())? {
//!     Some(public) => {
//!         println!("hello, {}", public.fields.display_name().unwrap_or("there"));
//!         // Keep `public` (it is Serialize) with the account; pass it as `last` next time.
//!     }
//!     None => println!("this profile publishes nothing"),
//! }
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use crate::outward::Outward;
use crate::{PublicJwk, RpError};
use profile_core::public::verify_public;
pub use profile_core::public::{PublicError, PublicFields};
use profile_core::server_api::ProfileDocument;
use serde::{Deserialize, Serialize};

const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest profile document read.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024;

/// What a profile published, checked: keep it with the account and pass it as `last` to the
/// next fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    /// The profile URL it was fetched from, and published for.
    pub profile_url: String,
    /// The profile's key that signed it.
    pub key: PublicJwk,
    /// When it was signed (Unix seconds, the person's device's clock).
    pub issued_at: u64,
    pub fields: PublicFields,
}

/// Reads people's profile documents. Make one and keep it (it holds a connection pool).
#[derive(Debug)]
pub struct PublicFetcher {
    outward: Outward,
}

impl Default for PublicFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl PublicFetcher {
    /// Fetches https profile URLs from globally routable addresses only.
    pub fn new() -> Self {
        Self { outward: Outward::new(false, FETCH_TIMEOUT) }
    }

    /// For development and tests: http URLs and loopback addresses too (nothing else private).
    pub fn allowing_loopback() -> Self {
        Self { outward: Outward::new(true, FETCH_TIMEOUT) }
    }

    /// The public part of the profile at `profile_url` (exactly as the person's device gave it,
    /// `https://…/u/…`), checked as [`public_from_document`] checks it; `None` when the profile
    /// publishes nothing. Blocking, at most a few seconds.
    pub fn fetch_public(
        &self,
        profile_url: &str,
        last: Option<&PublicProfile>,
    ) -> Result<Option<PublicProfile>, RpError> {
        let body = fetch_document(&self.outward, profile_url).map_err(RpError::Fetch)?;
        public_from_document(profile_url, &body, last)
    }
}

/// The profile document at `profile_url`, unchecked: at most [`MAX_DOCUMENT_BYTES`].
pub(crate) fn fetch_document(outward: &Outward, profile_url: &str) -> Result<Vec<u8>, String> {
    outward.get(profile_url, "application/json", MAX_DOCUMENT_BYTES)
}

/// Reads a profile document fetched from `profile_url`: it must name that URL.
pub(crate) fn read_document(profile_url: &str, document: &[u8]) -> Result<ProfileDocument, String> {
    let document: ProfileDocument =
        serde_json::from_slice(document).map_err(|e| format!("{profile_url} is not a profile document: {e}"))?;
    if document.profile_url != profile_url {
        return Err(format!("the document at {profile_url} is {}'s", document.profile_url));
    }
    Ok(document)
}

/// Checks a profile document fetched from `profile_url` and its public part: the document
/// names that URL; the part's signature verifies under its key; it was published for that URL;
/// and, given `last` (what you accepted from this URL before), its key is the same and it is
/// no older. `None` when the profile publishes nothing.
pub fn public_from_document(
    profile_url: &str,
    document: &[u8],
    last: Option<&PublicProfile>,
) -> Result<Option<PublicProfile>, RpError> {
    let document = read_document(profile_url, document).map_err(RpError::Fetch)?;
    let Some(part) = document.public else { return Ok(None) };
    let payload = verify_public(&part, profile_url)?;
    if let Some(last) = last {
        if last.key != part.key {
            return Err(RpError::PublicKeyChanged);
        }
        if payload.issued_at < last.issued_at {
            return Err(RpError::PublicOlder { issued_at: payload.issued_at, seen: last.issued_at });
        }
    }
    Ok(Some(PublicProfile {
        profile_url: profile_url.to_owned(),
        key: part.key,
        issued_at: payload.issued_at,
        fields: payload.fields,
    }))
}
