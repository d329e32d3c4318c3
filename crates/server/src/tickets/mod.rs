//! The service desk (SPEC C6, F3): tickets with types, workflows, SLA due times and
//! checklists. Setup objects are in `setup`, checklists in `checklists`, the SLA clock and
//! breach scan in `sla`, pages and API beyond the generic ones in `web`.
//!
//! Pure rules (workflow gating, SLA arithmetic, drafts) live in the domain crate:
//! `accord_domain::{tickets, workflow, sla}`.

pub mod checklists;
pub mod replies;
pub mod setup;
pub mod sla;
mod web;

pub use web::routes;

use crate::args;
use crate::kernel::auth::Staff;
use crate::kernel::db::{Db, Tx};
use crate::kernel::error::AppError;
use crate::kernel::resource::{
    Column, FieldKind, FieldSpec, Filter, FilterKind, ObjectType, RefSpec, Resource, WriteContext,
    check_ref,
};
use crate::kernel::web::{AppState, api_time, api_time_opt, into_map, show_time};
use crate::notifications;
use accord_domain::FieldErrors;
use accord_domain::tickets::{MAX_DETAILS_CHARS, PRIORITIES, Priority, TicketDraft, progress};
use accord_domain::workflow::{MoveRefused, TicketFacts, Workflow};
use serde_json::{Map, Value, json};
use setup::{TicketTypeRow, TicketTypes, WorkflowRow, Workflows};

/// The ticket object type.
pub struct Tickets;

impl ObjectType for Tickets {
    const PATH: &'static str = "tickets";
    const TABLE: &'static str = "tickets";
    const SINGULAR: &'static str = "Ticket";
}

