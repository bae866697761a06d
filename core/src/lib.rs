#![doc = include_str!("../README.md")]

mod account;
pub mod address;
pub mod apps;
mod assertion;
pub mod category;
pub mod claims;

mod device;
pub mod disclosure;
pub mod ecdsa;
mod error;
pub mod net;
mod origin;
pub mod public;
pub mod seal;
mod secret;
pub mod server_api;
pub mod vault;
pub mod wire;

pub use account::{AppId, MAX_APP_ID, MAX_PERMISSION, MAX_PERMISSIONS, Permissions};
pub use address::{
    ADDRESS_FIELDS, Address, AddressBook, AddressBookError, AddressError, AddressField, AddressForm, AddressId,
    AddressKind, FormField, Label, Region, SavedAddress, Spellings, lines_of,
};
pub use assertion::{
    AccountGuid, Assertion, AssertionError, AssertionType, Challenge, ClientData, Expected, LoginKey,
    MIN_CHALLENGE_BYTES, PublicJwk, verify,
};
pub use category::{Category, CategoryDef, Item, ItemError, ItemId, ItemInput};
pub use claims::{Claim, ClaimSet, ClaimsRequest};
pub use device::DeviceId;
pub use error::{ErrorCode, WireError};
pub use origin::{Origin, OriginError, Scheme};
pub use secret::{Bearer, Passphrase, Secret32};
