//! Answers one request at a time: checks who may call what, then serves it from the store.
//! Blocking (file I/O, fsync, the keystore): the messaging loop runs it off the async thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use profile_core::wire::{
    API_VERSION, AccountSummary, Call, Disclosure, Grant, GrantParams, HelloResult, LoginParams, LoginResult,
    MAX_LISTED_DISCLOSURES, PairParams, PreviewParams, PreviewResult, Request, Response, SignUpParams, SignUpResult,
    SiteApp, StatusResult, parse_request,
};
use profile_core::{
    AccountGuid, AssertionType, ClientData, DeviceId, ErrorCode, LoginKey, Origin, Scheme, Secret32, WireError,
};
use serde_json::{Value, json};

use crate::keystore::{Keystore, OsKeystore};
use crate::state::{AccountRecord, LocalState, MIN_PASSPHRASE_CHARS, PassphraseLock};
use crate::store::{Store, StoreError, now, random};
use crate::sync::{self, Client, PairWith, RegistryNews};

/// Who launched the host: the browser tells it through its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A Chromium-family browser: `chrome-extension://ID/`.
    Chromium(Origin),
    /// Firefox: the add-on id. Firefox gives extensions a random per-install UUID origin that
    /// the host cannot check, so any `moz-extension://` origin counts as the caller's own.
    Firefox(String),
}

impl Caller {
    /// Reads the browser's arguments; `None` when they are not a native-messaging launch.
    pub fn from_args(args: &[String]) -> Option<Self> {
        let first = args.first()?;
        if first.starts_with("chrome-extension://") {
            return Origin::parse(first).ok().map(Self::Chromium);
        }
        let addon = args.get(1)?;
        (first.ends_with(".json") && !addon.starts_with('-')).then(|| Self::Firefox(addon.clone()))
    }

    fn owns(&self, origin: &Origin) -> bool {
        match self {
            Self::Chromium(own) => own == origin,
            Self::Firefox(_) => origin.scheme() == Scheme::MozExtension,
        }
    }
}

/// The host's request handler.
pub struct Host {
    caller: Caller,
    dir: PathBuf,
    keystore: Arc<dyn Keystore>,
    store: OnceLock<Arc<Store>>,
    /// Parsed login keys: parsing costs as much as signing.
    keys: Mutex<HashMap<(Origin, AccountGuid), LoginKey>>,
    /// The profile server's client, made at first use.
    client: OnceLock<Arc<Client>>,
    /// Whether to hold the push socket while running (the browser's host does; the CLI not).
    listen: bool,
    /// Sites' `.well-known` registrations, as fetched (or found missing) and when.
    apps: Mutex<HashMap<Origin, (std::time::Instant, Option<SiteApp>)>>,
}

/// How long a site's registration (or its absence) is remembered.
const SITE_APP_TTL: std::time::Duration = std::time::Duration::from_secs(600);

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("caller", &self.caller).field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, WireError> {
    serde_json::to_value(value).map_err(|e| WireError::internal(e.to_string()))
}

fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, WireError> {
    Err(WireError::new(code, message))
}

impl Host {
    pub fn new(caller: Caller, dir: PathBuf, keystore: Arc<dyn Keystore>) -> Self {
        Self {
            caller,
            dir,
            keystore,
            store: OnceLock::new(),
            keys: Mutex::new(HashMap::new()),
            client: OnceLock::new(),
            listen: false,
            apps: Mutex::default(),
        }
    }

    /// Also holds the profile server's push socket while the host runs, and syncs when
    /// another device changes the vault.
    pub fn listening(mut self) -> Self {
        self.listen = true;
        self
    }

    fn client(&self) -> &Arc<Client> {
        self.client.get_or_init(Arc::default)
    }

