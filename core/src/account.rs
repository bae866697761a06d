//! What a site may attach to a person's account at sign-up, with the bounds the extension, the
//! host and the profile server all enforce: a page controls these, so none of them may grow
//! without limit.

use serde::{Deserialize, Serialize};

/// Longest app id, in bytes.
pub const MAX_APP_ID: usize = 200;
/// Most permission names one account carries…
pub const MAX_PERMISSIONS: usize = 32;
/// …and the longest of them, in bytes.
pub const MAX_PERMISSION: usize = 64;

fn printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// A site's id for its app (the same app may serve several origins): 1 to [`MAX_APP_ID`]
/// bytes without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppId(String);

impl TryFrom<String> for AppId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text.is_empty() || text.len() > MAX_APP_ID || !printable(&text) {
            return Err(format!("appId must be 1 to {MAX_APP_ID} bytes without control characters"));
        }
        Ok(Self(text))
    }
}

impl From<AppId> for String {
    fn from(id: AppId) -> Self {
        id.0
    }
}

impl AppId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a site asks to get without asking again, as names: at most [`MAX_PERMISSIONS`] of 1 to
/// [`MAX_PERMISSION`] bytes each, without control characters; kept sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Permissions(Vec<String>);

impl TryFrom<Vec<String>> for Permissions {
    type Error = String;
    fn try_from(names: Vec<String>) -> Result<Self, String> {
        let bad = |name: &String| name.is_empty() || name.len() > MAX_PERMISSION || !printable(name);
        if names.len() > MAX_PERMISSIONS || names.iter().any(bad) {
            return Err(format!(
                "permissions must be at most {MAX_PERMISSIONS} names of 1 to {MAX_PERMISSION} bytes without control characters"
            ));
        }
        // At most `MAX_PERMISSIONS` names: each is inserted in its place, which keeps the
        // extension's WASM without a sort routine for them (4 KB).
        let mut sorted: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            if let Err(place) = sorted.binary_search(&name) {
                sorted.insert(place, name);
            }
        }
        Ok(Self(sorted))
    }
}

impl From<Permissions> for Vec<String> {
    fn from(permissions: Permissions) -> Self {
        permissions.0
    }
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn page_controlled_fields_are_bounded() {
        assert!(serde_json::from_value::<AppId>(json!("shop")).is_ok());
        for bad in [json!(""), json!("x".repeat(MAX_APP_ID + 1)), json!("a\nb"), json!(7)] {
            assert!(serde_json::from_value::<AppId>(bad.clone()).is_err(), "{bad}");
        }
        let ok: Permissions = serde_json::from_value(json!(["b", "a", "b"])).unwrap();
        assert_eq!(ok.as_slice(), ["a", "b"]);
        let too_many: Vec<String> = (0..=MAX_PERMISSIONS).map(|i| i.to_string()).collect();
        for bad in [json!(too_many), json!(["x".repeat(MAX_PERMISSION + 1)]), json!([""]), json!(["a\u{7}"])] {
            assert!(serde_json::from_value::<Permissions>(bad.clone()).is_err(), "{bad}");
        }
    }
}
