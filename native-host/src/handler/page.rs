//! The page methods: what a site may ask for, each answer recorded in the disclosure ledger.
use std::sync::Arc;

use profile_core::wire::{Call, Disclosure, LoginParams, LoginResult, SignUpParams, SignUpResult};
use profile_core::{
    AccountGuid, AssertionType, Category, ClientData, DeviceId, ErrorCode, ItemId, ItemInput, LoginKey, Origin,
    WireError,
};
use serde_json::Value;

use profile_core::disclosure;
use profile_core::public::ProfileKey;

use super::{Host, fail, new_key, to_value};
use crate::local::link::RegistryNews;
use crate::local::state::{AccountRecord, LocalState, SiteView};
use crate::local::store::{Store, now, random};
use crate::remote::{self};

impl Host {
    pub(super) fn page_call(
        &self,
        store: &Arc<Store>,
        state: &LocalState,
        origin: &Origin,
        call: &Call,
    ) -> Result<Value, WireError> {
        match call {
            // The answer is the preview the consent window showed, computed by the same rule.
            Call::GetProfileUrl {} | Call::GetDeviceId {} | Call::GetAddress { .. } => {
                match (disclosure::preview(call, &SiteView { state, origin }), call) {
                    (Value::Null, Call::GetAddress { kind }) => {
                        fail(ErrorCode::NotFound, format!("no {} address saved", kind.as_str()))
                    }
                    (Value::Null, _) => Err(remote::not_paired()),
                    (value, _) => Ok(value),
                }
            }
            Call::Request(request) => Ok(disclosure::answer_claims(request, &SiteView { state, origin })),
            // Public: the profile's own, or null (the extension then answers the browser's).
            Call::GetLanguage {} => Ok(state.language().map_or(Value::Null, Value::String)),
            Call::AddBookmark(offer) => {
                let input = ItemInput { id: None, fields: offer.fields().clone() };
                let new_id = ItemId::from_random(random()?);
                let source = Some(origin.to_string());
                let paired = store.update(|s| {
                    s.save_item(Category::Bookmarks, input, new_id, now(), source)?;
                    Ok(s.server.is_some())
                })?;
                if paired {
                    self.sync_soon();
                }
                Ok(serde_json::json!({"added": true}))
            }
            Call::RequestGrant(request) => {
                // Fetched again here (the window's preview may be minutes old): the keys the
                // grant is made with are the ones the app publishes now.
                let registration = remote::registration(self.client(), origin)?;
                let (secret, _) = new_key(ProfileKey::from_secret)?;
                let answer = remote::grant(store, self.client(), origin, request, &registration, secret)?;
                self.sync_soon();
                to_value(&answer)
            }
            Call::SignUp(params) => to_value(&self.sign_up(store, origin, params)?),
            Call::Login(params) => to_value(&self.login(store, origin, params)?),
            _ => fail(ErrorCode::InvalidRequest, format!("`{}` is not a page method", call.name())),
        }
    }

    fn sign_up(&self, store: &Store, origin: &Origin, params: &SignUpParams) -> Result<SignUpResult, WireError> {
        let (secret, key) = new_key(LoginKey::from_secret)?;
        let at = now();
        let public_key = key.public_jwk();
        let state = store.update(|s| {
            if s.account(origin, &params.account_guid).is_some() {
                return fail(
                    ErrorCode::InvalidRequest,
                    format!("already signed up to {origin} as {}", params.account_guid),
                );
            }
            let record = AccountRecord {
                origin: origin.clone(),
                account_guid: params.account_guid.clone(),
                app_id: params.app_id.clone().map(String::from),
                permissions: params.permissions.as_slice().to_vec(),
                key: secret,
                counter: 0,
                created_at: at,
                last_used_at: at,
            };
            if let Some(link) = s.server.as_mut() {
                link.tell(RegistryNews::SignedUp {
                    origin: origin.clone(),
                    account_guid: record.account_guid.clone(),
                    app_id: record.app_id.clone(),
                    public_key: public_key.clone(),
                    permissions: record.permissions.clone(),
                });
            }
            s.accounts.push(record);
            Ok(s.clone())
        })?;
        let device_id = DeviceId::derive(&state.device_secret, origin);
        let assertion = key.sign(&ClientData {
            kind: AssertionType::SignUp,
            origin: origin.clone(),
            challenge: params.challenge.clone(),
            account_guid: params.account_guid.clone(),
            device_id: device_id.clone(),
            counter: 0,
            issued_at: at,
        });
        self.cache_key(origin, &params.account_guid, key);
        if state.server.is_some() {
            self.sync_soon();
        }
        Ok(SignUpResult {
            account_guid: params.account_guid.clone(),
            profile_url: state.profile_url.clone(),
            device_id,
            public_key,
            assertion,
        })
    }

    fn login(&self, store: &Store, origin: &Origin, params: &LoginParams) -> Result<LoginResult, WireError> {
        let at = now();
        // The raised counter is durable before any assertion carries it: a crash never lets one
        // counter value sign twice.
        let (record, device_secret, paired) = store.update(|s| {
            let device_secret = s.device_secret.clone();
            let Some(account) = s.login_account_mut(origin, params.account_guid.as_ref()) else {
                return fail(ErrorCode::NotSignedUp, format!("no account at {origin}"));
            };
            account.counter += 1;
            account.last_used_at = at;
            let record = account.clone();
            if let Some(link) = s.server.as_mut() {
                link.tell(RegistryNews::LoggedIn { origin: origin.clone(), account_guid: record.account_guid.clone() });
            }
            Ok((record, device_secret, s.server.is_some()))
        })?;
        let key = self.key_for(&record)?;
        let assertion = key.sign(&ClientData {
            kind: AssertionType::Login,
            origin: origin.clone(),
            challenge: params.challenge.clone(),
            account_guid: record.account_guid.clone(),
            device_id: DeviceId::derive(&device_secret, origin),
            counter: record.counter,
            issued_at: at,
        });
        // Other devices learn the raised counter, so theirs start above it.
        if paired {
            self.sync_soon();
        }
        Ok(LoginResult { account_guid: record.account_guid, assertion })
    }

    pub(super) fn key_for(&self, record: &AccountRecord) -> Result<LoginKey, WireError> {
        let id = (record.origin.clone(), record.account_guid.clone());
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = keys.get(&id) {
            return Ok(key.clone());
        }
        let key =
            LoginKey::from_secret(&record.key).ok_or_else(|| WireError::internal("a stored login key is invalid"))?;
        keys.insert(id, key.clone());
        Ok(key)
    }

    /// Parsed login keys leave memory (they zeroize on drop); they are parsed again after
    /// unlock.
    pub(super) fn forget_keys(&self) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn cache_key(&self, origin: &Origin, guid: &AccountGuid, key: LoginKey) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert((origin.clone(), guid.clone()), key);
    }

    /// Appends a page request's outcome to the disclosure ledger. A ledger that cannot be
    /// written is logged, not fatal: the answer has already been decided.
    pub(super) fn record(&self, origin: &Origin, call: &Call, outcome: &Result<Value, WireError>) {
        let Ok(store) = self.store() else { return };
        let (fields, outcome) = match outcome {
            Ok(value) => (disclosure::disclosed_fields(call, value), "disclosed".to_owned()),
            Err(e) => (Vec::new(), e.code.to_string()),
        };
        let entry = Disclosure::new(now(), origin.clone(), call.name(), fields, outcome);
        if let Err(e) = store.append_disclosure(&entry) {
            tracing::warn!("cannot write the disclosure ledger: {e}");
        }
    }
}
