//! Pairing with a profile server and keeping the vault in sync.
//!
//! Once paired, the addresses and site accounts live in the person's vault on their profile
//! server, end-to-end encrypted under a data key only their devices hold; the local state is
//! its cache, still usable offline. Every change is written locally first and marked dirty;
//! [`sync`] then writes it to the server with the vault's counter. When another device wrote
//! in between (409), it reads the server's version, merges field by field against the version
//! both started from, and writes again, so no change is dropped. When the server cannot be
//! reached the change stays dirty and goes out at the next sync.
//!
//! Tokens are refreshed and syncs run inside [`Store::update`], under the data dir's file
//! lock, so two host processes on one data dir never spend the same refresh token (which the
//! server would take for theft, and revoke the device).
//!
//! The server is not trusted with the vault's history either: the host remembers the newest
//! version it has seen ([`Watermark`]) and refuses an older one, or another blob at a counter
//! it has seen. It then keeps its data, stops syncing with that server and says so
//! ([`SyncHalt`]) until the person pairs again.
//!
//! What the server's accounts registry must hear (a sign-up, a login, a removed account) waits
//! in the sealed state's outbox and goes out in order at each sync until the server
//! acknowledges it, like a vault change: nothing is dropped when the server is away.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use profile_core::vault::{self, KdfParams, Watermark};
use profile_core::wire::SyncHalt;
use profile_core::{
    AccountGuid, Address, AddressKind, Bearer, ErrorCode, Origin, Passphrase, PublicJwk, Secret32, WireError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::{AccountRecord, LocalState};
use crate::store::{Store, now, random};

/// How long a call to the profile server may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Refresh the access token this long before it expires.
const REFRESH_MARGIN_SECS: u64 = 60;
/// Rounds of read-merge-write before giving up on a busy vault.
const MAX_MERGE_ROUNDS: usize = 8;

/// Most registry news kept waiting for the server; past it the oldest logins (the least
/// telling) make room.
const MAX_OUTBOX: usize = 1_000;

/// What the host keeps about its profile server (sealed with the rest of the state).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerLink {
    pub api_base: String,
    pub profile_id: String,
    pub profile_url: String,
    pub device_id: String,
    pub access_token: Bearer,
    pub access_expires_at: u64,
    pub refresh_token: Bearer,
    /// The vault's data key; `None` after pairing with a ticket, until the passphrase opens it.
    pub data_key: Option<Secret32>,
    /// The vault counter the local state last agreed with the server at…
    pub counter: u64,
    /// …and the contents at that counter: the common base for three-way merges.
    pub base: VaultContents,
    /// Local changes not yet on the server.
    pub dirty: bool,
    /// The newest vault version seen from this server: an older one is refused.
    #[serde(default)]
    pub seen: Watermark,
    /// Set when the server offered an older vault: nothing more is synced with it.
    #[serde(default)]
    pub halted: Option<SyncHalt>,
    /// What the accounts registry has still to hear, oldest first.
    #[serde(default)]
    pub outbox: Vec<RegistryNews>,
}

/// News for the profile server's accounts registry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum RegistryNews {
    /// A new account, with its login public key.
    #[serde(rename_all = "camelCase")]
    SignedUp {
        origin: Origin,
        account_guid: AccountGuid,
        #[serde(default)]
        app_id: Option<String>,
        public_key: PublicJwk,
        #[serde(default)]
        permissions: Vec<String>,
    },
    /// A login, for the account's `lastLoginAt`.
    #[serde(rename_all = "camelCase")]
    LoggedIn { origin: Origin, account_guid: AccountGuid },
    /// The person removed the account.
    #[serde(rename_all = "camelCase")]
    Removed { origin: Origin, account_guid: AccountGuid },
}

impl fmt::Debug for RegistryNews {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, origin) = match self {
            Self::SignedUp { origin, .. } => ("SignedUp", origin),
            Self::LoggedIn { origin, .. } => ("LoggedIn", origin),
            Self::Removed { origin, .. } => ("Removed", origin),
        };
        write!(f, "{kind}({origin})")
    }
}

impl RegistryNews {
    fn account(&self) -> (&Origin, &AccountGuid) {
        match self {
            Self::SignedUp { origin, account_guid, .. }
            | Self::LoggedIn { origin, account_guid }
            | Self::Removed { origin, account_guid } => (origin, account_guid),
        }
    }
}

impl ServerLink {
    /// The newest vault version seen from this server: the watermark, and never less than the
    /// counter agreed on (a link saved before watermarks were kept has only that).
    pub fn newest_seen(&self) -> Watermark {
        if self.seen.counter >= self.counter {
            self.seen.clone()
        } else {
            Watermark { counter: self.counter, digest: None }
        }
    }

    /// Checks a vault version the server offers against the newest one seen: an older one halts
    /// syncing with this server (recorded in the link, which the caller saves) and is an error.
    fn check_offer(&mut self, counter: u64, blob: &[u8]) -> Result<(), WireError> {
        let Err(rollback) = self.newest_seen().check(counter, blob) else { return Ok(()) };
        let halt = SyncHalt { seen_counter: rollback.seen, offered_counter: rollback.offered, at: now() };
        tracing::error!("{}", halt.explain());
        let error = WireError::new(ErrorCode::ServerUnreachable, halt.explain());
        self.halted = Some(halt);
        Err(error)
    }

    /// Records a version this device has opened (or written): only then does it count as seen.
    fn saw(&mut self, counter: u64, blob: &[u8]) {
        self.seen = self.newest_seen();
        self.seen.advance(counter, blob);
    }

    /// Refuses to talk to a server that offered an older vault (only unpairing still does).
    fn usable(&self) -> Result<(), WireError> {
        match &self.halted {
            Some(halt) => Err(WireError::new(ErrorCode::ServerUnreachable, halt.explain())),
            None => Ok(()),
        }
    }