    /// Syncs with the profile server in the background (its accounts registry's news first),
    /// so no answer waits on the network; a failure leaves the change and the news pending for
    /// the next sync.
    fn sync_soon(&self) {
        let Ok(store) = self.store() else { return };
        let (store, client) = (store.clone(), self.client().clone());
        let spawned = std::thread::Builder::new().name("sync".into()).spawn(move || {
            if let Err(e) = sync::sync(&store, &client) {
                tracing::warn!("profile server sync: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a sync: {e}");
        }
    }

    /// A host on the OS keystore; connecting is deferred to the first request that needs it,
    /// so a missing keystore is an answer, not a crash.
    pub fn with_os_keystore(caller: Caller, dir: PathBuf) -> Self {
        Self::new(caller, dir, Arc::new(LazyOsKeystore::default()))
    }

    fn store(&self) -> Result<&Arc<Store>, WireError> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = Arc::new(Store::open(&self.dir, self.keystore.as_ref())?);
        let store = self.store.get_or_init(|| store);
        if self.listen {
            sync::listen(store.clone());
        }
        Ok(store)
    }

    /// Decodes and answers one frame.
    pub fn handle_frame(&self, frame: &[u8]) -> Response {
        match parse_request(frame) {
            Ok(request) => self.handle(request),
            Err((id, error)) => Response::failure(id, error),
        }
    }

    pub fn handle(&self, request: Request) -> Response {
        let Request { id, origin, call } = request;
        let page = call.is_page_method();
        let outcome = self.answer(&origin, &call);
        if page {
            self.record(&origin, &call, &outcome);
        }
        match &outcome {
            Ok(_) => tracing::debug!(id, method = call.name(), %origin, "answered"),
            Err(e) => tracing::info!(id, method = call.name(), %origin, code = %e.code, "refused"),
        }
        match outcome {
            Ok(result) => Response::success(id, result),
            Err(error) => Response::failure(Some(id), error),
        }
    }

    fn answer(&self, origin: &Origin, call: &Call) -> Result<Value, WireError> {
        if call.is_page_method() && !origin.is_web() {
            return fail(ErrorCode::InvalidRequest, format!("`{}` is served only for web pages", call.name()));
        }
        if !call.is_page_method() && !self.caller.owns(origin) {
            return fail(ErrorCode::InvalidRequest, format!("`{}` is served only for this extension", call.name()));
        }
        let store = self.store()?;
        // The idle clock lives in the data dir: every host process (and the CLI) honours it.
        let (state, locked_now) = store.enforce_session(now())?;
        if locked_now {
            tracing::info!("the unlock session ended: locking");
        }
        if state.locked {
            // Locked here or by another process: parsed login keys leave this one's memory too.
            self.forget_keys();
        }
        let open_while_locked =
            matches!(call, Call::Hello {} | Call::Status {} | Call::Unlock { .. } | Call::Lock {} | Call::Activity {});
        if state.locked && !open_while_locked {
            return fail(ErrorCode::Locked, "the profile is locked; unlock it in the extension");
        }
        let answer = self.serve(store, &state, origin, call);
        // Only what a person does keeps the profile open.
        if call.is_person_action() && answer.is_ok() {
            store.touch_activity()?;
        }
        answer
    }

    fn serve(&self, store: &Arc<Store>, state: &LocalState, origin: &Origin, call: &Call) -> Result<Value, WireError> {
        match call {
            Call::GetProfileUrl {} => state.profile_url.clone().map(Value::String).ok_or_else(sync::not_paired),
            Call::GetDeviceId {} => Ok(Value::String(DeviceId::derive(&state.device_secret, origin).to_string())),
            Call::GetAddress { kind } => match state.addresses.get(kind) {
                Some(address) => to_value(address),
                None => fail(ErrorCode::NotFound, format!("no {} address saved", kind.as_str())),
            },
            Call::SignUp(params) => to_value(&self.sign_up(store, origin, params)?),
            Call::Login(params) => to_value(&self.login(store, origin, params)?),
            Call::Hello {} => to_value(&hello(state)),
            Call::Status {} => to_value(&StatusResult {
                hello: hello(state),
                passphrase_set: state.lock.is_some(),
                vault_needs_passphrase: state.server.as_ref().is_some_and(|link| link.data_key.is_none()),
                addresses: state.addresses.keys().copied().collect(),
                accounts: state.accounts.len(),
                disclosures: store.disclosures()?.len(),
                sync_halted: state.server.as_ref().and_then(|link| link.halted.clone()),
            }),
            Call::Pair(params) => {
                let (profile_url, with, accept_older) = match params {
                    PairParams::Passphrase { profile_url, email, passphrase, accept_older_vault } => (
                        profile_url,
                        PairWith::Passphrase { email: email.clone(), passphrase: passphrase.clone() },
                        *accept_older_vault,
                    ),
                    PairParams::Ticket { profile_url, ticket, accept_older_vault } => {
                        (profile_url, PairWith::Ticket(ticket.clone()), *accept_older_vault)
                    }
                };
                let paired = sync::pair(store, self.client(), profile_url, with, accept_older)?;
                if self.listen {
                    sync::listen(store.clone());
                }
                Ok(paired)
            }
            Call::Unpair {} => sync::unpair(store, self.client()),
            Call::ListDevices {} => sync::devices(store, self.client()),
            Call::RevokeDevice { device_id } => {
                sync::revoke_device(store, self.client(), device_id)?;
                Ok(json!({"revoked": true}))
            }
            Call::Unlock { passphrase } => {
                // A host paired with a ticket opens its vault with the profile's passphrase.
                if state.server.as_ref().is_some_and(|link| link.data_key.is_none()) {
                    sync::open_with_passphrase(store, self.client(), passphrase)?;
                    if !state.locked {
                        return Ok(json!({"locked": false, "vaultOpen": true}));
                    }
                }
                let until = unlock_profile(store, passphrase)?;
                Ok(json!({"locked": false, "expiresAt": until}))
            }
            Call::Lock {} => {
                lock_profile(store)?;
                self.forget_keys();
                Ok(json!({"locked": true}))
            }
            Call::SaveAddress { kind, address } => {
                store.update(|s| Ok(s.addresses.insert(*kind, address.clone())))?;
                if state.server.is_some() {
                    self.sync_soon();
                }
                Ok(json!({"kind": kind}))
            }
            Call::ListAddresses {} => to_value(&state.addresses),
            Call::Preview(params) => {
                let mut previewed = preview(state, params)?;
                previewed.app = self.site_app(&params.origin);
                to_value(&previewed)
            }
            Call::Grant(wanted) => {
                let GrantParams { origin: site, top_origin, kind } = wanted;
                if !site.is_web() || top_origin.as_ref().is_some_and(|top| !top.is_web()) {
                    return fail(ErrorCode::InvalidRequest, "grants are for web pages only");
                }
                let grant =
                    Grant { origin: site.clone(), top_origin: top_origin.clone(), kind: *kind, granted_at: now() };
                store.update(|s| {
                    s.grants.retain(|g| !g.covers(wanted));
                    s.grants.push(grant);
                    Ok(())
                })?;
                Ok(json!({"granted": true}))
            }
            Call::ListAccounts {} => {
                let summaries: Result<Vec<_>, _> =
                    state.accounts.iter().map(|a| self.key_for(a).map(|key| summary(a, &key))).collect();
                to_value(&summaries?)
            }
            Call::ListGrants {} => to_value(&state.grants),
            Call::Revoke { origin: site } => {
                let revoked = store.update(|s| {
                    let before = s.grants.len();
                    s.grants.retain(|g| !g.names(site));
                    Ok(before - s.grants.len())
                })?;
                Ok(json!({"revoked": revoked}))
            }
            Call::ListDisclosures { limit, offset } => {
                let limit = limit.unwrap_or(100).min(MAX_LISTED_DISCLOSURES);
                let newest: Vec<Disclosure> =
                    store.disclosures()?.into_iter().rev().skip(offset.unwrap_or(0)).take(limit).collect();
                to_value(&newest)
            }
            Call::RemoveAccount { origin: site, account_guid } => {
                self.remove_account(store, site, account_guid)?;
                Ok(json!({"removed": true}))
            }
            Call::Activity {} => Ok(json!({})),
        }
    }

    fn remove_account(&self, store: &Store, site: &Origin, guid: &AccountGuid) -> Result<(), WireError> {
        let paired = remove_account(store, site, guid)?;
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).remove(&(site.clone(), guid.clone()));
        if paired {
            self.sync_soon();
        }
        Ok(())
    }

