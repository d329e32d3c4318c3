//! Ticket pages and API beyond the generic ones: the status control (with the reasons a move
//! is refused), checklists, and bulk assign / status change on the list.

use super::checklists::{self, ItemChange};
use super::replies::{self, ReplyAuthor};
use super::{Tickets, fetch, workflow_of_type};
use crate::args;
use crate::kernel::auth::{ApiStaff, Staff};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::pages::PageId;
use crate::kernel::resource::{self, ObjectType};
use crate::kernel::web::{
    AppState, FormPairs, JsonObject, flash_notice, only_text_field, render, show_time,
};
use accord_domain::tickets::{NewChecklist, Priority};
use accord_domain::workflow::{MoveRefused, TicketFacts};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tickets/{id}/status", post(status_submit))
        .route("/tickets/{id}/replies", post(reply_submit))
        .route(
            "/api/v1/tickets/{id}/replies",
            get(replies_api).post(add_reply_api),
        )
        .route("/tickets/{id}/checklists", post(add_checklist_submit))
        .route(
            "/tickets/{id}/checklists/{cid}/items",
            post(add_item_submit),
        )
        .route(
            "/tickets/{id}/checklists/{cid}/items/{iid}/{change}",
            post(item_submit),
        )
        .route("/tickets/bulk/assign", post(bulk_assign_submit))
        .route("/tickets/bulk/status", post(bulk_status_submit))
        .route(
            "/api/v1/tickets/{id}/checklists",
            get(checklists_api).post(add_checklist_api),
        )
        .route("/api/v1/tickets/{id}/checklists/{cid}", get(checklist_api))
        .route(
            "/api/v1/tickets/{id}/checklists/{cid}/items",
            post(add_item_api),
        )
        .route(
            "/api/v1/tickets/{id}/checklists/{cid}/items/{iid}",
            patch(item_api).delete(remove_item_api),
        )
}

/// Path ids beyond `{id}`: positive numbers, else "not found".
fn path_id(path: &HashMap<String, String>, key: &str) -> Result<i64, AppError> {
    path.get(key)
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .ok_or(AppError::NotFound)
}

// ---- the detail page ----

/// A status the ticket could move to, and why it cannot yet (if so).
struct Move {
    to: String,
    blocked: Option<String>,
}

#[derive(Template)]
#[template(path = "tickets/templates/sections.html")]
struct Sections {
    id: i64,
    csrf: String,
    status: String,
    closed: bool,
    moves: Vec<Move>,
    priority: &'static str,
    response_due: String,
    resolution_due: String,
    responded: String,
    breached: bool,
    progress: String,
    checklists: Vec<checklists::Checklist>,
    templates: Vec<(i64, String)>,
    replies: Vec<replies::Reply>,
}

/// The status control, SLA facts and checklists of a ticket's page.
pub async fn detail_sections(
    state: &AppState,
    id: i64,
    viewer: &Staff,
) -> Result<Vec<String>, AppError> {
    let Some(ticket) = fetch(&state.db, id).await? else {
        return Ok(Vec::new());
    };
    let mut tx = state.db.begin().await?;
    let workflow = workflow_of_type(&mut tx, ticket.ticket_type_id).await?;
    let facts = TicketFacts {
        open_checklist_items: checklists::open_items(&mut tx, id).await?,
        has_assignee: ticket.assignee_id.is_some(),
    };
    tx.commit().await?;
    let moves = workflow
        .as_ref()
        .map(|w| {
            w.moves_from(&ticket.status)
                .map(|t| Move {
                    to: t.to.clone(),
                    blocked: w
                        .check_move(&ticket.status, &t.to, &facts)
                        .err()
                        .map(|r| match r {
                            MoveRefused::RulesUnmet { reasons } => reasons.join("; "),
                            other => other.message(&t.to),
                        }),
                })
                .collect()
        })
        .unwrap_or_default();
    let templates = state
        .db
        .fetch_all::<(i64, String)>(
            "SELECT id, name FROM checklist_templates WHERE archived_at IS NULL ORDER BY name LIMIT 500",
            vec![],
        )
        .await?;
    let lists = checklists::of_ticket(&state.db, id).await?;
    Ok(vec![render(&Sections {
        id,
        csrf: viewer.csrf.clone(),
        closed: ticket.is_closed,
        moves,
        priority: Priority::parse(&ticket.priority).map_or("", Priority::label),
        response_due: show_time(ticket.response_due_at),
        resolution_due: show_time(ticket.resolution_due_at),
        responded: ticket.responded_at.map(show_time).unwrap_or_default(),
        breached: ticket.breached,
        progress: accord_domain::tickets::progress(
            ticket.checklist_items_done,
            ticket.checklist_items,
        ),
        status: ticket.status,
        checklists: lists,
        templates,
        replies: replies::of_ticket(&state.db, id).await?,
    })])
}

fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/tickets/{id}")).into_response()
}

