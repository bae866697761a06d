-- Connection tickets a person's device issued for linking another profile: the SHA-256 of the
-- ticket's token (never the token), until redeemed (spent at the first try, whatever follows)
-- or expired.
CREATE TABLE link_tickets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at BIGINT NOT NULL
);
CREATE INDEX link_tickets_by_user ON link_tickets (user_id);

-- Redemptions of those tickets, waiting for the issuer's devices (`profile_core::apps::links::
-- LinkRedeem`, JSON, without its token): who redeemed, their keys and the grant of their card,
-- under a MAC only the issuing device can check.
CREATE TABLE link_requests (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL,
    redeem TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX link_requests_by_user ON link_requests (user_id, n);

-- The grant a linked profile gave back (`LinkConfirm`, JSON), as it said in a request signed
-- with the key of the grant this profile gave it.
CREATE TABLE grant_peers (
    grant_id TEXT PRIMARY KEY REFERENCES grants(id),
    peer TEXT NOT NULL
);