#[derive(Debug, sqlx::FromRow)]
pub struct TicketRow {
    pub id: i64,
    /// The summary (named `name` for the generic object machinery).
    pub name: String,
    pub details: Option<String>,
    pub customer_id: i64,
    pub customer_name: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub ticket_type_id: i64,
    pub ticket_type_name: String,
    pub workflow_id: i64,
    pub priority: String,
    pub status: String,
    pub is_closed: bool,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub responded_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub response_due_at: i64,
    pub resolution_due_at: i64,
    pub breached: bool,
    pub breached_at: Option<i64>,
    pub checklist_items: i64,
    pub checklist_items_done: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(TicketRow);

impl Resource for Tickets {
    const PLURAL: &'static str = "Tickets";
    const NAV: &'static str = "tickets";
    const FROM: &'static str = "tickets t
        JOIN customers c ON c.id = t.customer_id
        LEFT JOIN contacts p ON p.id = t.contact_id
        JOIN ticket_types y ON y.id = t.ticket_type_id
        LEFT JOIN employees e ON e.id = t.assignee_id";
    const SELECT: &'static str = "t.id, t.summary AS name, t.details, t.customer_id,
        c.name AS customer_name, t.contact_id, p.name AS contact_name, t.ticket_type_id,
        y.name AS ticket_type_name, y.workflow_id, t.priority, t.status, t.is_closed,
        t.assignee_id, e.name AS assignee_name, t.responded_at, t.closed_at,
        t.response_due_at, t.resolution_due_at, t.breached, t.breached_at,
        t.checklist_items, t.checklist_items_done, t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str = "(t.summary_lower LIKE $1 ESCAPE '\\' OR lower(coalesce(t.details, '')) LIKE $1 ESCAPE '\\')";
    const SQLITE_SEARCH: Option<&'static str> =
        Some("t.id IN (SELECT rowid FROM tickets_search WHERE tickets_search MATCH $1)");
    const DEFAULT_SORT: &'static str = "-number";
    const COUNT_LIMIT: Option<i64> = Some(1_000);
    const FILTERS: &'static [Filter] = &[
        Filter {
            param: "status",
            column: "t.status",
            kind: FilterKind::Text,
        },
        Filter {
            param: "customer_id",
            column: "t.customer_id",
            kind: FilterKind::Id,
        },
        Filter {
            param: "assignee_id",
            column: "t.assignee_id",
            kind: FilterKind::Id,
        },
        Filter {
            param: "breached",
            column: "t.breached",
            kind: FilterKind::Bool,
        },
    ];
    const VIEWS: &'static [(&'static str, &'static str, &'static str)] = &[
        (
            "mine",
            "Mine",
            "t.assignee_id = $viewer AND NOT t.is_closed",
        ),
        (
            "unassigned",
            "Unassigned",
            "t.assignee_id IS NULL AND NOT t.is_closed",
        ),
        ("open", "Open", "NOT t.is_closed"),
        ("breached", "Breached", "t.breached AND NOT t.is_closed"),
    ];
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "summary",
            label: "Summary",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "details",
            label: "Details",
            kind: FieldKind::LongText {
                max_chars: MAX_DETAILS_CHARS,
            },
            required: false,
            help: "",
        },
        FieldSpec {
            name: "customer_id",
            label: "Customer",
            kind: FieldKind::Ref(RefSpec {
                path: "customers",
                table: "customers",
                name_key: "customer_name",
                scope: None,
            }),
            required: true,
            help: "",
        },
        FieldSpec {
            name: "contact_id",
            label: "Contact",
            kind: FieldKind::Ref(RefSpec {
                path: "contacts",
                table: "contacts",
                name_key: "contact_name",
                scope: None,
            }),
            required: false,
            help: "Someone at the customer.",
        },
        FieldSpec {
            name: "ticket_type_id",
            label: "Ticket type",
            kind: FieldKind::Ref(RefSpec {
                path: "ticket-types",
                table: "ticket_types",
                name_key: "ticket_type_name",
                scope: None,
            }),
            required: true,
            help: "Sets the workflow and the default checklists.",
        },
        FieldSpec {
            name: "priority",
            label: "Priority",
            kind: FieldKind::Choice(PRIORITIES),
            required: false,
            help: "Empty: the ticket type's default. Sets the SLA due times.",
        },
        FieldSpec {
            name: "assignee_id",
            label: "Assignee",
            kind: FieldKind::Ref(RefSpec {
                path: "employees",
                table: "employees",
                name_key: "assignee_name",
                scope: None,
            }),
            required: false,
            help: "",
        },
        FieldSpec {
            name: "status",
            label: "Status",
            kind: FieldKind::ApiOnly,
            required: false,
            help: "Moves through the ticket type's workflow.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Summary",
            key: "summary",
            sort: Some("t.summary_lower"),
        },
        Column {
            label: "No.",
            key: "number",
            sort: Some("t.id"),
        },
        Column {
            label: "Customer",
            key: "customer_name",
            sort: None,
        },
        Column {
            label: "Status",
            key: "status",
            sort: Some("t.status"),
        },
        Column {
            label: "Priority",
            key: "priority",
            sort: None,
        },
        Column {
            label: "Assignee",
            key: "assignee_name",
            sort: None,
        },
        Column {
            label: "Checklists",
            key: "checklist_progress",
            sort: None,
        },
        Column {
            label: "Resolution due",
            key: "resolution_due",
            sort: Some("t.resolution_due_at"),
        },
        Column {
            label: "SLA",
            key: "sla",
            sort: None,
        },
    ];

    type Row = TicketRow;
    type Draft = TicketDraft;

    fn parse(input: &Map<String, Value>) -> Result<TicketDraft, FieldErrors> {
        TicketDraft::parse(input)
    }

    fn to_json(row: &TicketRow) -> Map<String, Value> {
        into_map(json!({
            "summary": row.name,
            "number": format!("#{}", row.id),
            "details": row.details,
            "customer_id": row.customer_id,
            "customer_name": row.customer_name,
            "contact_id": row.contact_id,
            "contact_name": row.contact_name,
            "ticket_type_id": row.ticket_type_id,
            "ticket_type_name": row.ticket_type_name,
            "priority": row.priority,
            "status": row.status,
            "is_closed": row.is_closed,
            "assignee_id": row.assignee_id,
            "assignee_name": row.assignee_name,
            "responded_at": api_time_opt(row.responded_at),
            "closed_at": api_time_opt(row.closed_at),
            "response_due_at": api_time(row.response_due_at),
            "resolution_due_at": api_time(row.resolution_due_at),
            "resolution_due": show_time(row.resolution_due_at),
            "breached": row.breached,
            "breached_at": api_time_opt(row.breached_at),
            "sla": sla_label(row),
            "checklist_items": row.checklist_items,
            "checklist_items_done": row.checklist_items_done,
            "checklist_progress": progress(row.checklist_items_done, row.checklist_items),
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, d: &TicketDraft) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        // On a change only references that change are checked: a ticket whose contact,
        // assignee, customer or type was archived since can still move on and be closed.
        #[derive(sqlx::FromRow, Default)]
        struct Refs {
            customer_id: i64,
            contact_id: Option<i64>,
            assignee_id: Option<i64>,
            ticket_type_id: i64,
        }
        let stored = match id {
            Some(id) => tx
                .fetch_optional::<Refs>(
                    "SELECT customer_id, contact_id, assignee_id, ticket_type_id FROM tickets WHERE id = $1",
                    args![id],
                )
                .await?,
            None => None,
        };
        let changed = |same: bool| stored.is_none() || !same;
        let kept = stored.as_ref();
        if changed(kept.is_some_and(|r| r.customer_id == d.customer_id)) {
            check_ref(
                tx,
                &mut errors,
                "customer_id",
                "customers",
                Some(d.customer_id),
                "customer",
            )
            .await?;
        }
        if changed(kept.is_some_and(|r| r.assignee_id == d.assignee_id)) {
            check_ref(
                tx,
                &mut errors,
                "assignee_id",
                "employees",
                d.assignee_id,
                "employee",
            )
            .await?;
        }
        if changed(kept.is_some_and(|r| r.ticket_type_id == d.ticket_type_id)) {
            check_ref(
                tx,
                &mut errors,
                "ticket_type_id",
                "ticket_types",
                Some(d.ticket_type_id),
                "ticket type",
            )
            .await?;
        }
        if let Some(contact) = d.contact_id
            && changed(
                kept.is_some_and(|r| {
                    r.contact_id == d.contact_id && r.customer_id == d.customer_id
                }),
            )
        {
            let of_customer = tx
                .fetch_i64(
                    "SELECT customer_id FROM contacts WHERE id = $1 AND archived_at IS NULL",
                    args![contact],
                )
                .await?;
            match of_customer {
                None => errors.add(
                    "contact_id",
                    format!("There is no contact with id {contact}"),
                ),
                Some(c) if c != d.customer_id => {
                    errors.add("contact_id", "That contact works for another customer")
                }
                Some(_) => {}
            }
        }
        let Some(workflow) = workflow_of_type(tx, d.ticket_type_id).await? else {
            errors.add(
                "ticket_type_id",
                format!("There is no ticket type with id {}", d.ticket_type_id),
            );
            return Err(errors.into());
        };
        errors.into_result(())?;
        match id {
            None => {
                if let Some(status) = &d.status
                    && *status != workflow.start_status
                {
                    return Err(FieldErrors::single(
                        "status",
                        format!("A new ticket starts in “{}”", workflow.start_status),
                    )
                    .into());
                }
            }
            Some(id) => {
                let current = tx
                    .fetch_one::<(String,)>("SELECT status FROM tickets WHERE id = $1", args![id])
                    .await?
                    .0;
                let target = d.status.clone().unwrap_or_else(|| current.clone());
                if !workflow.statuses.contains(&current) {
                    return Err(FieldErrors::single(
                        "ticket_type_id",
                        format!("That type's workflow has no status “{current}”, which this ticket is in"),
                    )
                    .into());
                }
                let facts = TicketFacts {
                    open_checklist_items: checklists::open_items(tx, id).await?,
                    has_assignee: d.assignee_id.is_some(),
                };
                workflow
                    .check_move(&current, &target, &facts)
                    .map_err(|refused| move_refused(&refused, &target))?;
            }
        }
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &TicketDraft, at: i64) -> Result<i64, AppError> {
        let ticket_type = ticket_type(tx, d.ticket_type_id).await?;
        let workflow = workflow_of_type(tx, d.ticket_type_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let priority = d.priority.unwrap_or_else(|| {
            Priority::parse(&ticket_type.default_priority).unwrap_or(Priority::Medium)
        });
        let due = sla::due_times(tx, at, priority).await?;
        let id = tx
            .fetch_i64(
                "INSERT INTO tickets (summary, summary_lower, details, customer_id, contact_id, ticket_type_id,
                     priority, status, is_closed, assignee_id, response_due_at, resolution_due_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
                args![
                    d.summary.as_str(),
                    d.summary.as_str().to_lowercase(),
                    d.details.clone(),
                    d.customer_id,
                    d.contact_id,
                    d.ticket_type_id,
                    priority.code(),
                    workflow.start_status.clone(),
                    workflow.is_closed(&workflow.start_status),
                    d.assignee_id,
                    due.response_due_at,
                    due.resolution_due_at,
                    at
                ],
            )
            .await?
            .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
        for template in ticket_type.template_ids() {
            checklists::add_from_template(tx, id, template).await?;
        }
        Ok(id)
    }

    async fn update(tx: &mut Tx, id: i64, d: &TicketDraft, at: i64) -> Result<(), AppError> {
        #[derive(sqlx::FromRow)]
        struct Current {
            priority: String,
            status: String,
            created_at: i64,
            responded_at: Option<i64>,
            closed_at: Option<i64>,
            response_due_at: i64,
            resolution_due_at: i64,
            breached: bool,
            breached_at: Option<i64>,
        }
        let current = tx
            .fetch_one::<Current>(
                "SELECT priority, status, created_at, responded_at, closed_at, response_due_at,
                     resolution_due_at, breached, breached_at
                 FROM tickets WHERE id = $1",
                args![id],
            )
            .await?;
        let workflow = workflow_of_type(tx, d.ticket_type_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let priority = d
            .priority
            .map_or(current.priority.clone(), |p| p.code().to_owned());
        let status = d.status.clone().unwrap_or(current.status.clone());
        // A new priority's targets count from the opening (accord_domain::sla::due_times).
        let (response_due, resolution_due) = if priority == current.priority {
            (current.response_due_at, current.resolution_due_at)
        } else {
            let p = Priority::parse(&priority).unwrap_or(Priority::Medium);
            let due = sla::due_times(tx, current.created_at, p).await?;
            (due.response_due_at, due.resolution_due_at)
        };
        // The first move away from the start status is the first response.
        let responded_at = current
            .responded_at
            .or((status != workflow.start_status).then_some(at));
        let closed = workflow.is_closed(&status);
        let closed_at = closed.then(|| current.closed_at.unwrap_or(at));
        // Breached or not follows from the times, so a late response or a late close counts
        // even if no scan saw it, and new due times (a priority change) are judged afresh.
        let due = accord_domain::sla::DueTimes {
            response_due_at: response_due,
            resolution_due_at: resolution_due,
        };
        let breached = accord_domain::sla::is_breached(due, responded_at, closed_at, at);
        let breached_at = match (breached, current.breached) {
            (false, _) => None,
            (true, true) => current.breached_at,
            (true, false) => Some(at),
        };
        tx.execute(
            "UPDATE tickets SET summary = $1, summary_lower = $2, details = $3, customer_id = $4,
                 contact_id = $5, ticket_type_id = $6, priority = $7, status = $8, is_closed = $9,
                 assignee_id = $10, responded_at = $11, closed_at = $16,
                 response_due_at = $13, resolution_due_at = $14,
                 breached = $17, breached_at = $18, updated_at = $12
             WHERE id = $15",
            args![
                d.summary.as_str(),
                d.summary.as_str().to_lowercase(),
                d.details.clone(),
                d.customer_id,
                d.contact_id,
                d.ticket_type_id,
                priority,
                status,
                closed,
                d.assignee_id,
                responded_at,
                at,
                response_due,
                resolution_due,
                id,
                closed_at,
                breached,
                breached_at
            ],
        )
        .await?;
        Ok(())
    }

    /// Tells a newly chosen assignee (unless they chose themselves).
    async fn after_write(
        tx: &mut Tx,
        ctx: &mut WriteContext<'_>,
        id: i64,
        before: Option<&Map<String, Value>>,
        after: &Map<String, Value>,
    ) -> Result<Option<String>, AppError> {
        let assignee = after.get("assignee_id").and_then(Value::as_i64);
        let was = before
            .and_then(|b| b.get("assignee_id"))
            .and_then(Value::as_i64);
        if let Some(assignee) = assignee
            && Some(assignee) != was
            && ctx.actor.map(|a| a.id) != Some(assignee)
        {
            let summary = after.get("summary").and_then(Value::as_str).unwrap_or("");
            let event = notifications::Event {
                kind: "ticket_assigned",
                object_type: Self::PATH,
                object_label: "ticket",
                object_id: id,
                object_name: summary,
                actor_name: ctx.actor.map_or("Accord", |a| a.name.as_str()),
                text: "",
            };
            let notified =
                notifications::notify(tx, &ctx.config.public_url, &event, &[assignee]).await?;
            ctx.announce.extend(notified);
        }
        Ok(None)
    }

    fn bulk_controls(
        state: &AppState,
    ) -> impl std::future::Future<Output = Result<String, AppError>> + Send {
        web::bulk_controls(state)
    }

    async fn detail_sections(
        state: &AppState,
        id: i64,
        viewer: &Staff,
    ) -> Result<Vec<String>, AppError> {
        web::detail_sections(state, id, viewer).await
    }
}

/// "Breached", "Due" or "" (closed) for lists.
fn sla_label(row: &TicketRow) -> &'static str {
    match (row.is_closed, row.breached) {
        (_, true) => "Breached",
        (true, false) => "",
        (false, false) => "On time",
    }
}

/// A refused move as an error: an unknown status is a bad value (422); a move the workflow
/// or its rules do not allow conflicts with the ticket's state (409), naming why.
pub fn move_refused(refused: &MoveRefused, to: &str) -> AppError {
    match refused {
        MoveRefused::UnknownStatus { .. } => {
            FieldErrors::single("status", refused.message(to)).into()
        }
        _ => AppError::Conflict(format!("{}.", refused.message(to))),
    }
}

async fn ticket_type(tx: &mut Tx, id: i64) -> Result<TicketTypeRow, AppError> {
    crate::kernel::resource::fetch_in::<TicketTypes>(tx, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The workflow a ticket type follows (archived types too: their tickets still move), parsed.
pub async fn workflow_of_type(
    tx: &mut Tx,
    ticket_type_id: i64,
) -> Result<Option<Workflow>, AppError> {
    let row = tx
        .fetch_optional::<WorkflowRow>(
            &format!(
                "SELECT {} FROM {} WHERE t.id = (SELECT workflow_id FROM ticket_types WHERE id = $1)",
                Workflows::SELECT,
                Workflows::FROM
            ),
            args![ticket_type_id],
        )
        .await?;
    row.map(|r| r.workflow()).transpose()
}

/// One ticket with everything its page shows.
pub async fn fetch(db: &Db, id: i64) -> Result<Option<TicketRow>, AppError> {
    crate::kernel::resource::fetch::<Tickets>(db, id).await
}
