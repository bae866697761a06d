//! The native-messaging contract between the extension and `profile-host`.
//!
//! ```text
//! request  {"id": 7, "type": "getAddress", "origin": "https://shop.example", "params": {"kind": "shipping"}}
//! success  {"id": 7, "ok": true,  "result": {...}}
//! failure  {"id": 7, "ok": false, "error": {"code": "not_found", "message": "no shipping address saved"}}
//! ```
//!
//! Frames are Chrome's: a 4-byte native-endian length, then that much UTF-8 JSON, at most
//! [`MAX_FRAME`] bytes either way. [`parse_request`] turns one frame's bytes into a [`Request`]
//! or into the failure to send back, never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::apps::{GrantId, GrantRequest};
use crate::{
    AccountGuid, Address, AddressForm, AddressId, AddressKind, AppId, Assertion, Bearer, Category, Challenge, ClaimSet,
    ClaimsRequest, DeviceId, ErrorCode, Item, ItemId, ItemInput, Label, Origin, OriginError, Passphrase, Permissions,
    PublicJwk, Spellings, WireError,
};

/// Largest frame either side may send: 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// Largest page call the extension accepts (the JSON text of what `window.profile` was given):
/// 64 KiB. A bigger one is refused with `invalid_request` before it reaches the host, so no page
/// can make the extension send the host a frame it must refuse.
pub const MAX_PAGE_MESSAGE: usize = 64 * 1024;

/// The page API version this contract serves (`window.profile.version`).
pub const API_VERSION: &str = "1";

/// A request's id, echoed in its answer so answers may come out of order.
pub type RequestId = u64;

/// One decoded request. `origin` was set by the extension from the browser-verified sender.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: RequestId,
    pub origin: Origin,
    pub call: Call,
}

/// Every method, with its parameters. Page methods first, then the extension's own.
///
/// On the wire a call is `{"type": "getAddress", "params": {"kind": "shipping"}}`. The derives
/// write serde's externally tagged form (`{"getAddress": {"kind": "shipping"}}`) as the inherent
/// `Call::serialize` and `Call::deserialize` (`remote = "Self"`), and the `Serialize` and
/// `Deserialize` impls below turn it into the wire's form. serde's derive for the wire's form
/// (`tag = "type", content = "params"`) reads each method's parameters three ways (after the
/// type, buffered before it, and as a sequence), and the extension's WASM linked all three: 85
/// KiB more. So read and write calls through the traits (`serde_json::from_value::<Call>`,
/// `serde_json::to_value`), never by the inherent functions' path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", deny_unknown_fields)]
pub enum Call {
    GetProfileUrl {},
    GetDeviceId {},
    GetAddress {
        kind: AddressKind,
    },
    SignUp(SignUpParams),
    Login(LoginParams),
    /// `request({claims, optional?, purpose})`: named pieces of the profile and predicates
    /// (`ageOver:18`). Answers [`ClaimsAnswer`]. The extension sends the host only the
    /// optional claims the person kept.
    Request(ClaimsRequest),
    /// The profile's language (BCP 47), or `null` when none is set (the extension then answers
    /// the browser's). Public: no window, not a disclosure.
    GetLanguage {},
    /// `addBookmark({url, title, note?})`: a site offers a page for the person's bookmarks;
    /// saved once they confirm. Answers `{added: true}`.
    AddBookmark(BookmarkOffer),
    /// `requestGrant({scopes, purpose})`: an app asks to read, append to or subscribe to
    /// categories. Always asks the person (never remembered); on Allow the host seals the app's
    /// share and registers the grant with the profile server. Answers
    /// [`crate::apps::GrantAnswer`]; `not_paired` without a profile server.
    RequestGrant(GrantRequest),

    Hello {},
    Status {},
    Pair(PairParams),
    Unpair {},
    Unlock {
        passphrase: Passphrase,
    },
    Lock {},
    /// Sets the first passphrase, or changes it: `current` is then needed, and checked like an
    /// unlock (wrong ones are slowed down). On a device paired with a profile server it is the
    /// profile's passphrase that changes, on the server too, and its other devices are signed
    /// out. Answers [`PassphraseSet`].
    SetPassphrase {
        passphrase: Passphrase,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        current: Option<Passphrase>,
    },
    /// Saves an address in the address book: `{id?, label, address}` (no id: a new one), or,
    /// as callers from before address books do, `{kind, address}`: the default of that kind.
    /// Answers [`SavedAddressResult`].
    SaveAddress(Box<SaveAddressParams>),
    /// The address book, for the options page and the popup ([`AddressList`]). Not a
    /// disclosure.
    ListAddresses {},
    /// Removes a saved address; the removal reaches the person's other devices.
    RemoveAddress {
        id: AddressId,
    },
    /// Makes a saved address the default of a kind (what `getAddress(kind)` answers).
    SetDefaultAddress {
        id: AddressId,
        kind: AddressKind,
    },
    /// How a country's addresses are entered and written ([`AddressForm`]), so the options page
    /// needs no address data of its own. Not a disclosure.
    AddressFormat {
        country: String,
    },
    ListAccounts {},
    /// What a page call would disclose, for the consent window, without disclosing it.
    Preview(PreviewParams),
    /// Remembers the person's "remember this site for this kind of request".
    Grant(GrantParams),
    ListGrants {},
    /// Forgets every grant naming `origin`, as the asking site or as the page around it.
    Revoke {
        origin: Origin,
    },
    ListDisclosures {
        /// Newest first; at most [`MAX_LISTED_DISCLOSURES`].
        #[serde(default)]
        limit: Option<usize>,
        /// How many of the newest entries to skip: pages through the whole ledger.
        #[serde(default)]
        offset: Option<usize>,
    },
    /// The devices paired with the profile, as the profile server lists them.
    ListDevices {},
    /// Signs one of the profile's devices out on the profile server, by its pairing id (the
    /// `id` `listDevices` gives; `deviceId`, as older pages sent it, is read too).
    RevokeDevice {
        #[serde(rename = "pairingId", alias = "deviceId")]
        pairing_id: String,
    },
    /// Forgets a site account and its login key, on this device and (through the vault) on
    /// the person's other devices.
    RemoveAccount {
        origin: Origin,
        #[serde(rename = "accountGuid")]
        account_guid: AccountGuid,
    },
    /// A category's items for the options page ([`ItemList`]): newest first, those holding
    /// `query` when one is given, `limit` of them (at most [`MAX_LISTED_ITEMS`]) after `offset`.
    /// With them the category's definition, so the page draws its forms from it. Not a
    /// disclosure.
    ListItems {
        category: Category,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    /// Saves an item: a new one without `id`, else the saved one replaced. Checked against its
    /// category's definition. Answers `{id}`.
    SaveItem {
        category: Category,
        item: ItemInput,
    },
    /// Removes an item; the removal reaches the person's other devices and stays.
    RemoveItem {
        category: Category,
        id: ItemId,
    },
    /// Which fields the public part of the profile publishes (`displayName`, `language`,
    /// `vehicles`), and what it publishes now ([`PublicSettings`]). Empty: nothing is published.
    SetPublic {
        fields: Vec<String>,
    },
    /// The public part as chosen and as published ([`PublicSettings`]).
    GetPublic {},
    /// The apps the person granted, with their scopes, when each last read or appended and
    /// what it appended ([`AppList`]).
    ListApps {},
    /// Revokes an app's grant: the profile server deletes its share, refuses its key at once
    /// and tells it `grant-revoked`.
    RevokeApp {
        #[serde(rename = "grantId")]
        grant_id: GrantId,
    },
    /// Issues a one-time connection ticket (valid 10 minutes) for linking another person's
    /// profile: `{ticket, qrSvg, expiresAt}`.
    IssueLinkTicket {},
    /// Redeems a connection ticket another person issued: the two profiles grant each other
    /// their contact cards. Answers `{linked: name}`.
    RedeemLinkTicket {
        ticket: String,
    },
    /// The person did something in the extension's own UI (decided in a consent window, opened
    /// the popup or the options page): it keeps an unlocked profile from locking for idleness.
    Activity {},
    /// The person filled a form on a page of `origin` from the toolbar popup (a click, or a
    /// site they remembered for fills): the host records the disclosure of `fields` of its
    /// `kind` address in the ledger, then answers that [`Address`] for the extension to fill
    /// with. Not for the extension's pages: the service worker sends it after the click.
    Fill(FillParams),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FillParams {
    /// The page (or frame) the values go into.
    pub origin: Origin,
    /// Which kind of address the form takes: the sections it fills, and the default address
    /// used when no `id` is given.
    pub kind: AddressKind,
    /// The saved address the person chose, when not the default of `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AddressId>,
    /// Which of its fields the fill uses.
    pub fields: FillFields,
}

/// Names of an address's fields ([`crate::ADDRESS_FIELDS`]), each at most once, in reading
/// order; anything else is refused when parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct FillFields(Vec<&'static str>);

impl FillFields {
    pub fn names(&self) -> &[&'static str] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for FillFields {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<Self, Self::Error> {
        if let Some(unknown) = names.iter().find(|n| !crate::ADDRESS_FIELDS.iter().any(|f| f.name == n.as_str())) {
            return Err(format!("`{}` is not a field of an address", unknown.chars().take(40).collect::<String>()));
        }
        let named = |name: &str| names.iter().any(|n| n == name);
        Ok(Self(crate::ADDRESS_FIELDS.iter().map(|f| f.name).filter(|name| named(name)).collect()))
    }
}

impl From<FillFields> for Vec<String> {
    fn from(fields: FillFields) -> Self {
        fields.0.into_iter().map(str::to_owned).collect()
    }
}

/// What a site offers with `addBookmark`: a page of its own origin or any other `https:` page,
/// a title, and a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct BookmarkOffer(Map<String, Value>);

impl BookmarkOffer {
    /// The bookmark's fields as its category keeps them (checked).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl TryFrom<Map<String, Value>> for BookmarkOffer {
    type Error = String;

    fn try_from(offer: Map<String, Value>) -> Result<Self, Self::Error> {
        if let Some(other) = offer.keys().find(|k| !["url", "title", "note"].contains(&k.as_str())) {
            return Err(format!(
                "unknown field `{}`: a bookmark offer is {{url, title, note?}}",
                other.chars().take(40).collect::<String>()
            ));
        }
        Category::Bookmarks.def().check_offer(&offer).map(Self).map_err(|e| e.to_string())
    }
}

impl From<BookmarkOffer> for Map<String, Value> {
    fn from(offer: BookmarkOffer) -> Self {
        offer.0
    }
}

/// Most items one `listItems` answer carries.
pub const MAX_LISTED_ITEMS: usize = 500;

/// What `request` answers: each claim allowed and known, by its name (`ageOver:18` with
/// `true` or `false`). A claim the profile holds nothing for is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimsAnswer {
    pub claims: Map<String, Value>,
}

/// What `listItems` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemList {
    pub category: Category,
    /// The category's definition (fields, kinds, bounds, labels), for the page's forms.
    pub definition: Value,
    pub items: Vec<Item>,
    /// How many items match, of which `items` is a page.
    pub total: usize,
    /// Of the contacts listed, those that follow a profile URL: what this device last read
    /// there, by the contact's id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub following: BTreeMap<String, Following>,
}

