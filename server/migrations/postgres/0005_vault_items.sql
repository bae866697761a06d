-- Vault items: a user's vault as many sealed items besides the one sealed blob of `vaults`
-- (which keeps the key material). Each batch of changes raises the user's `seq` by one and
-- stamps the items it wrote with it, so devices read what changed since the seq they last saw.
-- An item without a blob is a tombstone: a removal, kept so the item never comes back from a
-- device that has not heard of it. `item_count`, `item_bytes` and `tombstones` count the
-- user's live items, their blobs' bytes and the tombstones, kept with each batch, so the bounds
-- are checked without reading the items.
ALTER TABLE vaults ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vaults ADD COLUMN item_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vaults ADD COLUMN item_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vaults ADD COLUMN tombstones BIGINT NOT NULL DEFAULT 0;

CREATE TABLE vault_items (
    user_id TEXT NOT NULL REFERENCES users(id),
    -- Byte order, as SQLite sorts them, so both read pages in the same order.
    id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    blob BYTEA,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, id)
);
-- Reads in (seq, id) order from a position: `user_id = $1 AND (seq, id) > ($2, $3)`.
CREATE INDEX vault_items_by_seq ON vault_items (user_id, seq, id);

-- The public part of a profile, as its devices signed it (`profile_core::public::PublicPart`,
-- JSON), stored verbatim; none by default.
CREATE TABLE public_parts (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    part TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
