//! Apps' webhooks: the delivery worker that empties the queue in the database
//! (`webhook_deliveries`), one per server instance.
//!
//! The worker claims due deliveries for a lease, POSTs each event's JSON to its webhook with
//! `Personal-Profile-Event-Id` (the event's id, for de-duplication), `Personal-Profile-Key-Id`
//! (the server signing key's `kid` in its JWKS) and `Personal-Profile-Signature` (ES256, `r‖s`,
//! base64url, over the exact body, with that key), many at once but a grant's one at a time
//! ([`crate::db::Db::claim_deliveries`]). A 2xx answer delivers it; anything else (another
//! status, a refused connection, a timeout) tries it again after `webhook_retry_secs`, doubling
//! up to `webhook_max_retry_secs`, until `webhook_give_up_secs` after the event, when it is
//! kept as dead. Delivery is at least once: a worker that dies mid-send leaves its lease to run
//! out, and the event is sent again with the same id.
//!
//! A revoked grant's webhook hears `grant-revoked` and nothing after it: the revocation drops
//! the grant's deliveries that wait, `grant-revoked` waits for the one on its way then, if any,
//! and any other event of a revoked grant that the worker claimed is dropped at its send.
//!
//! Webhooks are reached only at public addresses ([`super::outward`]), loopback too with
//! `sites_on_loopback`, with no redirect followed and a short timeout. The worker wakes when
//! this instance queues an event ([`Webhooks::wake`]) and otherwise looks for due deliveries
//! every [`POLL`], which is how events another instance queued, and retries, are picked up.

use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use profile_core::apps::{EVENT_ID_HEADER, KEY_ID_HEADER, SIGNATURE_HEADER};
use tokio::sync::{Notify, Semaphore};

use super::metrics::{Metrics, Outcome};
use crate::config::Settings;
use crate::db::{Db, Delivery};
use crate::keys::ServerSigningKey;

/// How often the worker looks for due deliveries when nothing woke it.
pub const POLL: Duration = Duration::from_millis(500);
/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claimed delivery stays with its worker: well past its send's timeout, so only a
/// worker that died loses it to another.
const LEASE_MS: i64 = 60_000;
/// Deliveries claimed at once.
const CLAIM: usize = 256;
/// How often expired nonces and old deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Dead deliveries are kept this long after they were given up, for the operator to look at.
const KEEP_DEAD_SECS: i64 = 7 * 86_400;

/// The handle the routes use to wake this instance's worker.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    wake: Arc<Notify>,
}

/// How retries are spaced.
#[derive(Debug, Clone, Copy)]
struct Retries {
    first_ms: i64,
    max_ms: i64,
    give_up_secs: i64,
}

impl Retries {
    /// When the delivery that failed its `attempts`-th attempt is tried again, or `None` to
    /// give up on it.
    fn next(&self, attempts: i64, created_at: i64, now_ms: i64) -> Option<i64> {
        let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(30);
        let delay = self.first_ms.saturating_mul(1 << doublings).min(self.max_ms);
        let at = now_ms + delay;
        (at <= (created_at + self.give_up_secs) * 1000).then_some(at)
    }
}

impl Webhooks {
    /// Starts the worker on the runtime.
    pub fn start(db: Db, signing: ServerSigningKey, settings: &Settings, metrics: Arc<Metrics>) -> Self {
        let webhooks = Self::default();
        let worker = Worker {
            db,
            signing,
            metrics,
            agent: profile_outward::agent(settings.sites_on_loopback, SEND_TIMEOUT),
            slots: Arc::new(Semaphore::new(settings.webhook_concurrency)),
            retries: Retries {
                first_ms: i64::try_from(settings.webhook_retry_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                max_ms: i64::try_from(settings.webhook_max_retry_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                give_up_secs: i64::try_from(settings.webhook_give_up_secs).unwrap_or(i64::MAX),
            },
            wake: webhooks.wake.clone(),
        };
        tokio::spawn(worker.run());
        webhooks
    }

    /// An event was queued: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

struct Worker {
    db: Db,
    signing: ServerSigningKey,
    metrics: Arc<Metrics>,
    agent: ureq::Agent,
    slots: Arc<Semaphore>,
    retries: Retries,
    wake: Arc<Notify>,
}

impl Worker {
    async fn run(self) {
        let this = Arc::new(self);
        let mut pruned = tokio::time::Instant::now();
        loop {
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                this.prune().await;
            }
            let claimed = match this.db.claim_deliveries(crate::now_ms(), LEASE_MS, CLAIM).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!("cannot claim webhook deliveries: {e:#}");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            for delivery in claimed {
                let Ok(slot) = this.slots.clone().acquire_owned().await else { return };
                let worker = this.clone();
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(slot);
                });
            }
        }
    }

