-- Issue 5: background jobs, the nightly run, the e-mail outbox, notifications and their
-- templates. Kept column-for-column in step with migrations/postgres/0004_platform.sql.

-- The durable job queue. A worker claims a job by setting status 'running' with a lease
-- (locked_by, locked_until); an expired lease makes the job claimable again.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    progress TEXT,
    -- Enqueuing the same key twice makes one job (nightly dates, periodic ticks).
    unique_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_claimable ON jobs (status, run_after);

-- One row per periodic task: the slot last run, so two instances never run one tick twice.
CREATE TABLE periodic_ticks (
    task TEXT PRIMARY KEY,
    last_slot BIGINT NOT NULL,
    ran_at BIGINT NOT NULL
);

-- Each date of overnight processing done, once.
CREATE TABLE nightly_runs (
    run_date TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    summary TEXT NOT NULL
);

-- Mails to send. status: queued, sending (leased until locked_until), sent, failed.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    event_kind TEXT,
    object_type TEXT,
    object_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Stored changes to the System Email Templates; an event kind without a row uses the
-- built-in template of the domain catalogue.
CREATE TABLE email_templates (
    event_kind TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    in_app BOOLEAN NOT NULL,
    email BOOLEAN NOT NULL,
    mark_read_events TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient_id BIGINT NOT NULL REFERENCES employees (id),
    category TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    in_app BOOLEAN NOT NULL,
    email BOOLEAN NOT NULL,
    outbox_id BIGINT,
    read_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_unread ON notifications (recipient_id, read_at);
CREATE INDEX notifications_object ON notifications (object_type, object_id);
