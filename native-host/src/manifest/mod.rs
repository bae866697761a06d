//! Native-messaging host manifests: rendering, installing, removing and checking them.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub mod platform;

/// The host's name in every manifest.
pub const HOST_NAME: &str = "org.personalprofile.host";
/// The extension's id; it follows from `extension/public-key.b64` (see `manifest/README.md`).
pub const EXTENSION_ID: &str = "anejejpdgphdflenbcklaacafpcfcman";
/// The Firefox add-on id.
pub const FIREFOX_ADDON_ID: &str = "profile@personalprofile.org";

const CHROMIUM_TEMPLATE: &str = include_str!("../../../manifest/chromium.json");
const FIREFOX_TEMPLATE: &str = include_str!("../../../manifest/firefox.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Brave,
    Vivaldi,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 6] = [Self::Chrome, Self::Chromium, Self::Edge, Self::Brave, Self::Vivaldi, Self::Firefox];

    pub fn name(self) -> &'static str {
        match self {
            Self::Chrome => "chrome",
            Self::Chromium => "chromium",
            Self::Edge => "edge",
            Self::Brave => "brave",
            Self::Vivaldi => "vivaldi",
            Self::Firefox => "firefox",
        }
    }
}

pub fn manifest_file_name() -> String {
    format!("{HOST_NAME}.json")
}

/// Where the manifest for `browser` goes: `DIR/NativeMessagingHosts/` under a browser's
/// `--user-data-dir`, else the browser's per-user location.
pub fn manifest_path(browser: Browser, user_data_dir: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match user_data_dir {
        Some(_) if browser == Browser::Firefox => {
            return Err("Firefox reads host manifests only from its per-user location: drop --user-data-dir".into());
        }
        Some(dir) => dir.join("NativeMessagingHosts"),
        None => platform::manifest_dir(browser).ok_or("cannot find the home directory")?,
    };
    Ok(dir.join(manifest_file_name()))
}

/// The manifest for `browser`, pointing at `host` and allowing `extension_id`.
pub fn render(browser: Browser, host: &Path, extension_id: &str) -> Result<String, String> {
    let template = if browser == Browser::Firefox { FIREFOX_TEMPLATE } else { CHROMIUM_TEMPLATE };
    let mut manifest: Value = serde_json::from_str(template).map_err(|e| format!("bad template: {e}"))?;
    manifest["path"] = Value::String(host.to_string_lossy().into_owned());
    if browser == Browser::Firefox {
        manifest["allowed_extensions"] = serde_json::json!([FIREFOX_ADDON_ID]);
    } else {
        manifest["allowed_origins"] = serde_json::json!([format!("chrome-extension://{extension_id}/")]);
    }
    serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())
}

