-- Saved views, alert rules, digests, and the messages they send (an outbox: a rule's state
-- and the messages its change sends are written in one transaction).
CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- The view's query string (`Filters::to_query`), relative ranges kept relative.
    query TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE alert_rules (
    -- Never reused: a rule's id is in its messages' idempotency keys.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    view_id INTEGER NOT NULL REFERENCES saved_views (id),
    name TEXT NOT NULL,
    -- JSON of `alerts::Condition`.
    condition TEXT NOT NULL,
    min_verifications INTEGER NOT NULL,
    -- Rates over the last N minutes instead of the view's range (NULL: the view's range).
    window_minutes INTEGER,
    -- JSON list of destinations: "inbox", "slack", "webhook", "email".
    destinations TEXT NOT NULL,
    email_to TEXT NOT NULL DEFAULT '',
    paused INTEGER NOT NULL DEFAULT 0,
    snoozed_until TEXT,
    -- 'ok' or 'firing'; `episode` counts the times it started firing (idempotency keys).
    state TEXT NOT NULL DEFAULT 'ok',
    state_since TEXT,
    episode INTEGER NOT NULL DEFAULT 0,
    last_evaluated_at TEXT,
    -- JSON of the last evaluation's `alerts::Evaluation`.
    last_evaluation TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE digests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    view_id INTEGER NOT NULL REFERENCES saved_views (id),
    -- 'daily' or 'weekly' (Mondays).
    frequency TEXT NOT NULL,
    -- The hour of the day it goes out, UTC.
    hour INTEGER NOT NULL,
    destinations TEXT NOT NULL,
    email_to TEXT NOT NULL DEFAULT '',
    -- The last time it was due and queued.
    last_due_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE alert_messages (
    id INTEGER PRIMARY KEY,
    rule_id INTEGER,
    digest_id INTEGER,
    destination TEXT NOT NULL,
    -- The e-mail's recipients, comma-separated (other destinations: empty).
    recipients TEXT NOT NULL DEFAULT '',
    -- 'firing', 'resolved', 'test' or 'digest'.
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- JSON of `alerts::Message`, as the webhook sends it.
    payload TEXT NOT NULL,
    -- 'pending', 'delivered' or 'failed' (gave up).
    status TEXT NOT NULL DEFAULT 'pending',
    tries INTEGER NOT NULL DEFAULT 0,
    next_try_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (idempotency_key, destination)
);
CREATE INDEX alert_messages_due ON alert_messages (status, next_try_at);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES alert_messages (id),
    at TEXT NOT NULL,
    -- 'delivered', 'failed' (will retry) or 'gave up'.
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alert_deliveries_message ON alert_deliveries (message_id);