/// A contact that follows a profile URL, as this device last read it: the public part the
/// person behind it publishes there, checked against that URL and against the key and
/// `issuedAt` this device saw before. Kept beside the card (whose fields stay as the person
/// typed them), never in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Following {
    /// The profile URL followed (the contact's `profileUrl` when it was read).
    pub profile_url: String,
    /// The key that signed what was read; a part under another key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PublicJwk>,
    /// When the part read was signed (Unix seconds): an older one is refused.
    #[serde(default)]
    pub issued_at: u64,
    /// What the profile publishes (`displayName`, `language`, `vehicles`, …).
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// When it was last read and checked (Unix seconds; 0: never yet).
    #[serde(default)]
    pub fetched_at: u64,
    /// When its fields last changed.
    #[serde(default)]
    pub changed_at: u64,
    /// When the last try to read it was made, whatever came of it.
    #[serde(default)]
    pub tried_at: u64,
    /// Why the last try failed or was refused (unreachable, another key, an older part), in
    /// words; `None` when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What `listApps` answers: the profile server's grants (newest first), each with the items it
/// appended that this device holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppList {
    pub apps: Vec<AppEntry>,
    /// The profile server could not be reached: `apps` is what this device last heard.
    #[serde(default)]
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEntry {
    #[serde(flatten)]
    pub grant: crate::server_api::GrantInfo,
    /// The newest items it appended (at most 20), by category: `{category, id, summary,
    /// addedAt}`.
    pub appended_items: Vec<Value>,
    /// For a linked profile: its profile URL (revoking the grant cuts the link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_profile: Option<String>,
}

/// The public part of the profile: the fields chosen, and the document the profile server
/// publishes at the profile URL (signed by the profile's key), when paired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicSettings {
    pub fields: Vec<String>,
    /// What anyone reading the profile URL sees, once published.
    pub published: Option<Value>,
    /// Not yet on the profile server (not paired, or it could not be reached).
    pub pending: bool,
}

/// The fields the public part may hold: identity's publishable fields, and `vehicles`.
pub fn publishable_fields() -> Vec<&'static str> {
    let identity = Category::Identity.def().fields.iter().filter(|f| f.publishable).map(|f| f.name);
    identity.chain(["vehicles"]).collect()
}

/// Most ledger entries one `listDisclosures` answer carries (keeps the frame under 1 MiB).
pub const MAX_LISTED_DISCLOSURES: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignUpParams {
    pub challenge: Challenge,
    pub account_guid: AccountGuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    #[serde(default, skip_serializing_if = "Permissions::is_empty")]
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginParams {
    pub challenge: Challenge,
    /// Which of the origin's accounts; the most recently used one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_guid: Option<AccountGuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewParams {
    /// The page the call would come from.
    pub origin: Origin,
    /// The page around it, when the caller is a frame of another site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    /// The page call; only page methods can be previewed.
    pub call: Box<Call>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantParams {
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    pub kind: GrantKind,
}

/// The kind of request a remembered grant covers ("remember this site for this kind of
/// request"). Sign-up always asks, so it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantKind {
    ProfileUrl,
    DeviceId,
    ShippingAddress,
    BillingAddress,
    Login,
    /// Fill the site's shipping (and unnamed) form sections as soon as the person opens the
    /// toolbar popup on it, without the click; never by itself on page load.
    FillShipping,
    /// The same for billing sections.
    FillBilling,
    /// `request`s whose claims are all in this set (never medical ones, which always ask).
    Claims(ClaimSet),
}

impl GrantKind {
    /// Whether a grant of this kind answers a call of the kind `wanted`: the same kind, or,
    /// for requests, a set of claims that holds every one asked for.
    pub fn covers(self, wanted: Self) -> bool {
        match (self, wanted) {
            (Self::Claims(granted), Self::Claims(wanted)) => granted.covers(&wanted),
            (granted, wanted) => granted == wanted,
        }
    }

    pub fn of(call: &Call) -> Option<Self> {
        match call {
            Call::GetProfileUrl {} => Some(Self::ProfileUrl),
            Call::GetDeviceId {} => Some(Self::DeviceId),
            Call::GetAddress { kind: AddressKind::Shipping } => Some(Self::ShippingAddress),
            Call::GetAddress { kind: AddressKind::Billing } => Some(Self::BillingAddress),
            Call::Login(_) => Some(Self::Login),
            Call::Request(request) => ClaimSet::of(request.all()).map(Self::Claims),
            _ => None,
        }
    }
}

/// `pair {profileUrl, email, passphrase}` or `pair {profileUrl, ticket}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, rename_all = "camelCase", try_from = "PairFields")]
pub enum PairParams {
    #[serde(rename_all = "camelCase")]
    Passphrase {
        profile_url: String,
        email: String,
        passphrase: Passphrase,
        /// Pair even though the server offers an older vault than this device saw of this
        /// profile before (a server restored from a backup): the person's deliberate choice.
        #[serde(default)]
        accept_older_vault: bool,
    },
    #[serde(rename_all = "camelCase")]
    Ticket {
        profile_url: String,
        ticket: Bearer,
        #[serde(default)]
        accept_older_vault: bool,
    },
}

/// `pair`'s parameters as sent, told apart by [`PairParams::try_from`]: read as one struct
/// rather than by serde's untagged derive, whose buffering of the input for each shape cost the
/// extension's WASM 9 KB. Other members are ignored, as they were.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PairFields {
    profile_url: String,
    email: Option<String>,
    passphrase: Option<Passphrase>,
    ticket: Option<Bearer>,
    #[serde(default)]
    accept_older_vault: bool,
}

