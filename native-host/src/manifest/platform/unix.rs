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

/// Takes write permission away from the group and others (a file or a folder this user owns).
pub fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o022 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o022))?;
    }
    Ok(())
}

/// Why others could change `path`: it is writable by its group or by everyone, or it belongs to
/// another user than the one whose home this is. `None` when only this user can.
pub fn open_to_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default();
        return Some(format!("a link to {target}, which may not be this user's"));
    }
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        return Some(format!("writable by other users (mode {:o})", mode & 0o777));
    }
    let me = dirs::home_dir().and_then(|home| std::fs::metadata(home).ok()).map(|home| home.uid());
    match me {
        Some(uid) if uid != meta.uid() => Some(format!("owned by another user (uid {})", meta.uid())),
        _ => None,
    }
}
