//! What the routes share beside the database: the event bus ([`events`]), the SMTP relay
//! ([`mailer`]), sites' published keys ([`site_keys`]), apps' webhooks and their delivery
//! worker ([`webhooks`]), both reaching out only to public addresses (`profile_outward`), the metrics
//! ([`metrics`]) and the credential checks ([`credentials`]). Nothing here knows HTTP's answers: errors are
//! `anyhow` or [`crate::throttle::Busy`], which [`crate::http::ApiError`] maps.

pub mod credentials;
pub mod events;
pub mod mailer;
pub mod metrics;
pub mod site_keys;
pub mod webhooks;
