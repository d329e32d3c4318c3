//! *Setup → Tickets*: workflows, checklist templates and ticket types, as plain objects with
//! the generic list, form, detail, API and audit.

use crate::args;
use crate::kernel::db::Tx;
use crate::kernel::error::AppError;
use crate::kernel::resource::{
    Column, FieldKind, FieldSpec, ObjectType, RefSpec, Resource, check_ref, fetch_in,
};
use crate::kernel::web::into_map;
use accord_domain::FieldErrors;
use accord_domain::tickets::{
    ChecklistTemplateDraft, MAX_ITEMS, PRIORITIES, Priority, TicketTypeDraft,
};
use accord_domain::workflow::{Workflow, WorkflowDraft};
use serde_json::{Map, Value, json};

/// A JSON array of text stored in a TEXT column, read back (bad data reads as empty).
pub fn text_array(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

fn to_text_array(items: &[String]) -> String {
    Value::from(items.to_vec()).to_string()
}

// ---- workflows ----

/// *Setup → Tickets → Workflows*.
pub struct Workflows;

impl ObjectType for Workflows {
    const PATH: &'static str = "workflows";
    const TABLE: &'static str = "workflows";
    const SINGULAR: &'static str = "Workflow";
}

#[derive(Debug, sqlx::FromRow)]
pub struct WorkflowRow {
    pub id: i64,
    pub name: String,
    pub statuses: String,
    pub start_status: String,
    pub closed_statuses: String,
    pub transitions: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(WorkflowRow);

impl WorkflowRow {
    /// The stored workflow, parsed. Stored workflows were valid when saved; if a later rule
    /// made one invalid, it is reported rather than half-used.
    pub fn workflow(&self) -> Result<Workflow, AppError> {
        Workflow::from_lines(
            &text_array(&self.statuses),
            &self.start_status,
            &text_array(&self.closed_statuses),
            &text_array(&self.transitions),
        )
        .map_err(|e| {
            AppError::Conflict(format!(
                "Workflow “{}” is not valid any more: {e}",
                self.name
            ))
        })
    }
}

impl Resource for Workflows {
    const PLURAL: &'static str = "Workflows";
    const NAV: &'static str = "workflows";
    const FROM: &'static str = "workflows t";
    const SELECT: &'static str = "t.id, t.name, t.statuses, t.start_status, t.closed_statuses,
        t.transitions, t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str = "LOWER(t.name) LIKE $1 ESCAPE '\\'";
    const DEFAULT_SORT: &'static str = "name";
    const ADMIN_WRITES: bool = true;
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "name",
            label: "Name",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "statuses",
            label: "Statuses",
            kind: FieldKind::Lines { max_items: 50 },
            required: true,
            help: "One per line, in the order they are shown.",
        },
        FieldSpec {
            name: "start_status",
            label: "Start status",
            kind: FieldKind::Text,
            required: true,
            help: "New tickets start here.",
        },
        FieldSpec {
            name: "closed_statuses",
            label: "Closed statuses",
            kind: FieldKind::Lines { max_items: 50 },
            required: false,
            help: "One per line: tickets here are closed (no SLA clock, not open).",
        },
        FieldSpec {
            name: "transitions",
            label: "Transitions",
            kind: FieldKind::Lines { max_items: 500 },
            required: false,
            help: "One per line: “From -> To”, with rules after a colon: “In Progress -> Resolved: checklists complete”. Rules: checklists complete, assignee set.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("LOWER(t.name)"),
        },
        Column {
            label: "Start status",
            key: "start_status",
            sort: None,
        },
    ];

    type Row = WorkflowRow;
    type Draft = WorkflowDraft;

    fn parse(input: &Map<String, Value>) -> Result<WorkflowDraft, FieldErrors> {
        WorkflowDraft::parse(input)
    }

    fn to_json(row: &WorkflowRow) -> Map<String, Value> {
        let mut json = into_map(json!({
            "name": row.name,
            "statuses": text_array(&row.statuses),
            "start_status": row.start_status,
            "closed_statuses": text_array(&row.closed_statuses),
            "transitions": text_array(&row.transitions),
        }));
        if let Ok(w) = row.workflow() {
            json.insert("definition".into(), w.to_json());
        }
        json
    }

    async fn check(tx: &mut Tx, id: Option<i64>, d: &WorkflowDraft) -> Result<(), AppError> {
        // Tickets already in a status the workflow would no longer have would be stranded.
        if let Some(id) = id {
            let tickets_of =
                "ticket_type_id IN (SELECT id FROM ticket_types WHERE workflow_id = $1)";
            let lost = stranded(tx, tickets_of, id, &d.workflow.statuses).await?;
            if !lost.is_empty() {
                return Err(FieldErrors::single(
                    "statuses",
                    format!(
                        "Tickets are in {}; keep these statuses (or move the tickets first)",
                        lost.join(", ")
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &WorkflowDraft, at: i64) -> Result<i64, AppError> {
        let mut args = stored_lines(d);
        args.push(at.into());
        tx.fetch_i64(
            "INSERT INTO workflows (name, statuses, start_status, closed_statuses, transitions, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            args,
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &WorkflowDraft, at: i64) -> Result<(), AppError> {
        let w = &d.workflow;
        let mut args = stored_lines(d);
        args.extend(args![at, id]);
        tx.execute(
            "UPDATE workflows SET name = $1, statuses = $2, start_status = $3, closed_statuses = $4,
                 transitions = $5, updated_at = $6 WHERE id = $7",
            args,
        )
        .await?;
        reclassify(
            tx,
            w,
            "ticket_type_id IN (SELECT id FROM ticket_types WHERE workflow_id = $4)",
            id,
            at,
        )
        .await
    }
}

/// A workflow's name and lines as stored: `$1` to `$5` of its INSERT and UPDATE.
fn stored_lines(d: &WorkflowDraft) -> Vec<crate::kernel::db::Arg> {
    let w = &d.workflow;
    let transitions: Vec<String> = w.transitions.iter().map(|t| t.text()).collect();
    args![
        d.name.as_str(),
        to_text_array(&w.statuses),
        w.start_status.clone(),
        to_text_array(&w.closed_statuses),
        to_text_array(&transitions)
    ]
}

/// Statuses that active tickets matching `tickets_of` (a condition on `$1`) are in but
/// `statuses` lacks.
async fn stranded(
    tx: &mut Tx,
    tickets_of: &str,
    owner: i64,
    statuses: &[String],
) -> Result<Vec<String>, AppError> {
    Ok(tx
        .fetch_all::<(String,)>(
            &format!(
                "SELECT DISTINCT status FROM tickets WHERE archived_at IS NULL AND {tickets_of}"
            ),
            args![owner],
        )
        .await?
        .into_iter()
        .map(|(s,)| s)
        .filter(|s| !statuses.contains(s))
        .collect())
}

/// Open or closed follows the workflow's closed statuses: after a workflow changes, or a
/// ticket type follows another one, its tickets are set open or closed (with `closed_at`) by
/// their status. `tickets_of` is a condition on `$4`.
async fn reclassify(
    tx: &mut Tx,
    workflow: &Workflow,
    tickets_of: &str,
    owner: i64,
    at: i64,
) -> Result<(), AppError> {
    for status in &workflow.statuses {
        tx.execute(
            &format!(
                "UPDATE tickets SET is_closed = $1,
                     closed_at = CASE WHEN $1 THEN COALESCE(closed_at, $3) ELSE NULL END
                 WHERE status = $2 AND is_closed <> $1 AND {tickets_of}"
            ),
            args![workflow.is_closed(status), status.clone(), at, owner],
        )
        .await?;
    }
    Ok(())
}

// ---- checklist templates ----

/// *Setup → Tickets → Checklist Templates*.
pub struct ChecklistTemplates;

impl ObjectType for ChecklistTemplates {
    const PATH: &'static str = "checklist-templates";
    const TABLE: &'static str = "checklist_templates";
    const SINGULAR: &'static str = "Checklist template";
}

#[derive(Debug, sqlx::FromRow)]
pub struct ChecklistTemplateRow {
    pub id: i64,
    pub name: String,
    pub items: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(ChecklistTemplateRow);

impl Resource for ChecklistTemplates {
    const PLURAL: &'static str = "Checklist Templates";
    const NAV: &'static str = "checklist-templates";
    const FROM: &'static str = "checklist_templates t";
    const SELECT: &'static str = "t.id, t.name, t.items, t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str = "LOWER(t.name) LIKE $1 ESCAPE '\\'";
    const DEFAULT_SORT: &'static str = "name";
    const ADMIN_WRITES: bool = true;
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "name",
            label: "Name",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "items",
            label: "Items",
            kind: FieldKind::Lines {
                max_items: MAX_ITEMS,
            },
            required: true,
            help: "One per line.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("LOWER(t.name)"),
        },
        Column {
            label: "Items",
            key: "item_count",
            sort: None,
        },
    ];

    type Row = ChecklistTemplateRow;
    type Draft = ChecklistTemplateDraft;

    fn parse(input: &Map<String, Value>) -> Result<ChecklistTemplateDraft, FieldErrors> {
        ChecklistTemplateDraft::parse(input)
    }

    fn to_json(row: &ChecklistTemplateRow) -> Map<String, Value> {
        let items = text_array(&row.items);
        into_map(json!({"name": row.name, "item_count": items.len(), "items": items}))
    }

    async fn check(
        _tx: &mut Tx,
        _id: Option<i64>,
        _d: &ChecklistTemplateDraft,
    ) -> Result<(), AppError> {
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &ChecklistTemplateDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO checklist_templates (name, items, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
            args![d.name.as_str(), to_text_array(&d.items), at],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(
        tx: &mut Tx,
        id: i64,
        d: &ChecklistTemplateDraft,
        at: i64,
    ) -> Result<(), AppError> {
        tx.execute(
            "UPDATE checklist_templates SET name = $1, items = $2, updated_at = $3 WHERE id = $4",
            args![d.name.as_str(), to_text_array(&d.items), at, id],
        )
        .await?;
        Ok(())
    }
}

// ---- ticket types ----

/// *Setup → Tickets → Ticket Types*.
pub struct TicketTypes;

impl ObjectType for TicketTypes {
    const PATH: &'static str = "ticket-types";
    const TABLE: &'static str = "ticket_types";
    const SINGULAR: &'static str = "Ticket type";
}

#[derive(Debug, sqlx::FromRow)]
pub struct TicketTypeRow {
    pub id: i64,
    pub name: String,
    pub default_priority: String,
    pub workflow_id: i64,
    pub workflow_name: String,
    pub default_checklist_template_ids: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(TicketTypeRow);

impl TicketTypeRow {
    pub fn template_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.default_checklist_template_ids).unwrap_or_default()
    }
}

impl Resource for TicketTypes {
    const PLURAL: &'static str = "Ticket Types";
    const NAV: &'static str = "ticket-types";
    const FROM: &'static str = "ticket_types t JOIN workflows w ON w.id = t.workflow_id";
    const SELECT: &'static str = "t.id, t.name, t.default_priority, t.workflow_id,
        w.name AS workflow_name, t.default_checklist_template_ids,
        t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str = "LOWER(t.name) LIKE $1 ESCAPE '\\'";
    const DEFAULT_SORT: &'static str = "name";
    const ADMIN_WRITES: bool = true;
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "name",
            label: "Name",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "default_priority",
            label: "Default priority",
            kind: FieldKind::Choice(PRIORITIES),
            required: true,
            help: "",
        },
        FieldSpec {
            name: "workflow_id",
            label: "Workflow",
            kind: FieldKind::Ref(RefSpec {
                path: "workflows",
                table: "workflows",
                name_key: "workflow_name",
                scope: None,
            }),
            required: true,
            help: "The statuses and transitions its tickets follow.",
        },
        FieldSpec {
            name: "default_checklist_template_ids",
            label: "Default checklists",
            kind: FieldKind::RefList(RefSpec {
                path: "checklist-templates",
                table: "checklist_templates",
                name_key: "default_checklist_template_names",
                scope: None,
            }),
            required: false,
            help: "Added to every new ticket of this type. Hold Ctrl (⌘ on a Mac) to choose several.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("LOWER(t.name)"),
        },
        Column {
            label: "Default priority",
            key: "default_priority",
            sort: None,
        },
        Column {
            label: "Workflow",
            key: "workflow_name",
            sort: None,
        },
    ];

    type Row = TicketTypeRow;
    type Draft = TicketTypeDraft;

    fn parse(input: &Map<String, Value>) -> Result<TicketTypeDraft, FieldErrors> {
        TicketTypeDraft::parse(input)
    }

    fn to_json(row: &TicketTypeRow) -> Map<String, Value> {
        into_map(json!({
            "name": row.name,
            "default_priority": Priority::parse(&row.default_priority).unwrap_or(Priority::Medium).code(),
            "workflow_id": row.workflow_id,
            "workflow_name": row.workflow_name,
            "default_checklist_template_ids": row.template_ids(),
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, d: &TicketTypeDraft) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        if let Some(id) = id {
            // Its tickets must find their statuses in the workflow it now follows.
            if let Some(workflow) = fetch_in::<Workflows>(tx, d.workflow_id).await? {
                let statuses = workflow.workflow()?.statuses;
                let lost = stranded(tx, "ticket_type_id = $1", id, &statuses).await?;
                if !lost.is_empty() {
                    errors.add(
                        "workflow_id",
                        format!(
                            "Tickets of this type are in {}, which that workflow does not have",
                            lost.join(", ")
                        ),
                    );
                }
            }
        }
        check_ref(
            tx,
            &mut errors,
            "workflow_id",
            "workflows",
            Some(d.workflow_id),
            "workflow",
        )
        .await?;
        for id in &d.default_checklist_template_ids {
            check_ref(
                tx,
                &mut errors,
                "default_checklist_template_ids",
                "checklist_templates",
                Some(*id),
                "checklist template",
            )
            .await?;
        }
        errors.into_result(())?;
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &TicketTypeDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO ticket_types (name, default_priority, workflow_id, default_checklist_template_ids, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            args![
                d.name.as_str(),
                d.default_priority.code(),
                d.workflow_id,
                Value::from(d.default_checklist_template_ids.clone()).to_string(),
                at
            ],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &TicketTypeDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE ticket_types SET name = $1, default_priority = $2, workflow_id = $3,
                 default_checklist_template_ids = $4, updated_at = $5 WHERE id = $6",
            args![
                d.name.as_str(),
                d.default_priority.code(),
                d.workflow_id,
                Value::from(d.default_checklist_template_ids.clone()).to_string(),
                at,
                id
            ],
        )
        .await?;
        let workflow = fetch_in::<Workflows>(tx, d.workflow_id)
            .await?
            .ok_or(AppError::NotFound)?
            .workflow()?;
        reclassify(tx, &workflow, "ticket_type_id = $4", id, at).await
    }
}
