//! Where each browser finds host manifests: one file per OS behind the same functions.

#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(not(windows), path = "unix.rs")]
mod os;

pub use os::{manifest_dir, open_to_others, register, registered_manifest, restrict_to_owner, unregister};
