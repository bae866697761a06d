//! `accounts`: the accounts registry, per user and site origin.

use profile_core::server_api::{Account, AccountRef, AccountRegistration};
use profile_core::{AccountGuid, AppId, Origin};
use sqlx::Row;

use super::Db;

/// An account row's columns, in the order [`account`] and the dump read them.
pub(super) const COLUMNS: &str = "origin, account_guid, app_id, public_key, permissions, created_at, last_login_at";

fn account(row: &sqlx::any::AnyRow) -> anyhow::Result<Account> {
    Ok(Account {
        origin: Origin::parse(&row.try_get::<String, _>(0)?)?,
        account_guid: AccountGuid::try_from(row.try_get::<String, _>(1)?).map_err(anyhow::Error::msg)?,
        app_id: row.try_get::<Option<String>, _>(2)?.map(AppId::try_from).transpose().map_err(anyhow::Error::msg)?,
        public_key: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
        permissions: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
        created_at: row.try_get(5)?,
        last_login_at: row.try_get(6)?,
    })
}

impl Db {
    /// All the user's accounts, by origin.
    pub async fn accounts(&self, user_id: &str) -> anyhow::Result<Vec<Account>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY origin"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account).collect()
    }

    /// The user's account at `origin`.
    pub async fn account_at(&self, user_id: &str, origin: &Origin) -> anyhow::Result<Option<Account>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND origin = $2"))
            .bind(user_id)
            .bind(origin.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    /// The user's accounts with `app_id` at origins other than `origin`, by origin.
    pub async fn accounts_with_app(
        &self,
        user_id: &str,
        app_id: &AppId,
        origin: &Origin,
    ) -> anyhow::Result<Vec<Account>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND app_id = $2 AND origin <> $3 ORDER BY origin"
        ))
        .bind(user_id)
        .bind(app_id.as_str())
        .bind(origin.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(account)
        .collect()
    }

    /// Records (or replaces) the user's account at its origin; answers it as stored.
    pub async fn register_account(&self, user_id: &str, account: &AccountRegistration) -> anyhow::Result<Account> {
        let row = sqlx::query(&format!(
            "INSERT INTO accounts (user_id, origin, account_guid, app_id, public_key, permissions, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, origin) DO UPDATE SET account_guid = $3, app_id = $4, public_key = $5, permissions = $6 \
             RETURNING {COLUMNS}"
        ))
        .bind(user_id)
        .bind(account.origin.as_str())
        .bind(account.account_guid.as_str())
        .bind(account.app_id.as_ref().map(AppId::as_str))
        .bind(serde_json::to_string(&account.public_key)?)
        .bind(serde_json::to_string(&account.permissions)?)
        .bind(crate::now())
        .fetch_one(&self.pool)
        .await?;
        self::account(&row)
    }

    /// Forgets one of the user's accounts; false when there was none.
    pub async fn remove_account(&self, user_id: &str, which: &AccountRef) -> anyhow::Result<bool> {
        let sql = "DELETE FROM accounts WHERE user_id = $1 AND origin = $2 AND account_guid = $3";
        self.on_account(sql, user_id, which, None).await
    }

    /// Stamps a login at one of the user's accounts; false when there is no such account.
    pub async fn record_account_login(&self, user_id: &str, which: &AccountRef) -> anyhow::Result<bool> {
        let sql = "UPDATE accounts SET last_login_at = $4 WHERE user_id = $1 AND origin = $2 AND account_guid = $3";
        self.on_account(sql, user_id, which, Some(crate::now())).await
    }

    /// Runs `sql` on one account (`$1` user, `$2` origin, `$3` guid, then `$4` when given);
    /// whether it touched a row.
    async fn on_account(
        &self,
        sql: &str,
        user_id: &str,
        which: &AccountRef,
        fourth: Option<i64>,
    ) -> anyhow::Result<bool> {
        let mut query = sqlx::query(sql).bind(user_id).bind(which.origin.as_str()).bind(which.account_guid.as_str());
        if let Some(value) = fourth {
            query = query.bind(value);
        }
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Whether someone served here (not locked down) holds `account_guid` at `origin`.
    pub async fn account_is_held(&self, origin: &Origin, account_guid: &AccountGuid) -> anyhow::Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM accounts a JOIN users u ON u.id = a.user_id \
             WHERE a.origin = $1 AND a.account_guid = $2 AND u.locked_at IS NULL",
        )
        .bind(origin.as_str())
        .bind(account_guid.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
