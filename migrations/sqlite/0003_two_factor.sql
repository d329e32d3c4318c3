-- Two-factor authentication (SPEC F1) for employees and portal contacts alike.

-- One row per account that has ever had 2FA set or enrolled. Secrets are encrypted with the
-- server key (never stored in the database); `mode` is what an administrator set.
CREATE TABLE two_factor (
    principal_kind TEXT NOT NULL,
    principal_id BIGINT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'off',
    secret TEXT,
    pending_secret TEXT,
    enrolled_at BIGINT,
    last_used_step BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (principal_kind, principal_id)
);

-- One-time recovery codes, stored as SHA-256 hashes.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    principal_kind TEXT NOT NULL,
    principal_id BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_principal ON recovery_codes (principal_kind, principal_id);

-- How far a session got: 'full', or stopped after the password at 'code' / 'enrol'.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';

-- Failed second factors are throttled like passwords, counted apart from them.
ALTER TABLE login_attempts ADD COLUMN factor TEXT NOT NULL DEFAULT 'password';