    fn sign_up(&self, store: &Store, origin: &Origin, params: &SignUpParams) -> Result<SignUpResult, WireError> {
        let (secret, key) = loop {
            let secret = Secret32::from_bytes(random()?);
            if let Some(key) = LoginKey::from_secret(&secret) {
                break (secret, key);
            }
        };
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

    fn key_for(&self, record: &AccountRecord) -> Result<LoginKey, WireError> {
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

    /// What the site calls itself, from its `/.well-known/personal-profile` (fetched with a
    /// short timeout and remembered for a while, absence included). A missing, slow or
    /// malformed document is no name, never an error.
    fn site_app(&self, origin: &Origin) -> Option<SiteApp> {
        let now = std::time::Instant::now();
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, app)) = apps.get(origin)
            && now.duration_since(*at) < SITE_APP_TTL
        {
            return app.clone();
        }
        drop(apps);
        let url = format!("{origin}/.well-known/personal-profile");
        let app = self.client().fetch_document(&url).as_ref().and_then(SiteApp::from_document);
        apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if apps.len() > 1_000 {
            apps.clear();
        }
        apps.insert(origin.clone(), (now, app.clone()));
        app
    }

    /// Parsed login keys leave memory (they zeroize on drop); they are parsed again after
    /// unlock.
    fn forget_keys(&self) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn cache_key(&self, origin: &Origin, guid: &AccountGuid, key: LoginKey) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert((origin.clone(), guid.clone()), key);
    }

    /// Appends a page request's outcome to the disclosure ledger. A ledger that cannot be
    /// written is logged, not fatal: the answer has already been decided.
    fn record(&self, origin: &Origin, call: &Call, outcome: &Result<Value, WireError>) {
        let Ok(store) = self.store() else { return };
        let (fields, outcome) = match outcome {
            Ok(value) => (disclosed_fields(call, value), "disclosed".to_owned()),
            Err(e) => (Vec::new(), e.code.to_string()),
        };
        let entry = Disclosure::new(now(), origin.clone(), call.name(), fields, outcome);
        if let Err(e) = store.append_disclosure(&entry) {
            tracing::warn!("cannot write the disclosure ledger: {e}");
        }
    }
}