impl TryFrom<PairFields> for PairParams {
    type Error = &'static str;

    fn try_from(fields: PairFields) -> Result<Self, Self::Error> {
        let PairFields { profile_url, email, passphrase, ticket, accept_older_vault } = fields;
        match (email, passphrase, ticket) {
            (Some(email), Some(passphrase), _) => {
                Ok(Self::Passphrase { profile_url, email, passphrase, accept_older_vault })
            }
            (_, _, Some(ticket)) => Ok(Self::Ticket { profile_url, ticket, accept_older_vault }),
            _ => Err("`pair` takes `profileUrl` with `email` and `passphrase`, or with `ticket`"),
        }
    }
}

/// `saveAddress`'s two shapes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, try_from = "Map<String, Value>")]
pub enum SaveAddressParams {
    /// `{id?, label, address}`: a new address when `id` is absent, else the saved one replaced.
    #[serde(rename_all = "camelCase")]
    Book {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<AddressId>,
        label: Label,
        address: Address,
    },
    /// `{kind, address}`: the default of `kind`, saved as it was before address books (in
    /// place, unless that address is the other kind's default too, when the kind gets one of its
    /// own).
    Default { kind: AddressKind, address: Address },
}

/// Read by one routine from the JSON object, as [`Address`] is (which keeps the extension's
/// WASM small), then told apart.
impl TryFrom<Map<String, Value>> for SaveAddressParams {
    type Error = String;

    fn try_from(object: Map<String, Value>) -> Result<Self, Self::Error> {
        let (mut kind, mut id, mut label, mut address) = (None, None, None, None);
        for (key, value) in object {
            let text = |value: Value| match value {
                Value::String(text) => Ok(text),
                _ => Err(format!("invalid type: `{key}` must be a string")),
            };
            match (key.as_str(), value) {
                (_, Value::Null) => {}
                ("kind", value) => {
                    let name = text(value)?;
                    let found = AddressKind::ALL.into_iter().find(|k| k.as_str() == name);
                    kind = Some(found.ok_or(format!("unknown variant `{name}`, expected `shipping` or `billing`"))?);
                }
                ("id", value) => id = Some(AddressId::try_from(text(value)?).map_err(|e| e.to_string())?),
                ("label", value) => label = Some(Label::try_from(text(value)?).map_err(|e| e.to_string())?),
                ("address", Value::Object(object)) => {
                    address = Some(Address::try_from(object).map_err(|e| e.to_string())?);
                }
                ("address", _) => return Err("invalid type: `address` must be an object".into()),
                _ => return Err(format!("unknown field `{key}`")),
            }
        }
        let address = address.ok_or("`address` is required")?;
        match (kind, id, label) {
            (Some(kind), None, None) => Ok(Self::Default { kind, address }),
            (Some(_), ..) => Err("`kind` saves a kind's default: it takes no `id` or `label`".into()),
            (None, id, Some(label)) => Ok(Self::Book { id, label, address }),
            (None, _, None) => Err("`label` is required (or `kind`, for a kind's default)".into()),
        }
    }
}

