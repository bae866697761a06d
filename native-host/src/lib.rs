#![doc = include_str!("../README.md")]
//!
//! # Layers
//!
//! Each folder is one layer and imports only the layers below it:
//!
//! ```text
//! cli        the profile-host command line, a file per verb group
//! handler    the native-messaging loop and the request handler (page and extension methods)
//! remote     the profile server's client: pairing, sync, passphrase changes, devices, push
//! manifest   host manifests: install, uninstall, doctor's checks, per-OS locations
//! local      the sealed state, its store, the ledger and the OS keystore
//! ```

pub mod cli;
pub mod handler;
pub mod local;
pub mod manifest;
pub mod remote;