/// What left, by field name: the non-null members of the answer (`shipping.city`, …), or the
/// method's one value.
fn disclosed_fields(call: &Call, value: &Value) -> Vec<String> {
    let prefix = match call {
        Call::GetAddress { kind } => format!("{}.", kind.as_str()),
        _ => String::new(),
    };
    match value {
        Value::Object(members) => {
            members.iter().filter(|(_, v)| !v.is_null()).map(|(name, _)| format!("{prefix}{name}")).collect()
        }
        Value::Null => Vec::new(),
        _ => vec![match call {
            Call::GetProfileUrl {} => "profileUrl".to_owned(),
            _ => "deviceId".to_owned(),
        }],
    }
}

/// What a page call would disclose, computed exactly as the call would but neither disclosed
/// nor recorded: the consent window shows it.
fn preview(state: &LocalState, params: &PreviewParams) -> Result<PreviewResult, WireError> {
    let PreviewParams { origin, top_origin, call } = params;
    if !call.is_page_method() || !origin.is_web() {
        return fail(ErrorCode::InvalidRequest, "only a web page's call can be previewed");
    }
    let device_id = || DeviceId::derive(&state.device_secret, origin).to_string();
    let value = match call.as_ref() {
        Call::GetProfileUrl {} => json!(state.profile_url),
        Call::GetDeviceId {} => json!(device_id()),
        Call::GetAddress { kind } => json!(state.addresses.get(kind)),
        Call::SignUp(_) => json!({"profileUrl": state.profile_url, "deviceId": device_id()}),
        Call::Login(LoginParams { account_guid, .. }) => {
            json!(state.login_account(origin, account_guid.as_ref()).map(|a| json!({"accountGuid": a.account_guid})))
        }
        _ => Value::Null,
    };
    Ok(PreviewResult {
        registrable_domain: registrable_domain(origin),
        top_registrable_domain: top_origin.as_ref().and_then(registrable_domain),
        value,
        app: None,
    })
}

