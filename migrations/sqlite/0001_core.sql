-- Accord core schema (SQLite). Kept in step with migrations/postgres/0001_core.sql:
-- same tables, columns and indexes; only the id column type and booleans are spelled
-- differently. Timestamps are UTC microseconds since the Unix epoch; money is integer minor
-- units; percentages are integer hundredths of a percent.

CREATE TABLE legal_entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    tax_rate BIGINT NOT NULL,
    calculate_sale_price_using TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX legal_entities_name ON legal_entities (name);

CREATE TABLE employees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    is_admin BOOLEAN NOT NULL,
    line_manager_id BIGINT REFERENCES employees (id),
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX employees_name ON employees (name);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    email_domains TEXT NOT NULL,
    legal_entity_id BIGINT REFERENCES legal_entities (id),
    invoice_contact_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX customers_name ON customers (name_lower, id);

CREATE TABLE customer_domains (
    domain TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id)
);
CREATE INDEX customer_domains_customer ON customer_domains (customer_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    portal_access BOOLEAN NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX contacts_customer ON contacts (customer_id, name_lower);
CREATE INDEX contacts_name ON contacts (name_lower, id);
CREATE UNIQUE INDEX contacts_portal_email ON contacts (email) WHERE portal_access;

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    sku TEXT UNIQUE,
    unit_cost BIGINT,
    unit_price BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX products_name ON products (name);

CREATE TABLE settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    value TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);

-- Who is logged in. The cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    principal_kind TEXT NOT NULL,
    principal_id BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    flash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_principal ON sessions (principal_kind, principal_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    employee_id BIGINT NOT NULL REFERENCES employees (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- One-time links where an employee or a contact sets a password.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    principal_kind TEXT NOT NULL,
    principal_id BIGINT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, at);
CREATE INDEX login_attempts_ip ON login_attempts (client_ip, at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL,
    actor_kind TEXT,
    actor_id BIGINT,
    actor_name TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES employees (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX posts_object ON posts (object_type, object_id, id);

CREATE TABLE post_tags (
    post_id BIGINT NOT NULL REFERENCES posts (id),
    employee_id BIGINT NOT NULL REFERENCES employees (id),
    PRIMARY KEY (post_id, employee_id)
);
