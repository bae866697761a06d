//! The local data: the sealed state and its store, the disclosure ledger, the link to the
//! profile server as saved, and the OS keystore that holds the master key. Imports nothing
//! else of the host.

pub mod addresses;
pub mod items;

pub mod keystore;
pub mod link;
pub mod session;
pub mod state;
pub mod store;

/// Seconds since the Unix epoch: the host's one clock.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
