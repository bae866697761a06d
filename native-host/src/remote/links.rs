//! Linked profiles, from this device's side (`profile_core::apps::links` has the protocol).
//!
//! Issuing a ticket registers its token's hash with this profile's server and keeps its MAC
//! key on this device only (a redemption is completed by the device that issued the ticket).
//! Redeeming one grants the issuer this profile's card and tells the issuer's server. After
//! each sync, the issuing device completes the redemptions waiting for it (the MAC checked,
//! the card granted back, the other server told which grant that is), and every device reads
//! each linked profile's card (as an app reads its share, signing with the profile's key) into
//! the contact that follows it. A card the other side stopped sharing (`grant_revoked`) cuts
//! the link here too.
//!
//! Whoever holds a ticket chooses where this device sends requests: the profile URL in the
//! ticket (or in the redemption, on the issuer's side) and the `apiBase` the document there
//! names. Every one of them (the document, the redemption, the card read at each sync, the
//! confirmation) goes out through [`super::outward`], by the rule contacts are followed by:
//! https to public addresses only, plain http only to `localhost` and `127.0.0.1`; an `apiBase`
//! with a query or a fragment is refused. A ticket or a redemption that points elsewhere is
//! refused in words before anything is sent there.

use profile_core::apps::links::{LINK_APP_ID, LinkConfirm, LinkRedeem, LinkTicket, TICKET_TTL, Token, card_scopes};
use profile_core::apps::sealed::open_share;
use profile_core::apps::{AppName, GrantId, SealedShare};
use profile_core::public::ProfileKey;
use profile_core::server_api::{ApiErrorCode, LinkRequestList, LinkTicketSet, ProfileDocument, path};
use profile_core::vault::{AppGrantRecord, PeerLink};
use profile_core::wire::Disclosure;
use profile_core::{AppId, Category, ErrorCode, ItemId, ItemInput, Origin, Secret32, WireError};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::client::*;
use super::grants::{AfterSync, ProfileKeys, give, grant_list};
use super::outward::{ApiBase, OutwardUrl, this_machine_allowed};
use super::sync::{fresh_token, on_link};
use crate::local::link::{IssuedTicket, ServerLink};
use crate::local::state::LocalState;
use crate::local::store::{Store, now, random};

/// Tickets this device issued and may still complete.
const MAX_ISSUED: usize = 20;
/// The label of the ways to reach someone that come from their card (the others are the
/// person's own and are kept).
const FROM_CARD: &str = "From their profile";

/// What `issueLinkTicket` answers: the ticket as text and as a QR code (SVG).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    pub ticket: String,
    pub qr_svg: String,
    pub expires_at: u64,
}

/// The name this profile shows a linked one: its display name, else its name, else its URL.
fn my_name(state: &LocalState, link: &ServerLink) -> Result<AppName, WireError> {
    let identity = state.items.single(Category::Identity);
    let text = |f: &str| identity.get(f).and_then(Value::as_str).filter(|t| !t.trim().is_empty()).map(str::to_owned);
    let name = text("displayName").or_else(|| text("name")).unwrap_or_else(|| link.profile_url.clone());
    AppName::try_from(name.chars().take(80).collect::<String>())
        .or_else(|_| AppName::try_from("A Personal Profile".to_owned()))
        .map_err(WireError::invalid)
}