    /// Queues news for the registry: a login replaces an earlier unsent login of the same
    /// account, and the queue stays bounded.
    pub fn tell(&mut self, news: RegistryNews) {
        if matches!(news, RegistryNews::LoggedIn { .. }) {
            self.outbox.retain(|queued| {
                !(matches!(queued, RegistryNews::LoggedIn { .. }) && queued.account() == news.account())
            });
        }
        self.outbox.push(news);
        while self.outbox.len() > MAX_OUTBOX {
            let oldest_login = self.outbox.iter().position(|n| matches!(n, RegistryNews::LoggedIn { .. }));
            self.outbox.remove(oldest_login.unwrap_or(0));
        }
    }
}

impl fmt::Debug for ServerLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLink")
            .field("api_base", &self.api_base)
            .field("device_id", &self.device_id)
            .field("counter", &self.counter)
            .field("dirty", &self.dirty)
            .field("halted", &self.halted)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

/// What the vault holds: the person's addresses and site accounts (with their login keys).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultContents {
    #[serde(default)]
    pub addresses: BTreeMap<AddressKind, Address>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
}

impl fmt::Debug for VaultContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultContents")
            .field("addresses", &self.addresses.keys().collect::<Vec<_>>())
            .field("accounts", &self.accounts.len())
            .finish()
    }
}

impl VaultContents {
    fn of(state: &LocalState) -> Self {
        Self { addresses: state.addresses.clone(), accounts: state.accounts.clone() }
    }

    fn apply(self, state: &mut LocalState) {
        state.addresses = self.addresses;
        state.accounts = self.accounts;
    }
}

/// Three-way merge of the vault: `base` is what both sides started from. Where only one side
/// changed something, that change wins; where both changed the same address field, the local
/// one does. Accounts are the union of both sides, less those one side removed while the other
/// left them as they were in `base`; for an account on both, the higher counter and the later
/// use win, so a login key's counter never goes back.
pub fn merge(base: &VaultContents, local: &VaultContents, remote: &VaultContents) -> VaultContents {
    let mut addresses = BTreeMap::new();
    let kinds: std::collections::BTreeSet<_> = local.addresses.keys().chain(remote.addresses.keys()).collect();
    for kind in kinds {
        let (b, l, r) = (base.addresses.get(kind), local.addresses.get(kind), remote.addresses.get(kind));
        let merged = match (l, r) {
            (Some(l), Some(r)) if l == r => Some(l.clone()),
            (Some(l), Some(r)) => Some(merge_address(b, l, r)),
            // Present on one side only: it was added there, or deleted on the other side
            // without the first changing it since.
            (Some(l), None) => (b != Some(l)).then(|| l.clone()),
            (None, Some(r)) => (b != Some(r)).then(|| r.clone()),
            (None, None) => None,
        };
        if let Some(address) = merged {
            addresses.insert(*kind, address);
        }
    }
    let same = |a: &AccountRecord, b: &AccountRecord| a.origin == b.origin && a.account_guid == b.account_guid;
    // Removed on the other side, and not used here since they both had it.
    let removed_from = |side: &VaultContents, account: &AccountRecord| {
        !side.accounts.iter().any(|a| same(a, account))
            && base.accounts.iter().any(|b| same(b, account) && b.counter == account.counter)
    };
    let mut accounts: Vec<AccountRecord> =
        local.accounts.iter().filter(|ours| !removed_from(remote, ours)).cloned().collect();
    for theirs in &remote.accounts {
        match accounts.iter_mut().find(|a| same(a, theirs)) {
            Some(ours) => {
                ours.counter = ours.counter.max(theirs.counter);
                ours.last_used_at = ours.last_used_at.max(theirs.last_used_at);
            }
            None if removed_from(local, theirs) => {}
            None => accounts.push(theirs.clone()),
        }
    }
    VaultContents { addresses, accounts }
}

/// Field by field: a field only the remote side changed takes the remote value.
fn merge_address(base: Option<&Address>, local: &Address, remote: &Address) -> Address {
    let as_map = |a: &Address| match serde_json::to_value(a) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (base, mut merged, remote) = (base.map(as_map).unwrap_or_default(), as_map(local), as_map(remote));
    let names: std::collections::BTreeSet<String> = merged.keys().chain(remote.keys()).cloned().collect();
    for name in names {
        if merged.get(&name) == base.get(&name) {
            match remote.get(&name) {
                Some(value) => merged.insert(name, value.clone()),
                None => merged.remove(&name),
            };
        }
    }
    serde_json::from_value(Value::Object(merged)).unwrap_or_else(|_| local.clone())
}

/// A failure talking to the profile server.
fn unreachable(error: impl fmt::Display) -> WireError {
    WireError::new(ErrorCode::ServerUnreachable, format!("cannot reach the profile server: {error}"))
}

/// The profile server's HTTP API.
pub struct Client {
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client")
    }
}

/// A response: status and JSON body (`Null` when there is none).
type Answer = (u16, Value);

impl Default for Client {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("profile-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }
}

impl Client {
    /// One call; a server too busy to check a credential now (`503 busy`, which it answers
    /// without doing anything) is asked again after the wait it names, a few times.
    fn call(&self, method: &str, url: &str, token: Option<&Bearer>, body: Option<&Value>) -> Result<Answer, WireError> {
        // Short: a caller may hold the data dir's lock meanwhile.
        const TRIES: usize = 3;
        const LONGEST_WAIT_SECS: u64 = 2;
        let mut answer = self.call_once(method, url, token, body)?;
        for _ in 1..TRIES {
            if answer.0 != 503 || answer.1["error"]["code"] != "busy" {
                break;
            }
            let wait = answer.1["retryAfter"].as_u64().unwrap_or(1).clamp(1, LONGEST_WAIT_SECS);
            std::thread::sleep(Duration::from_secs(wait));
            answer = self.call_once(method, url, token, body)?;
        }
        Ok(answer)
    }