impl Call {
    /// The wire name of the method (`"getAddress"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GetProfileUrl {} => "getProfileUrl",
            Self::GetDeviceId {} => "getDeviceId",
            Self::GetAddress { .. } => "getAddress",
            Self::SignUp(_) => "signUp",
            Self::Login(_) => "login",
            Self::Request(_) => "request",
            Self::GetLanguage {} => "getLanguage",
            Self::AddBookmark(_) => "addBookmark",
            Self::RequestGrant(_) => "requestGrant",
            Self::Hello {} => "hello",
            Self::Status {} => "status",
            Self::Pair(_) => "pair",
            Self::Unpair {} => "unpair",
            Self::Unlock { .. } => "unlock",
            Self::Lock {} => "lock",
            Self::SetPassphrase { .. } => "setPassphrase",
            Self::SaveAddress(_) => "saveAddress",
            Self::ListAddresses {} => "listAddresses",
            Self::RemoveAddress { .. } => "removeAddress",
            Self::SetDefaultAddress { .. } => "setDefaultAddress",
            Self::AddressFormat { .. } => "addressFormat",
            Self::ListAccounts {} => "listAccounts",
            Self::Preview(_) => "preview",
            Self::Grant(_) => "grant",
            Self::ListGrants {} => "listGrants",
            Self::Revoke { .. } => "revoke",
            Self::ListDisclosures { .. } => "listDisclosures",
            Self::ListDevices {} => "listDevices",
            Self::RevokeDevice { .. } => "revokeDevice",
            Self::RemoveAccount { .. } => "removeAccount",
            Self::ListItems { .. } => "listItems",
            Self::SaveItem { .. } => "saveItem",
            Self::RemoveItem { .. } => "removeItem",
            Self::SetPublic { .. } => "setPublic",
            Self::GetPublic {} => "getPublic",
            Self::ListApps {} => "listApps",
            Self::RevokeApp { .. } => "revokeApp",
            Self::IssueLinkTicket {} => "issueLinkTicket",
            Self::RedeemLinkTicket { .. } => "redeemLinkTicket",
            Self::Activity {} => "activity",
            Self::Fill(_) => "fill",
        }
    }

    /// Whether the call is something a person did (a decision, a form, a setting): only these
    /// count as activity for the idle auto-lock. Reads, the extension's background calls
    /// (`listGrants`, `preview`) and page calls do not, so an open tab cannot keep a profile
    /// unlocked.
    pub fn is_person_action(&self) -> bool {
        matches!(
            self,
            Self::Unlock { .. }
                | Self::SetPassphrase { .. }
                | Self::SaveAddress(_)
                | Self::RemoveAddress { .. }
                | Self::SetDefaultAddress { .. }
                | Self::Pair(_)
                | Self::Unpair {}
                | Self::Grant(_)
                | Self::Revoke { .. }
                | Self::RevokeDevice { .. }
                | Self::RemoveAccount { .. }
                | Self::SaveItem { .. }
                | Self::RemoveItem { .. }
                | Self::SetPublic { .. }
                | Self::RevokeApp { .. }
                | Self::IssueLinkTicket {}
                | Self::RedeemLinkTicket { .. }
                | Self::Activity {}
                | Self::Fill(_)
        )
    }

    /// Page methods disclose something and are served only for web origins; the rest are the
    /// extension's own and are served only for the extension's own origin.
    pub fn is_page_method(&self) -> bool {
        matches!(
            self,
            Self::GetProfileUrl {}
                | Self::GetDeviceId {}
                | Self::GetAddress { .. }
                | Self::SignUp(_)
                | Self::Login(_)
                | Self::Request(_)
                | Self::GetLanguage {}
                | Self::AddBookmark(_)
                | Self::RequestGrant(_)
        )
    }

    /// Page methods that need no window and are not disclosures: what the person made public.
    pub fn is_public(&self) -> bool {
        matches!(self, Self::GetLanguage {})
    }

    /// A page method's call from its name and parameters, read as `Deserialize` reads it but
    /// without the derive's visitor, which holds every method's parameters: the extension
    /// reads only page methods, and the visitor of all of them cost its module tens of KiB.
    /// `None` when `name` is not a page method.
    pub fn page_method(name: &str, params: Map<String, Value>) -> Option<Result<Self, serde_json::Error>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Kind {
            kind: AddressKind,
        }
        let none = |call: Self| match params.keys().next() {
            None => Ok(call),
            Some(field) => Err(serde::de::Error::custom(format!(
                "unknown field `{}`: `{name}` takes no parameters",
                field.chars().take(40).collect::<String>()
            ))),
        };
        Some(match name {
            "getProfileUrl" => none(Self::GetProfileUrl {}),
            "getDeviceId" => none(Self::GetDeviceId {}),
            "getLanguage" => none(Self::GetLanguage {}),
            "getAddress" => Kind::deserialize(params).map(|Kind { kind }| Self::GetAddress { kind }),
            "signUp" => SignUpParams::deserialize(params).map(Self::SignUp),
            "login" => LoginParams::deserialize(params).map(Self::Login),
            "request" => ClaimsRequest::deserialize(params).map(Self::Request),
            "addBookmark" => BookmarkOffer::deserialize(params).map(Self::AddBookmark),
            "requestGrant" => GrantRequest::deserialize(params).map(Self::RequestGrant),
            _ => return None,
        })
    }

    /// A page method's parameters as `Serialize` writes them, again without the derive's code
    /// for every method (see [`Call::page_method`]). `None` for the extension's own methods.
    pub fn page_params(&self) -> Option<Value> {
        let params = match self {
            Self::GetProfileUrl {} | Self::GetDeviceId {} | Self::GetLanguage {} => Ok(Value::Object(Map::new())),
            Self::GetAddress { kind } => Ok(serde_json::json!({ "kind": kind.as_str() })),
            Self::SignUp(params) => serde_json::to_value(params),
            Self::Login(params) => serde_json::to_value(params),
            Self::Request(request) => serde_json::to_value(request),
            Self::AddBookmark(offer) => serde_json::to_value(offer),
            Self::RequestGrant(request) => serde_json::to_value(request),
            _ => return None,
        };
        // Writing these cannot fail (no maps with non-text keys); were it to, the host would
        // refuse the `null`.
        Some(params.unwrap_or(Value::Null))
    }
}

/// A call as the wire has it: `{"type": name, "params": {…}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tagged {
    #[serde(rename = "type")]
    method: String,
    params: Value,
}

impl Serialize for Call {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let external = Call::serialize(self, serde_json::value::Serializer).map_err(S::Error::custom)?;
        let Value::Object(external) = external else { return Err(S::Error::custom("a call is written as an object")) };
        let Some((method, params)) = external.into_iter().next() else {
            return Err(S::Error::custom("a call is written with its method"));
        };
        Tagged { method, params }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let Tagged { method, params } = Tagged::deserialize(deserializer)?;
        let Value::Object(params) = params else { return Err(D::Error::custom("`params` must be an object")) };
        Call::deserialize(tagged::Method { name: method, params }).map_err(D::Error::custom)
    }
}

/// The wire's `{type, params}` read as the derive's externally tagged `Call`: `type` names the
/// variant, `params` (an object) holds its fields. Only maps reach the variants' visitors, so
/// their sequence forms are never linked.
mod tagged {
    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, Error as _, VariantAccess, Visitor};
    use serde_json::{Error, Map, Value};

    pub struct Method {
        pub name: String,
        pub params: Map<String, Value>,
    }

    pub struct Params(Map<String, Value>);

    impl<'de> Deserializer<'de> for Method {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_enum(self)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
        }
    }

    impl<'de> EnumAccess<'de> for Method {
        type Error = Error;
        type Variant = Params;

        fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Params), Error> {
            Ok((seed.deserialize(Value::String(self.name))?, Params(self.params)))
        }
    }

    impl<'de> VariantAccess<'de> for Params {
        type Error = Error;

        fn unit_variant(self) -> Result<(), Error> {
            Err(Error::invalid_type(de::Unexpected::Map, &"a method without parameters"))
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
            seed.deserialize(self.0)
        }

        fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Error> {
            Err(Error::invalid_type(de::Unexpected::Map, &"positional parameters"))
        }

        fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
            self.0.deserialize_any(visitor)
        }
    }
}

/// Decodes one frame's bytes. On failure returns the id when one could be read, and the error
/// to answer with.
pub fn parse_request(bytes: &[u8]) -> Result<Request, (Option<RequestId>, WireError)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| (None, WireError::invalid(format!("message is not JSON: {e}"))))?;
    let Value::Object(mut map) = value else {
        return Err((None, WireError::invalid("message is not a JSON object")));
    };
    let id = match map.remove("id") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| (None, WireError::invalid("`id` must be a non-negative integer")))?;
    let fail = |error: WireError| (Some(id), error);

    let origin = match map.remove("origin") {
        Some(Value::String(text)) => Origin::parse(&text).map_err(|e| fail(origin_error(&e)))?,
        Some(_) => return Err(fail(WireError::invalid("`origin` must be a string"))),
        None => return Err(fail(WireError::invalid("`origin` is missing"))),
    };
    let method = match map.remove("type") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(fail(WireError::invalid("`type` must be a string"))),
        None => return Err(fail(WireError::invalid("`type` is missing"))),
    };
    let params = match map.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(params @ Value::Object(_)) => params,
        Some(_) => return Err(fail(WireError::invalid("`params` must be an object"))),
    };
    if let Some(extra) = map.keys().next() {
        return Err(fail(WireError::invalid(format!("unknown member `{extra}`"))));
    }
    let tagged = Value::Object(Map::from_iter([
        ("type".to_owned(), Value::String(method.clone())),
        ("params".to_owned(), params),
    ]));
    let call = serde_json::from_value::<Call>(tagged).map_err(|e| {
        let message = if e.to_string().starts_with(&format!("unknown variant `{method}`")) {
            format!("unknown method `{method}`")
        } else {
            format!("bad params for `{method}`: {e}")
        };
        fail(WireError::invalid(message))
    })?;
    Ok(Request { id, origin, call })
}

/// Maps an origin refusal onto the code a page sees.
pub fn origin_error(error: &OriginError) -> WireError {
    let code = match error {
        OriginError::Scheme(_) | OriginError::InsecureHttp => ErrorCode::InsecureOrigin,
        _ => ErrorCode::InvalidRequest,
    };
    WireError::new(code, format!("origin refused: {error}"))
}

