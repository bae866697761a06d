//! The request handler: checks who may call what, keeps the unlock session, then hands a page's
//! call to [`page`] and the extension's own to [`extension`]. Blocking (file I/O, fsync, the
//! keystore): the messaging loop runs it off the async thread.

mod extension;
pub mod messaging;
mod page;
mod sites;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use profile_core::wire::{Call, Request, Response, SiteApp, parse_request};
use profile_core::{AccountGuid, ErrorCode, LoginKey, Origin, Scheme, Secret32, WireError};
use serde_json::Value;

use crate::local::keystore::{Keystore, OsKeystore};
use crate::local::state::LocalState;
use crate::local::store::{Store, now};
use crate::remote::{self, Client};

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

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("caller", &self.caller).field("dir", &self.dir).finish_non_exhaustive()
    }
}

pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, WireError> {
    serde_json::to_value(value).map_err(|e| WireError::internal(e.to_string()))
}

/// A new P-256 key from 32 random bytes (drawn again in the astronomically rare case they are not
/// a valid scalar), as its secret and as `parse` makes it.
pub(crate) fn new_key<K>(parse: impl Fn(&Secret32) -> Option<K>) -> Result<(Secret32, K), WireError> {
    loop {
        let secret = Secret32::from_bytes(crate::local::store::random()?);
        if let Some(key) = parse(&secret) {
            return Ok((secret, key));
        }
    }
}

pub(crate) fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, WireError> {
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

    pub(crate) fn client(&self) -> &Arc<Client> {
        self.client.get_or_init(Arc::default)
    }

    /// Syncs with the profile server in the background (its accounts registry's news first),
    /// so no answer waits on the network; a failure leaves the change and the news pending for
    /// the next sync.
    pub(crate) fn sync_soon(&self) {
        let Ok(store) = self.store() else { return };
        let (store, client) = (store.clone(), self.client().clone());
        let spawned = std::thread::Builder::new().name("sync".into()).spawn(move || {
            if let Err(e) = remote::sync(&store, &client) {
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
        Self::new(caller, dir, Arc::new(OsKeystore))
    }

    pub(crate) fn store(&self) -> Result<&Arc<Store>, WireError> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = Arc::new(Store::open(&self.dir, self.keystore.as_ref())?);
        let store = self.store.get_or_init(|| store);
        if self.listen {
            remote::listen(store.clone());
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

    /// Whether the messaging loop's reader should answer `call` itself, at once: a call that
    /// reads what the open store holds (and, for a page, appends its ledger record) and needs no
    /// network, no keystore, no Argon2id and no fsync. Everything else gets a thread.
    pub fn answers_at_once(&self, call: &Call) -> bool {
        self.store.get().is_some()
            && matches!(
                call,
                Call::GetDeviceId {}
                    | Call::GetProfileUrl {}
                    | Call::GetAddress { .. }
                    | Call::Request(_)
                    | Call::GetLanguage {}
                    | Call::Hello {}
                    | Call::ListAddresses {}
                    | Call::ListGrants {}
                    | Call::Activity {}
                    | Call::Fill(_)
            )
    }

    pub fn handle(&self, request: Request) -> Response {
        let Request { id, origin, call } = request;
        let page = call.is_page_method();
        let outcome = self.answer(&origin, &call);
        // What the person made public is not a disclosure.
        if page && !call.is_public() {
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
        if call.is_page_method() {
            self.page_call(store, state, origin, call)
        } else {
            self.extension_call(store, state, call)
        }
    }
}
