//! The web pages of every [`Resource`]: list (search, sort, page), new, view (Details,
//! Activity and Audit Log tabs), edit, archive and restore.

use super::{
    FieldKind, FieldSpec, ListQuery, ObjectRow, Related, Resource, create, fetch, json_of, list,
    set_archived, update,
};
use crate::activity::{self, PostView};
use crate::kernel::audit::{self, AuditEntry, show_value};
use crate::kernel::auth::Staff;
use crate::kernel::db::Db;
use crate::kernel::error::{AppError, PageError, PageResult};
use crate::kernel::web::{
    AppState, Flash, FormPairs, Shell, flash_notice, page, set_flash, show_time,
};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The `{id}` of a page path; anything but a positive number is "not found".
pub struct PageId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        raw.get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(PageId)
            .ok_or(AppError::NotFound.into())
    }
}

/// Routes of one resource type's pages.
pub fn routes<R: Resource>() -> Router<AppState> {
    let base = format!("/{}", R::PATH);
    Router::new()
        .route(&base, get(list_page::<R>).post(create_submit::<R>))
        .route(&format!("{base}/export.csv"), get(export_csv::<R>))
        .route(&format!("{base}/new"), get(new_page::<R>))
        .route(&format!("{base}/{{id}}"), get(detail_page::<R>))
        .route(
            &format!("{base}/{{id}}/edit"),
            get(edit_page::<R>).post(edit_submit::<R>),
        )
        .route(&format!("{base}/{{id}}/archive"), post(archive_submit::<R>))
        .route(&format!("{base}/{{id}}/restore"), post(restore_submit::<R>))
        .route(&format!("{base}/{{id}}/posts"), post(post_submit::<R>))
}

/// A column heading with the link that sorts by it.
pub struct Heading {
    pub label: &'static str,
    /// Amounts and counts are right-aligned.
    pub numeric: bool,
    pub sort_link: Option<String>,
    /// "ascending" / "descending" when the list is sorted by this column.
    pub sorted: Option<&'static str>,
}

/// A row of a list: the link to the object and the cells (with whether each is numeric).
pub struct Row {
    pub id: i64,
    pub link: String,
    /// The viewer has unread notifications on this object (shown bold).
    pub unread: bool,
    pub cells: Vec<(String, bool)>,
}

/// Is this list column an amount or a count (shown right-aligned)?
fn is_numeric<R: Resource>(key: &str) -> bool {
    key.ends_with("_count")
        || R::FIELDS
            .iter()
            .any(|f| f.name == key && matches!(f.kind, FieldKind::Money | FieldKind::Percent))
}

#[derive(Template)]
#[template(path = "kernel/templates/list.html")]
struct ListPage {
    shell: Shell,
    title: &'static str,
    singular: &'static str,
    base: String,
    headings: Vec<Heading>,
    rows: Vec<Row>,
    /// "1,234", or "1,000+" past the type's counted limit.
    total: String,
    /// The page count is a lower bound.
    more_pages: bool,
    search: String,
    archived: bool,
    page: i64,
    pages: i64,
    first_row: i64,
    last_row: i64,
    prev_link: Option<String>,
    next_link: Option<String>,
    export_link: String,
    can_write: bool,
    /// (label, URL) of buttons acting on the ticked rows; none: no tick boxes.
    bulk_actions: Vec<(&'static str, String)>,
    /// More controls of the bulk bar (rendered by the room that owns them).
    bulk_controls: String,
    /// Saved views: (label, link, is the current one).
    views: Vec<(&'static str, String, bool)>,
}

fn query_link(base: &str, params: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(kept).unwrap_or_default()
        )
    }
}

/// A value from an object's JSON, as shown in a cell.
fn cell(json: &Map<String, Value>, key: &str) -> String {
    show_value(json.get(key).unwrap_or(&Value::Null))
}

