//! The workspace's root package. It has no code: its `build.rs` packages the browser extension
//! (the `profile-extension` WASM, its JavaScript glue and pages, and a manifest carrying the
//! committed public key) into `target/extension/chromium/` and `target/extension/firefox/`, so
//! `cargo build --release` at the root builds the host and the extension together.
