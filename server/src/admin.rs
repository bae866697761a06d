//! `profile-server admin …`: what an operator does on the server's machine, against the same
//! database as `serve`.

use anyhow::{Context, bail, ensure};
use argon2::{PasswordHash, PasswordHasher};
use profile_core::vault::{self, KdfParams, MIN_PASSPHRASE_CHARS};
use profile_core::{Passphrase, Secret32};

use crate::db::{Db, NewUser};

/// Creates a user in `tenant` with `passphrase`, acting as the user's first client: it derives
/// the auth key and key-encryption key, makes a random data key, wraps it, and seals an empty
/// vault. The server keeps a slow hash of the auth key, the wrapped key and the sealed vault;
/// the passphrase, the KEK and the data key leave memory when this returns. Returns the
/// user's profile URL.
pub async fn create_user(
    db: &Db,
    public_url: &str,
    tenant: &str,
    email: &str,
    passphrase: &Passphrase,
) -> anyhow::Result<String> {
    let email = crate::db::normalize_email(email);
    ensure!(
        email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
        "`{email}` is not an email address"
    );
    if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        bail!("a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters");
    }
    let tenant_id =
        db.tenant_id(tenant).await?.with_context(|| format!("no tenant `{tenant}` (create-tenant first)"))?;

    let id = crate::new_id()?;
    let kdf = KdfParams::recommended(crate::random()?);
    let keys = vault::derive(passphrase, &kdf)?;
    let data_key = Secret32::from_bytes(crate::random()?);
    let auth_hash: PasswordHash = argon2::Argon2::default()
        .hash_password_with_salt(keys.auth_key.expose(), &crate::random::<16>()?)
        .map_err(|e| anyhow::anyhow!("cannot hash the auth key: {e}"))?;
    let auth_hash = auth_hash.to_string();
    let user = NewUser {
        wrapped_key: vault::wrap(&keys.kek, &data_key, crate::random()?),
        vault: vault::seal_vault(&data_key, &id, 1, crate::random()?, b"{}"),
        kdf_json: serde_json::to_string(&kdf)?,
        id,
        tenant_id,
        email,
        auth_hash,
    };
    db.create_user(&user).await?;
    Ok(crate::profile_url(public_url, &user.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_user_is_created_with_nothing_readable_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/p.db", dir.path().display())).await.unwrap();
        let pass = Passphrase::new("correct horse battery".into());
        let url = create_user(&db, "https://p.example", "default", "Ada@Example.org", &pass).await.unwrap();
        assert!(url.starts_with("https://p.example/u/"));
        let users = db.list_users(None).await.unwrap();
        assert_eq!((users.len(), users[0].email.as_str(), users[0].tenant.as_str()), (1, "ada@example.org", "default"));

        let err = create_user(&db, "https://p.example", "default", "ada@example.org", &pass).await.unwrap_err();
        assert!(format!("{err:#}").contains("taken"), "{err:#}");
        for (email, passphrase, expected) in
            [("not an address", "correct horse battery", "not an email"), ("b@example.org", "short", "at least 8")]
        {
            let err = create_user(&db, "u", "default", email, &Passphrase::new(passphrase.into())).await.unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
        let err = create_user(&db, "u", "nobody", "c@example.org", &pass).await.unwrap_err();
        assert!(err.to_string().contains("no tenant"), "{err}");

        let bytes = std::fs::read(dir.path().join("p.db")).unwrap();
        let wal = std::fs::read(dir.path().join("p.db-wal")).unwrap_or_default();
        for haystack in [&bytes, &wal] {
            assert!(!haystack.windows(14).any(|w| w == b"correct horse "), "the passphrase is not stored");
        }
    }
}