/// A list cell: choice codes show their labels ("Gross margin", not "gross_margin").
fn column_cell<R: Resource>(json: &Map<String, Value>, key: &str) -> String {
    let choices = R::FIELDS.iter().find_map(|f| match f.kind {
        FieldKind::Choice(c) if f.name == key => Some(c),
        _ => None,
    });
    match (choices, json.get(key).and_then(Value::as_str)) {
        (Some(choices), Some(code)) => choices
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| code.to_owned(), |(_, label)| (*label).to_owned()),
        _ => cell(json, key),
    }
}

async fn list_page<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    let mut params = params;
    if !params.contains_key("per_page") {
        // The user did not choose: *Default Page Size* from Setup → Control → Defaults.
        let size = crate::settings::value_of(&state.db, "default_page_size").await?;
        params.insert("per_page".into(), size);
    }
    let mut q = ListQuery::parse::<R>(&params)?;
    q.viewer = Some(staff.user.id);
    let (rows, total) = list::<R>(&state.db, &q).await?;
    let base = format!("/{}", R::PATH);
    let search = q.search.clone().unwrap_or_default();
    let archived = if q.archived {
        "true".to_owned()
    } else {
        String::new()
    };
    let sort_param = |key: &str, desc: bool| {
        if desc {
            format!("-{key}")
        } else {
            key.to_owned()
        }
    };
    let current_sort = sort_param(q.sort, q.descending);
    // Filters and the saved view stay on when sorting and paging.
    let kept: Vec<(&str, String)> = R::FILTERS
        .iter()
        .map(|f| f.param)
        .chain(["view"])
        .filter_map(|p| params.get(p).map(|v| (p, v.clone())))
        .collect();
    let link_with = |page: i64, sort: &str| {
        query_link(
            &base,
            &[
                kept.as_slice(),
                &[
                    ("search", search.clone()),
                    ("sort", sort.to_owned()),
                    ("archived", archived.clone()),
                    (
                        "page",
                        if page > 1 {
                            page.to_string()
                        } else {
                            String::new()
                        },
                    ),
                    (
                        "per_page",
                        params.get("per_page").cloned().unwrap_or_default(),
                    ),
                ],
            ]
            .concat(),
        )
    };
    let current_view = q.view.map(|(k, _)| k);
    let views = if R::VIEWS.is_empty() {
        Vec::new()
    } else {
        std::iter::once(("all", "All", base.clone(), current_view.is_none()))
            .chain(R::VIEWS.iter().map(|(key, label, _)| {
                (
                    *key,
                    *label,
                    format!("{base}?view={key}"),
                    current_view == Some(*key),
                )
            }))
            .map(|(_, label, link, active)| (label, link, active))
            .collect()
    };
    let headings = R::COLUMNS
        .iter()
        .map(|c| {
            let is_current = c.key == q.sort;
            Heading {
                label: c.label,
                numeric: is_numeric::<R>(c.key),
                sort_link: c
                    .sort
                    .map(|_| link_with(1, &sort_param(c.key, is_current && !q.descending))),
                sorted: is_current.then_some(if q.descending {
                    "descending"
                } else {
                    "ascending"
                }),
            }
        })
        .collect();
    let unread = crate::notifications::unread_objects(&state.db, staff.user.id, R::PATH).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let json = json_of::<R>(r);
            Row {
                id: r.id(),
                unread: unread.contains(&r.id()),
                link: format!("{base}/{}", r.id()),
                cells: R::COLUMNS
                    .iter()
                    .map(|c| (column_cell::<R>(&json, c.key), is_numeric::<R>(c.key)))
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    let page_no = q.paging.page;
    // Past a counted limit the number of pages is unknown: "Next" while pages are full.
    let pages = if total.more {
        page_no + i64::from(rows.len() as i64 == q.paging.per_page)
    } else {
        q.paging.pages(total.count)
    };
    let first_row = if total.count == 0 {
        0
    } else {
        q.paging.offset() + 1
    };
    Ok(page(&ListPage {
        shell: Shell::new(&state, &staff, R::NAV).await?,
        title: R::PLURAL,
        singular: R::SINGULAR,
        headings,
        last_row: q.paging.offset() + rows.len() as i64,
        rows,
        total: total.shown(),
        more_pages: total.more,
        search: search.clone(),
        archived: q.archived,
        page: page_no,
        pages,
        first_row,
        export_link: query_link(
            &format!("{base}/export.csv"),
            &[
                kept.as_slice(),
                &[
                    ("search", search.clone()),
                    ("sort", current_sort.clone()),
                    ("archived", archived.clone()),
                ],
            ]
            .concat(),
        ),
        prev_link: (page_no > 1).then(|| link_with(page_no - 1, &current_sort)),
        next_link: (page_no < pages).then(|| link_with(page_no + 1, &current_sort)),
        can_write: !R::ADMIN_WRITES || staff.user.is_admin,
        views,
        bulk_controls: if (!R::ADMIN_WRITES || staff.user.is_admin) && !q.archived {
            R::bulk_controls(&state).await?
        } else {
            String::new()
        },
        bulk_actions: if (!R::ADMIN_WRITES || staff.user.is_admin) && !q.archived {
            R::BULK_ACTIONS
                .iter()
                .map(|(label, path)| (*label, format!("{base}/{path}")))
                .collect()
        } else {
            Vec::new()
        },
        base,
    }))
}