/// Status changes go through the generic update, so rules, audit and SLA are the API's.
async fn status_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    let status = form.get("status").unwrap_or("").trim().to_owned();
    let mut patch = Map::new();
    patch.insert("status".into(), Value::String(status.clone()));
    let message = match resource::update::<Tickets>(&state, Some(&staff.user), id, &patch).await {
        Ok(_) => {
            // A status change can mark the agent's own notifications on it read.
            crate::notifications::mark_object_read(
                &state.db,
                staff.user.id,
                Tickets::PATH,
                id,
                Some("status_changed"),
            )
            .await?;
            format!("Status changed to “{status}”.")
        }
        Err(AppError::Conflict(reason)) => reason,
        Err(AppError::Validation(errors)) => errors.to_string(),
        Err(e) => return Err(e.into()),
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(back_to(id))
}

async fn add_checklist_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    // The drop-down picks a template; otherwise a name and items (one per line) make one.
    let mut input = Map::new();
    match form.get("template_id").filter(|t| !t.is_empty()) {
        Some(t) => {
            input.insert(
                "template_id".into(),
                t.parse::<i64>()
                    .map_or(Value::String(t.into()), Value::from),
            );
        }
        None => {
            input.insert(
                "name".into(),
                Value::String(form.get("name").unwrap_or("").into()),
            );
            let items: Vec<Value> = form
                .get("items")
                .unwrap_or("")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.into()))
                .collect();
            input.insert("items".into(), Value::Array(items));
        }
    }
    let message = match NewChecklist::parse(&input) {
        Ok(new) => match checklists::add(&state, &staff.user, id, &new).await {
            Ok(_) => "Checklist added.".to_owned(),
            Err(AppError::Validation(e)) => format!("The checklist was not added: {e}"),
            Err(e) => return Err(e.into()),
        },
        Err(e) => format!("The checklist was not added: {e}"),
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(back_to(id))
}

