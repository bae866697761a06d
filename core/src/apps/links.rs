//! Linked profiles: two people connect their profiles with a one-time connection ticket, and
//! each then grants the other its contact card, as an app is granted a share.
//!
//! The person who issues a ticket ([`LinkTicket`], text or a QR code, valid
//! [`TICKET_TTL`]) gives the other everything needed to trust them without trusting either
//! profile server: their profile URL and name, their profile's signing and encryption keys, a
//! `token` their profile server checks (it holds only its SHA-256, and spends it on first use,
//! whether or not the redemption succeeds) and a `macKey` only their devices know. The person
//! who redeems it grants the issuer their card (a grant whose app key is the issuer's signing
//! key) and sends the issuer's profile server a [`LinkRedeem`]: their own URL, name and keys
//! and that grant's id, authenticated with the `macKey`, so the issuer's devices know the keys
//! came from whoever held the ticket and not from a server in between. The issuer's device
//! then grants its card back and tells the redeemer's profile server which grant that is
//! ([`LinkConfirm`], signed with the issuer's key as an app signs). From then on each side reads
//! the other's card as an app reads its share, and either side cuts the link by revoking the
//! grant it gave.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, AppName, GrantId, Scope};
use crate::PublicJwk;
use crate::category::Category;

/// How long a ticket may be redeemed, in seconds: 10 minutes.
pub const TICKET_TTL: u64 = 600;
/// What a ticket's text starts with.
pub const TICKET_PREFIX: &str = "profile-link:";
/// Longest ticket text read.
pub const MAX_TICKET_TEXT: usize = 2048;
/// Longest profile URL a link carries.
pub const MAX_PROFILE_URL: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this is not a connection ticket (it starts with `{TICKET_PREFIX}`)")]
    NotATicket,
    #[error("the connection ticket is damaged: {0}")]
    Malformed(String),
    #[error("the connection ticket has expired; ask for a new one")]
    Expired,
    #[error("the connection request was not made with this ticket")]
    Mac,
}

/// Random bytes, as base64url in JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token([u8; 16]);

impl Token {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }

    /// What the issuer's profile server keeps of it: base64url of its SHA-256.
    pub fn hash(&self) -> String {
        Base64UrlUnpadded::encode_string(&Sha256::digest(self.0))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl TryFrom<String> for Token {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let mut bytes = [0u8; 16];
        match Base64UrlUnpadded::decode(&text, &mut bytes) {
            Ok(decoded) if decoded.len() == 16 => Ok(Self(bytes)),
            _ => Err("a token is 16 bytes of base64url".into()),
        }
    }
}

impl From<Token> for String {
    fn from(token: Token) -> Self {
        Base64UrlUnpadded::encode_string(&token.0)
    }
}

/// A connection ticket, as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkTicket {
    pub profile_url: String,
    /// The issuer's name as they chose to show it.
    pub name: AppName,
    pub signing_key: PublicJwk,
    pub encryption_key: PublicJwk,
    /// Checked (by its hash) and spent by the issuer's profile server.
    pub token: Token,
    /// Known only to the issuer's devices: authenticates the redeemer's answer.
    pub mac_key: Token,
    /// Unix seconds.
    pub expires_at: u64,
}

impl LinkTicket {
    /// The ticket as text to copy or to put in a QR code.
    pub fn to_text(&self) -> String {
        format!("{TICKET_PREFIX}{}", Base64UrlUnpadded::encode_string(&serde_json::to_vec(self).unwrap_or_default()))
    }

    /// Reads a ticket's text (spaces and line breaks a copy added are ignored), refusing one
    /// past its expiry at `now`.
    pub fn from_text(text: &str, now: u64) -> Result<Self, LinkError> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if text.len() > MAX_TICKET_TEXT {
            return Err(LinkError::Malformed("too long".into()));
        }
        let body = text.strip_prefix(TICKET_PREFIX).ok_or(LinkError::NotATicket)?;
        let bytes = Base64UrlUnpadded::decode_vec(body).map_err(|_| LinkError::Malformed("not base64url".into()))?;
        let ticket: Self = serde_json::from_slice(&bytes).map_err(|e| LinkError::Malformed(e.to_string()))?;
        if ticket.profile_url.len() > MAX_PROFILE_URL || !ticket.profile_url.starts_with("http") {
            return Err(LinkError::Malformed("its profile URL is not a URL".into()));
        }
        for key in [&ticket.signing_key, &ticket.encryption_key] {
            key.to_key().map_err(|_| LinkError::Malformed("a key is not a P-256 key".into()))?;
        }
        if now > ticket.expires_at {
            return Err(LinkError::Expired);
        }
        Ok(ticket)
    }
}

/// `POST /api/v1/links/redeem` at the issuer's profile server: who redeems the ticket, with
/// the grant they gave the issuer, authenticated with the ticket's `macKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRedeem {
    pub token: Token,
    pub profile_url: String,
    pub name: AppName,
    pub signing_key: PublicJwk,
    pub encryption_key: PublicJwk,
    /// The grant of the redeemer's card to the issuer, on the redeemer's profile server.
    pub grant_id: GrantId,
    /// base64url of HMAC-SHA256 under the ticket's `macKey` over [`LinkRedeem::signed_bytes`].
    pub mac: String,
}

