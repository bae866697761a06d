#![doc = include_str!("../README.md")]

pub mod cli;
pub mod host;
pub mod keystore;
pub mod manifest;
pub mod messaging;
mod platform;
pub mod state;
pub mod store;
pub mod sync;
