-- Fast lists at scale (PostgreSQL). Kept in step with migrations/sqlite/0002_list_speed.sql.
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

-- Statement-level triggers with transition tables: one counter update per statement, so a
-- bulk insert does not pile up versions of the counter row.
CREATE FUNCTION accord_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE active_counts SET n = n + (SELECT COUNT(*) FROM new_rows WHERE archived_at IS NULL)
    WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END;
$$;
CREATE FUNCTION accord_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE active_counts SET n = n - (SELECT COUNT(*) FROM old_rows WHERE archived_at IS NULL)
    WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END;
$$;
CREATE FUNCTION accord_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT;
BEGIN
    -- An UPDATE keeps the set of rows, so the change is active-after minus active-before
    -- (no join of the two transition tables, which have no indexes).
    SELECT (SELECT COUNT(*) FROM new_rows WHERE archived_at IS NULL)
         - (SELECT COUNT(*) FROM old_rows WHERE archived_at IS NULL)
    INTO delta;
    IF delta <> 0 THEN
        UPDATE active_counts SET n = n + delta WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_count_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_inserted();
CREATE TRIGGER customers_count_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_deleted();
CREATE TRIGGER customers_count_update AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_updated();
CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_inserted();
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_deleted();
CREATE TRIGGER contacts_count_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accord_count_updated();

-- 3. Substring search through an index: trigram GIN indexes serve the same
--    `LIKE '%term%'` the portable query uses. SQLite uses FTS5 tables instead.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_name_trgm ON customers USING gin (name_lower gin_trgm_ops);
CREATE INDEX customers_domains_trgm ON customers USING gin (email_domains gin_trgm_ops);
CREATE INDEX contacts_name_trgm ON contacts USING gin (name_lower gin_trgm_ops);
CREATE INDEX contacts_email_trgm ON contacts USING gin (email gin_trgm_ops);