impl LinkRedeem {
    /// The answer to `ticket`, with the redeemer's URL, name, keys and grant.
    pub fn new(
        ticket: &LinkTicket,
        profile_url: String,
        name: AppName,
        signing_key: PublicJwk,
        encryption_key: PublicJwk,
        grant_id: GrantId,
    ) -> Self {
        let mut redeem = Self {
            token: ticket.token.clone(),
            profile_url,
            name,
            signing_key,
            encryption_key,
            grant_id,
            mac: String::new(),
        };
        let mac = redeem.hmac(&ticket.mac_key).map(|mac| mac.finalize().into_bytes());
        redeem.mac = mac.map(|mac| Base64UrlUnpadded::encode_string(&mac)).unwrap_or_default();
        redeem
    }

    /// HMAC-SHA256 takes a key of any length: `None` never happens.
    fn hmac(&self, key: &Token) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).ok()?;
        mac.update(&self.signed_bytes());
        Some(mac)
    }

    /// What the MAC covers: every member but the token and the MAC, one line each.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let jwk = |k: &PublicJwk| format!("{}.{}", k.x, k.y);
        format!(
            "profile.link v1\n{}\n{}\n{}\n{}\n{}",
            self.profile_url,
            self.name.as_str(),
            jwk(&self.signing_key),
            jwk(&self.encryption_key),
            self.grant_id
        )
        .into_bytes()
    }

    /// Checked by the issuer's device, which kept the ticket's `macKey` (in constant time).
    pub fn verify(&self, mac_key: &Token) -> Result<(), LinkError> {
        let mac = Base64UrlUnpadded::decode_vec(&self.mac).map_err(|_| LinkError::Mac)?;
        self.hmac(mac_key).ok_or(LinkError::Mac)?.verify_slice(&mac).map_err(|_| LinkError::Mac)
    }
}

/// The app id a linked profile's grant is registered with. No app may publish it: a device
/// refuses an app's registration that does.
pub const LINK_APP_ID: &str = "personal-profile";

/// What linked profiles grant each other: their contact card (name, display name, email,
/// phone from the identity record), to read and to hear of changes.
pub fn card_scopes() -> Vec<Scope> {
    let fields = ["name", "displayName", "email", "phone"].map(str::to_owned).to_vec();
    vec![Scope { category: Category::Identity, actions: vec![Action::Read, Action::Subscribe], fields: Some(fields) }]
}

/// A redemption the issuer's profile server holds for the issuer's devices (`GET
/// /api/v1/links/requests`), without its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRequest {
    pub id: String,
    /// The hash of the ticket's token it spent, so the issuing device finds its `macKey`.
    pub token_hash: String,
    pub redeem: LinkRedeem,
    /// Unix seconds.
    pub received_at: i64,
}

/// `PUT /api/v1/app/link` at the redeemer's profile server, signed by the issuer as an app
/// signs, on the grant the redeemer gave: the grant the issuer gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkConfirm {
    pub grant_id: GrantId,
    pub profile_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret32;
    use crate::public::ProfileKey;

    fn jwk(byte: u8) -> PublicJwk {
        ProfileKey::from_secret(&Secret32::from_bytes([byte; 32])).unwrap().public_jwk()
    }

    fn ticket() -> LinkTicket {
        LinkTicket {
            profile_url: "https://profiles.example/u/ada".into(),
            name: AppName::try_from("Ada".to_owned()).unwrap(),
            signing_key: jwk(1),
            encryption_key: jwk(2),
            token: Token::from_bytes([3; 16]),
            mac_key: Token::from_bytes([4; 16]),
            expires_at: 1_000 + TICKET_TTL,
        }
    }

    #[test]
    fn a_ticket_reads_back_until_it_expires() {
        let text = ticket().to_text();
        assert!(text.starts_with(TICKET_PREFIX) && text.len() < 700, "{} characters", text.len());
        let spaced = format!("  {}\n{} ", &text[..40], &text[40..]);
        assert_eq!(LinkTicket::from_text(&spaced, 1_000).unwrap(), ticket());
        assert_eq!(LinkTicket::from_text(&text, 1_000 + TICKET_TTL + 1), Err(LinkError::Expired));
        assert_eq!(LinkTicket::from_text("hello", 0), Err(LinkError::NotATicket));
        assert!(matches!(LinkTicket::from_text(&format!("{TICKET_PREFIX}!!"), 0), Err(LinkError::Malformed(_))));
        assert!(format!("{:?}", ticket()).contains("Token(..)"), "no token in Debug");
    }

    #[test]
    fn a_redemption_verifies_only_with_the_tickets_mac_key_and_as_sent() {
        let ticket = ticket();
        let redeem = LinkRedeem::new(
            &ticket,
            "https://other.example/u/bob".into(),
            AppName::try_from("Bob".to_owned()).unwrap(),
            jwk(5),
            jwk(6),
            GrantId::from_bytes([7; 16]),
        );
        assert_eq!(redeem.verify(&ticket.mac_key), Ok(()));
        assert_eq!(redeem.verify(&Token::from_bytes([9; 16])), Err(LinkError::Mac), "another ticket's key");
        let mut swapped = redeem.clone();
        swapped.encryption_key = jwk(8);
        assert_eq!(swapped.verify(&ticket.mac_key), Err(LinkError::Mac), "a key swapped in between");
        let mut moved = redeem;
        moved.profile_url = "https://evil.example/u/bob".into();
        assert_eq!(moved.verify(&ticket.mac_key), Err(LinkError::Mac));
    }
}