/// Most rows one CSV export holds.
const MAX_EXPORT_ROWS: i64 = 100_000;

/// One CSV field, quoted when it holds a separator, a quote or a line break; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets do not run it as a formula.
fn csv_field(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '@'])
        || (value.starts_with('-') && value[1..].parse::<f64>().is_err());
    let value = if risky {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// `GET /{type}/export.csv`: the list as it is filtered and sorted, every page, as CSV.
async fn export_csv<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    let mut params = params;
    params.remove("page");
    params.remove("per_page");
    let mut q = ListQuery::parse::<R>(&params)?;
    q.viewer = Some(staff.user.id);
    let mut out = String::new();
    let headings: Vec<String> = R::COLUMNS.iter().map(|c| csv_field(c.label)).collect();
    out.push_str(&format!("id,{}\r\n", headings.join(",")));
    q.paging = crate::kernel::web::Paging {
        page: 1,
        per_page: 1000,
    };
    loop {
        let (rows, total) = list::<R>(&state.db, &q).await?;
        for r in &rows {
            let json = json_of::<R>(r);
            let cells: Vec<String> = R::COLUMNS
                .iter()
                .map(|c| csv_field(&column_cell::<R>(&json, c.key)))
                .collect();
            out.push_str(&format!("{},{}\r\n", r.id(), cells.join(",")));
        }
        let done = q.paging.page * q.paging.per_page;
        let bound = if total.more {
            MAX_EXPORT_ROWS
        } else {
            total.count.min(MAX_EXPORT_ROWS)
        };
        if rows.is_empty() || done >= bound {
            break;
        }
        q.paging.page += 1;
    }
    let filename = format!("{}.csv", R::PATH);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// A field of a form, ready to render.
pub struct FormField {
    pub name: &'static str,
    pub label: &'static str,
    /// text, email, tel, money, percent, currency, textarea, checkbox or select
    pub input: &'static str,
    pub value: String,
    pub checked: bool,
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
    pub required: bool,
    pub help: &'static str,
}

#[derive(Template)]
#[template(path = "kernel/templates/form.html")]
struct FormPage {
    shell: Shell,
    title: String,
    action: String,
    cancel: String,
    fields: Vec<FormField>,
    error_count: usize,
    /// An error about the whole form (a duplicate), not one field.
    form_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OptionRow {
    id: i64,
    name: String,
}

/// Choices for a reference field: active targets by name, plus the current one.
async fn ref_options(
    db: &Db,
    spec: &super::RefSpec,
    object_id: Option<i64>,
    current: Option<i64>,
) -> Result<Vec<(String, String, bool)>, AppError> {
    let rows = match (spec.scope, object_id) {
        (Some(_), None) => Vec::new(),
        (Some(scope), Some(id)) => {
            db.fetch_all::<OptionRow>(
                &format!(
                    "SELECT id, name FROM {} WHERE archived_at IS NULL AND {scope} = $1 ORDER BY name LIMIT 500",
                    spec.table
                ),
                crate::args![id],
            )
            .await?
        }
        (None, _) => {
            db.fetch_all::<OptionRow>(
                &format!(
                    "SELECT id, name FROM {} WHERE archived_at IS NULL ORDER BY name LIMIT 500",
                    spec.table
                ),
                vec![],
            )
            .await?
        }
    };
    let mut options: Vec<(String, String, bool)> =
        vec![(String::new(), "— None —".into(), current.is_none())];
    let mut seen_current = current.is_none();
    for r in rows {
        let selected = Some(r.id) == current;
        seen_current |= selected;
        options.push((r.id.to_string(), r.name, selected));
    }
    if let (false, Some(id)) = (seen_current, current) {
        let name = db
            .fetch_optional::<OptionRow>(
                &format!("SELECT id, name FROM {} WHERE id = $1", spec.table),
                crate::args![id],
            )
            .await?
            .map_or_else(|| format!("#{id}"), |r| r.name);
        options.push((id.to_string(), name, true));
    }
    Ok(options)
}

/// Builds the form's fields from submitted (or stored) values and errors.
async fn form_fields<R: Resource>(
    db: &Db,
    object_id: Option<i64>,
    values: &Map<String, Value>,
    errors: &accord_domain::FieldErrors,
) -> Result<Vec<FormField>, AppError> {
    let mut out = Vec::new();
    for spec in R::FIELDS {
        let value = values.get(spec.name).unwrap_or(&Value::Null);
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        };
        let (input, options) = match spec.kind {
            FieldKind::Text => ("text", vec![]),
            FieldKind::Email => ("email", vec![]),
            FieldKind::Phone => ("tel", vec![]),
            FieldKind::Money => ("money", vec![]),
            FieldKind::Percent => ("percent", vec![]),
            FieldKind::Currency => ("currency", vec![]),
            FieldKind::DomainList | FieldKind::Lines { .. } | FieldKind::LongText { .. } => {
                ("textarea", vec![])
            }
            FieldKind::ApiOnly => continue,
            FieldKind::Bool => ("checkbox", vec![]),
            FieldKind::Choice(choices) => (
                "select",
                // An optional choice can be left empty (e.g. "the ticket type's default").
                (!spec.required)
                    .then(|| (String::new(), "—".to_owned(), text.is_empty()))
                    .into_iter()
                    .chain(choices.iter().map(|(code, label)| {
                        ((*code).to_owned(), (*label).to_owned(), *code == text)
                    }))
                    .collect(),
            ),
            FieldKind::Ref(ref_spec) => (
                "select",
                ref_options(db, &ref_spec, object_id, value.as_i64()).await?,
            ),
            FieldKind::RefList(ref_spec) => {
                let chosen: Vec<i64> = value
                    .as_array()
                    .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                let options = ref_options(db, &ref_spec, object_id, None)
                    .await?
                    .into_iter()
                    .filter(|(id, _, _)| !id.is_empty())
                    .map(|(id, name, _)| {
                        let selected = id.parse::<i64>().is_ok_and(|i| chosen.contains(&i));
                        (id, name, selected)
                    })
                    .collect();
                ("multiselect", options)
            }
        };
        out.push(FormField {
            name: spec.name,
            label: spec.label,
            input,
            checked: value.as_bool().unwrap_or(false),
            value: text,
            options,
            error: {
                let all: Vec<&str> = errors
                    .iter()
                    .filter(|e| e.field == spec.name)
                    .map(|e| e.message.as_str())
                    .collect();
                (!all.is_empty()).then(|| all.join("; "))
            },
            required: spec.required,
            help: spec.help,
        });
    }
    Ok(out)
}

/// Turns a submitted form into the JSON object the API would receive, so both go through
/// the same parsing.
pub fn form_to_input(fields: &[FieldSpec], form: &FormPairs) -> Map<String, Value> {
    let mut map = Map::new();
    for spec in fields {
        let raw = form.get(spec.name).unwrap_or("").trim();
        let value = match spec.kind {
            // Not in forms: the stored value stays.
            FieldKind::ApiOnly => continue,
            FieldKind::Lines { .. } => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            FieldKind::RefList(_) => Value::Array(
                form.all(spec.name)
                    .into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        s.trim()
                            .parse::<i64>()
                            .map_or_else(|_| Value::String(s.to_owned()), Value::from)
                    })
                    .collect(),
            ),
            FieldKind::Bool => Value::Bool(matches!(raw, "on" | "true" | "1")),
            FieldKind::DomainList => Value::Array(
                // One per line (commas and semicolons also separate); a line with spaces
                // stays one entry so its error quotes what was typed.
                raw.split(['\n', ',', ';'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            FieldKind::Ref(_) if raw.is_empty() => Value::Null,
            FieldKind::Ref(_) => raw
                .parse::<i64>()
                .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
            _ if raw.is_empty() => Value::Null,
            _ => Value::String(raw.to_owned()),
        };
        map.insert(spec.name.to_owned(), value);
    }
    map
}

fn forbid_unless_writer<R: Resource>(staff: &Staff) -> Result<(), AppError> {
    if R::ADMIN_WRITES && !staff.user.is_admin {
        return Err(AppError::Forbidden(format!(
            "Only administrators can change {}.",
            R::PLURAL.to_lowercase()
        )));
    }
    Ok(())
}

async fn render_form<R: Resource>(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &Map<String, Value>,
    errors: &accord_domain::FieldErrors,
) -> PageResult {
    let fields = form_fields::<R>(&state.db, id, values, errors).await?;
    let (title, action, cancel) = match id {
        None => (
            format!("New {}", R::SINGULAR.to_lowercase()),
            format!("/{}", R::PATH),
            format!("/{}", R::PATH),
        ),
        Some(id) => (
            format!("Edit {}", R::SINGULAR.to_lowercase()),
            format!("/{}/{id}/edit", R::PATH),
            format!("/{}/{id}", R::PATH),
        ),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        page(&FormPage {
            shell: Shell::new(state, staff, R::NAV).await?,
            title,
            action,
            cancel,
            error_count: errors
                .iter()
                .filter(|e| e.field != "_form")
                .map(|e| e.field.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            form_error: errors.for_field("_form").map(str::to_owned),
            fields,
        }),
    )
        .into_response())
}

async fn new_page<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    forbid_unless_writer::<R>(&staff)?;
    // Prefill references from the query string (`/contacts/new?customer_id=3`).
    let mut values = Map::new();
    for spec in R::FIELDS {
        if let (FieldKind::Ref(_), Some(Ok(id))) =
            (spec.kind, params.get(spec.name).map(|v| v.parse::<i64>()))
        {
            values.insert(spec.name.to_owned(), Value::from(id));
        }
    }
    render_form::<R>(
        &state,
        &staff,
        None,
        &values,
        &accord_domain::FieldErrors::new(),
    )
    .await
}

/// Shows a write's validation errors on the form; other errors become error pages.
async fn finish_write<R: Resource>(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    input: &Map<String, Value>,
    result: Result<super::Written, AppError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(written) => {
            let message = format!("{} {done}.", R::SINGULAR);
            let secret = written
                .invitation_url
                .map(|url| format!("Invitation link (shown once; send it to them): {url}"));
            set_flash(&state.db, &staff.session_hash, Flash { message, secret }).await?;
            Ok(Redirect::to(&format!("/{}/{}", R::PATH, written.id)).into_response())
        }
        Err(AppError::Validation(errors)) => {
            render_form::<R>(state, staff, id, input, &errors).await
        }
        Err(AppError::Conflict(message)) => {
            let mut errors = accord_domain::FieldErrors::new();
            errors.add("_form", message);
            render_form::<R>(state, staff, id, input, &errors).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn create_submit<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult {
    let input = form_to_input(R::FIELDS, &form);
    let result = create::<R>(&state, Some(&staff.user), &input).await;
    finish_write::<R>(&state, &staff, None, &input, result, "created").await
}

async fn edit_page<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    forbid_unless_writer::<R>(&staff)?;
    let row = fetch::<R>(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let values = super::writable::<R>(&json_of::<R>(&row));
    render_form::<R>(
        &state,
        &staff,
        Some(id),
        &values,
        &accord_domain::FieldErrors::new(),
    )
    .await
}

async fn edit_submit<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    let input = form_to_input(R::FIELDS, &form);
    let result = update::<R>(&state, Some(&staff.user), id, &input).await;
    finish_write::<R>(&state, &staff, Some(id), &input, result, "saved").await
}

async fn archive_submit<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    toggle_archived::<R>(&state, &staff, id, true).await
}

async fn restore_submit<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    toggle_archived::<R>(&state, &staff, id, false).await
}

