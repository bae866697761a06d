-- Email links: verification and recovery. Only a SHA-256 of each token is kept; a link is
-- bound to its user, its purpose and the address it was sent to, lives at most 10 minutes, and
-- its first use spends it.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE email_links (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL CHECK (purpose IN ('verify', 'recover')),
    email TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_links_by_user ON email_links (user_id, purpose, created_at);
