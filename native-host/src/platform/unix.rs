//! Linux and macOS: browsers read host manifests from per-user directories.

use std::path::{Path, PathBuf};

use crate::manifest::Browser;

/// Where `browser` looks for host manifests for this user.
pub fn manifest_dir(browser: Browser) -> Option<PathBuf> {
    let home = dirs::home_dir()?;
    let relative = if cfg!(target_os = "macos") {
        match browser {
            Browser::Chrome => "Library/Application Support/Google/Chrome/NativeMessagingHosts",
            Browser::Chromium => "Library/Application Support/Chromium/NativeMessagingHosts",
            Browser::Edge => "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
            Browser::Brave => "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Browser::Vivaldi => "Library/Application Support/Vivaldi/NativeMessagingHosts",
            Browser::Firefox => "Library/Application Support/Mozilla/NativeMessagingHosts",
        }
    } else {
        match browser {
            Browser::Chrome => ".config/google-chrome/NativeMessagingHosts",
            Browser::Chromium => ".config/chromium/NativeMessagingHosts",
            Browser::Edge => ".config/microsoft-edge/NativeMessagingHosts",
            Browser::Brave => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Browser::Vivaldi => ".config/vivaldi/NativeMessagingHosts",
            Browser::Firefox => ".mozilla/native-messaging-hosts",
        }
    };
    Some(home.join(relative))
}

/// Nothing to register: the file's location is enough.
pub fn register(_browser: Browser, _manifest: &Path) -> std::io::Result<()> {
    Ok(())
}

pub fn unregister(_browser: Browser) -> std::io::Result<()> {
    Ok(())
}

/// Where the browser will look for the manifest, if it is registered.
pub fn registered_manifest(browser: Browser) -> Option<PathBuf> {
    manifest_dir(browser).map(|dir| dir.join(crate::manifest::manifest_file_name()))
}
