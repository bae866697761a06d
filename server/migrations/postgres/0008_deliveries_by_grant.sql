-- A grant's webhook deliveries still to send, found by grant: those a revocation drops, and
-- those a claim looks at, as a grant's deliveries go one at a time.
CREATE INDEX webhook_deliveries_by_grant ON webhook_deliveries (grant_id, n) WHERE delivered_at IS NULL AND dead_at IS NULL;