/// Writes the manifest and registers it; returns where it went. It replaces whatever was there
/// (a file pointing elsewhere, allowing other extensions, or a link), and leaves the file and its
/// folder writable by this user only.
pub fn install(
    browser: Browser,
    user_data_dir: Option<&Path>,
    host: &Path,
    extension_id: &str,
) -> Result<PathBuf, String> {
    let path = manifest_path(browser, user_data_dir)?;
    let text = render(browser, host, extension_id)?;
    let parent = path.parent().ok_or_else(|| format!("{} has no folder", path.display()))?;
    fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    platform::restrict_to_owner(parent).map_err(|e| format!("cannot restrict {}: {e}", parent.display()))?;
    // A new file renamed over the old one: a link or a file others could write is replaced,
    // never written through.
    let fresh = parent.join(format!(".{}.tmp-{}", manifest_file_name(), std::process::id()));
    fs::write(&fresh, text).map_err(|e| format!("cannot write {}: {e}", fresh.display()))?;
    platform::restrict_to_owner(&fresh).map_err(|e| format!("cannot restrict {}: {e}", fresh.display()))?;
    fs::rename(&fresh, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if user_data_dir.is_none() {
        platform::register(browser, &path).map_err(|e| format!("cannot register {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// Removes the manifest and its registration; returns the path when a file was removed.
pub fn uninstall(browser: Browser, user_data_dir: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let path = manifest_path(browser, user_data_dir)?;
    if user_data_dir.is_none() {
        platform::unregister(browser).map_err(|e| format!("cannot unregister: {e}"))?;
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Not installed for this browser: not a fault by itself.
    Absent,
    Fault,
}

/// Checks one installed manifest: present, valid JSON without a BOM, the right name and type,
/// a `path` that is this very host (`this_host`), our extension and nothing else allowed, and
/// neither the file nor its folder writable by other users (who could otherwise point the
/// browser at a program of theirs).
pub fn check(browser: Browser, path: &Path, extension_id: &str, this_host: &Path) -> (Verdict, String) {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (Verdict::Absent, format!("no manifest at {}", path.display()));
        }
        Err(e) => return (Verdict::Fault, format!("cannot read {}: {e}", path.display())),
    };
    let fault = |why: String| (Verdict::Fault, format!("{}: {why}", path.display()));
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return fault("starts with a byte-order mark, which browsers refuse".into());
    }
    let manifest: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(e) => return fault(format!("not valid JSON ({e})")),
    };
    if manifest["name"] != HOST_NAME {
        return fault(format!("`name` is not {HOST_NAME}"));
    }
    if manifest["type"] != "stdio" {
        return fault("`type` is not \"stdio\"".into());
    }
    let Some(host) = manifest["path"].as_str().map(PathBuf::from) else {
        return fault("`path` is missing".into());
    };
    if !host.is_absolute() {
        return fault(format!("`path` {} is not absolute", host.display()));
    }
    if !is_executable(&host) {
        return fault(format!("`path` {} is not an executable file", host.display()));
    }
    let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().is_ok_and(|b| a == b));
    if !same(&host, this_host) {
        return fault(format!(
            "`path` {} is not this profile-host ({}): run `profile-host install` to repair",
            host.display(),
            this_host.display()
        ));
    }
    let (field, wanted) = if browser == Browser::Firefox {
        ("allowed_extensions", FIREFOX_ADDON_ID.to_owned())
    } else {
        ("allowed_origins", format!("chrome-extension://{extension_id}/"))
    };
    let list = manifest[field].as_array().cloned().unwrap_or_default();
    if !list.iter().any(|v| v == wanted.as_str()) {
        return fault(format!("`{field}` does not name {wanted}"));
    }
    if list.len() != 1 {
        let named: Vec<String> = list.iter().map(|v| v.to_string()).collect();
        return fault(format!(
            "`{field}` allows more than this extension ({}): run `profile-host install` to repair",
            named.join(", ")
        ));
    }
    for checked in [path, path.parent().unwrap_or(path)] {
        if let Some(why) = platform::open_to_others(checked) {
            return fault(format!("{} is {why}: run `profile-host install` to repair", checked.display()));
        }
    }
    (Verdict::Ok, format!("{} → {}", path.display(), host.display()))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use base64ct::{Base64, Encoding};
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn extension_id_follows_from_the_committed_key() {
        let key = include_str!("../../../extension/public-key.b64").trim();
        let der = Base64::decode_vec(key).unwrap();
        let digest = Sha256::digest(&der);
        let id: String = digest[..16].iter().flat_map(|b| [b >> 4, b & 15]).map(|n| (b'a' + n) as char).collect();
        assert_eq!(id, EXTENSION_ID);
    }

    #[test]
    fn rendered_manifests_pass_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let host = std::env::current_exe().unwrap();
        let path = install(Browser::Chromium, Some(dir.path()), &host, EXTENSION_ID).unwrap();
        assert_eq!(path, dir.path().join("NativeMessagingHosts/org.personalprofile.host.json"));
        assert_eq!(check(Browser::Chromium, &path, EXTENSION_ID, &host).0, Verdict::Ok);
        assert_eq!(check(Browser::Chromium, &path, "pppppppppppppppppppppppppppppppp", &host).0, Verdict::Fault);
        assert!(install(Browser::Firefox, Some(dir.path()), &host, EXTENSION_ID).is_err());

        let firefox_dir = tempfile::tempdir().unwrap();
        let firefox = firefox_dir.path().join("firefox.json");
        fs::write(&firefox, render(Browser::Firefox, &host, EXTENSION_ID).unwrap()).unwrap();
        crate::manifest::platform::restrict_to_owner(&firefox).unwrap();
        crate::manifest::platform::restrict_to_owner(firefox_dir.path()).unwrap();
        assert_eq!(check(Browser::Firefox, &firefox, EXTENSION_ID, &host).0, Verdict::Ok);
    }
}
