//! Pages and API of notifications and *System Email Templates*.

use super::{
    EmailTemplate, NotificationRow, list_for, mark_all_read, mark_object_read, mark_read,
    render_html, template, templates, unread_count,
};
use crate::kernel::auth::{ApiStaff, Staff};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::api::{ApiId, ApiQuery};
use crate::kernel::web::{AppState, FormPairs, JsonObject, Shell, flash_notice, int_param, page};
use accord_domain::FieldErrors;
use accord_domain::notify::{
    CATEGORIES, MARK_READ_EVENTS, Values, check_template, parse_mark_read_events, render_template,
};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Routes of the bell, the notifications page, the templates and their API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(notifications_page))
        .route("/notifications/stream", get(super::bell::stream))
        .route("/notifications/read-all", post(read_all_submit))
        .route("/notifications/read-object", post(read_object_submit))
        .route("/notifications/{id}/read", post(read_submit))
        .route("/setup/email-templates", get(templates_page))
        .route(
            "/setup/email-templates/{kind}",
            get(template_page).post(template_submit),
        )
        .route("/api/v1/notifications", get(list_api))
        .route("/api/v1/notifications/count", get(count_api))
        .route("/api/v1/notifications/read-all", post(read_all_api))
        .route("/api/v1/notifications/{id}/read", post(read_api))
        .route("/api/v1/email-templates", get(templates_api))
        .route(
            "/api/v1/email-templates/{kind}",
            get(template_api).patch(template_patch_api),
        )
}

fn category_param(params: &HashMap<String, String>) -> Result<Option<String>, AppError> {
    // An empty value is refused like any other non-category (the API documents an enum).
    match params.get("category").map(|s| s.trim()) {
        None => Ok(None),
        Some(c) => CATEGORIES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(c))
            .map(|k| Some((*k).to_owned()))
            .ok_or_else(|| {
                AppError::Validation(FieldErrors::single(
                    "category",
                    format!("must be one of: {}", CATEGORIES.join(", ")),
                ))
            }),
    }
}

fn bool_param(params: &HashMap<String, String>, name: &str) -> Result<bool, AppError> {
    match params.get(name).map(|s| s.trim()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(AppError::Validation(FieldErrors::single(
            name,
            "must be true or false",
        ))),
    }
}

/// One category on the notifications page.
struct Group {
    category: &'static str,
    unread: usize,
    items: Vec<NotificationRow>,
}

#[derive(Template)]
#[template(path = "notifications/templates/notifications.html")]
struct NotificationsPage {
    shell: Shell,
    groups: Vec<Group>,
    unread_only: bool,
}

async fn notifications_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    let unread_only = bool_param(&params, "unread")?;
    let (rows, _) = list_for(&state.db, staff.user.id, unread_only, None, 500, 0).await?;
    let groups = CATEGORIES
        .iter()
        .map(|c| {
            let items: Vec<NotificationRow> =
                rows.iter().filter(|r| r.category == *c).cloned().collect();
            Group {
                category: c,
                unread: items.iter().filter(|r| r.read_at.is_none()).count(),
                items,
            }
        })
        .filter(|g| !g.items.is_empty())
        .collect();
    Ok(page(&NotificationsPage {
        shell: Shell::new(&state, &staff, "notifications").await?,
        groups,
        unread_only,
    }))
}

async fn read_submit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    mark_read(&state.db, staff.user.id, id).await?;
    Ok(Redirect::to("/notifications").into_response())
}

async fn read_all_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult<Response> {
    let mut params = HashMap::new();
    if let Some(c) = form.get("category") {
        params.insert("category".to_owned(), c.to_owned());
    }
    let category = category_param(&params)?;
    let n = mark_all_read(&state.db, staff.user.id, category.as_deref()).await?;
    flash_notice(
        &state.db,
        &staff.session_hash,
        format!("{n} notifications marked as read."),
    )
    .await?;
    Ok(Redirect::to("/notifications").into_response())
}

