//! `auth_failures`: the throttle's counts, one row per subject (an account or a client
//! address), claimed before each credential check and refunded when it passes. The policy is
//! [`crate::throttle`]'s; here it is spelled out in SQL.

use std::fmt::Write;
use std::future::Future;
use std::sync::LazyLock;

use sqlx::Row;

use super::Db;
use crate::throttle::{
    ADDRESS_FREE_FAILURES, FREE_FAILURES, LOCKOUT_FAILURES, MAX_WAIT_SECS, Refusal, policy, wait_after,
};

/// The claim for one subject: the attempt is added to its failures, and stamped now, only when
/// the subject may try now; the stamp it replaces is kept for a refund. Answers the count when
/// it claimed, and no row when it refused. [`wait_after`] is spelled out as a `CASE` over the stored count, so
/// the decision and the count happen in one statement on either backend.
fn claim_sql(free: i64, lockout: Option<i64>) -> String {
    let mut wait = String::from("CASE");
    let mut failures = free;
    while wait_after(failures, free) < MAX_WAIT_SECS {
        let _ = write!(wait, " WHEN auth_failures.failures = {failures} THEN {}", wait_after(failures, free));
        failures += 1;
    }
    let _ = write!(wait, " ELSE {MAX_WAIT_SECS} END");
    let unlocked = lockout.map(|limit| format!("auth_failures.failures < {limit} AND ")).unwrap_or_default();
    format!(
        "INSERT INTO auth_failures (subject, failures, last_failure_at, previous_failure_at) VALUES ($1, 1, $2, NULL) \
         ON CONFLICT (subject) DO UPDATE SET failures = auth_failures.failures + 1, \
         previous_failure_at = auth_failures.last_failure_at, last_failure_at = $2 \
         WHERE {unlocked}(auth_failures.failures < {free} OR auth_failures.last_failure_at + {wait} <= $2) \
         RETURNING failures"
    )
}

static ACCOUNT_CLAIM: LazyLock<String> = LazyLock::new(|| claim_sql(FREE_FAILURES, Some(LOCKOUT_FAILURES)));
static ADDRESS_CLAIM: LazyLock<String> = LazyLock::new(|| claim_sql(ADDRESS_FREE_FAILURES, None));

/// One claimed subject, as needed to take the claim back.
#[derive(Debug)]
struct Claim {
    subject: String,
    /// The subject's failures with this attempt counted.
    failures: i64,
    /// This attempt's stamp.
    at: i64,
}

/// The claims of one attempt, to refund when it passes or was never checked.
#[derive(Debug)]
#[must_use = "an attempt that passes is refunded"]
pub struct Claims(Vec<Claim>);

