-- Provider flows: configuration of the instance's providers, the raw log of inbound
-- provider webhooks, and the reconciliation schedule of attempts.

-- Non-secret view of a provider's configuration (merchant code, last 4 characters of
-- each secret, webhook strategy, the id of the key that sealed `sealed_config`).
ALTER TABLE providers ADD COLUMN config_summary TEXT NOT NULL DEFAULT '{}';
ALTER TABLE providers ADD COLUMN secrets_ok BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE providers ADD COLUMN webhook_ok BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE providers ADD COLUMN test_passed_at TIMESTAMP;

-- Every inbound provider webhook, stored raw with its verification result before it is
-- acted upon. A verified event is stored once per (provider, mode, event id): the
-- provider's retries and duplicates find the first row.
CREATE TABLE provider_webhooks (
    id TEXT PRIMARY KEY,
    provider_code TEXT NOT NULL,
    mode TEXT,
    event_id TEXT,
    event_type TEXT,
    -- What the verified body says: the provider's checkout id, our reference, and the
    -- claimed state and amount (JSON), compared later with the provider's status API.
    provider_id TEXT,
    reference TEXT,
    claim TEXT,
    verified BOOLEAN NOT NULL,
    verification_error TEXT,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    -- Processing: confirmed with the provider's status API and handed to payments.
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    processed_at TIMESTAMP,
    outcome TEXT
);
CREATE UNIQUE INDEX provider_webhooks_event ON provider_webhooks (provider_code, mode, event_id);
CREATE INDEX provider_webhooks_unprocessed ON provider_webhooks (processed_at, received_at);

-- Reconciliation: when payments next asks the provider where an open attempt stands.
ALTER TABLE payment_attempts ADD COLUMN next_check_at TIMESTAMP;
ALTER TABLE payment_attempts ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
-- Set when something needs an admin (amount mismatch, a second success).
ALTER TABLE payment_attempts ADD COLUMN flag TEXT;
CREATE INDEX attempts_next_check ON payment_attempts (next_check_at);
