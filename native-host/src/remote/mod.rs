//! The profile server's client: HTTP calls, pairing, sync, passphrase changes, devices, the
//! push socket, the profiles contacts follow, and linked profiles, whose documents and servers
//! are reached only as [`outward`] allows (https, public addresses). Below it: the local data
//! ([`crate::local`]); above it: the request handler and the CLI.

mod client;
mod devices;
mod follow;
mod grants;
mod items;
mod links;
mod outward;
mod pairing;
mod passphrase;
mod public;
mod push;

mod sync;

pub use client::{Client, server_address};
pub use devices::{devices, not_paired, revoke_device, unpair};
pub use follow::{Followed, Follower, Round};
pub use grants::{grant, list as list_apps, registration, revoke as revoke_app};
pub use links::{issue as issue_link_ticket, redeem as redeem_link_ticket};
pub use pairing::{PairWith, pair};
pub use passphrase::{PassphraseChange, Unlocked, set_passphrase, unlock};
pub use push::listen;
pub use sync::{Synced, sync};