/// Issues a connection ticket, valid [`TICKET_TTL`]: its token's hash goes to the profile
/// server, its MAC key stays on this device.
pub fn issue(store: &Store, client: &Client, new_profile_key: Secret32) -> Result<Issued, WireError> {
    let (token, mac_key) = (Token::from_bytes(random()?), Token::from_bytes(random()?));
    let expires_at = now() + TICKET_TTL;
    let issued = on_link(store, |link, state| {
        link.usable()?;
        fresh_token(client, link)?;
        if state.public.key.is_none() {
            state.public.key = Some(new_profile_key);
        }
        let keys = ProfileKeys::of(state)?;
        let ticket = LinkTicket {
            profile_url: link.profile_url.clone(),
            name: my_name(state, link)?,
            signing_key: keys.signing.public_jwk(),
            encryption_key: keys.decryption.public().to_jwk(),
            token: token.clone(),
            mac_key: mac_key.clone(),
            expires_at,
        };
        let set = LinkTicketSet { token_hash: token.hash(), expires_at: i64::try_from(expires_at).unwrap_or(i64::MAX) };
        client
            .call("POST", &url(&link.api_base, path::LINK_TICKETS), Some(&link.access_token), Some(&set))?
            .expect_empty(201)?;
        link.tickets.retain(|t| t.expires_at >= now());
        if link.tickets.len() >= MAX_ISSUED {
            link.tickets.remove(0);
        }
        link.tickets.push(IssuedTicket { token_hash: token.hash(), mac_key: mac_key.clone(), expires_at });
        Ok(ticket.to_text())
    })?
    .ok_or_else(super::not_paired)?;
    Ok(Issued { qr_svg: qr_svg(&issued), ticket: issued, expires_at })
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

/// Where the API of `whose` linked profile is: the `apiBase` of the document at its profile
/// URL, each reached or refused as [`super::outward`] says (this machine only while `link`'s
/// server is on it). A profile URL or an `apiBase` that may not be reached is `invalid_request`,
/// in words, and nothing is sent to what was refused; a document that could not be read, or is
/// none, is `server_unreachable`.
fn document(client: &Client, link: &ServerLink, whose: &str, profile_url: &str) -> Result<ApiBase, WireError> {
    let here = this_machine_allowed(&link.api_base);
    let at = OutwardUrl::parse(profile_url, here)
        .map_err(|why| WireError::invalid(format!("{whose}'s profile URL `{profile_url}` is refused: it {why}")))?;
    // A document that could not be read, or read as none, may be there later (a deploy, a
    // proxy's error page): only what the rule refuses is refused for good.
    let value = client.outward_document(&at).map_err(|e| {
        WireError::new(e.code, format!("{whose}'s profile URL `{profile_url}` could not be read: {}", e.message))
    })?;
    let document: ProfileDocument = serde_json::from_value(value).map_err(|e| {
        let why = format!("{whose}'s profile URL `{profile_url}` did not answer with a profile document: {e}");
        WireError::new(ErrorCode::ServerUnreachable, why)
    })?;
    ApiBase::parse(&document.api_base, here).map_err(|why| {
        WireError::invalid(format!(
            "{whose}'s profile server, `{}` as their profile document names it, is refused: it {why}",
            document.api_base
        ))
    })
}

/// The grant of this profile's card to a linked one.
fn card_grant(
    name: AppName,
    profile_url: &str,
    signing: &profile_core::PublicJwk,
    encryption: &profile_core::PublicJwk,
    their_grant: Option<GrantId>,
) -> Result<AppGrantRecord, WireError> {
    let origin = Origin::parse(&profile_origin(profile_url)?).map_err(|e| WireError::invalid(e.to_string()))?;
    Ok(AppGrantRecord {
        origin,
        app_id: AppId::try_from(LINK_APP_ID.to_owned()).map_err(WireError::invalid)?,
        name,
        scopes: card_scopes(),
        app_key: signing.clone(),
        encryption_key: encryption.clone(),
        purpose: "Linked profiles: each keeps the other's contact card current".into(),
        granted_at: now(),
        revoked_at: None,
        peer: Some(PeerLink { profile_url: profile_url.to_owned(), their_grant }),
    })
}

fn profile_origin(profile_url: &str) -> Result<String, WireError> {
    let parsed = url::Url::parse(profile_url).map_err(|e| WireError::invalid(format!("{profile_url}: {e}")))?;
    Ok(parsed.origin().ascii_serialization())
}

/// Redeems a ticket another person issued: grants them this profile's card, tells their
/// profile server, and adds them to the contacts (their card follows once they grant theirs).
pub fn redeem(store: &Store, client: &Client, text: &str, new_profile_key: Secret32) -> Result<Value, WireError> {
    let ticket = LinkTicket::from_text(text, now()).map_err(|e| WireError::invalid(e.to_string()))?;
    let name = ticket.name.clone();
    on_link(store, |link, state| {
        link.usable()?;
        let their_redeem = document(client, link, name.as_str(), &ticket.profile_url)?.at(path::LINKS_REDEEM)?;
        fresh_token(client, link)?;
        if ticket.profile_url == link.profile_url {
            return Err(WireError::invalid("that ticket is this profile's own"));
        }
        let linked = |g: &AppGrantRecord| {
            g.revoked_at.is_none() && g.peer.as_ref().is_some_and(|p| p.profile_url == ticket.profile_url)
        };
        if state.app_grants.values().any(linked) {
            return Err(WireError::invalid(format!("this profile is linked with {} already", ticket.name.as_str())));
        }
        // Made on copies: kept only once the other server took the redemption, else the grant
        // just registered is revoked and nothing of it stays.
        let (mut given, mut shares) = (state.clone(), link.clone());
        let record =
            card_grant(ticket.name.clone(), &ticket.profile_url, &ticket.signing_key, &ticket.encryption_key, None)?;
        let (grant_id, _) = give(client, &mut shares, &mut given, record, new_profile_key)?;
        let keys = ProfileKeys::of(&given)?;
        let redeem = LinkRedeem::new(
            &ticket,
            link.profile_url.clone(),
            my_name(&given, link)?,
            keys.signing.public_jwk(),
            keys.decryption.public().to_jwk(),
            grant_id.clone(),
        );
        let taken = client
            .outward_post(&their_redeem, &redeem)
            .map_err(|e| (false, e))
            .and_then(|answer| if (200..300).contains(&answer.status) { Ok(()) } else { Err((true, answer.error())) });
        if let Err((answered, why)) = taken {
            let address = url(&link.api_base, &path::grant(grant_id.as_str()));
            if let Err(e) = client.call("DELETE", &address, Some(&link.access_token), NO_BODY) {
                tracing::warn!("a grant made for a refused ticket stays on the server, unused: {e}");
            }
            let name = ticket.name.as_str();
            return Err(if answered {
                WireError::invalid(format!(
                    "{name}'s profile server refused the ticket (it may have been used or have expired): {}",
                    why.message
                ))
            } else {
                WireError::new(why.code, format!("{name}'s profile server could not be reached: {}", why.message))
            });
        }
        *state = given;
        link.shares = shares.shares;
        follow(state, &ticket.profile_url, ticket.name.as_str(), None)?;
        Ok(())
    })?
    .ok_or_else(super::not_paired)?;
    Ok(json!({"linked": name.as_str()}))
}

/// After a sync: completes the redemptions of tickets this device issued, learns the grants
/// linked profiles gave back, and reads each linked profile's card into its contact.
pub(super) fn after_sync(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    after: &mut AfterSync,
) -> Result<(), WireError> {
    complete_redemptions(client, link, state, after)?;
    confirm_links(client, link, state)?;
    if !state.app_grants.values().any(|g| g.peer.is_some()) {
        return Ok(());
    }
    // The grants given back, as the linked profiles told this profile's server (read once a
    // sync: the apps' part read them already when the profile has apps).
    let listed = match after.grants.take() {
        Some(listed) => listed,
        None => grant_list(client, link)?,
    };
    for info in listed.grants {
        let Some(confirm) = info.peer_grant else { continue };
        let Some(record) = state.app_grants.get_mut(&info.grant_id) else { continue };
        if let Some(peer) = record.peer.as_mut().filter(|p| p.profile_url == confirm.profile_url) {
            peer.their_grant.get_or_insert(confirm.grant_id);
        }
    }
    let ProfileKeys { signing: key, decryption, .. } = ProfileKeys::of(state)?;
    let links: Vec<(GrantId, AppGrantRecord)> = (state.app_grants.iter())
        .filter(|(_, g)| g.revoked_at.is_none() && g.peer.as_ref().is_some_and(|p| p.their_grant.is_some()))
        .map(|(id, g)| (id.clone(), g.clone()))
        .collect();
    for (mine, record) in links {
        let Some(peer) = &record.peer else { continue };
        let Some(their_grant) = &peer.their_grant else { continue };
        let read = (|| {
            let api_base = peer_api(client, link, record.name.as_str(), &peer.profile_url)?;
            let answer = client.call_as_app("GET", &api_base, path::APP_SHARE, their_grant, &key, b"")?;
            if answer.status == 403 && answer.error_body().is_some_and(|b| b.error.code == ApiErrorCode::GrantRevoked) {
                return Ok(None);
            }
            let share: SealedShare = answer.expect(200)?;
            let contents = open_share(&decryption, &record.app_key, their_grant, &share)
                .map_err(|e| WireError::invalid(format!("{}'s card: {e}", record.name.as_str())))?;
            Ok::<_, WireError>(Some(contents))
        })();
        match read {
            Ok(Some(contents)) => {
                let card = contents
                    .categories
                    .get(&Category::Identity)
                    .and_then(|c| c.first())
                    .and_then(|c| c.get("fields"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                follow(state, &peer.profile_url, record.name.as_str(), Some(&card))?;
            }
            Ok(None) => {
                // They cut the link: so does this side.
                if let Some(record) = state.app_grants.get_mut(&mine) {
                    record.revoked_at.get_or_insert(now());
                }
                let address = url(&link.api_base, &path::grant(mine.as_str()));
                let _ = client.call("DELETE", &address, Some(&link.access_token), NO_BODY);
                after.ledger.push(Disclosure::new(
                    now(),
                    record.origin.clone(),
                    "unlink",
                    vec!["revoked".into()],
                    "disclosed".into(),
                ));
            }
            Err(e) => {
                // Their server may have moved: its document is read again next time.
                link.peer_apis.remove(&peer.profile_url);
                tracing::warn!("{}'s card waits for the next sync: {e}", record.name.as_str());
            }
        }
    }
    Ok(())
}

/// How long past its ticket's expiry a redemption whose card could not be given back is tried
/// again.
const REDEMPTION_RETRY_SECS: u64 = 24 * 60 * 60;

/// Where a linked profile's API is: its profile document's `apiBase` ([`document`]), read once
/// and kept with the server link. One kept that may not be reached (kept by an earlier version)
/// is read again.
fn peer_api(client: &Client, link: &mut ServerLink, whose: &str, profile_url: &str) -> Result<ApiBase, WireError> {
    let here = this_machine_allowed(&link.api_base);
    if let Some(known) = link.peer_apis.get(profile_url).and_then(|known| ApiBase::parse(known, here).ok()) {
        return Ok(known);
    }
    link.peer_apis.remove(profile_url);
    let api_base = document(client, link, whose, profile_url)?;
    link.peer_apis.insert(profile_url.to_owned(), api_base.as_str().to_owned());
    Ok(api_base)
}

/// Tells a linked profile's server that this profile's card for it changed, or that the link
/// was cut: the confirmation of the grant given back, sent again (signed for the grant they
/// gave), makes their server tell their devices, which read the card, or find it gone, at once
/// instead of at their next sync. Best effort: what fails waits for their next sync (`false`).
pub(super) fn tell_peer(
    client: &Client,
    link: &mut ServerLink,
    key: &ProfileKey,
    record: &AppGrantRecord,
    mine: &GrantId,
) -> bool {
    let Some(peer) = &record.peer else { return false };
    let Some(their_grant) = &peer.their_grant else { return false };
    let told = (|| {
        let api_base = peer_api(client, link, record.name.as_str(), &peer.profile_url)?;
        let confirm =
            serde_json::to_vec(&LinkConfirm { grant_id: mine.clone(), profile_url: link.profile_url.clone() })
                .unwrap_or_default();
        client.call_as_app("PUT", &api_base, path::APP_LINK, their_grant, key, &confirm)?.expect_empty(204)
    })();
    if let Err(e) = &told {
        link.peer_apis.remove(&peer.profile_url);
        tracing::info!("{} hears of the change at its next sync: {e}", record.name.as_str());
    }
    told.is_ok()
}

/// Completes the redemptions waiting for this device: a MAC that checks with one of its tickets,
/// from a profile whose document and server may be reached ([`document`]), makes the card grant
/// back (the other server hears which in [`confirm_links`]); anything else is dropped.
fn complete_redemptions(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    after: &mut AfterSync,
) -> Result<(), WireError> {
    if link.tickets.is_empty() {
        return Ok(());
    }
    let list: LinkRequestList = client
        .call("GET", &url(&link.api_base, path::LINK_REQUESTS), Some(&link.access_token), NO_BODY)?
        .expect(200)?;
    for request in list.requests {
        let Some(issued) = link.tickets.iter().position(|t| t.token_hash == request.token_hash) else { continue };
        let redeem = request.redeem;
        // A redemption whose MAC or keys do not check, or whose profile URL or server may not
        // be reached, is refused for good; one whose card could not be given back (a server out
        // of reach) stays, with its ticket, for the next sync until a day past the ticket's
        // expiry.
        let mut given = || {
            redeem.verify(&link.tickets[issued].mac_key).map_err(|e| (true, e.to_string()))?;
            peer_api(client, link, redeem.name.as_str(), &redeem.profile_url)
                .map_err(|e| (e.code == ErrorCode::InvalidRequest, e.message))?;
            let record = card_grant(
                redeem.name.clone(),
                &redeem.profile_url,
                &redeem.signing_key,
                &redeem.encryption_key,
                Some(redeem.grant_id.clone()),
            )
            .map_err(|e| (true, e.to_string()))?;
            let origin = record.origin.clone();
            let secret = random().map_err(|e| (false, e.to_string()))?;
            let (mine, _) =
                give(client, link, state, record, Secret32::from_bytes(secret)).map_err(|e| (false, e.to_string()))?;
            Ok::<_, (bool, String)>((mine, origin))
        };
        let (mine, origin) = match given() {
            Ok(given) => given,
            Err((refused, why)) => {
                tracing::warn!("a connection request for a ticket of this device: {why}");
                if refused || link.tickets[issued].expires_at + REDEMPTION_RETRY_SECS < now() {
                    after.requests_done.push(request.id.clone());
                    link.tickets.remove(issued);
                }
                continue;
            }
        };
        after.requests_done.push(request.id.clone());
        link.tickets.remove(issued);
        // The redeemer's server learns of it in `confirm_links`, after this.
        link.unconfirmed_links.insert(mine);
        follow(state, &redeem.profile_url, redeem.name.as_str(), None)?;
        after.ledger.push(Disclosure::new(
            now(),
            origin,
            "link",
            vec!["grant.identity.read".into()],
            "disclosed".into(),
        ));
    }
    Ok(())
}

/// Tells each redeemer's server which grant this device gave back for its redemption (a
/// confirmation that did not get through is sent again at each sync until it does); one of a
/// grant revoked since is dropped.
fn confirm_links(client: &Client, link: &mut ServerLink, state: &LocalState) -> Result<(), WireError> {
    if link.unconfirmed_links.is_empty() {
        return Ok(());
    }
    let keys = ProfileKeys::of(state)?;
    for mine in link.unconfirmed_links.clone() {
        let confirmed = match state.app_grants.get(&mine).filter(|r| r.revoked_at.is_none()) {
            Some(record) => tell_peer(client, link, &keys.signing, record, &mine),
            None => true,
        };
        if confirmed {
            link.unconfirmed_links.remove(&mine);
        }
    }
    Ok(())
}

/// The contact that follows a linked profile: made when missing, its name and ways to reach
/// them taken from their card when one was read.
fn follow(
    state: &mut LocalState,
    profile_url: &str,
    name: &str,
    card: Option<&Map<String, Value>>,
) -> Result<(), WireError> {
    let existing = state
        .items
        .list(Category::Contacts, None)
        .into_iter()
        .find(|c| c.text("profileUrl") == Some(profile_url))
        .cloned();
    let mut fields = existing.as_ref().map(|c| c.fields.clone()).unwrap_or_default();
    fields.insert("profileUrl".into(), json!(profile_url));
    let text = |f: &str| card.and_then(|c| c.get(f)).and_then(Value::as_str).filter(|t| !t.is_empty());
    let shown = text("displayName").or_else(|| text("name")).unwrap_or(name);
    fields.insert("name".into(), json!(shown));
    if card.is_some() {
        let own = |line: &&Value| line.get("label").and_then(Value::as_str) != Some(FROM_CARD);
        let kept = fields.get("lines").and_then(Value::as_array).map(|l| l.iter().filter(own).cloned().collect());
        let mut lines: Vec<Value> = kept.unwrap_or_default();
        for (field, kind) in [("email", "email"), ("phone", "phone")] {
            if let Some(value) = text(field) {
                lines.push(json!({"kind": kind, "value": value, "label": FROM_CARD}));
            }
        }
        fields.insert("lines".into(), Value::Array(lines));
    }
    if existing.as_ref().is_some_and(|c| c.fields == fields) {
        return Ok(());
    }
    let input = ItemInput { id: existing.map(|c| c.id), fields };
    state.save_item(Category::Contacts, input, ItemId::from_random(random()?), now(), Some(profile_url.to_owned()))?;
    Ok(())
}