/// The part of the origin's host a person should read as "the site": `example.co.uk` for
/// `www.example.co.uk`, from the Public Suffix List. `None` for IP addresses and `localhost`.
fn registrable_domain(origin: &Origin) -> Option<String> {
    let host = origin.host();
    if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    let domain = psl::domain(host.as_bytes())?;
    std::str::from_utf8(domain.as_bytes()).ok().map(str::to_owned)
}

fn hello(state: &LocalState) -> HelloResult {
    HelloResult {
        api_version: API_VERSION.to_owned(),
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
        paired: state.profile_url.is_some(),
        locked: state.locked,
        profile_url: state.profile_url.clone(),
    }
}

fn summary(record: &AccountRecord, key: &LoginKey) -> AccountSummary {
    AccountSummary {
        origin: record.origin.clone(),
        account_guid: record.account_guid.clone(),
        app_id: record.app_id.clone(),
        permissions: record.permissions.clone(),
        public_key: key.public_jwk(),
        counter: record.counter,
        created_at: record.created_at,
        last_used_at: record.last_used_at,
    }
}

/// Forgets a site account and its login key here; the vault and the server's registry hear of
/// it at the next sync. Says whether this profile is paired (and so has something to sync).
pub fn remove_account(store: &Store, site: &Origin, guid: &AccountGuid) -> Result<bool, WireError> {
    store.update(|s| {
        let before = s.accounts.len();
        s.accounts.retain(|a| !(&a.origin == site && &a.account_guid == guid));
        if s.accounts.len() == before {
            return fail(ErrorCode::NotFound, format!("no account {guid} at {site}"));
        }
        // A remembered login there has nothing left to log in with.
        if !s.accounts.iter().any(|a| &a.origin == site) {
            s.grants.retain(|g| !(&g.origin == site && g.kind == profile_core::wire::GrantKind::Login));
        }
        if let Some(link) = s.server.as_mut() {
            link.tell(RegistryNews::Removed { origin: site.clone(), account_guid: guid.clone() });
        }
        Ok(s.server.is_some())
    })
}

enum Unlock {
    /// Unlocked until this time.
    Unlocked(u64),
    /// The failure was counted (and saved) for the back-off.
    WrongPassphrase,
}

fn unlock(state: &mut LocalState, passphrase: &profile_core::Passphrase, now: u64) -> Result<Unlock, WireError> {
    let locked = state.locked;
    let Some(lock) = state.lock.as_mut() else {
        return fail(ErrorCode::InvalidRequest, "no passphrase is set: the OS keystore alone unlocks this profile");
    };
    if !locked {
        return fail(ErrorCode::InvalidRequest, "already unlocked");
    }
    if !check_passphrase(lock, passphrase, now)? {
        return Ok(Unlock::WrongPassphrase);
    }
    state.locked = false;
    let until = now + crate::state::SESSION_SECS;
    state.unlocked_until = Some(until);
    Ok(Unlock::Unlocked(until))
}

/// Checks a passphrase against the lock, slowed down after repeated failures: `Ok(false)` for a
/// wrong one (counted, for the caller to save), `rate_limited` while a wait is on.
pub fn check_passphrase(
    lock: &mut PassphraseLock,
    passphrase: &profile_core::Passphrase,
    now: u64,
) -> Result<bool, WireError> {
    let wait = lock.wait_secs(now);
    if wait > 0 {
        return fail(ErrorCode::RateLimited, format!("too many wrong passphrases; try again in {wait} s"));
    }
    if !lock.matches(passphrase) {
        lock.failures += 1;
        lock.last_failure_at = now;
        return Ok(false);
    }
    lock.failures = 0;
    Ok(true)
}