/// One answer. `id` is `None` only when the request's id could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: Option<RequestId>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl Response {
    pub fn success(id: RequestId, result: Value) -> Self {
        Self { id: Some(id), ok: true, result: Some(result), error: None }
    }

    pub fn failure(id: Option<RequestId>, error: WireError) -> Self {
        Self { id, ok: false, result: None, error: Some(error) }
    }

    /// Serializes the answer; one that would exceed [`MAX_FRAME`] becomes an `internal` failure.
    pub fn to_frame_body(&self) -> Vec<u8> {
        match serde_json::to_vec(self) {
            Ok(body) if body.len() <= MAX_FRAME => body,
            _ => {
                let failure = Self::failure(self.id, WireError::internal("answer too large for one message"));
                serde_json::to_vec(&failure).unwrap_or_default()
            }
        }
    }
}

// ---- results -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloResult {
    pub api_version: String,
    pub host_version: String,
    pub paired: bool,
    pub locked: bool,
    pub profile_url: Option<String>,
}

/// What `setPassphrase` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassphraseSet {
    /// The profile's other devices were signed out (a device paired with a profile server:
    /// they pair again with the new passphrase).
    pub others_signed_out: bool,
}

/// What `listAddresses` answers: the address book, and (as before address books) each kind's
/// default address under its kind's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressList {
    /// Defaults first (shipping, then billing), then by label.
    pub addresses: Vec<ListedAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Address>,
}

/// One address of the book as the extension's pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedAddress {
    pub id: AddressId,
    pub label: Label,
    pub address: Address,
    /// The kinds it is the default of.
    #[serde(rename = "default")]
    pub default_for: Vec<AddressKind>,
    /// The address as its country writes it (without the country, which a page names in the
    /// person's language).
    pub lines: Vec<String>,
    pub saved_at: u64,
    /// Its region and phone as forms may ask for them, for filling forms.
    #[serde(default)]
    pub spellings: Spellings,
}

/// What `saveAddress` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedAddressResult {
    pub id: AddressId,
    /// The kinds it is the default of now.
    #[serde(rename = "default")]
    pub default_for: Vec<AddressKind>,
    /// For `{kind, address}` callers: the kind they saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressKind>,
}

/// What `addressFormat` answers.
pub type AddressFormatResult = AddressForm;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    #[serde(flatten)]
    pub hello: HelloResult,
    pub passphrase_set: bool,
    /// Paired with a ticket, and the vault not opened yet: `unlock {passphrase}` opens it.
    pub vault_needs_passphrase: bool,
    /// The kinds that have a default address.
    pub addresses: Vec<AddressKind>,
    /// How many addresses the book holds.
    #[serde(default)]
    pub saved_addresses: usize,
    pub accounts: usize,
    pub disclosures: usize,
    /// Set when this device stopped syncing because the profile server offered an older vault
    /// than one it had seen.
    #[serde(default)]
    pub sync_halted: Option<SyncHalt>,
}

/// Why a device stopped syncing with its profile server: the server offered a vault older than
/// one the device had already seen (a lower counter, or the same counter with other contents),
/// as a server restored from an old backup, or one that tampers, would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncHalt {
    /// The newest vault counter this device had seen…
    pub seen_counter: u64,
    /// …and the one the server offered.
    pub offered_counter: u64,
    /// When it was noticed (Unix seconds).
    pub at: u64,
    /// Set instead when the server's vault was written by a newer version of Personal Profile,
    /// in this content format, which this device does not read: it writes nothing over it until
    /// it is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_format: Option<u16>,
}

impl SyncHalt {
    /// What a person reads.
    pub fn explain(&self) -> String {
        if let Some(format) = self.newer_format {
            return format!(
                "sync stopped: the profile server's vault was written by a newer version of Personal Profile \
                 (format {format}; this device reads formats up to {}). Update profile-host on this device: until \
                 then it keeps its data and writes nothing to the vault.",
                crate::vault::VAULT_FORMAT
            );
        }
        let what = if self.offered_counter < self.seen_counter {
            format!(
                "vault version {}, older than version {} this device has seen",
                self.offered_counter, self.seen_counter
            )
        } else {
            format!("a different vault version {} than the one this device has seen", self.offered_counter)
        };
        format!(
            "sync stopped: the profile server offered an older vault ({what}). It may have been restored \
             from a backup or tampered with. This device keeps its data and sends nothing more there. To use \
             the server's copy anyway, unpair, then pair again accepting the older vault (`pair \
             --accept-older-vault`, or the choice the options page offers): what this device holds is merged \
             into it."
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUpResult {
    pub account_guid: AccountGuid,
    pub profile_url: Option<String>,
    pub device_id: DeviceId,
    pub public_key: PublicJwk,
    pub assertion: Assertion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    pub account_guid: AccountGuid,
    pub assertion: Assertion,
}

/// One site account as `listAccounts` shows it (no key material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    pub app_id: Option<String>,
    pub permissions: Vec<String>,
    pub public_key: PublicJwk,
    pub counter: u64,
    pub created_at: u64,
    pub last_used_at: u64,
}

/// A remembered consent: `origin` (inside `top_origin`, when it was a frame of another site)
/// may receive `kind` without a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    pub kind: GrantKind,
    pub granted_at: u64,
}

impl Grant {
    /// Whether this is the grant `wanted` names: the same site, inside the same page, for the
    /// same kind of request. A call is answered without a prompt when a grant covers it, and
    /// granting again replaces the grant it covers.
    pub fn covers(&self, wanted: &GrantParams) -> bool {
        self.origin == wanted.origin && self.top_origin == wanted.top_origin && self.kind.covers(wanted.kind)
    }

    /// Whether revoking `site` removes this grant.
    pub fn names(&self, site: &Origin) -> bool {
        &self.origin == site || self.top_origin.as_ref() == Some(site)
    }
}

/// What `preview` answers: what the call would disclose, and each site's registrable domain
/// (`shop.example.co.uk` for `https://www.shop.example.co.uk`) for the consent window to stress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResult {
    pub registrable_domain: Option<String>,
    pub top_registrable_domain: Option<String>,
    /// The value that would leave (`null` when there is none: no saved address, not paired).
    /// For `login`, `{accountGuid}` of the account that would be used; for `signUp`,
    /// `{profileUrl, deviceId}`.
    pub value: Value,
    /// For an address, its lines as its country writes them (without the country), for the
    /// consent window's postal card; absent from hosts that do not know the country's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<String>>,
    /// What the site calls itself in its `/.well-known/personal-profile` document, when it
    /// publishes a well-formed one. A claim of the site's, never a proof: the origin is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<SiteApp>,
}

/// A site's registration, from `ORIGIN/.well-known/personal-profile`:
/// `{"appId": "demo-shop", "name": "Demo Shop", "iconUrl"?: …, "publicKey"?: JWK}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteApp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    pub name: String,
}

/// Characters that render as nothing (Unicode's default-ignorable code points): two names that
/// look alike may differ by them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}'
        | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// Whether `name` holds something that reads as a domain name (`paypal.com`, `https://paypal.com/`,
/// `paypal.com:443`, `PayPal.com™`, `paypal。com`, `xn--pypal-4ve.com`), which a person could
/// take for the site's address: a letter or digit, a dot (or a character that reads as one),
/// then a label of two or more letters, or a punycode label.
fn names_a_domain(name: &str) -> bool {
    let dot = |c: char| matches!(c, '.' | '\u{2024}' | '\u{3002}' | '\u{fe52}' | '\u{ff0e}' | '\u{ff61}');
    let chars: Vec<char> = name.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        if !dot(c) || !chars[..i].last().is_some_and(|before| before.is_alphanumeric()) {
            return false;
        }
        let label: String = chars[i + 1..].iter().take_while(|c| c.is_alphanumeric() || **c == '-').collect();
        label.to_lowercase().starts_with("xn--")
            || (label.chars().count() >= 2 && label.chars().all(char::is_alphabetic))
    })
}

/// Longest app name shown.
pub const MAX_APP_NAME_CHARS: usize = 60;