    fn call_once(
        &self,
        method: &str,
        url: &str,
        token: Option<&Bearer>,
        body: Option<&Value>,
    ) -> Result<Answer, WireError> {
        let authorization = token.map(|t| zeroize::Zeroizing::new(format!("Bearer {}", t.expose())));
        let mut response = match (method, body) {
            ("GET", _) => {
                let request = self.agent.get(url);
                match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()).call(),
                    None => request.call(),
                }
            }
            ("DELETE", _) => {
                let request = self.agent.delete(url);
                match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()).call(),
                    None => request.call(),
                }
            }
            (method, body) => {
                let request = if method == "PUT" { self.agent.put(url) } else { self.agent.post(url) };
                let request = match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()),
                    None => request,
                };
                request.send_json(body.unwrap_or(&Value::Null))
            }
        }
        .map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// How long the consent window may wait for a site's `.well-known` document.
const DOCUMENT_TIMEOUT: Duration = Duration::from_millis(1500);
/// The largest such document read.
const DOCUMENT_LIMIT: u64 = 64 * 1024;

impl Client {
    /// A small JSON document (a site's registration): `None` unless it answers 200 with JSON
    /// within [`DOCUMENT_TIMEOUT`] and [`DOCUMENT_LIMIT`].
    pub fn fetch_document(&self, url: &str) -> Option<Value> {
        let mut response = self.agent.get(url).config().timeout_global(Some(DOCUMENT_TIMEOUT)).build().call().ok()?;
        if response.status() != 200 {
            return None;
        }
        let text = response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The server's error as a wire error: the codes the page API knows, or `internal`.
fn server_error((status, body): &Answer) -> WireError {
    let message = body["error"]["message"].as_str().unwrap_or("unexpected answer").to_owned();
    let code = match (status, body["error"]["code"].as_str()) {
        (401, _) => ErrorCode::AuthFailed,
        (429, _) => ErrorCode::RateLimited,
        (_, Some("locked_down")) => ErrorCode::ServerUnreachable,
        (500.., _) => ErrorCode::ServerUnreachable,
        _ => ErrorCode::Internal,
    };
    WireError::new(code, format!("profile server: {message} ({status})"))
}

fn expect(answer: Answer, status: u16) -> Result<Value, WireError> {
    if answer.0 == status { Ok(answer.1) } else { Err(server_error(&answer)) }
}

/// The profile URL's document names the API; only https (or http on loopback) is accepted,
/// since a passphrase-derived key travels to it.
fn discover(client: &Client, profile_url: &str) -> Result<(String, String, String), WireError> {
    let check = |url: &str| -> Result<(), WireError> {
        let origin_part: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        match Origin::parse(&origin_part) {
            Ok(origin) if origin.is_web() => Ok(()),
            _ => Err(WireError::new(
                ErrorCode::InvalidRequest,
                format!("`{url}` is not an https URL (http is allowed only on localhost)"),
            )),
        }
    };
    check(profile_url)?;
    let document = expect(client.call("GET", profile_url, None, None)?, 200)?;
    let field = |name: &str| document[name].as_str().map(str::to_owned);
    let (Some(id), Some(url), Some(api)) = (field("profileId"), field("profileUrl"), field("apiBase")) else {
        return Err(WireError::new(ErrorCode::InvalidRequest, format!("{profile_url} is not a profile document")));
    };
    check(&api)?;
    Ok((id, url, api.trim_end_matches('/').to_owned()))
}

/// The device name the server lists.
fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    format!("profile-host on {}", host.unwrap_or_else(|| std::env::consts::OS.to_owned()))
}

/// What pairing proves itself with.
#[derive(Debug)]
pub enum PairWith {
    Passphrase { email: String, passphrase: Passphrase },
    Ticket(Bearer),
}

/// Pairs this host with the profile at `profile_url`: logs in, opens the vault (with the
/// passphrase), merges what this host already had into it, and writes it back. A vault older
/// than one this host saw of the same profile is refused unless `accept_older_vault`.
pub fn pair(
    store: &Store,
    client: &Client,
    profile_url: &str,
    with: PairWith,
    accept_older_vault: bool,
) -> Result<Value, WireError> {
    if store.state()?.server.is_some() {
        return Err(WireError::new(ErrorCode::InvalidRequest, "already paired; unpair first"));
    }
    let (profile_id, profile_url, api_base) = discover(client, profile_url)?;
    let (body, passphrase, mut lock) = match with {
        PairWith::Passphrase { email, passphrase } => {
            let kdf = prelogin(client, &api_base, &profile_id, &email)?;
            let keys = vault::derive(&passphrase, &kdf)
                .map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
            let body =
                json!({"profileId": profile_id, "email": email, "authKey": keys.auth_key, "deviceName": device_name()});
            let lock = crate::state::PassphraseLock::create(&passphrase, random()?)
                .map_err(|e| WireError::internal(e.to_string()))?;
            (body, Some(keys), Some(lock))
        }
        PairWith::Ticket(ticket) => (json!({"ticket": ticket.expose(), "deviceName": device_name()}), None, None),
    };
    let tokens = expect(client.call("POST", &format!("{api_base}/api/v1/login"), None, Some(&body))?, 200)?;
    let token = |name: &str| tokens[name].as_str().map(|t| Bearer::new(t.to_owned()));
    let (Some(access_token), Some(refresh_token), Some(device_id)) =
        (token("accessToken"), token("refreshToken"), tokens["deviceId"].as_str().map(str::to_owned))
    else {
        return Err(WireError::internal("the profile server's login answer lacks its tokens"));
    };
    let mut link = ServerLink {
        api_base,
        profile_id,
        profile_url: profile_url.clone(),
        device_id,
        access_expires_at: now() + tokens["expiresIn"].as_u64().unwrap_or(0),
        access_token,
        refresh_token,
        data_key: None,
        counter: 0,
        base: VaultContents::default(),
        dirty: true,
        seen: Watermark::default(),
        halted: None,
        outbox: Vec::new(),
    };
    let remote = read_vault(client, &link)?;
    let history = store.state()?.vault_history.get(&profile_url).cloned().unwrap_or_default();
    if let Err(rollback) = history.check(remote.counter, &remote.blob)
        && !accept_older_vault
    {
        return Err(WireError::invalid(format!(
            "the profile server offers an older vault of this profile (version {}) than this device has seen \
             (version {}): it may have been restored from a backup or tampered with. To use it anyway, pair again \
             accepting the older vault; what this device holds is merged into it",
            rollback.offered, rollback.seen
        )));
    }
    if let Some(keys) = &passphrase {
        link.data_key = Some(remote.unwrap_key(&keys.kek)?);
    }
    store.update(|s| {
        s.profile_url = Some(profile_url.clone());
        if let Some(lock) = lock.take()
            && s.lock.is_none()
        {
            // The profile's passphrase now also locks this host (with its own salt).
            s.lock = Some(lock);
        }
        if let Some(data_key) = &link.data_key {
            let contents = remote.open(data_key, &link.profile_id)?;
            merge(&VaultContents::default(), &VaultContents::of(s), &contents).apply(s);
            link.counter = remote.counter;
            link.base = contents;
            link.saw(remote.counter, &remote.blob);
        }
        // From here on this pairing's own watermark rules.
        s.vault_history.remove(&profile_url);
        s.server = Some(link);
        Ok(())
    })?;
    let synced = sync(store, client);
    Ok(json!({
        "profileUrl": profile_url,
        "vaultOpen": passphrase.is_some(),
        "synced": synced.is_ok(),
    }))
}

fn prelogin(client: &Client, api_base: &str, profile_id: &str, email: &str) -> Result<KdfParams, WireError> {
    let answer = expect(
        client.call(
            "POST",
            &format!("{api_base}/api/v1/prelogin"),
            None,
            Some(&json!({"profileId": profile_id, "email": email})),
        )?,
        200,
    )?;
    serde_json::from_value(answer["kdf"].clone()).map_err(|e| WireError::internal(format!("prelogin: {e}")))
}

/// The vault as the server sends it.
struct RemoteVault {
    counter: u64,
    blob: Vec<u8>,
    kdf: Option<KdfParams>,
    wrapped: BTreeMap<String, Vec<u8>>,
}

impl RemoteVault {
    fn unwrap_key(&self, kek: &Secret32) -> Result<Secret32, WireError> {
        let wrapped =
            self.wrapped.get("passphrase").ok_or_else(|| WireError::internal("the vault has no passphrase key"))?;
        vault::unwrap(kek, wrapped).map_err(|e| WireError::new(ErrorCode::AuthFailed, e.to_string()))
    }