/// Shows what a locked profile keeps, once, to a person who gives its passphrase (the CLI's
/// verbs that reveal something): the passphrase is checked like an unlock, with the same
/// back-off, and the profile stays locked.
pub fn prove_passphrase(store: &Store, passphrase: &profile_core::Passphrase) -> Result<(), WireError> {
    let right = store.update(|s| match s.lock.as_mut() {
        None => Ok(true),
        Some(lock) => check_passphrase(lock, passphrase, now()),
    })?;
    if right { Ok(()) } else { fail(ErrorCode::AuthFailed, "wrong passphrase") }
}

/// Locks the profile (the CLI's `lock`, the extension's `lock`); idempotent. Only a profile with
/// a passphrase can be locked.
pub fn lock_profile(store: &Store) -> Result<(), WireError> {
    store.update(|s| match s.lock {
        None => fail(
            ErrorCode::InvalidRequest,
            "set a passphrase first (`profile-host passphrase set`): without one the OS keystore alone unlocks this profile",
        ),
        Some(_) => {
            s.locked = true;
            Ok(())
        }
    })
}

/// Unlocks the profile (the CLI's `unlock`, the extension's `unlock`).
pub fn unlock_profile(store: &Store, passphrase: &profile_core::Passphrase) -> Result<u64, WireError> {
    match store.update(|s| unlock(s, passphrase, now()))? {
        Unlock::Unlocked(until) => {
            store.touch_activity()?;
            Ok(until)
        }
        Unlock::WrongPassphrase => fail(ErrorCode::AuthFailed, "wrong passphrase"),
    }
}

/// Sets or replaces the passphrase (the CLI's `passphrase set`).
pub fn set_passphrase(
    store: &Store,
    current: Option<&profile_core::Passphrase>,
    new: &profile_core::Passphrase,
) -> Result<(), WireError> {
    if new.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        return fail(
            ErrorCode::InvalidRequest,
            format!("a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"),
        );
    }
    let lock = PassphraseLock::create(new, random()?).map_err(|e| WireError::internal(e.to_string()))?;
    // The current one is checked like an unlock: wrong tries are counted (and saved) and slowed.
    let right = store.update(|s| {
        let right = match (s.lock.as_mut(), current) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(existing), Some(current)) => check_passphrase(existing, current, now())?,
        };
        if right {
            s.lock = Some(lock);
        }
        Ok(right)
    })?;
    if !right {
        return fail(ErrorCode::AuthFailed, "the current passphrase is wrong");
    }
    // Setting it is a person's doing: the idle clock starts now.
    Ok(store.touch_activity()?)
}

/// Opens the OS keystore on first use and keeps the connection.
#[derive(Default)]
struct LazyOsKeystore(OnceLock<OsKeystore>);

impl LazyOsKeystore {
    fn get(&self) -> Result<&OsKeystore, crate::keystore::KeystoreError> {
        if let Some(keystore) = self.0.get() {
            return Ok(keystore);
        }
        let keystore = OsKeystore::connect()?;
        Ok(self.0.get_or_init(|| keystore))
    }
}

impl Keystore for LazyOsKeystore {
    fn load(&self, entry: &str) -> Result<Option<Secret32>, crate::keystore::KeystoreError> {
        self.get()?.load(entry)
    }
    fn save(&self, entry: &str, key: &Secret32) -> Result<(), crate::keystore::KeystoreError> {
        self.get()?.save(entry, key)
    }
}

/// Opens a data dir's store on the OS keystore (for the CLI).
pub fn open_store(dir: &std::path::Path) -> Result<Store, StoreError> {
    Store::open(dir, &LazyOsKeystore::default())
}
