-- Tenants, users, their credentials (each holding a wrapped data key) and their vaults.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL,
    -- The client's Argon2id parameters (JSON), which it checks before deriving.
    kdf TEXT NOT NULL,
    -- A slow hash (Argon2id, PHC string) of the auth key the client derives: never the passphrase.
    auth_hash TEXT NOT NULL,
    -- Set by `admin lockdown`: a locked-down user can neither log in nor be served.
    locked_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('passphrase', 'paper')),
    wrapped_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE vaults (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    counter BIGINT NOT NULL,
    blob BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One-time device tickets: only a SHA-256 of each is kept. A ticket is spent at its first
-- use, whether that use succeeds or not.
CREATE TABLE tickets (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Site-wide switches, such as a lockdown.
CREATE TABLE site (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
