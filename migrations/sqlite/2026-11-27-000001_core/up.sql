-- Core schema: projects, keys, admins, sessions, payments, attempts, history, outbox,
-- idempotency. Money is BIGINT minor units; times are UTC `TIMESTAMP`; JSON is TEXT so
-- the same diesel schema serves PostgreSQL and SQLite.

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    success_url TEXT,
    failure_url TEXT,
    cancel_url TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Projects are archived, never deleted: payments reference them forever.
    archived_at TIMESTAMP
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
    kind TEXT NOT NULL CHECK (kind IN ('read', 'write')),
    mode TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'admin',
    must_change_password BOOLEAN NOT NULL DEFAULT 1,
    session_version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- Instance-wide facts that must survive restarts (e.g. "the default admin was created
-- once": it is never re-created, even after the admin changes email).
CREATE TABLE instance_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE providers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    logo_url TEXT NOT NULL,
    sealed_config TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
    mode TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    session_id TEXT,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    payer_name TEXT,
    payer_email TEXT,
    payer_phone TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    client_reference TEXT,
    status TEXT NOT NULL,
    provider_code TEXT,
    late BOOLEAN NOT NULL DEFAULT 0,
    -- The merchant's Idempotency-Key: a retried command finds the first payment.
    request_key TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE UNIQUE INDEX payments_request_key ON payments (project_id, mode, request_key);
CREATE INDEX payments_project_created ON payments (project_id, mode, created_at);

CREATE TABLE checkout_sessions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
    mode TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    payment_id TEXT NOT NULL UNIQUE REFERENCES payments(id) ON DELETE RESTRICT,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    customer_name TEXT,
    customer_email TEXT,
    customer_phone TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    items TEXT,
    client_reference TEXT,
    success_url TEXT,
    failure_url TEXT,
    cancel_url TEXT,
    status TEXT NOT NULL,
    request_key TEXT,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sessions_request_key ON checkout_sessions (project_id, mode, request_key);
-- The expiry sweeper scans open sessions by deadline.
CREATE INDEX sessions_open_expiry ON checkout_sessions (status, expires_at);

CREATE TABLE payment_attempts (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments(id) ON DELETE RESTRICT,
    provider_code TEXT NOT NULL,
    -- What we send to the provider as its client reference; unique across attempts.
    provider_reference TEXT NOT NULL UNIQUE,
    provider_id TEXT,
    provider_transaction_id TEXT,
    status TEXT NOT NULL,
    checkout_urls TEXT NOT NULL DEFAULT '[]',
    qr_png_base64 TEXT,
    expires_at TIMESTAMP,
    failure_code TEXT,
    failure_message TEXT,
    late BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX attempts_payment ON payment_attempts (payment_id, created_at);
CREATE INDEX attempts_status ON payment_attempts (status);

-- Append-only history of every status change.
CREATE TABLE payment_events (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments(id) ON DELETE RESTRICT,
    attempt_id TEXT,
    kind TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, created_at);

-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP
);
CREATE INDEX outbox_unpublished ON outbox (published_at, created_at);

CREATE TABLE idempotency_keys (
    project_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    key TEXT NOT NULL,
    route TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'completed')),
    status_code INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, mode, key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