    fn open(&self, data_key: &Secret32, profile_id: &str) -> Result<VaultContents, WireError> {
        let json = vault::open_vault(data_key, profile_id, self.counter, &self.blob)
            .map_err(|e| WireError::internal(format!("the server's vault: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| WireError::internal(format!("the vault's contents: {e}")))
    }
}

fn read_vault(client: &Client, link: &ServerLink) -> Result<RemoteVault, WireError> {
    let answer =
        expect(client.call("GET", &format!("{}/api/v1/vault", link.api_base), Some(&link.access_token), None)?, 200)?;
    let bytes = |value: &Value| value.as_str().and_then(|text| Base64UrlUnpadded::decode_vec(text).ok());
    let wrapped = answer["credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["kind"].as_str()?.to_owned(), bytes(&c["wrappedKey"])?)))
        .collect();
    Ok(RemoteVault {
        counter: answer["counter"].as_u64().ok_or_else(|| WireError::internal("the vault answer lacks its counter"))?,
        blob: bytes(&answer["blob"]).ok_or_else(|| WireError::internal("the vault answer lacks its blob"))?,
        kdf: serde_json::from_value(answer["kdf"].clone()).ok(),
        wrapped,
    })
}

/// Refreshes the access token when it is about to expire (inside a state update).
fn fresh_token(client: &Client, link: &mut ServerLink) -> Result<(), WireError> {
    if now() + REFRESH_MARGIN_SECS < link.access_expires_at {
        return Ok(());
    }
    let body = json!({"refreshToken": link.refresh_token.expose()});
    let answer = client.call("POST", &format!("{}/api/v1/token", link.api_base), None, Some(&body))?;
    if answer.0 == 401 {
        return Err(WireError::new(ErrorCode::NotPaired, "the profile server signed this device out; pair it again"));
    }
    let tokens = expect(answer, 200)?;
    match (tokens["accessToken"].as_str(), tokens["refreshToken"].as_str()) {
        (Some(access), Some(refresh)) => {
            link.access_token = Bearer::new(access.to_owned());
            link.refresh_token = Bearer::new(refresh.to_owned());
            link.access_expires_at = now() + tokens["expiresIn"].as_u64().unwrap_or(0);
            Ok(())
        }
        _ => Err(WireError::internal("the profile server's token answer lacks its tokens")),
    }
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Nothing to do: not paired, or the vault is not open yet.
    Idle,
    /// The server's vault and the local state agree at this counter.
    At(u64),
}

/// Brings the local state and the server's vault together: pulls what other devices wrote,
/// pushes local changes, merging on conflict. Tokens it rotates are saved even when a later
/// step fails; a change it cannot push stays dirty.
pub fn sync(store: &Store, client: &Client) -> Result<Synced, WireError> {
    Ok(on_link(store, |link, state| sync_link(client, link, state))?.unwrap_or(Synced::Idle))
}

/// Runs `work` on the paired link inside a state update, and saves the link whatever `work`
/// answers, so tokens rotated on the way are kept even when a later step failed; a device the
/// server signed out is unpaired instead (its cache stays). `None` when not paired.
fn on_link<T>(
    store: &Store,
    work: impl FnOnce(&mut ServerLink, &mut LocalState) -> Result<T, WireError>,
) -> Result<Option<T>, WireError> {
    store.update(|s| {
        let Some(mut link) = s.server.clone() else { return Ok(Ok(None)) };
        let outcome = work(&mut link, s);
        if outcome.as_ref().is_err_and(|e| e.code == ErrorCode::NotPaired) {
            tracing::warn!("the profile server signed this device out; it is no longer paired");
            s.forget_server();
        } else {
            s.server = Some(link);
        }
        Ok(outcome.map(Some))
    })?
}

fn sync_link(client: &Client, link: &mut ServerLink, state: &mut LocalState) -> Result<Synced, WireError> {
    link.usable()?;
    fresh_token(client, link)?;
    // The registry's news wait for another sync when the server cannot take them now; the vault
    // does not wait for them.
    if let Err(e) = flush_outbox(client, link) {
        tracing::warn!("the accounts registry's news wait for the next sync: {e}");
    }
    let Some(data_key) = link.data_key.clone() else { return Ok(Synced::Idle) };
    let local = VaultContents::of(state);
    link.dirty |= local != link.base;
    let mut remote: Option<RemoteVault> = None;
    for _ in 0..MAX_MERGE_ROUNDS {
        if let Some(server) = remote.take() {
            let theirs = server.open(&data_key, &link.profile_id)?;
            link.saw(server.counter, &server.blob);
            let merged = merge(&link.base, &VaultContents::of(state), &theirs);
            merged.clone().apply(state);
            link.dirty = merged != theirs;
            link.counter = server.counter;
            link.base = theirs;
        }
        if !link.dirty {
            // Pull: a newer vault replaces the cache (nothing local is pending).
            let server = read_fresh_vault(client, link)?;
            if server.counter != link.counter {
                remote = Some(server);
                continue;
            }
            return Ok(Synced::At(link.counter));
        }
        let contents = VaultContents::of(state);
        let json =
            zeroize::Zeroizing::new(serde_json::to_vec(&contents).map_err(|e| WireError::internal(e.to_string()))?);
        let blob = vault::seal_vault(&data_key, &link.profile_id, link.counter + 1, random()?, &json);
        let body = json!({"counter": link.counter, "blob": Base64UrlUnpadded::encode_string(&blob)});
        let answer =
            client.call("PUT", &format!("{}/api/v1/vault", link.api_base), Some(&link.access_token), Some(&body))?;
        match answer.0 {
            200 => {
                // The blob was sealed as version counter + 1: a server that says otherwise
                // stored something else.
                if answer.1["counter"].as_u64() != Some(link.counter + 1) {
                    return Err(WireError::internal(format!(
                        "the profile server stored a write of version {} as {}",
                        link.counter + 1,
                        answer.1["counter"]
                    )));
                }
                link.counter += 1;
                link.saw(link.counter, &blob);
                link.base = contents;
                link.dirty = false;
                return Ok(Synced::At(link.counter));
            }
            409 => remote = Some(read_fresh_vault(client, link)?),
            _ => return Err(server_error(&answer)),
        }
    }
    Err(WireError::new(ErrorCode::ServerUnreachable, "the vault kept changing under this device; will retry"))
}

/// Reads the server's vault and checks it against the newest version this device has seen:
/// an older one halts syncing with this server (the caller saves the halt with the link). The
/// version counts as seen only once it is opened.
fn read_fresh_vault(client: &Client, link: &mut ServerLink) -> Result<RemoteVault, WireError> {
    let server = read_vault(client, link)?;
    link.check_offer(server.counter, &server.blob)?;
    Ok(server)
}

/// Sends the registry's news in order, each until the server acknowledges it. A refusal that
/// will not change (the account unknown there, a malformed record) drops that news with a
/// warning; anything else (unreachable, rate-limited, a server error) leaves it and what follows
/// for the next sync.
fn flush_outbox(client: &Client, link: &mut ServerLink) -> Result<(), WireError> {
    while let Some(news) = link.outbox.first() {
        let (method, path, body) = match news {
            RegistryNews::SignedUp { origin, account_guid, app_id, public_key, permissions } => (
                "PUT",
                "accounts".to_owned(),
                json!({"origin": origin, "accountGuid": account_guid, "appId": app_id,
                       "publicKey": public_key, "permissions": permissions}),
            ),
            RegistryNews::LoggedIn { origin, account_guid } => {
                ("POST", "accounts/login".to_owned(), json!({"origin": origin, "accountGuid": account_guid}))
            }
            RegistryNews::Removed { origin, account_guid } => (
                "DELETE",
                format!("accounts?{}", query(&[("origin", origin.as_str()), ("accountGuid", account_guid.as_str())])),
                Value::Null,
            ),
        };
        let url = format!("{}/api/v1/{path}", link.api_base);
        let answer = client.call(method, &url, Some(&link.access_token), Some(&body))?;
        match answer.0 {
            200..=299 => {}
            400 | 404 | 413 | 422 => {
                tracing::warn!("the accounts registry refused {news:?}: {}", server_error(&answer))
            }
            _ => return Err(server_error(&answer)),
        }
        link.outbox.remove(0);
    }
    Ok(())
}

/// `a=1&b=2`, each value percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// How a paired profile's passphrase changes on its server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassphraseChange {
    /// Leave the profile's other devices signed in (by default they are signed out: a device
    /// that knew the old passphrase, or was stolen with it, is not trusted with the new one).
    pub keep_devices: bool,
    /// Also replace the vault's data key: the vault is sealed again under a new one, and every
    /// credential wraps the new key (the paper key too, which must then be given).
    pub rotate_key: bool,
}

/// Changes the profile's passphrase on its server (proved by the current one), and this host's
/// lock with it. With `rotate_key` the vault's data key is replaced in the same step; the other
/// devices are then signed out whatever `keep_devices` says, since they hold the old key.
pub fn change_passphrase(
    store: &Store,
    client: &Client,
    current: &Passphrase,
    new: &Passphrase,
    paper_key: Option<&vault::PaperKey>,
    how: PassphraseChange,
) -> Result<(), WireError> {
    if how.rotate_key && how.keep_devices {
        return Err(WireError::invalid("a new data key signs the other devices out: drop --keep-devices"));
    }
    if new.expose().chars().count() < vault::MIN_PASSPHRASE_CHARS {
        return Err(WireError::invalid(format!(
            "a passphrase needs at least {} characters",
            vault::MIN_PASSPHRASE_CHARS
        )));
    }
    // What the vault holds must be on the server first: a new key seals exactly that.
    sync(store, client)?;
    let new_lock =
        crate::state::PassphraseLock::create(new, random()?).map_err(|e| WireError::internal(e.to_string()))?;
    let changed = on_link(store, |link, s| {
        let rotated = change_on_server(client, link, s, current, new, paper_key, how)?;
        if let Some((data_key, counter, blob)) = rotated {
            link.data_key = Some(data_key);
            link.counter = counter;
            link.saw(counter, &blob);
        }
        s.lock = Some(new_lock.clone());
        Ok(())
    })?;
    changed.ok_or_else(not_paired)?;
    Ok(store.touch_activity()?)
}

/// The server's part of a passphrase change; with a rotation, the new data key and the vault
/// version it sealed.
fn change_on_server(
    client: &Client,
    link: &mut ServerLink,
    state: &LocalState,
    current: &Passphrase,
    new: &Passphrase,
    paper_key: Option<&vault::PaperKey>,
    how: PassphraseChange,
) -> Result<Option<(Secret32, u64, Vec<u8>)>, WireError> {
    link.usable()?;
    let data_key = link.data_key.clone().ok_or_else(|| {
        WireError::invalid("the synced vault is not open on this device yet: unlock it with the passphrase first")
    })?;
    fresh_token(client, link)?;
    let remote = read_fresh_vault(client, link)?;
    let kdf = remote.kdf.clone().ok_or_else(|| WireError::internal("the vault answer lacks its parameters"))?;
    let old_keys =
        vault::derive(current, &kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let new_kdf = KdfParams::recommended(random()?);
    let new_keys =
        vault::derive(new, &new_kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let mut body = json!({
        "currentAuthKey": old_keys.auth_key,
        "kdf": new_kdf,
        "authKey": new_keys.auth_key,
        "keepDevices": how.keep_devices,
    });
    let mut rotated = None;
    let key = if how.rotate_key {
        if link.dirty || remote.counter != link.counter {
            return Err(WireError::new(ErrorCode::Busy, "the vault changed meanwhile; try again"));
        }
        let fresh = Secret32::from_bytes(random()?);
        let contents = VaultContents::of(state);
        let json =
            zeroize::Zeroizing::new(serde_json::to_vec(&contents).map_err(|e| WireError::internal(e.to_string()))?);
        let blob = vault::seal_vault(&fresh, &link.profile_id, link.counter + 1, random()?, &json);
        let mut rotate = json!({"counter": link.counter, "blob": Base64UrlUnpadded::encode_string(&blob)});
        if remote.wrapped.contains_key("paper") {
            let paper = paper_key.ok_or_else(|| {
                WireError::invalid("this profile has a paper key: give it, so it can open the new data key too")
            })?;
            vault::unwrap(&paper.kek(), &remote.wrapped["paper"])
                .map_err(|_| WireError::invalid("that paper key is not this profile's"))?;
            let wrapped = vault::wrap(&paper.kek(), &fresh, random()?);
            rotate["paperWrappedKey"] = json!(Base64UrlUnpadded::encode_string(&wrapped));
        }
        body["rotate"] = rotate;
        rotated = Some((fresh.clone(), link.counter + 1, blob));
        fresh
    } else {
        data_key
    };
    body["wrappedKey"] = json!(Base64UrlUnpadded::encode_string(&vault::wrap(&new_keys.kek, &key, random()?)));
    let url = format!("{}/api/v1/passphrase", link.api_base);
    let answer = client.call("PUT", &url, Some(&link.access_token), Some(&body))?;
    match answer.0 {
        200 | 204 => {}
        401 => return Err(WireError::new(ErrorCode::AuthFailed, "the current passphrase is wrong")),
        409 => return Err(WireError::new(ErrorCode::Busy, "the vault changed meanwhile; try again")),
        _ => return Err(server_error(&answer)),
    }
    if let Some((_, counter, _)) = &rotated
        && answer.1["counter"].as_u64() != Some(*counter)
    {
        return Err(WireError::internal("the profile server did not store the vault under the new key"));
    }
    Ok(rotated)
}

/// Opens the vault of a ticket-paired host with the profile's passphrase.
pub fn open_with_passphrase(store: &Store, client: &Client, passphrase: &Passphrase) -> Result<bool, WireError> {
    let Some(link) = store.state()?.server.clone() else { return Ok(false) };
    if link.data_key.is_some() {
        return Ok(false);
    }
    let remote = read_vault(client, &link)?;
    let kdf = remote.kdf.clone().ok_or_else(|| WireError::internal("the vault answer lacks its parameters"))?;
    let keys = vault::derive(passphrase, &kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let data_key = remote.unwrap_key(&keys.kek)?;
    let mut lock = Some(
        crate::state::PassphraseLock::create(passphrase, random()?).map_err(|e| WireError::internal(e.to_string()))?,
    );
    store.update(|s| {
        if let Some(link) = s.server.as_mut() {
            link.data_key = Some(data_key);
            link.dirty = true;
        }
        if s.lock.is_none() {
            // As after pairing with the passphrase: it now also locks this host.
            s.lock = lock.take();
        }
        Ok(())
    })?;
    sync(store, client)?;
    Ok(true)
}

/// Runs `call` with a fresh access token, inside a state update so that rotated tokens are
/// saved whatever `call` answers. A device the server signed out is unpaired (its cache stays).
/// A server that offered an older vault is not talked to at all, so it cannot undo the halt
/// (by refusing a refresh, say), unless `even_halted` (unpairing, the person's own choice).
fn with_token<T>(
    store: &Store,
    client: &Client,
    even_halted: bool,
    call: impl FnOnce(&Client, &ServerLink) -> Result<T, WireError>,
) -> Result<T, WireError> {
    on_link(store, |link, _| {
        if !even_halted {
            link.usable()?;
        }
        fresh_token(client, link)?;
        call(client, link)
    })?
    .ok_or_else(not_paired)
}

/// The answer of a call that needs a profile server, when none is paired.
pub fn not_paired() -> WireError {
    WireError::new(ErrorCode::NotPaired, "this profile is not paired with a profile server")
}

/// The profile's devices, as the server lists them (`current` marks this one).
pub fn devices(store: &Store, client: &Client) -> Result<Value, WireError> {
    with_token(store, client, false, |client, link| {
        let url = format!("{}/api/v1/devices", link.api_base);
        expect(client.call("GET", &url, Some(&link.access_token), None)?, 200)
    })
}

/// Signs one of the profile's devices out.
pub fn revoke_device(store: &Store, client: &Client, device_id: &str) -> Result<(), WireError> {
    // It goes into the URL's path: only the server's id alphabet, so it names nothing else.
    let well_formed = (1..=64).contains(&device_id.len())
        && device_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(WireError::invalid("deviceId must be a device id from the device list"));
    }
    with_token(store, client, false, |client, link| {
        let url = format!("{}/api/v1/devices/{device_id}", link.api_base);
        expect(client.call("DELETE", &url, Some(&link.access_token), None)?, 204).map(|_| ())
    })
}

/// Forgets the server: signs this device out there (when it can) and drops the tokens and the
/// data key. The local cache stays.
pub fn unpair(store: &Store, client: &Client) -> Result<Value, WireError> {
    if store.state()?.server.is_none() {
        return Err(not_paired());
    }
    let signed_out = with_token(store, client, true, |client, link| {
        let url = format!("{}/api/v1/devices/{}", link.api_base, link.device_id);
        Ok(client.call("DELETE", &url, Some(&link.access_token), None)?.0 == 204)
    })
    .unwrap_or(false);
    store.update(|s| {
        s.forget_server();
        Ok(())
    })?;
    Ok(json!({"unpaired": true, "signedOut": signed_out}))
}

/// The longest pause between reconnections of the push socket.
const MAX_RECONNECT_SECS: u64 = 60;
/// How often an unpaired host looks whether it was paired meanwhile.
const NOT_PAIRED_CHECK_SECS: u64 = 5;

/// Starts (once per process) the thread that holds the profile server's push socket: it syncs
/// when it connects and whenever another device changes the vault, reconnects with a growing
/// pause when the connection drops, and forgets the server when it revokes this device.
pub fn listen(store: std::sync::Arc<Store>) {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if STARTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new().name("push".into()).spawn(move || {
        let client = Client::default();
        let mut pause = 1;
        loop {
            if !store.state().is_ok_and(|s| s.server.as_ref().is_some_and(|link| link.halted.is_none())) {
                // Not paired (yet), or syncing stopped: look again soon, e.g. after a pairing
                // in the browser.
                std::thread::sleep(Duration::from_secs(NOT_PAIRED_CHECK_SECS));
                pause = 1;
                continue;
            }
            match hold_socket(&store, &client) {
                Ok(()) => pause = 1,
                Err(e) => tracing::info!("push socket: {e}; reconnecting in {pause} s"),
            }
            std::thread::sleep(Duration::from_secs(pause));
            pause = (pause * 2).min(MAX_RECONNECT_SECS);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the push thread: {e}");
    }
}

/// One push connection, until it closes.
fn hold_socket(store: &Store, client: &Client) -> Result<(), String> {
    use tungstenite::client::IntoClientRequest;
    let link = match with_token(store, client, false, |_, link| Ok(link.clone())) {
        Ok(link) => link,
        Err(e) if e.code == ErrorCode::NotPaired => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let url = format!("ws{}/api/v1/push", link.api_base.trim_start_matches("http"));
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let bearer = format!("Bearer {}", link.access_token.expose()).parse().map_err(|_| "unusable token".to_owned())?;
    request.headers_mut().insert("Authorization", bearer);
    let (mut socket, _) = tungstenite::connect(request).map_err(|e| e.to_string())?;
    tracing::info!("push socket connected");
    // Whatever happened while disconnected.
    let _ = sync(store, client);
    loop {
        let message = match socket.read() {
            Ok(tungstenite::Message::Text(text)) => text,
            Ok(tungstenite::Message::Close(_)) => return Ok(()),
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        };
        let event: Value = serde_json::from_str(&message).unwrap_or_default();
        match event["type"].as_str() {
            Some("vault-changed" | "resync") => {
                if let Err(e) = sync(store, client) {
                    tracing::warn!("profile server sync: {e}");
                }
            }
            Some("device-revoked") if event["deviceId"] == link.device_id.as_str() => {
                tracing::warn!("the profile server signed this device out; it is no longer paired");
                store
                    .update(|s| {
                        s.forget_server();
                        Ok(())
                    })
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(city: &str, phone: Option<&str>) -> Address {
        serde_json::from_value(json!({
            "name": "Ada Lovelace", "line1": "12 Example Street", "city": city, "postalCode": "75001",
            "country": "FR", "phone": phone,
        }))
        .unwrap()
    }

    fn contents(addresses: &[(AddressKind, Address)]) -> VaultContents {
        VaultContents { addresses: addresses.iter().cloned().collect(), accounts: Vec::new() }
    }

    #[test]
    fn merges_keep_both_sides_changes() {
        use AddressKind::{Billing, Shipping};
        let base = contents(&[(Shipping, address("Paris", None))]);
        // Different fields changed on each side: both changes kept.
        let local = contents(&[(Shipping, address("Lyon", None))]);
        let remote = contents(&[(Shipping, address("Paris", Some("+33 1 23 45 67 89")))]);
        let merged = merge(&base, &local, &remote);
        assert_eq!(merged.addresses[&Shipping], address("Lyon", Some("+33 1 23 45 67 89")));
        // An address added on each side: both kept.
        let local = contents(&[(Shipping, address("Paris", None)), (Billing, address("Nice", None))]);
        let remote = contents(&[]);
        assert_eq!(merge(&base, &local, &remote).addresses.len(), 1, "deleted remotely, unchanged locally");
        let remote = contents(&[(Shipping, address("Paris", None))]);
        assert_eq!(merge(&base, &local, &remote).addresses.len(), 2);
        // The same field changed on both sides: the local change wins.
        let local = contents(&[(Shipping, address("Lyon", None))]);
        let remote = contents(&[(Shipping, address("Lille", None))]);
        assert_eq!(merge(&base, &local, &remote).addresses[&Shipping].city, "Lyon");
    }

    /// An account at the shop, with a counter (and a last use that follows it).
    fn account(guid: &str, counter: u64) -> AccountRecord {
        AccountRecord {
            origin: Origin::parse("https://shop.example").unwrap(),
            account_guid: profile_core::AccountGuid::try_from(guid.to_owned()).unwrap(),
            app_id: None,
            permissions: Vec::new(),
            key: Secret32::from_bytes([1; 32]),
            counter,
            created_at: 1,
            last_used_at: counter,
        }
    }

    #[test]
    fn merged_accounts_are_a_union_whose_counters_never_go_back() {
        let base = VaultContents { accounts: vec![account("a", 3)], ..VaultContents::default() };
        let local = VaultContents { accounts: vec![account("a", 5), account("b", 0)], ..VaultContents::default() };
        let remote = VaultContents { accounts: vec![account("a", 7), account("c", 0)], ..VaultContents::default() };
        let merged = merge(&base, &local, &remote);
        let seen: Vec<_> = merged.accounts.iter().map(|a| (a.account_guid.as_str().to_owned(), a.counter)).collect();
        assert_eq!(seen, [("a".to_owned(), 7), ("b".to_owned(), 0), ("c".to_owned(), 0)]);
    }

    #[test]
    fn a_removal_on_one_side_wins_unless_the_other_used_the_account_since() {
        let both = |accounts: Vec<AccountRecord>| VaultContents { accounts, ..VaultContents::default() };
        let guids =
            |merged: VaultContents| merged.accounts.iter().map(|a| a.account_guid.to_string()).collect::<Vec<_>>();
        let base = both(vec![account("a", 3), account("b", 1)]);
        // Removed here, untouched there: gone. Removed there, untouched here: gone.
        assert_eq!(guids(merge(&base, &both(vec![account("b", 1)]), &base)), ["b"]);
        assert_eq!(guids(merge(&base, &base, &both(vec![account("b", 1)]))), ["b"]);
        // Removed here, but logged in there since: kept, with the newer counter.
        let merged = merge(&base, &both(vec![account("b", 1)]), &both(vec![account("a", 4), account("b", 1)]));
        assert_eq!(guids(merged), ["b", "a"]);
    }

    /// A link as an older host saved it: no watermark, no outbox, no halt.
    fn legacy_link(counter: u64) -> ServerLink {
        serde_json::from_value(json!({
            "apiBase": "https://p.example", "profileId": "p", "profileUrl": "https://p.example/u/p",
            "deviceId": "d", "accessToken": "t", "accessExpiresAt": 0, "refreshToken": "r", "dataKey": null,
            "counter": counter, "base": {}, "dirty": false,
        }))
        .expect("a link saved before the outbox and the watermark existed still reads")
    }

    #[test]
    fn an_offer_older_than_what_was_seen_halts_and_only_opened_versions_count_as_seen() {
        // A link from before watermarks: its agreed counter is the floor.
        let mut link = legacy_link(5);
        assert!(link.check_offer(5, b"whatever it was").is_ok());
        let refused = link.check_offer(3, b"three").unwrap_err();
        assert_eq!(refused.code, ErrorCode::ServerUnreachable);
        let halt = link.halted.clone().expect("halted");
        assert_eq!((halt.seen_counter, halt.offered_counter), (5, 3));
        assert!(link.usable().is_err(), "nothing more is sent to that server");

        // An offer is not yet seen: a server cannot raise the watermark with a blob nobody opened.
        let mut link = legacy_link(5);
        assert!(link.check_offer(900, b"made up").is_ok());
        assert_eq!(link.newest_seen().counter, 5);
        link.saw(6, b"six");
        assert!(link.check_offer(6, b"another six").is_err(), "the same version with other contents");

        // Unpairing keeps what was seen of the profile, for the next pairing.
        let mut state = LocalState::new(Secret32::from_bytes([3; 32]));
        let mut link = legacy_link(2);
        link.saw(7, b"seven");
        state.server = Some(link);
        state.forget_server();
        assert_eq!(state.vault_history["https://p.example/u/p"].counter, 7);
    }

    #[test]
    fn registry_news_wait_in_order_and_stay_bounded() {
        let origin = Origin::parse("https://shop.example").unwrap();
        let guid = profile_core::AccountGuid::try_from("a".to_owned()).unwrap();
        let mut link = legacy_link(0);
        let login = || RegistryNews::LoggedIn { origin: origin.clone(), account_guid: guid.clone() };
        link.tell(RegistryNews::Removed { origin: origin.clone(), account_guid: guid.clone() });
        link.tell(login());
        link.tell(login());
        assert_eq!(link.outbox.len(), 2, "one login of an account waits at a time");
        for _ in 0..MAX_OUTBOX + 10 {
            link.tell(RegistryNews::Removed { origin: origin.clone(), account_guid: guid.clone() });
        }
        assert_eq!(link.outbox.len(), MAX_OUTBOX);
        assert!(!link.outbox.iter().any(|n| matches!(n, RegistryNews::LoggedIn { .. })), "logins go first");
        assert!(!format!("{link:?}").contains("\"t\""));
    }
}
