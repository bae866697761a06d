-- Attempts are counted before they are checked, and refunded when they pass: a refund puts
-- back the stamp its claim replaced.
ALTER TABLE auth_failures ADD COLUMN previous_failure_at BIGINT;
