//! The extension's own methods: the options page, the popup and the consent window manage the
//! profile through them.
use std::sync::Arc;

use profile_core::wire::{
    API_VERSION, AccountSummary, Call, Disclosure, FillParams, Grant, GrantParams, HelloResult, MAX_LISTED_DISCLOSURES,
    MAX_LISTED_ITEMS, PairParams, PreviewParams, PreviewResult, PublicSettings, StatusResult,
};
use profile_core::{AccountGuid, AddressId, AddressKind, ErrorCode, ItemId, LoginKey, Origin, WireError, address};
use serde_json::{Value, json};

use super::sites::registrable_domain;
use profile_core::disclosure;

use super::{Host, fail, new_key, to_value};
use crate::local::session::*;
use crate::local::state::SiteView;
use crate::local::state::{AccountRecord, LocalState};
use crate::local::store::{Store, now, random};
use crate::remote::{self, PairWith, PassphraseChange, Unlocked};

impl Host {
    pub(super) fn extension_call(
        &self,
        store: &Arc<Store>,
        state: &LocalState,
        call: &Call,
    ) -> Result<Value, WireError> {
        match call {
            Call::Hello {} => to_value(&hello(state)),
            Call::Status {} => to_value(&StatusResult {
                hello: hello(state),
                passphrase_set: state.lock.is_some(),
                vault_needs_passphrase: state.server.as_ref().is_some_and(|link| link.data_key.is_none()),
                addresses: AddressKind::ALL
                    .into_iter()
                    .filter(|k| state.address_book.default_of(*k).is_some())
                    .collect(),
                saved_addresses: state.address_book.len(),
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
                let paired = remote::pair(store, self.client(), profile_url, with, accept_older)?;
                if self.listen {
                    remote::listen(store.clone());
                }
                Ok(paired)
            }
            Call::Unpair {} => remote::unpair(store, self.client()),
            Call::ListDevices {} => to_value(&remote::devices(store, self.client())?),
            Call::RevokeDevice { pairing_id } => {
                remote::revoke_device(store, self.client(), pairing_id)?;
                Ok(json!({"revoked": true}))
            }
            Call::Unlock { passphrase } => match remote::unlock(store, self.client(), state, passphrase)? {
                Unlocked::VaultOpened => Ok(json!({"locked": false, "vaultOpen": true})),
                Unlocked::Until(until) => Ok(json!({"locked": false, "expiresAt": until})),
            },
            Call::SetPassphrase { passphrase, current } => to_value(&remote::set_passphrase(
                store,
                self.client(),
                current.as_ref(),
                passphrase,
                None,
                PassphraseChange::default(),
            )?),
            Call::Lock {} => {
                lock_profile(store)?;
                self.forget_keys();
                Ok(json!({"locked": true}))
            }
            Call::SaveAddress(params) => {
                let new_id = AddressId::from_random(random()?);
                let saved = store.update(|s| s.save_address(params.as_ref().clone(), new_id, now()))?;
                self.changed(state);
                to_value(&saved)
            }
            Call::ListAddresses {} => to_value(&state.address_list()),
            Call::ListItems { category, query, offset, limit } => to_value(&state.item_list(
                *category,
                query.as_deref(),
                offset.unwrap_or(0),
                limit.unwrap_or(MAX_LISTED_ITEMS),
            )?),
            Call::SaveItem { category, item } => {
                let new_id = ItemId::from_random(random()?);
                let id = store.update(|s| s.save_item(*category, item.clone(), new_id, now(), None))?;
                self.changed(state);
                Ok(json!({"id": id}))
            }
            Call::RemoveItem { category, id } => {
                store.update(|s| s.remove_item(*category, id, now()))?;
                self.changed(state);
                Ok(json!({"removed": true}))
            }
            Call::SetPublic { fields } => {
                let (key, _) = new_key(profile_core::public::ProfileKey::from_secret)?;
                let state = store.update(|s| {
                    s.set_public(fields.clone(), now(), key)?;
                    Ok(s.clone())
                })?;
                self.changed(&state);
                to_value(&self.public_part(store, &state))
            }
            Call::GetPublic {} => to_value(&self.public_part(store, state)),
            Call::RemoveAddress { id } => {
                store.update(|s| s.remove_address(id, now()))?;
                self.changed(state);
                Ok(json!({"removed": true}))
            }
            Call::SetDefaultAddress { id, kind } => {
                store.update(|s| s.set_default_address(id, *kind, now()))?;
                self.changed(state);
                Ok(json!({"id": id, "kind": kind}))
            }
            Call::AddressFormat { country } => match address::format::form(country) {
                Some(form) => to_value(&form),
                None => fail(ErrorCode::NotFound, format!("no address data for the country `{country}`")),
            },
            Call::Preview(params) => {
                let mut previewed = preview(state, params)?;
                previewed.app = match params.call.as_ref() {
                    // An app is asked for by its registration, which must name a key to seal to;
                    // without one, or without a profile server, no window opens.
                    Call::RequestGrant(_) => {
                        if state.server.is_none() {
                            return Err(remote::not_paired());
                        }
                        let app = remote::registration(self.client(), &params.origin)?;
                        Some(profile_core::wire::SiteApp {
                            app_id: Some(app.app_id.as_str().to_owned()),
                            name: app.name.into(),
                        })
                    }
                    _ => self.site_app(&params.origin),
                };
                to_value(&previewed)
            }
            Call::ListApps {} => to_value(&remote::list_apps(store, self.client())?),
            Call::IssueLinkTicket {} => {
                let (key, _) = new_key(profile_core::public::ProfileKey::from_secret)?;
                to_value(&remote::issue_link_ticket(store, self.client(), key)?)
            }
            Call::RedeemLinkTicket { ticket } => {
                let (key, _) = new_key(profile_core::public::ProfileKey::from_secret)?;
                let linked = remote::redeem_link_ticket(store, self.client(), ticket, key)?;
                self.sync_soon();
                Ok(linked)
            }
            Call::RevokeApp { grant_id } => {
                let origin = remote::revoke_app(store, self.client(), grant_id)?;
                let entry = Disclosure::new(now(), origin, "revokeApp", vec!["revoked".into()], "disclosed".into());
                if let Err(e) = store.append_disclosure(&entry) {
                    tracing::warn!("cannot write the disclosure ledger: {e}");
                }
                self.sync_soon();
                Ok(json!({"revoked": true}))
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
            Call::Fill(FillParams { origin: site, kind, id, fields }) => {
                if !site.is_web() {
                    return fail(ErrorCode::InvalidRequest, "forms are filled on web pages only");
                }
                let book = &state.address_book;
                let saved = match id {
                    Some(id) => book
                        .get(id)
                        .ok_or_else(|| WireError::new(ErrorCode::NotFound, "that address is no longer saved"))?,
                    None => book.default_of(*kind).ok_or_else(|| {
                        WireError::new(ErrorCode::NotFound, format!("no {} address saved", kind.as_str()))
                    })?,
                };
                let address = &saved.address;
                let held = fields.names().iter().filter(|name| address.get(name).is_some());
                let fields = held.map(|name| format!("{}.{name}", kind.as_str())).collect();
                // Recorded before the address leaves for the page: a fill that cannot be
                // recorded does not happen.
                store.append_disclosure(&Disclosure::new(now(), site.clone(), "fill", fields, "disclosed".into()))?;
                to_value(address)
            }
            _ => fail(ErrorCode::InvalidRequest, format!("`{}` is a page method", call.name())),
        }
    }

    /// After a change to the address book: the vault hears of it soon, when paired.
    /// The public part as chosen, and what it publishes.
    /// The public part as chosen, what the profile server publishes of it, and whether the
    /// choice is still to go out.
    fn public_part(&self, _store: &Store, state: &LocalState) -> PublicSettings {
        let fields = state.public_fields();
        let wanted = (!fields.is_empty()).then_some(Value::Object(fields));
        let published = state.server.as_ref().and_then(|link| link.published.clone());
        let pending = wanted != published;
        state.public_part(published, pending)
    }

    /// A change to the profile reaches the profile server in the background.
    fn changed(&self, state: &LocalState) {
        if state.server.is_some() {
            self.sync_soon();
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
}

/// What a page call would disclose, computed exactly as the call would but neither disclosed
/// nor recorded: the consent window shows it.
fn preview(state: &LocalState, params: &PreviewParams) -> Result<PreviewResult, WireError> {
    let PreviewParams { origin, top_origin, call } = params;
    if !call.is_page_method() || !origin.is_web() {
        return fail(ErrorCode::InvalidRequest, "only a web page's call can be previewed");
    }
    let view = SiteView { state, origin };
    let value = disclosure::preview(call, &view);
    // An address's lines in its country's order, for the consent window's postal card.
    let lines = match call.as_ref() {
        Call::GetAddress { kind } => disclosure::Profile::address(&view, *kind).map(address::format::lines),
        _ => None,
    };
    Ok(PreviewResult {
        registrable_domain: registrable_domain(origin),
        top_registrable_domain: top_origin.as_ref().and_then(registrable_domain),
        value,
        lines,
        app: None,
    })
}

pub(super) fn hello(state: &LocalState) -> HelloResult {
    HelloResult {
        api_version: API_VERSION.to_owned(),
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
        paired: state.profile_url.is_some(),
        locked: state.locked,
        profile_url: state.profile_url.clone(),
    }
}

pub(super) fn summary(record: &AccountRecord, key: &LoginKey) -> AccountSummary {
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