/// The object's own bell: marks the viewer's notifications on it read.
async fn read_object_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult<Response> {
    let object_type = form.get("object_type").unwrap_or("");
    if !crate::OBJECT_TYPES.contains(&object_type) {
        return Err(AppError::BadRequest("Unknown object type.".into()).into());
    }
    let object_id: i64 = form
        .get("object_id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| AppError::BadRequest("Unknown object.".into()))?;
    mark_object_read(&state.db, staff.user.id, object_type, object_id, None).await?;
    Ok(Redirect::to(&format!("/{object_type}/{object_id}")).into_response())
}

async fn list_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    let page = int_param(&params, "page", 1, 1..=1_000_000)?;
    let per_page = int_param(&params, "per_page", 50, 1..=200)?;
    let unread = bool_param(&params, "unread")?;
    let category = category_param(&params)?;
    let (rows, total) = list_for(
        &state.db,
        staff.user.id,
        unread,
        category.as_deref(),
        per_page,
        (page - 1) * per_page,
    )
    .await?;
    let items: Vec<Value> = rows.iter().map(NotificationRow::to_json).collect();
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "per_page": per_page}),
    ))
}

async fn count_api(State(state): State<AppState>, staff: ApiStaff) -> ApiResult<Json<Value>> {
    let unread = unread_count(&state.db, staff.user.id).await?;
    Ok(Json(json!({"unread": unread})))
}

async fn read_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    let exists = state
        .db
        .fetch_i64(
            "SELECT id FROM notifications WHERE id = $1 AND recipient_id = $2",
            crate::args![id, staff.user.id],
        )
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound.into());
    }
    mark_read(&state.db, staff.user.id, id).await?;
    let unread = unread_count(&state.db, staff.user.id).await?;
    Ok(Json(json!({"id": id, "read": true, "unread": unread})))
}

async fn read_all_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    let category = category_param(&params)?;
    let marked = mark_all_read(&state.db, staff.user.id, category.as_deref()).await?;
    let unread = unread_count(&state.db, staff.user.id).await?;
    Ok(Json(json!({"marked": marked, "unread": unread})))
}

fn admin_only(is_admin: bool) -> Result<(), AppError> {
    if is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only administrators can change System Email Templates.".into(),
        ))
    }
}

async fn templates_api(State(state): State<AppState>, _: ApiStaff) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = templates(&state.db)
        .await?
        .iter()
        .map(EmailTemplate::to_json)
        .collect();
    Ok(Json(json!({"items": items, "total": items.len()})))
}

async fn template_api(
    State(state): State<AppState>,
    _: ApiStaff,
    Path(kind): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(template(&state.db, &kind).await?.to_json()))
}

/// Applies submitted fields to a template, checking each; nothing is stored here.
fn apply(t: &mut EmailTemplate, body: &Map<String, Value>) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "subject" | "body" | "in_app" | "email" | "mark_read_events"
        ) {
            errors.add(key, "is not a field of an email template");
        }
    }
    match body.get("subject") {
        None => {}
        Some(Value::String(s)) if s.trim().is_empty() => errors.add("subject", "is required"),
        Some(Value::String(s)) if accord_domain::text::check_plain_text(s, 300).is_err() => {
            errors.add(
                "subject",
                "must be one line of at most 300 characters, without control characters",
            );
        }
        Some(Value::String(s)) => match check_template(s) {
            Ok(()) => t.subject = s.trim().to_owned(),
            Err(e) => errors.add("subject", e.to_string()),
        },
        Some(_) => errors.add("subject", "must be a text string"),
    }
    match body.get("body") {
        None => {}
        Some(Value::String(s)) if s.trim().is_empty() => errors.add("body", "is required"),
        Some(Value::String(s))
            if s.chars().count() > 20_000
                || s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            errors.add(
                "body",
                "must be at most 20000 characters, without control characters other than line breaks",
            );
        }
        Some(Value::String(s)) => match check_template(s) {
            Ok(()) => t.body = s.replace("\r\n", "\n").trim().to_owned(),
            Err(e) => errors.add("body", e.to_string()),
        },
        Some(_) => errors.add("body", "must be a text string"),
    }
    for (key, slot) in [("in_app", &mut t.in_app), ("email", &mut t.email)] {
        match body.get(key) {
            None => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(_) => errors.add(key, "must be true or false"),
        }
    }
    match body.get("mark_read_events") {
        None => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let codes: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            match parse_mark_read_events(&codes) {
                Ok(stored) => t.mark_read_events = super::split_codes(&stored),
                Err(e) => errors.add("mark_read_events", e),
            }
        }
        Some(_) => errors.add("mark_read_events", "must be a list of event codes"),
    }
    errors.into_result(()).map_err(AppError::Validation)
}