async fn add_item_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    Path(path): Path<HashMap<String, String>>,
    form: FormPairs,
) -> PageResult {
    let cid = path_id(&path, "cid")?;
    match checklists::add_item(&state, &staff.user, id, cid, form.get("text").unwrap_or("")).await {
        Ok(_) => {}
        Err(AppError::Validation(e)) => {
            flash_notice(
                &state.db,
                &staff.session_hash,
                format!("The item was not added: {e}"),
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    }
    Ok(back_to(id))
}

async fn item_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    Path(path): Path<HashMap<String, String>>,
    form: FormPairs,
) -> PageResult {
    let cid = path_id(&path, "cid")?;
    let iid = path_id(&path, "iid")?;
    let change = match path.get("change").map(String::as_str) {
        Some("tick") => ItemChange::Done(true),
        Some("untick") => ItemChange::Done(false),
        Some("up") => ItemChange::Move(-1),
        Some("down") => ItemChange::Move(1),
        Some("remove") => ItemChange::Remove,
        Some("edit") => match accord_domain::tickets::parse_item(form.get("text").unwrap_or("")) {
            Ok(text) => ItemChange::Text(text),
            Err(e) => {
                flash_notice(
                    &state.db,
                    &staff.session_hash,
                    format!("The item was not changed: its text {e}."),
                )
                .await?;
                return Ok(back_to(id));
            }
        },
        _ => return Err(AppError::NotFound.into()),
    };
    checklists::change_item(&state, &staff.user, id, cid, iid, &[change]).await?;
    Ok(back_to(id))
}

async fn reply_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    let author = ReplyAuthor::Employee {
        id: staff.user.id,
        name: &staff.user.name,
    };
    match replies::add(&state, id, author, form.get("body").unwrap_or("")).await {
        Ok(_) => {
            flash_notice(
                &state.db,
                &staff.session_hash,
                "Reply sent to the customer.",
            )
            .await?
        }
        Err(AppError::Validation(e)) => {
            flash_notice(
                &state.db,
                &staff.session_hash,
                format!("The reply was not sent: {e}"),
            )
            .await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(back_to(id))
}

// ---- bulk actions on the list ----

#[derive(Template)]
#[template(path = "tickets/templates/bulk.html")]
struct BulkControls {
    employees: Vec<(i64, String)>,
    statuses: Vec<String>,
}

/// The assignee and status pickers of the ticket list's bulk bar.
pub async fn bulk_controls(state: &AppState) -> Result<String, AppError> {
    let employees = state
        .db
        .fetch_all::<(i64, String)>(
            "SELECT id, name FROM employees WHERE archived_at IS NULL ORDER BY name LIMIT 500",
            vec![],
        )
        .await?;
    // Every status of every workflow; each ticket is then checked against its own.
    let mut statuses: Vec<String> = Vec::new();
    for (lines,) in state
        .db
        .fetch_all::<(String,)>(
            "SELECT statuses FROM workflows WHERE archived_at IS NULL",
            vec![],
        )
        .await?
    {
        for s in super::setup::text_array(&lines) {
            if !statuses.contains(&s) {
                statuses.push(s);
            }
        }
    }
    Ok(render(&BulkControls {
        employees,
        statuses,
    }))
}

fn ticked(form: &FormPairs) -> Result<Vec<i64>, AppError> {
    form.all("ids")
        .into_iter()
        .map(|id| id.parse::<i64>().ok().filter(|id| *id > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| AppError::BadRequest("The ticked rows are not tickets.".into()))
}

/// Applies one patch to each ticked ticket through the generic update; each ticket is its own
/// transaction, so a refusal (a workflow rule) leaves the others changed and is reported.
async fn bulk(
    state: &AppState,
    staff: &Staff,
    form: &FormPairs,
    patch: Map<String, Value>,
    what: &str,
) -> PageResult {
    let ids = ticked(form)?;
    let message = if ids.is_empty() {
        "Tick one or more tickets first.".to_owned()
    } else {
        let mut refused = Vec::new();
        for id in &ids {
            match resource::update::<Tickets>(state, Some(&staff.user), *id, &patch).await {
                Ok(_) => {}
                Err(AppError::Conflict(reason)) => refused.push(format!("#{id}: {reason}")),
                Err(AppError::Validation(e)) => refused.push(format!("#{id}: {e}")),
                Err(e) => return Err(e.into()),
            }
        }
        let done = ids.len() - refused.len();
        if refused.is_empty() {
            format!("{what}: changed {done} of {done} ticked tickets.")
        } else {
            format!(
                "{what}: changed {done} of {} ticked tickets. Not changed: {}",
                ids.len(),
                refused.join(" ")
            )
        }
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to("/tickets").into_response())
}

async fn bulk_assign_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult {
    let assignee = match form.get("assignee_id").filter(|s| !s.is_empty()) {
        None => Value::Null,
        Some(raw) => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| AppError::BadRequest("Choose an employee to assign.".into()))?,
    };
    let mut patch = Map::new();
    patch.insert("assignee_id".into(), assignee.clone());
    let what = if assignee.is_null() {
        "Unassigned"
    } else {
        "Assigned"
    };
    bulk(&state, &staff, &form, patch, what).await
}

async fn bulk_status_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult {
    let status = form.get("status").unwrap_or("").trim().to_owned();
    if status.is_empty() {
        return Err(AppError::BadRequest("Choose a status.".into()).into());
    }
    let mut patch = Map::new();
    patch.insert("status".into(), Value::String(status.clone()));
    bulk(&state, &staff, &form, patch, &format!("Status “{status}”")).await
}

// ---- API ----

/// The ticket must exist (archived or not) for its checklists to be read.
async fn existing(state: &AppState, id: i64) -> Result<(), AppError> {
    state
        .db
        .fetch_i64("SELECT id FROM tickets WHERE id = $1", args![id])
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

async fn replies_api(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&path, "id")?;
    existing(&state, id).await?;
    let all = replies::of_ticket(&state.db, id).await?;
    Ok(Json(json!({
        "items": all.iter().map(replies::Reply::to_json).collect::<Vec<_>>(),
        "total": all.len(),
    })))
}

async fn add_reply_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = path_id(&path, "id")?;
    let text = only_text_field(&body, "body", "a reply")?;
    let author = ReplyAuthor::Employee {
        id: staff.user.id,
        name: &staff.user.name,
    };
    let reply = replies::add(&state, id, author, &text).await?;
    Ok((StatusCode::CREATED, Json(reply.to_json())).into_response())
}

async fn checklists_api(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&path, "id")?;
    existing(&state, id).await?;
    let lists = checklists::of_ticket(&state.db, id).await?;
    Ok(Json(json!({
        "items": lists.iter().map(checklists::Checklist::to_json).collect::<Vec<_>>(),
        "total": lists.len(),
    })))
}

async fn checklist_api(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&path, "id")?;
    let cid = path_id(&path, "cid")?;
    Ok(Json(checklists::one(&state.db, id, cid).await?.to_json()))
}

async fn add_checklist_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = path_id(&path, "id")?;
    let new = NewChecklist::parse(&body).map_err(AppError::from)?;
    let cid = checklists::add(&state, &staff.user, id, &new).await?;
    let list = checklists::one(&state.db, id, cid).await?;
    Ok((StatusCode::CREATED, Json(list.to_json())).into_response())
}

async fn add_item_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = path_id(&path, "id")?;
    let cid = path_id(&path, "cid")?;
    let text = only_text_field(&body, "text", "a checklist item")?;
    checklists::add_item(&state, &staff.user, id, cid, &text).await?;
    Ok((
        StatusCode::CREATED,
        Json(checklists::one(&state.db, id, cid).await?.to_json()),
    )
        .into_response())
}

async fn item_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = path_id(&path, "id")?;
    let cid = path_id(&path, "cid")?;
    let iid = path_id(&path, "iid")?;
    let changes = checklists::item_changes(&body)?;
    checklists::change_item(&state, &staff.user, id, cid, iid, &changes).await?;
    Ok(Json(checklists::one(&state.db, id, cid).await?.to_json()))
}

async fn remove_item_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(path): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&path, "id")?;
    let cid = path_id(&path, "cid")?;
    let iid = path_id(&path, "iid")?;
    checklists::change_item(&state, &staff.user, id, cid, iid, &[ItemChange::Remove]).await?;
    Ok(Json(checklists::one(&state.db, id, cid).await?.to_json()))
}