impl SiteApp {
    /// Reads a site's document; `None` unless it has a usable name (1 to
    /// [`MAX_APP_NAME_CHARS`] printable, visible characters once trimmed, and no word that reads
    /// as a domain name: a name is the site's claim, and only the origin says where it is).
    pub fn from_document(document: &Value) -> Option<Self> {
        // No control characters, no invisible ones (bidirectional overrides included) that could
        // make a name read as another, and nothing that reads as a domain name.
        let printable = |text: &str| !text.chars().any(|c| c.is_control() || invisible(c));
        let name = document.get("name")?.as_str()?.trim();
        if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS || !printable(name) || names_a_domain(name) {
            return None;
        }
        let app_id = (document.get("appId").and_then(Value::as_str))
            .filter(|id| !id.is_empty() && id.len() <= 200 && printable(id))
            .map(str::to_owned);
        Some(Self { app_id, name: name.to_owned() })
    }
}

/// One entry of the disclosure ledger: what left to which site, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disclosure {
    /// Unix seconds.
    pub at: u64,
    pub origin: Origin,
    pub method: String,
    /// Names of the fields that left (empty when the request failed).
    pub fields: Vec<String>,
    /// `"disclosed"`, or the error code the page received.
    pub outcome: String,
    /// How many such requests this entry stands for: repeats of the same request with the same
    /// outcome from the same site on the same day are folded into one when the ledger is
    /// compacted, never dropped.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// When the last of the folded requests came (Unix seconds), when there are several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

fn one() -> u64 {
    1
}

fn is_one(count: &u64) -> bool {
    *count == 1
}

impl Disclosure {
    /// One request's outcome, as it happened.
    pub fn new(at: u64, origin: Origin, method: &str, fields: Vec<String>, outcome: String) -> Self {
        Self { at, origin, method: method.to_owned(), fields, outcome, count: 1, until: None }
    }

    /// Whether `other` is the same request with the same outcome from the same site on the same
    /// (UTC) day, so the two may be folded into one entry.
    pub fn repeats(&self, other: &Disclosure) -> bool {
        const DAY: u64 = 86_400;
        self.origin == other.origin
            && self.method == other.method
            && self.fields == other.fields
            && self.outcome == other.outcome
            && self.at / DAY == other.at / DAY
    }