    async fn deliver(&self, delivery: Delivery) {
        if !delivery.revokes() {
            match self.db.grant_revoked(&delivery.grant_id).await {
                Ok(false) => {}
                Ok(true) => {
                    tracing::debug!(event = %delivery.event_id, "webhook delivery dropped: its grant was revoked");
                    if let Err(e) = self.db.drop_delivery(delivery.n).await {
                        tracing::warn!("cannot drop a webhook delivery: {e:#}");
                    }
                    self.wake.notify_one();
                    return;
                }
                // Not sent: the lease runs out and it is tried again.
                Err(e) => {
                    tracing::warn!("cannot check a webhook delivery's grant: {e:#}");
                    return;
                }
            }
        }
        let signature = Base64UrlUnpadded::encode_string(&self.signing.sign(delivery.body.as_bytes()));
        let (agent, kid) = (self.agent.clone(), self.signing.kid().to_owned());
        let (url, body, event_id) = (delivery.url.clone(), delivery.body.clone(), delivery.event_id.clone());
        let sent = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header(EVENT_ID_HEADER, &event_id)
                .header(KEY_ID_HEADER, &kid)
                .header(SIGNATURE_HEADER, &signature)
                .send(body.as_bytes())
                .map(|response| response.status().as_u16())
        })
        .await;
        let outcome = match sent {
            Ok(Ok(status)) if (200..300).contains(&status) => Ok(()),
            Ok(Ok(status)) => Err(format!("answered {status}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let recorded = match outcome {
            Ok(()) => {
                self.metrics.delivery(Outcome::Delivered);
                self.db.delivered(delivery.n).await
            }
            Err(why) => match self.retries.next(delivery.attempts, delivery.created_at, crate::now_ms()) {
                Some(at) => {
                    tracing::debug!(event = %delivery.event_id, attempts = delivery.attempts, "webhook delivery failed: {why}");
                    self.metrics.delivery(Outcome::Failed);
                    self.db.retry_delivery(delivery.n, at).await
                }
                None => {
                    tracing::warn!(event = %delivery.event_id, attempts = delivery.attempts, "webhook delivery given up: {why}");
                    self.metrics.delivery(Outcome::Dead);
                    self.db.give_up_delivery(delivery.n).await
                }
            },
        };
        // Not recorded: the lease runs out and the delivery is tried again.
        if let Err(e) = recorded {
            tracing::warn!("cannot record a webhook delivery: {e:#}");
        }
        // Another event of the grant may have waited for this one.
        self.wake.notify_one();
    }

    async fn prune(&self) {
        let now = crate::now();
        if let Err(e) = self.db.prune_nonces(now).await {
            tracing::warn!("cannot prune spent nonces: {e:#}");
        }
        if let Err(e) = self.db.prune_deliveries(now - self.retries.give_up_secs, now - KEEP_DEAD_SECS).await {
            tracing::warn!("cannot prune webhook deliveries: {e:#}");
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap_and_stop_after_the_give_up_time() {
        let retries = Retries { first_ms: 5_000, max_ms: 3_600_000, give_up_secs: 86_400 };
        let (created, now) = (1_000, 1_000_000);
        assert_eq!(retries.next(1, created, now), Some(now + 5_000));
        assert_eq!(retries.next(2, created, now), Some(now + 10_000));
        assert_eq!(retries.next(20, created, now), Some(now + 3_600_000), "capped at an hour");
        assert_eq!(retries.next(1, created, (created + 86_400) * 1000), None, "a day after the event: given up");
        assert_eq!(retries.next(i64::MAX, created, now), Some(now + 3_600_000), "no overflow");
    }
}
