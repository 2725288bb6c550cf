-- Merchant webhooks: the endpoints of each project, one delivery per (event, endpoint)
-- with its retry schedule, every attempt, and the admin's notifications.

-- A project's receiver. Test and live events go to the endpoints of their own mode.
-- The secret is sealed (`WEBHOOK_SECRETS_KEY`); during a rotation the previous one
-- stays valid until `previous_secret_expires_at`.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
    mode TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    url TEXT NOT NULL,
    header_name TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    secret_last4 TEXT NOT NULL,
    previous_sealed_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    -- JSON array of event types; empty means every type.
    event_types TEXT NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    description TEXT,
    -- Why it was switched off by NexPay (410 Gone, failing for days); NULL when an
    -- admin did it or it is enabled.
    disabled_reason TEXT,
    -- First failure since the last success: an endpoint failing for too long is
    -- disabled.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Endpoints are deleted softly: their deliveries keep their history.
    deleted_at TIMESTAMP
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id, mode);

-- One event for one endpoint: the exact body that is signed, and where delivery stands.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE RESTRICT,
    project_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    locked_until TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every attempt: when, how long, what the receiver answered (first bytes), the error.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE RESTRICT,
    number INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    response_snippet TEXT,
    error TEXT,
    next_attempt_at TIMESTAMP
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, number);

-- What NexPay tells admins (an endpoint disabled after failing for days...).
CREATE TABLE admin_notifications (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT,
    message TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
CREATE INDEX admin_notifications_created ON admin_notifications (created_at);