impl Db {
    /// Counts one attempt against every subject, before its check, or refuses it (refunding the
    /// subjects already claimed) when any of them must wait.
    pub async fn claim(&self, subjects: &[String]) -> anyhow::Result<Result<Claims, Refusal>> {
        let now = crate::now();
        let mut claims = Claims(Vec::with_capacity(subjects.len()));
        for subject in subjects {
            let sql = if policy(subject).1.is_some() { &*ACCOUNT_CLAIM } else { &*ADDRESS_CLAIM };
            let row = sqlx::query(sql).bind(subject).bind(now).fetch_optional(&self.pool).await;
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    self.refund(claims).await?;
                    return Err(e.into());
                }
            };
            match row {
                Some(row) => claims.0.push(Claim { subject: subject.clone(), failures: row.try_get(0)?, at: now }),
                None => {
                    self.refund(claims).await?;
                    let refusal = match self.waiting(std::slice::from_ref(subject)).await? {
                        Err(refusal) => refusal,
                        // Refunded meanwhile: the caller may try again at once.
                        Ok(()) => Refusal::Wait(1),
                    };
                    return Ok(Err(refusal));
                }
            }
        }
        Ok(Ok(claims))
    }

    /// Takes back the claims of an attempt that passed or was never checked. A subject nobody
    /// claimed since gets its previous stamp back; otherwise only its count goes down.
    pub async fn refund(&self, claims: Claims) -> anyhow::Result<()> {
        for claim in claims.0 {
            sqlx::query(
                "UPDATE auth_failures SET failures = failures - 1, last_failure_at = CASE \
                 WHEN failures = $2 AND last_failure_at = $3 AND previous_failure_at IS NOT NULL \
                 THEN previous_failure_at ELSE last_failure_at END \
                 WHERE subject = $1 AND failures > 0",
            )
            .bind(&claim.subject)
            .bind(claim.failures)
            .bind(claim.at)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Runs `check` as one counted attempt: claimed before it runs; refunded when it passes
    /// (`Ok(Ok(_))`) or cannot run (`Err`); counted when it fails (`Ok(Err(_))`). A refusal
    /// before the check is an `Err` too, through `E: From<Refusal>`.
    pub async fn attempt<T, F, E>(
        &self,
        subjects: &[String],
        check: impl Future<Output = Result<Result<T, F>, E>>,
    ) -> Result<Result<T, F>, E>
    where
        E: From<Refusal> + From<anyhow::Error>,
    {
        let claims = self.claim(subjects).await??;
        match check.await {
            Ok(Ok(passed)) => {
                self.refund(claims).await?;
                Ok(Ok(passed))
            }
            Ok(Err(failed)) => {
                drop(claims);
                Ok(Err(failed))
            }
            Err(unchecked) => {
                self.refund(claims).await?;
                Err(unchecked)
            }
        }
    }

    /// Whether any subject must wait now; counts nothing (for requests that only reveal, such
    /// as prelogin, and must not be answered while the account or address waits).
    pub async fn waiting(&self, subjects: &[String]) -> anyhow::Result<Result<(), Refusal>> {
        let now = crate::now();
        let mut longest = 0;
        for subject in subjects {
            let row = sqlx::query("SELECT failures, last_failure_at FROM auth_failures WHERE subject = $1")
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { continue };
            let (failures, last): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let (free, lockout) = policy(subject);
            if lockout.is_some_and(|limit| failures >= limit) {
                return Ok(Err(Refusal::LockedOut));
            }
            longest = longest.max(last + wait_after(failures, free) - now);
        }
        Ok(if longest > 0 { Err(Refusal::Wait(longest)) } else { Ok(()) })
    }

    /// Forgets the failures of an account (after a success, or when the operator lifts it).
    pub async fn clear_failures(&self, user_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM auth_failures WHERE subject = $1")
            .bind(format!("acct:{user_id}"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::throttle::{FIRST_WAIT_SECS, subjects};

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/p.db", dir.path().display())).await.unwrap();
        (dir, db)
    }

    /// What a check that could not run answers, in these tests.
    #[derive(Debug)]
    enum Unchecked {
        Busy,
        Refused,
        Failed,
    }

    impl From<Refusal> for Unchecked {
        fn from(_: Refusal) -> Self {
            Self::Refused
        }
    }

    impl From<anyhow::Error> for Unchecked {
        fn from(_: anyhow::Error) -> Self {
            Self::Failed
        }
    }

    /// Sets a subject's failures and last stamp, as if they had happened.
    async fn set(db: &Db, subject: &str, failures: i64, last: i64) {
        sqlx::query(
            "INSERT INTO auth_failures (subject, failures, last_failure_at) VALUES ($1, $2, $3) \
             ON CONFLICT (subject) DO UPDATE SET failures = $2, last_failure_at = $3",
        )
        .bind(subject)
        .bind(failures)
        .bind(last)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    async fn stored(db: &Db, subject: &str) -> Option<(i64, i64)> {
        sqlx::query("SELECT failures, last_failure_at FROM auth_failures WHERE subject = $1")
            .bind(subject)
            .fetch_optional(&db.pool)
            .await
            .unwrap()
            .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
    }

    #[tokio::test]
    async fn an_account_locks_after_the_most_failures_and_the_operator_lifts_it() {
        let (_dir, db) = db().await;
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let (account, other) = (subjects(client, Some("user-1")), subjects(client, Some("user-2")));
        assert_eq!(db.waiting(&account).await.unwrap(), Ok(()));
        for _ in 0..FREE_FAILURES {
            let _failed = db.claim(&account[1..]).await.unwrap().unwrap();
        }
        let Err(Refusal::Wait(wait)) = db.waiting(&account).await.unwrap() else {
            panic!("a wait after the free failures")
        };
        assert!(wait > FIRST_WAIT_SECS - 5 && wait <= FIRST_WAIT_SECS, "{wait}");
        assert!(matches!(db.claim(&account).await.unwrap(), Err(Refusal::Wait(_))), "claims are refused too");
        assert_eq!(db.waiting(&other).await.unwrap(), Ok(()), "another account is not held up");
        set(&db, "acct:user-1", LOCKOUT_FAILURES - 1, 0).await;
        let _failed = db.claim(&account[1..]).await.unwrap().unwrap();
        assert_eq!(db.waiting(&account).await.unwrap(), Err(Refusal::LockedOut), "locked out");
        assert_eq!(db.claim(&account).await.unwrap().unwrap_err(), Refusal::LockedOut, "however long ago");
        db.clear_failures("user-1").await.unwrap();
        assert_eq!(db.waiting(&account).await.unwrap(), Ok(()));

        for _ in 0..ADDRESS_FREE_FAILURES {
            let _failed = db.claim(&account[..1]).await.unwrap().unwrap();
        }
        assert!(
            matches!(db.waiting(&other).await.unwrap(), Err(Refusal::Wait(_))),
            "the address waits, whatever account"
        );
    }

    /// The claim statement's spelled-out waits are [`wait_after`]'s, count by count.
    #[tokio::test]
    async fn the_claims_waits_are_the_policys() {
        let (_dir, db) = db().await;
        for (subject, free) in [("acct:user-1", FREE_FAILURES), ("ip:192.0.2.7", ADDRESS_FREE_FAILURES)] {
            for failures in 0..free + 12 {
                let now = crate::now();
                let wait = wait_after(failures, free);
                set(&db, subject, failures, now - wait + 2).await;
                let early = db.claim(&[subject.to_owned()]).await.unwrap();
                assert_eq!(early.is_ok(), wait == 0, "{subject} at {failures} before its wait of {wait} s");
                set(&db, subject, failures, now - wait).await;
                assert!(
                    db.claim(&[subject.to_owned()]).await.unwrap().is_ok(),
                    "{subject} at {failures} after {wait} s"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_get_no_more_than_the_free_failures() {
        let (_dir, db) = db().await;
        let account = subjects("192.0.2.7".parse().unwrap(), Some("user-1"));
        let tries = (0..40).map(|_| {
            let (db, account) = (db.clone(), account.clone());
            tokio::spawn(async move { db.claim(&account).await.unwrap().is_ok() })
        });
        let mut granted = 0;
        for try_ in tries {
            granted += usize::from(try_.await.unwrap());
        }
        assert_eq!(granted, FREE_FAILURES as usize);
        assert_eq!(stored(&db, "acct:user-1").await.map(|s| s.0), Some(FREE_FAILURES));
        assert_eq!(stored(&db, "ip:192.0.2.7").await.map(|s| s.0), Some(FREE_FAILURES), "refused ones are refunded");
    }

    #[tokio::test]
    async fn refunds_restore_what_the_claim_changed() {
        let (_dir, db) = db().await;
        let account = subjects("192.0.2.7".parse().unwrap(), Some("user-1"));
        // Past its free failures and its wait: an address may try again.
        let long_ago = crate::now() - 10 * MAX_WAIT_SECS;
        set(&db, "ip:192.0.2.7", ADDRESS_FREE_FAILURES + 3, long_ago).await;
        let before = crate::now();
        let claims = db.claim(&account).await.unwrap().unwrap();
        let (failures, last) = stored(&db, "ip:192.0.2.7").await.unwrap();
        assert!(failures == ADDRESS_FREE_FAILURES + 4 && last >= before, "counted and stamped");
        db.refund(claims).await.unwrap();
        assert_eq!(stored(&db, "ip:192.0.2.7").await, Some((ADDRESS_FREE_FAILURES + 3, long_ago)), "as it was");
        assert_eq!(stored(&db, "acct:user-1").await.map(|s| s.0), Some(0));

        // A later subject refuses: the earlier is refunded, and nothing is counted.
        set(&db, "acct:user-1", FREE_FAILURES, crate::now()).await;
        assert!(matches!(db.claim(&account).await.unwrap(), Err(Refusal::Wait(_))));
        assert_eq!(stored(&db, "ip:192.0.2.7").await, Some((ADDRESS_FREE_FAILURES + 3, long_ago)));

        // Passed and unchecked attempts are refunded; failed ones stay.
        db.clear_failures("user-1").await.unwrap();
        let passed: Result<Result<(), ()>, Unchecked> = db.attempt(&account, async { Ok(Ok(())) }).await;
        assert!(matches!(passed, Ok(Ok(()))));
        let unchecked: Result<Result<(), ()>, Unchecked> = db.attempt(&account, async { Err(Unchecked::Busy) }).await;
        assert!(unchecked.is_err());
        assert_eq!(stored(&db, "acct:user-1").await.map(|s| s.0), Some(0));
        let failed: Result<Result<(), ()>, Unchecked> = db.attempt(&account, async { Ok(Err(())) }).await;
        assert!(matches!(failed, Ok(Err(()))));
        assert_eq!(stored(&db, "acct:user-1").await.map(|s| s.0), Some(1));
    }
}
