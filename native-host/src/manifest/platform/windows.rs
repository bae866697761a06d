//! Windows: browsers find host manifests through a registry key under HKCU whose default value
//! is the manifest's path; the file itself lives under %LOCALAPPDATA%.

use std::path::{Path, PathBuf};

use winreg::RegKey;
use winreg::enums::HKEY_CURRENT_USER;

use crate::manifest::{Browser, HOST_NAME};

pub fn manifest_dir(browser: Browser) -> Option<PathBuf> {
    Some(dirs::data_local_dir()?.join("PersonalProfile").join("manifests").join(browser.name()))
}

fn key_path(browser: Browser) -> String {
    let vendor = match browser {
        Browser::Chrome => r"Software\Google\Chrome",
        Browser::Chromium => r"Software\Chromium",
        Browser::Edge => r"Software\Microsoft\Edge",
        Browser::Brave => r"Software\BraveSoftware\Brave-Browser",
        Browser::Vivaldi => r"Software\Vivaldi",
        Browser::Firefox => r"Software\Mozilla",
    };
    format!(r"{vendor}\NativeMessagingHosts\{HOST_NAME}")
}

pub fn register(browser: Browser, manifest: &Path) -> std::io::Result<()> {
    let (key, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(key_path(browser))?;
    key.set_value("", &manifest.to_string_lossy().into_owned())
}

pub fn unregister(browser: Browser) -> std::io::Result<()> {
    match RegKey::predef(HKEY_CURRENT_USER).delete_subkey_all(key_path(browser)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub fn registered_manifest(browser: Browser) -> Option<PathBuf> {
    let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey(key_path(browser)).ok()?;
    key.get_value::<String, _>("").ok().map(PathBuf::from)
}

/// The manifest lives under the user's own `%LOCALAPPDATA%`, whose ACL already keeps other
/// users out; nothing more to restrict here.
pub fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Not checked on Windows: reading ACLs needs the Win32 security API, and `%LOCALAPPDATA%` is
/// private to the user by default.
pub fn open_to_others(_path: &Path) -> Option<String> {
    None
}