async fn template_patch_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(kind): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    let mut t = template(&state.db, &kind).await?;
    apply(&mut t, &body)?;
    super::save_template(&state.db, &t).await?;
    Ok(Json(template(&state.db, &kind).await?.to_json()))
}

#[derive(Template)]
#[template(path = "notifications/templates/email_templates.html")]
struct TemplatesPage {
    shell: Shell,
    templates: Vec<EmailTemplate>,
}

async fn templates_page(State(state): State<AppState>, staff: Staff) -> PageResult {
    Ok(page(&TemplatesPage {
        shell: Shell::new(&state, &staff, "email-templates").await?,
        templates: templates(&state.db).await?,
    }))
}

/// A sample rendering for the preview.
struct Preview {
    subject: String,
    text: String,
    html: String,
}

#[derive(Template)]
#[template(path = "notifications/templates/email_template.html")]
struct TemplatePage {
    shell: Shell,
    t: EmailTemplate,
    errors: FieldErrors,
    preview: Option<Preview>,
    events: &'static [(&'static str, &'static str)],
    placeholders: &'static [&'static str],
}

impl TemplatePage {
    fn error(&self, field: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

async fn template_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(kind): Path<String>,
) -> PageResult {
    let t = template(&state.db, &kind).await?;
    Ok(page(&TemplatePage {
        shell: Shell::new(&state, &staff, "email-templates").await?,
        t,
        errors: FieldErrors::new(),
        preview: None,
        events: MARK_READ_EVENTS,
        placeholders: accord_domain::notify::PLACEHOLDERS,
    }))
}

fn sample_values(state: &AppState) -> Values {
    let mut v = Values::new();
    v.insert("object.name", "Acme Ltd".into());
    v.insert("object.type", "Customer".into());
    v.insert("object.id", "42".into());
    v.insert("actor.name", "Ada Admin".into());
    v.insert("recipient.name", "Sam Smith".into());
    v.insert(
        "link",
        format!(
            "{}/customers/42",
            state.config.public_url.trim_end_matches('/')
        ),
    );
    v.insert("company.name", "Accord".into());
    v.insert("text", "@Sam Smith could you call them back?".into());
    v
}

async fn template_submit(
    State(state): State<AppState>,
    staff: Staff,
    Path(kind): Path<String>,
    form: FormPairs,
) -> PageResult<Response> {
    admin_only(staff.user.is_admin)?;
    let mut t = template(&state.db, &kind).await?;
    let mut body = Map::new();
    body.insert("subject".into(), json!(form.get("subject").unwrap_or("")));
    body.insert("body".into(), json!(form.get("body").unwrap_or("")));
    body.insert("in_app".into(), json!(form.get("in_app").is_some()));
    body.insert("email".into(), json!(form.get("email").is_some()));
    body.insert(
        "mark_read_events".into(),
        json!(form.all("mark_read_events")),
    );
    let result = apply(&mut t, &body);
    let errors = match result {
        Ok(()) => FieldErrors::new(),
        Err(AppError::Validation(errors)) => errors,
        Err(e) => return Err(e.into()),
    };
    let previewing = form.get("action") == Some("preview");
    if errors.is_empty() && !previewing {
        super::save_template(&state.db, &t).await?;
        flash_notice(
            &state.db,
            &staff.session_hash,
            format!("The template {} was saved.", t.kind.label),
        )
        .await?;
        return Ok(Redirect::to("/setup/email-templates").into_response());
    }
    let preview = if errors.is_empty() {
        let v = sample_values(&state);
        Some(Preview {
            subject: render_template(&t.subject, &v).unwrap_or_default(),
            text: render_template(&t.body, &v).unwrap_or_default(),
            html: render_html(&t.body, &v).unwrap_or_default(),
        })
    } else {
        None
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let html = crate::kernel::web::render(&TemplatePage {
        shell: Shell::new(&state, &staff, "email-templates").await?,
        t,
        errors,
        preview,
        events: MARK_READ_EVENTS,
        placeholders: accord_domain::notify::PLACEHOLDERS,
    });
    Ok((status, axum::response::Html(html)).into_response())
}