/// Archives or restores, then shows the object with a message saying what happened.
async fn toggle_archived<R: Resource>(
    state: &AppState,
    staff: &Staff,
    id: i64,
    archive: bool,
) -> PageResult {
    set_archived::<R>(state, &staff.user, id, archive).await?;
    let message = if archive {
        format!("{} archived: it no longer shows in lists.", R::SINGULAR)
    } else {
        format!("{} restored.", R::SINGULAR)
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to(&format!("/{}/{id}", R::PATH)).into_response())
}

async fn post_submit<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    if fetch::<R>(&state.db, id).await?.is_none() {
        return Err(AppError::NotFound.into());
    }
    let tags: Vec<i64> = form
        .all("tagged_employee_ids")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let body = form.get("body").unwrap_or("");
    let tab = format!("/{}/{id}?tab=activity", R::PATH);
    match activity::add_post(&state, R::PATH, id, &staff.user, body, &tags).await {
        Ok(_) => Ok(Redirect::to(&tab).into_response()),
        Err(AppError::Validation(errors)) => {
            flash_notice(
                &state.db,
                &staff.session_hash,
                format!("The post was not added: {errors}"),
            )
            .await?;
            Ok(Redirect::to(&tab).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The names of the objects a list of ids points at, in the order given.
async fn names_of(db: &Db, spec: &super::RefSpec, ids: &Value) -> Result<String, AppError> {
    let ids: Vec<i64> = ids
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let mut names = Vec::with_capacity(ids.len());
    for id in ids {
        let name = db
            .fetch_optional::<OptionRow>(
                &format!("SELECT id, name FROM {} WHERE id = $1", spec.table),
                crate::args![id],
            )
            .await?
            .map_or_else(|| format!("#{id}"), |r| r.name);
        names.push(name);
    }
    Ok(if names.is_empty() {
        "—".to_owned()
    } else {
        names.join(", ")
    })
}

/// A field of the Details tab.
pub struct ShownField {
    pub label: &'static str,
    pub value: String,
    pub link: Option<String>,
    /// Keep the value's line breaks (details, lists of lines).
    pub lines: bool,
}

#[derive(Template)]
#[template(path = "kernel/templates/detail.html")]
struct DetailPage {
    shell: Shell,
    plural: &'static str,
    singular: &'static str,
    base: String,
    id: i64,
    title: String,
    archived: bool,
    archived_when: String,
    created: String,
    updated: String,
    tab: &'static str,
    fields: Vec<ShownField>,
    related: Vec<Related>,
    posts: Vec<PostView>,
    employees: Vec<(i64, String)>,
    audit: Vec<AuditEntry>,
    audit_total: i64,
    can_write: bool,
    actions: Vec<(&'static str, String)>,
    /// Rendered by the room that owns them (see [`Resource::detail_sections`]).
    sections: Vec<String>,
    /// The viewer's unread notifications on this object (its own bell).
    object_unread: i64,
    object_type: &'static str,
    notices: Vec<crate::notifications::NotificationRow>,
}

async fn detail_page<R: Resource>(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    let row = fetch::<R>(&state.db, id).await?.ok_or(AppError::NotFound)?;
    // Opening the object is a *Mark As Read Event* where its template says so.
    crate::notifications::mark_object_read(&state.db, staff.user.id, R::PATH, id, Some("opened"))
        .await?;
    let object_unread =
        crate::notifications::unread_on(&state.db, staff.user.id, R::PATH, id).await?;
    let json = json_of::<R>(&row);
    let tab = match params.get("tab").map(String::as_str) {
        Some("activity") => "activity",
        Some("audit") => "audit",
        _ => "details",
    };
    let mut fields = Vec::with_capacity(R::FIELDS.len());
    for spec in R::FIELDS {
        fields.push({
            let value = json.get(spec.name).unwrap_or(&Value::Null);
            match spec.kind {
                FieldKind::Ref(r) => ShownField {
                    label: spec.label,
                    value: cell(&json, r.name_key),
                    link: value.as_i64().map(|id| format!("/{}/{id}", r.path)),
                    lines: false,
                },
                FieldKind::RefList(r) => ShownField {
                    label: spec.label,
                    value: names_of(&state.db, &r, value).await?,
                    link: None,
                    lines: false,
                },
                FieldKind::Lines { .. } => ShownField {
                    label: spec.label,
                    value: value
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("\n")
                        })
                        .unwrap_or_default(),
                    link: None,
                    lines: true,
                },
                FieldKind::LongText { .. } => ShownField {
                    label: spec.label,
                    value: value.as_str().unwrap_or("—").to_owned(),
                    link: None,
                    lines: true,
                },
                FieldKind::Choice(choices) => ShownField {
                    label: spec.label,
                    value: choices
                        .iter()
                        .find(|(code, _)| Some(*code) == value.as_str())
                        .map_or_else(|| show_value(value), |(_, l)| (*l).to_owned()),
                    link: None,
                    lines: false,
                },
                _ => ShownField {
                    label: spec.label,
                    value: show_value(value),
                    link: None,
                    lines: false,
                },
            }
        });
    }
    let notices = if tab == "audit" {
        crate::notifications::for_object(&state.db, R::PATH, id).await?
    } else {
        Vec::new()
    };
    let (posts, employees, audit, audit_total) = match tab {
        "activity" => (
            activity::list_posts(&state.db, R::PATH, id).await?,
            activity::employee_options(&state.db).await?,
            Vec::new(),
            0,
        ),
        "audit" => {
            let (entries, total) = audit::list(&state.db, R::PATH, id, 200, 0).await?;
            (Vec::new(), Vec::new(), entries, total)
        }
        _ => (Vec::new(), Vec::new(), Vec::new(), 0),
    };
    let (related, sections) = if tab == "details" {
        (
            R::related(&state.db, id).await?,
            R::detail_sections(&state, id, &staff).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let times = row.times();
    let archived_at = times.archived_at;
    let base = format!("/{}", R::PATH);
    Ok(page(&DetailPage {
        shell: Shell::new(&state, &staff, R::NAV).await?,
        plural: R::PLURAL,
        singular: R::SINGULAR,
        id,
        title: row.title(),
        archived: archived_at.is_some(),
        archived_when: archived_at.map(show_time).unwrap_or_default(),
        created: show_time(times.created_at),
        updated: show_time(times.updated_at),
        tab,
        fields,
        related,
        posts,
        employees,
        audit,
        audit_total,
        can_write: !R::ADMIN_WRITES || staff.user.is_admin,
        actions: R::ACTIONS
            .iter()
            .map(|(label, path)| (*label, format!("{base}/{id}/{path}")))
            .collect(),
        sections,
        base,
        object_unread,
        object_type: R::PATH,
        notices,
    }))
}
