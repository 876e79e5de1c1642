-- Saved views, alert rules, digests, their messages, and the timeline's annotations, as in
-- sqlite's snapshot (migrations/sqlite, where each table's meaning is written down), so that
-- every replica shows and changes the same ones. Times stay text in Twilio's form, as there.
CREATE TABLE saved_views (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE alert_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_id BIGINT NOT NULL REFERENCES saved_views (id),
    name TEXT NOT NULL,
    condition TEXT NOT NULL,
    min_verifications BIGINT NOT NULL,
    window_minutes BIGINT,
    destinations TEXT NOT NULL,
    email_to TEXT NOT NULL DEFAULT '',
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    snoozed_until TEXT,
    state TEXT NOT NULL DEFAULT 'ok',
    state_since TEXT,
    episode BIGINT NOT NULL DEFAULT 0,
    last_evaluated_at TEXT,
    last_evaluation TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE digests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_id BIGINT NOT NULL REFERENCES saved_views (id),
    frequency TEXT NOT NULL,
    hour BIGINT NOT NULL,
    destinations TEXT NOT NULL,
    email_to TEXT NOT NULL DEFAULT '',
    last_due_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE alert_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id BIGINT,
    digest_id BIGINT,
    destination TEXT NOT NULL,
    recipients TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    tries BIGINT NOT NULL DEFAULT 0,
    next_try_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (idempotency_key, destination)
);
CREATE INDEX alert_messages_due ON alert_messages (status, next_try_at);

CREATE TABLE alert_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES alert_messages (id),
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alert_deliveries_message ON alert_deliveries (message_id);

CREATE TABLE annotations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    text TEXT NOT NULL,
    link TEXT,
    source TEXT NOT NULL,
    incident_key TEXT UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX annotations_by_time ON annotations (starts_at);
