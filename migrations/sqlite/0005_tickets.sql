-- Tickets with types, workflows, SLAs and checklists (SPEC C6, F3).

-- A workflow's statuses and transitions are kept as the lines users write (JSON arrays of
-- text), parsed by accord_domain::workflow on every use.
CREATE TABLE workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    statuses TEXT NOT NULL,
    start_status TEXT NOT NULL,
    closed_statuses TEXT NOT NULL,
    transitions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);

CREATE TABLE checklist_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);

CREATE TABLE ticket_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    default_priority TEXT NOT NULL,
    workflow_id BIGINT NOT NULL REFERENCES workflows (id),
    default_checklist_template_ids TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    summary TEXT NOT NULL,
    summary_lower TEXT NOT NULL,
    details TEXT,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    contact_id BIGINT REFERENCES contacts (id),
    ticket_type_id BIGINT NOT NULL REFERENCES ticket_types (id),
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    is_closed BOOLEAN NOT NULL DEFAULT FALSE,
    assignee_id BIGINT REFERENCES employees (id),
    responded_at BIGINT,
    closed_at BIGINT,
    response_due_at BIGINT NOT NULL,
    resolution_due_at BIGINT NOT NULL,
    breached BOOLEAN NOT NULL DEFAULT FALSE,
    breached_at BIGINT,
    checklist_items BIGINT NOT NULL DEFAULT 0,
    checklist_items_done BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    archived_at BIGINT
);
-- Lists are newest first; each filter and saved view walks its own index in id order, so a
-- page (and the count, capped at 1,000) reads only matching rows.
CREATE INDEX tickets_active_id ON tickets (id) WHERE archived_at IS NULL;
CREATE INDEX tickets_status ON tickets (status, id) WHERE archived_at IS NULL;
CREATE INDEX tickets_customer ON tickets (customer_id, id) WHERE archived_at IS NULL;
CREATE INDEX tickets_assignee ON tickets (assignee_id, id) WHERE archived_at IS NULL;
CREATE INDEX tickets_breached ON tickets (breached, id) WHERE archived_at IS NULL;
CREATE INDEX tickets_view_open ON tickets (id) WHERE NOT is_closed AND archived_at IS NULL;
CREATE INDEX tickets_view_mine ON tickets (assignee_id, id) WHERE NOT is_closed AND archived_at IS NULL;
CREATE INDEX tickets_view_unassigned ON tickets (id)
    WHERE assignee_id IS NULL AND NOT is_closed AND archived_at IS NULL;
CREATE INDEX tickets_view_breached ON tickets (id) WHERE breached AND NOT is_closed AND archived_at IS NULL;
-- The breach scan reads only open, not yet breached tickets, by due time.
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at)
    WHERE NOT breached AND NOT is_closed AND archived_at IS NULL;
CREATE INDEX tickets_response_due ON tickets (response_due_at)
    WHERE responded_at IS NULL AND NOT breached AND NOT is_closed AND archived_at IS NULL;

CREATE TABLE ticket_checklists (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    name TEXT NOT NULL,
    template_id BIGINT REFERENCES checklist_templates (id),
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_checklists_ticket ON ticket_checklists (ticket_id, position);

CREATE TABLE ticket_checklist_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checklist_id BIGINT NOT NULL REFERENCES ticket_checklists (id),
    text TEXT NOT NULL,
    position BIGINT NOT NULL,
    done_at BIGINT,
    done_by_id BIGINT REFERENCES employees (id),
    done_by_name TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_checklist_items_checklist ON ticket_checklist_items (checklist_id, position);

-- The conversation with the customer (internal notes are the ticket's Activity posts).
-- Authors are employees or the customer's contacts; the name is kept as it was.
CREATE TABLE ticket_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    author_kind TEXT NOT NULL,
    author_id BIGINT NOT NULL,
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_replies_ticket ON ticket_replies (ticket_id, id);

-- Full-text search of summaries and details (trigram FTS5, as for customers).
CREATE VIRTUAL TABLE tickets_search USING fts5 (summary_lower, details, tokenize = 'trigram');
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets
BEGIN INSERT INTO tickets_search (rowid, summary_lower, details) VALUES (new.id, new.summary_lower, lower(coalesce(new.details, ''))); END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF summary_lower, details ON tickets
BEGIN UPDATE tickets_search SET summary_lower = new.summary_lower, details = lower(coalesce(new.details, '')) WHERE rowid = new.id; END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets
BEGIN DELETE FROM tickets_search WHERE rowid = old.id; END;
