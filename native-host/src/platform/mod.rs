//! Where each browser finds host manifests: one file per OS behind the same functions.

#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(not(windows), path = "unix.rs")]
mod os;

pub use os::{manifest_dir, register, registered_manifest, unregister};
