-- Paired devices. Each holds one family of refresh tokens; revoking the device ends them all.
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX devices_by_user ON devices (user_id);

-- Refresh tokens: only a SHA-256 of each. Using one marks it used and issues the next; a used
-- one presented again revokes its device.
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens (device_id);

-- Consecutive failed credential checks, per account (`acct:…`) and per client address (`ip:…`).
CREATE TABLE auth_failures (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);

-- A paper key proves itself with the SHA-256 of an auth key derived from it (it carries 256
-- random bits, so a slow hash adds nothing).
ALTER TABLE credentials ADD COLUMN verifier TEXT;

-- The accounts registry: per user and origin, the account the person holds there.
CREATE TABLE accounts (
    user_id TEXT NOT NULL REFERENCES users(id),
    origin TEXT NOT NULL,
    account_guid TEXT NOT NULL,
    app_id TEXT,
    public_key TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT,
    PRIMARY KEY (user_id, origin)
);
CREATE INDEX accounts_by_app ON accounts (user_id, app_id);