    /// Folds `later` (a repeat) into this entry.
    pub fn fold(&mut self, later: &Disclosure) {
        self.count = self.count.saturating_add(later.count);
        self.until = Some(self.until.unwrap_or(self.at).max(later.until.unwrap_or(later.at)));
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_site_registration_needs_a_printable_name() {
        let app = SiteApp::from_document(&serde_json::json!({"appId": "demo-shop", "name": "  Demo Shop "})).unwrap();
        assert_eq!((app.app_id.as_deref(), app.name.as_str()), (Some("demo-shop"), "Demo Shop"));
        let long = "x".repeat(MAX_APP_NAME_CHARS + 1);
        for bad in [
            serde_json::json!({"appId": "a"}),
            serde_json::json!({"name": ""}),
            serde_json::json!({"name": 7}),
            serde_json::json!({"name": long}),
            serde_json::json!({"name": "Bank\u{202e}lapyaP"}),
            serde_json::json!({"name": "Shop\u{7}"}),
            serde_json::json!("<html>"),
        ] {
            assert!(SiteApp::from_document(&bad).is_none(), "{bad}");
        }
        let no_id = SiteApp::from_document(&serde_json::json!({"name": "Shop", "appId": "bad\nid"})).unwrap();
        assert_eq!(no_id.app_id, None);
        // A name that reads as a domain name would pass for the origin; invisible characters
        // make two names look alike.
        for lookalike in [
            "paypal.com",
            "PayPal.com",
            "accounts.google.com login",
            "xn--pypal-4ve.com",
            "Pay\u{200b}Pal",
            "Shop\u{2060}",
            "\u{feff}Shop",
            "Sh\u{00ad}op",
            "Shop\u{e0041}",
            "https://paypal.com",
            "paypal.com/",
            "paypal.com.",
            "paypal.com:443",
            "PayPal.com™",
            "paypal\u{3002}com",
            "paypal\u{ff0e}com",
            "\u{ff50}\u{ff41}\u{ff59}\u{ff50}\u{ff41}\u{ff4c}\u{ff0e}\u{ff43}\u{ff4f}\u{ff4d}",
        ] {
            assert!(SiteApp::from_document(&serde_json::json!({"name": lookalike})).is_none(), "{lookalike:?}");
        }
        for fine in ["Demo Shop", "Dr. Who's Shop", "Café Zürich", "Shop 2.0", "株式会社 ショップ"] {
            assert!(SiteApp::from_document(&serde_json::json!({"name": fine})).is_some(), "{fine:?}");
        }
    }

    #[test]
    fn pair_reads_its_two_shapes_as_before() {
        let pair = |params: Value| serde_json::from_value::<Call>(json!({"type": "pair", "params": params}));
        let url = "https://p.example/u/1";
        let by_passphrase = pair(json!({"profileUrl": url, "email": "a@example.org", "passphrase": "p",
            "acceptOlderVault": true}));
        assert!(matches!(by_passphrase, Ok(Call::Pair(PairParams::Passphrase { accept_older_vault: true, .. }))));
        // Both shapes given: the passphrase's, as the first shape it matches.
        let both = pair(json!({"profileUrl": url, "email": "a@example.org", "passphrase": "p", "ticket": "t"}));
        assert!(matches!(both, Ok(Call::Pair(PairParams::Passphrase { accept_older_vault: false, .. }))));
        // Half of the passphrase's shape beside a ticket is the ticket's shape, its extra ignored.
        let by_ticket = pair(json!({"profileUrl": url, "ticket": "t", "email": "a@example.org"}));
        assert!(matches!(by_ticket, Ok(Call::Pair(PairParams::Ticket { .. }))));
        for bad in [
            json!({"profileUrl": url, "email": "a@example.org"}),
            json!({"profileUrl": url}),
            json!({"ticket": "t"}),
            json!({"profileUrl": url, "ticket": 7}),
        ] {
            assert!(pair(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_values_never_print() {
        let call =
            parse(json!({"id": 1, "type": "pair", "origin": "chrome-extension://anejejpdgphdflenbcklaacafpcfcman",
            "params": {"profileUrl": "https://p.example/u/1", "ticket": "TICKET-SECRET-123"}}))
            .unwrap();
        assert!(!format!("{call:?}").contains("TICKET-SECRET-123"), "{call:?}");
        let call = parse(json!({"id": 1, "type": "pair", "origin": "chrome-extension://anejejpdgphdflenbcklaacafpcfcman",
            "params": {"profileUrl": "https://p.example/u/1", "email": "a@example.org", "passphrase": "PASS-SECRET-123"}}))
        .unwrap();
        assert!(!format!("{call:?}").contains("PASS-SECRET-123"), "{call:?}");
    }

    use serde_json::json;

    use super::*;

    const PAGE: &str = "https://shop.example";

    fn parse(value: Value) -> Result<Request, (Option<RequestId>, WireError)> {
        parse_request(value.to_string().as_bytes())
    }

    #[test]
    fn parses_every_shape_of_params() {
        let req =
            parse(json!({"id": 7, "type": "getAddress", "origin": PAGE, "params": {"kind": "shipping"}})).unwrap();
        assert_eq!(req.id, 7);
        assert!(matches!(req.call, Call::GetAddress { kind: AddressKind::Shipping }));
        assert!(req.call.is_page_method());
        for params in [json!(null), json!({})] {
            let req = parse(json!({"id": 1, "type": "getDeviceId", "origin": PAGE, "params": params})).unwrap();
            assert_eq!(req.call.name(), "getDeviceId");
        }
        let req = parse(json!({"id": 1, "type": "hello", "origin": PAGE})).unwrap();
        assert!(!req.call.is_page_method());
        let req = parse(json!({"id": 2, "type": "listDisclosures", "origin": PAGE, "params": {"limit": 3}})).unwrap();
        assert!(matches!(req.call, Call::ListDisclosures { limit: Some(3), offset: None }));
        let req =
            parse(json!({"id": 3, "type": "revokeDevice", "origin": PAGE, "params": {"pairingId": "d-1"}})).unwrap();
        assert!(matches!(&req.call, Call::RevokeDevice { pairing_id } if pairing_id == "d-1"));
        let older =
            parse(json!({"id": 3, "type": "revokeDevice", "origin": PAGE, "params": {"deviceId": "d-1"}})).unwrap();
        assert!(matches!(&older.call, Call::RevokeDevice { pairing_id } if pairing_id == "d-1"));
        assert_eq!(req.call.name(), "revokeDevice");
        let first =
            parse(json!({"id": 4, "type": "setPassphrase", "origin": PAGE, "params": {"passphrase": "p"}})).unwrap();
        assert!(matches!(&first.call, Call::SetPassphrase { passphrase, current: None } if passphrase.expose() == "p"));
        assert!(!first.call.is_page_method() && first.call.is_person_action());
        assert_eq!(first.call.name(), "setPassphrase");
        let change = parse(
            json!({"id": 5, "type": "setPassphrase", "origin": PAGE, "params": {"passphrase": "new", "current": "old"}}),
        )
        .unwrap();
        assert!(matches!(&change.call, Call::SetPassphrase { current: Some(old), .. } if old.expose() == "old"));
        assert!(!format!("{:?}", change.call).contains("old"), "passphrases never print");
        assert_eq!(
            serde_json::to_value(PassphraseSet { others_signed_out: true }).unwrap(),
            json!({"othersSignedOut": true})
        );
        let fill = parse(json!({"id": 6, "type": "fill", "origin": PAGE, "params":
            {"origin": "https://shop.example", "kind": "billing", "fields": ["city", "name", "city"]}}))
        .unwrap();
        let Call::Fill(params) = &fill.call else { panic!("{:?}", fill.call) };
        assert_eq!((params.kind, params.fields.names()), (AddressKind::Billing, &["name", "city"][..]));
        assert!(!fill.call.is_page_method() && fill.call.is_person_action());
        assert_eq!(serde_json::to_value(&fill.call).unwrap()["params"]["fields"], json!(["name", "city"]));
        let (_, error) = parse(json!({"id": 6, "type": "fill", "origin": PAGE, "params":
            {"origin": "https://shop.example", "kind": "billing", "fields": ["password"]}}))
        .unwrap_err();
        assert!(error.message.contains("not a field of an address"), "{}", error.message);
    }

    #[test]
    fn a_page_method_reads_as_the_whole_call_does() {
        let page_calls = [
            json!({"type": "getProfileUrl", "params": {}}),
            json!({"type": "getDeviceId", "params": {}}),
            json!({"type": "getLanguage", "params": {}}),
            json!({"type": "getAddress", "params": {"kind": "billing"}}),
            json!({"type": "signUp", "params": {"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a",
                "permissions": ["orders"]}}),
            json!({"type": "login", "params": {"challenge": "AAAAAAAAAAAAAAAAAAAAAA"}}),
            json!({"type": "request", "params": {"claims": ["name", "ageOver:18"], "optional": ["email"],
                "purpose": "To verify your age"}}),
            json!({"type": "addBookmark", "params": {"url": "https://shop.example/ring", "title": "The ring"}}),
        ];
        for tagged in page_calls {
            let call: Call = serde_json::from_value(tagged.clone()).unwrap();
            assert!(call.is_page_method());
            let params = tagged["params"].as_object().unwrap().clone();
            let read = Call::page_method(call.name(), params).unwrap().unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), serde_json::to_value(&call).unwrap(), "{tagged}");
            assert_eq!(read.page_params().unwrap(), serde_json::to_value(&call).unwrap()["params"], "{tagged}");
        }
        let params = |v: Value| v.as_object().unwrap().clone();
        for (name, bad) in [
            ("getDeviceId", json!({"x": 1})),
            ("getAddress", json!({"kind": "home"})),
            ("getAddress", json!({"kind": "billing", "x": 1})),
            ("request", json!({"claims": ["passport"], "purpose": "x"})),
            ("addBookmark", json!({"url": "javascript:alert(1)", "title": "x"})),
        ] {
            assert!(Call::page_method(name, params(bad.clone())).unwrap().is_err(), "{name} {bad}");
            let whole = json!({"type": name, "params": bad});
            assert!(serde_json::from_value::<Call>(whole).is_err(), "the whole call refuses it too");
        }
        assert!(
            Call::page_method("listItems", Map::new()).is_none() && Call::page_method("hello", Map::new()).is_none()
        );
        assert_eq!(Call::Hello {}.page_params(), None);
    }

    #[test]
    fn the_address_book_methods_parse_and_save_address_keeps_its_old_shape() {
        const EXT: &str = "chrome-extension://anejejpdgphdflenbcklaacafpcfcman";
        let address = json!({"name": "Ada", "line1": "1 Loop", "country": "FR"});
        let old = parse(json!({"id": 1, "type": "saveAddress", "origin": EXT,
            "params": {"kind": "billing", "address": address}}))
        .unwrap();
        assert!(
            matches!(&old.call, Call::SaveAddress(p) if matches!(**p, SaveAddressParams::Default { kind: AddressKind::Billing, .. }))
        );
        assert!(old.call.is_person_action() && !old.call.is_page_method());
        let new = parse(json!({"id": 2, "type": "saveAddress", "origin": EXT,
            "params": {"label": "Mum's", "address": address}}))
        .unwrap();
        assert!(
            matches!(&new.call, Call::SaveAddress(p) if matches!(&**p, SaveAddressParams::Book { id: None, label, .. } if label.as_str() == "Mum's"))
        );
        let edit = parse(json!({"id": 3, "type": "saveAddress", "origin": EXT,
            "params": {"id": "home", "label": "Home", "address": address}}))
        .unwrap();
        assert!(
            matches!(&edit.call, Call::SaveAddress(p) if matches!(&**p, SaveAddressParams::Book { id: Some(id), .. } if id.as_str() == "home"))
        );
        let (_, error) = parse(json!({"id": 4, "type": "saveAddress", "origin": EXT,
            "params": {"label": "Home", "address": {"name": "Ada", "country": "FR"}}}))
        .unwrap_err();
        assert!(error.message.contains("`line1` is required"), "{}", error.message);
        let (_, error) = parse(json!({"id": 4, "type": "saveAddress", "origin": EXT,
            "params": {"label": "", "address": address}}))
        .unwrap_err();
        assert!(error.message.contains("a label is 1 to"), "{}", error.message);
        let (_, error) = parse(json!({"id": 4, "type": "saveAddress", "origin": EXT,
            "params": {"kind": "shipping", "label": "x", "address": address}}))
        .unwrap_err();
        assert!(error.message.contains("it takes no `id` or `label`"), "{}", error.message);
        let (_, error) =
            parse(json!({"id": 4, "type": "saveAddress", "origin": EXT, "params": {"address": address}})).unwrap_err();
        assert!(error.message.contains("`label` is required"), "{}", error.message);
        for (method, params, name) in [
            ("removeAddress", json!({"id": "home"}), "removeAddress"),
            ("setDefaultAddress", json!({"id": "home", "kind": "shipping"}), "setDefaultAddress"),
            ("addressFormat", json!({"country": "JP"}), "addressFormat"),
        ] {
            let call = parse(json!({"id": 5, "type": method, "origin": EXT, "params": params})).unwrap().call;
            assert_eq!(call.name(), name);
            assert!(!call.is_page_method());
        }
        let (_, error) =
            parse(json!({"id": 6, "type": "removeAddress", "origin": EXT, "params": {"id": "a b"}})).unwrap_err();
        assert!(error.message.contains("an address id is"), "{}", error.message);
        // What the wire carries back.
        let saved = SavedAddressResult {
            id: AddressId::of_kind(AddressKind::Billing),
            default_for: vec![AddressKind::Billing],
            kind: Some(AddressKind::Billing),
        };
        assert_eq!(
            serde_json::to_value(saved).unwrap(),
            json!({"id": "billing", "default": ["billing"], "kind": "billing"})
        );
    }

    #[test]
    fn every_method_reads_and_writes_the_wire_form() {
        let ext = "chrome-extension://anejejpdgphdflenbcklaacafpcfcman";
        let address = json!({"name": "Ada", "line1": "1 Loop", "city": "London", "postalCode": "N1", "country": "GB"});
        let sign_up = json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a", "appId": "shop"});
        let calls = [
            json!({"type": "getProfileUrl", "params": {}}),
            json!({"type": "getDeviceId", "params": {}}),
            json!({"type": "getAddress", "params": {"kind": "billing"}}),
            json!({"type": "signUp", "params": sign_up}),
            json!({"type": "login", "params": {"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a"}}),
            json!({"type": "hello", "params": {}}),
            json!({"type": "status", "params": {}}),
            json!({"type": "pair", "params": {"profileUrl": "https://p.example/u/1", "email": "a@example.org",
                "passphrase": "pw", "acceptOlderVault": false}}),
            json!({"type": "pair", "params": {"profileUrl": "https://p.example/u/1", "ticket": "T",
                "acceptOlderVault": true}}),
            json!({"type": "unpair", "params": {}}),
            json!({"type": "unlock", "params": {"passphrase": "pw"}}),
            json!({"type": "lock", "params": {}}),
            json!({"type": "setPassphrase", "params": {"passphrase": "new", "current": "old"}}),
            json!({"type": "saveAddress", "params": {"kind": "shipping", "address": address}}),
            json!({"type": "listAddresses", "params": {}}),
            json!({"type": "listAccounts", "params": {}}),
            json!({"type": "preview", "params": {"origin": PAGE, "topOrigin": "https://news.example",
                "call": {"type": "getAddress", "params": {"kind": "shipping"}}}}),
            json!({"type": "grant", "params": {"origin": PAGE, "kind": "fillBilling"}}),
            json!({"type": "listGrants", "params": {}}),
            json!({"type": "revoke", "params": {"origin": PAGE}}),
            json!({"type": "listDisclosures", "params": {"limit": 10, "offset": 20}}),
            json!({"type": "listDevices", "params": {}}),
            json!({"type": "revokeDevice", "params": {"pairingId": "d-1"}}),
            json!({"type": "removeAccount", "params": {"origin": PAGE, "accountGuid": "a"}}),
            json!({"type": "activity", "params": {}}),
            json!({"type": "fill", "params": {"origin": PAGE, "kind": "shipping", "fields": ["name", "city"]}}),
            json!({"type": "fill", "params": {"origin": PAGE, "kind": "billing", "id": "home", "fields": ["name"]}}),
            json!({"type": "saveAddress", "params": {"address": address, "id": "home", "label": "Home"}}),
            json!({"type": "removeAddress", "params": {"id": "home"}}),
            json!({"type": "setDefaultAddress", "params": {"id": "home", "kind": "billing"}}),
            json!({"type": "addressFormat", "params": {"country": "JP"}}),
        ];
        for wire in calls {
            let call: Call = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(wire["type"], call.name());
            assert_eq!(serde_json::to_value(&call).unwrap(), wire);
            let framed = json!({"id": 1, "type": call.name(), "origin": ext, "params": wire["params"]});
            assert_eq!(parse(framed).unwrap().call.name(), call.name());
        }
        // Either order of the two members; nothing else beside them, and `params` an object.
        let text = r#"{"params": {"kind": "shipping"}, "type": "getAddress"}"#;
        assert!(matches!(serde_json::from_str(text).unwrap(), Call::GetAddress { kind: AddressKind::Shipping }));
        for bad in [
            json!({"type": "hello"}),
            json!({"params": {}}),
            json!({"type": "hello", "params": {}, "id": 1}),
            json!({"type": "hello", "params": null}),
            json!({"type": "getAddress", "params": ["shipping"]}),
            json!({"type": "hello", "params": {"x": 1}}),
            json!({"type": "fly", "params": {}}),
            json!({"type": "preview", "params": {"origin": PAGE, "call": {"type": "getAddress", "params": {}}}}),
        ] {
            assert!(serde_json::from_value::<Call>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_malformed_messages_with_the_id_when_readable() {
        let cases: [(&[u8], Option<u64>, &str); 12] = [
            (b"not json", None, "not JSON"),
            (b"[1,2]", None, "not a JSON object"),
            (br#"{"type":"hello","origin":"https://a.example"}"#, None, "`id`"),
            (br#"{"id":"7","type":"hello"}"#, None, "`id`"),
            (br#"{"id":-1,"type":"hello"}"#, None, "`id`"),
            (br#"{"id":3,"type":"hello"}"#, Some(3), "`origin` is missing"),
            (br#"{"id":3,"type":5,"origin":"https://a.example"}"#, Some(3), "`type` must be"),
            (br#"{"id":3,"type":"fly","origin":"https://a.example"}"#, Some(3), "unknown method `fly`"),
            (
                br#"{"id":3,"type":"getAddress","origin":"https://a.example","params":{"kind":"home"}}"#,
                Some(3),
                "bad params",
            ),
            (br#"{"id":3,"type":"getAddress","origin":"https://a.example","params":[]}"#, Some(3), "`params` must be"),
            (br#"{"id":3,"type":"hello","origin":"https://a.example","extra":1}"#, Some(3), "unknown member"),
            (br#"{"id":3,"type":"hello","origin":"https://a.example","params":{"x":1}}"#, Some(3), "unknown field"),
        ];
        for (bytes, id, want) in cases {
            let (got_id, error) = parse_request(bytes).unwrap_err();
            assert_eq!(got_id, id, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert!(error.message.contains(want), "{}: {}", String::from_utf8_lossy(bytes), error.message);
        }
    }

    #[test]
    fn insecure_origins_get_their_own_code() {
        let (id, error) = parse(json!({"id": 4, "type": "getDeviceId", "origin": "http://evil.example"})).unwrap_err();
        assert_eq!((id, error.code), (Some(4), ErrorCode::InsecureOrigin));
        let (_, error) = parse(json!({"id": 4, "type": "getDeviceId", "origin": "null"})).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn responses_have_the_documented_shape() {
        let ok = serde_json::to_value(Response::success(7, json!({"a": 1}))).unwrap();
        assert_eq!(ok, json!({"id": 7, "ok": true, "result": {"a": 1}}));
        let fail = serde_json::to_value(Response::failure(None, WireError::new(ErrorCode::NotFound, "none"))).unwrap();
        assert_eq!(fail, json!({"id": null, "ok": false, "error": {"code": "not_found", "message": "none"}}));
        let huge = Response::success(1, Value::String("x".repeat(MAX_FRAME)));
        let body: Response = serde_json::from_slice(&huge.to_frame_body()).unwrap();
        assert_eq!(body.error.unwrap().code, ErrorCode::Internal);
    }
}
