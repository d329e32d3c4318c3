-- Fast lists at scale (PostgreSQL). Kept in step with migrations/sqlite/0002_list_speed.sql.
--
-- 1. Active rows in name order, for paging without touching archived rows.
CREATE INDEX customers_active_name ON customers (name_lower, id) WHERE archived_at IS NULL;
CREATE INDEX contacts_active_name ON contacts (name_lower, id) WHERE archived_at IS NULL;

-- 2. Counts of active rows, kept by a trigger, so an unfiltered list need not count
--    100,000 rows on every page.
CREATE TABLE active_counts (
    table_name TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO active_counts (table_name, n) SELECT 'customers', COUNT(*) FROM customers WHERE archived_at IS NULL;
INSERT INTO active_counts (table_name, n) SELECT 'contacts', COUNT(*) FROM contacts WHERE archived_at IS NULL;

CREATE FUNCTION accord_count_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.archived_at IS NULL THEN
            UPDATE active_counts SET n = n + 1 WHERE table_name = TG_TABLE_NAME;
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.archived_at IS NULL THEN
            UPDATE active_counts SET n = n - 1 WHERE table_name = TG_TABLE_NAME;
        END IF;
        RETURN OLD;
    ELSE
        IF (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL) THEN
            UPDATE active_counts SET n = n + (CASE WHEN NEW.archived_at IS NULL THEN 1 ELSE -1 END)
            WHERE table_name = TG_TABLE_NAME;
        END IF;
        RETURN NEW;
    END IF;
END;
$$;
CREATE TRIGGER customers_count AFTER INSERT OR DELETE OR UPDATE OF archived_at ON customers
    FOR EACH ROW EXECUTE FUNCTION accord_count_active();
CREATE TRIGGER contacts_count AFTER INSERT OR DELETE OR UPDATE OF archived_at ON contacts
    FOR EACH ROW EXECUTE FUNCTION accord_count_active();

-- 3. Substring search through an index: trigram GIN indexes serve the same
--    `LIKE '%term%'` the portable query uses. SQLite uses FTS5 tables instead.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_name_trgm ON customers USING gin (name_lower gin_trgm_ops);
CREATE INDEX customers_domains_trgm ON customers USING gin (email_domains gin_trgm_ops);
CREATE INDEX contacts_name_trgm ON contacts USING gin (name_lower gin_trgm_ops);
CREATE INDEX contacts_email_trgm ON contacts USING gin (email gin_trgm_ops);
