//! The public part of the profile: the fields the person chose (`setPublic`), signed with the
//! profile's own key (kept in the vault, so every device of the profile signs alike) and
//! published by the profile server at the profile URL, which stores the signed document and
//! cannot alter it. Nothing is published until the person chooses; choosing nothing takes the
//! document down.

use profile_core::public::{ProfileKey, PublicFields, sign_public};
use profile_core::server_api::path;
use profile_core::{Secret32, WireError};
use serde_json::Value;

use super::client::*;
use crate::local::link::ServerLink;
use crate::local::state::LocalState;
use crate::local::store::now;

/// Publishes what the person chose when it differs from what was published last (after a
/// sync, so every device's choice and fields are in), or takes the document down.
pub(super) fn publish(client: &Client, link: &mut ServerLink, state: &LocalState) -> Result<(), WireError> {
    let fields = state.public_fields();
    let wanted = (!fields.is_empty()).then(|| Value::Object(fields.clone()));
    let key_id = state.public.key.as_ref().map(|k| ProfileKey::from_secret(k).map(|k| k.public_jwk().x));
    if wanted == link.published && key_id.clone().flatten() == link.published_key {
        return Ok(());
    }
    let address = url(&link.api_base, path::PUBLIC);
    let answer = match (&wanted, &state.public.key) {
        (None, _) => client.call("DELETE", &address, Some(&link.access_token), NO_BODY)?,
        (Some(_), None) => return Ok(()),
        (Some(_), Some(secret)) => {
            let key = profile_key(secret)?;
            let part = sign_public(&key, &link.profile_url, now(), &PublicFields(fields))
                .map_err(|e| WireError::invalid(e.to_string()))?;
            client.call("PUT", &address, Some(&link.access_token), Some(&part))?
        }
    };
    if !(200..300).contains(&answer.status) {
        return Err(answer.error());
    }
    link.published = wanted;
    link.published_key = key_id.flatten();
    Ok(())
}

fn profile_key(secret: &Secret32) -> Result<ProfileKey, WireError> {
    ProfileKey::from_secret(secret).ok_or_else(|| WireError::internal("the profile's signing key is not a P-256 key"))
}
