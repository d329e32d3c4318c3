-- Fast lists at scale (SQLite). Kept in step with migrations/postgres/0002_list_speed.sql.
--
-- 1. Active rows in name order, for paging without touching archived rows.
CREATE INDEX customers_active_name ON customers (name_lower, id) WHERE archived_at IS NULL;
CREATE INDEX contacts_active_name ON contacts (name_lower, id) WHERE archived_at IS NULL;
-- A customer's active contacts, counted on every customer list row.
CREATE INDEX contacts_active_customer ON contacts (customer_id) WHERE archived_at IS NULL;

-- 2. Counts of active rows, kept by triggers, so an unfiltered list need not count
--    100,000 rows on every page.
CREATE TABLE active_counts (
    table_name TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO active_counts (table_name, n) SELECT 'customers', COUNT(*) FROM customers WHERE archived_at IS NULL;
INSERT INTO active_counts (table_name, n) SELECT 'contacts', COUNT(*) FROM contacts WHERE archived_at IS NULL;

CREATE TRIGGER customers_count_insert AFTER INSERT ON customers WHEN new.archived_at IS NULL
BEGIN UPDATE active_counts SET n = n + 1 WHERE table_name = 'customers'; END;
CREATE TRIGGER customers_count_delete AFTER DELETE ON customers WHEN old.archived_at IS NULL
BEGIN UPDATE active_counts SET n = n - 1 WHERE table_name = 'customers'; END;
CREATE TRIGGER customers_count_archive AFTER UPDATE OF archived_at ON customers
WHEN (old.archived_at IS NULL) <> (new.archived_at IS NULL)
BEGIN UPDATE active_counts SET n = n + (CASE WHEN new.archived_at IS NULL THEN 1 ELSE -1 END) WHERE table_name = 'customers'; END;

CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts WHEN new.archived_at IS NULL
BEGIN UPDATE active_counts SET n = n + 1 WHERE table_name = 'contacts'; END;
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts WHEN old.archived_at IS NULL
BEGIN UPDATE active_counts SET n = n - 1 WHERE table_name = 'contacts'; END;
CREATE TRIGGER contacts_count_archive AFTER UPDATE OF archived_at ON contacts
WHEN (old.archived_at IS NULL) <> (new.archived_at IS NULL)
BEGIN UPDATE active_counts SET n = n + (CASE WHEN new.archived_at IS NULL THEN 1 ELSE -1 END) WHERE table_name = 'contacts'; END;

-- 3. Substring search through an index: FTS5 with the trigram tokenizer (case-insensitive),
--    kept in step with the table by triggers. PostgreSQL uses pg_trgm indexes instead.
CREATE VIRTUAL TABLE customers_search USING fts5 (name_lower, email_domains, tokenize = 'trigram');
INSERT INTO customers_search (rowid, name_lower, email_domains) SELECT id, name_lower, email_domains FROM customers;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers
BEGIN INSERT INTO customers_search (rowid, name_lower, email_domains) VALUES (new.id, new.name_lower, new.email_domains); END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF name_lower, email_domains ON customers
BEGIN UPDATE customers_search SET name_lower = new.name_lower, email_domains = new.email_domains WHERE rowid = new.id; END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers
BEGIN DELETE FROM customers_search WHERE rowid = old.id; END;

CREATE VIRTUAL TABLE contacts_search USING fts5 (name_lower, email, tokenize = 'trigram');
INSERT INTO contacts_search (rowid, name_lower, email) SELECT id, name_lower, COALESCE(email, '') FROM contacts;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
BEGIN INSERT INTO contacts_search (rowid, name_lower, email) VALUES (new.id, new.name_lower, COALESCE(new.email, '')); END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name_lower, email ON contacts
BEGIN UPDATE contacts_search SET name_lower = new.name_lower, email = COALESCE(new.email, '') WHERE rowid = new.id; END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
BEGIN DELETE FROM contacts_search WHERE rowid = old.id; END;
