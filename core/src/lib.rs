#![doc = include_str!("../README.md")]

mod address;
mod assertion;
mod device;
mod error;
mod origin;
pub mod seal;
mod secret;
pub mod vault;
pub mod wire;

pub use address::{Address, AddressError, AddressKind};
pub use assertion::{
    AccountGuid, Assertion, AssertionError, AssertionType, Challenge, ClientData, Expected, LoginKey,
    MIN_CHALLENGE_BYTES, PublicJwk, verify,
};
pub use device::DeviceId;
pub use error::{ErrorCode, WireError};
pub use origin::{Origin, OriginError, Scheme};
pub use secret::{Passphrase, Secret32};
