-- Grants a person gave apps, registered by one of their devices. The server keeps what it
-- enforces (the scopes, the app's signing key as the device saw it, whether it was revoked) and
-- the share, sealed to the app (`profile_core::apps::SealedShare`, JSON), which it cannot open.
-- `pending` counts the appends waiting for the person's devices, `appended` all of them ever.
-- A revoked grant keeps its row (the person's devices list it) without its share.
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    origin TEXT NOT NULL,
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    app_key TEXT NOT NULL,
    share TEXT,
    share_version BIGINT NOT NULL,
    webhook TEXT,
    pending BIGINT NOT NULL DEFAULT 0,
    appended BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_read_at BIGINT,
    last_append_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX grants_by_user ON grants (user_id, created_at);

-- Items apps appended, sealed to the profile's key, waiting for the person's devices; `n`
-- orders them as they arrived.
CREATE TABLE appends (
    n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    grant_id TEXT NOT NULL REFERENCES grants(id),
    category TEXT NOT NULL,
    enc BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX appends_by_user ON appends (user_id, n);

-- The nonces of apps' signed requests, each spent once; kept until `expires_at` (at least
-- twice the stamps' allowed clock skew), then pruned.
CREATE TABLE app_nonces (
    grant_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, nonce)
);
CREATE INDEX app_nonces_by_expiry ON app_nonces (expires_at);

-- Webhook deliveries: one row per event and webhook, claimed by a server's delivery worker
-- for a lease (`locked_until_ms`), sent, then marked delivered or given another attempt at
-- `next_attempt_ms`; given up (`dead_at`) a day after the event.
CREATE TABLE webhook_deliveries (
    n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    locked_until_ms BIGINT,
    delivered_at BIGINT,
    dead_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE delivered_at IS NULL AND dead_at IS NULL;
