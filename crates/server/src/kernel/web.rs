//! The web shell: shared state, the page frame (top bar, navigation, flash messages),
//! rendering, and the request-body extractors that turn bad input into clear errors.

use super::auth::Staff;
use super::db::Db;
use super::error::{ApiError, AppError};
use crate::args;
use crate::config::Config;
use askama::Template;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// Encrypts secrets at rest (see [`super::secrets`]).
    pub server_key: super::secrets::ServerKey,
    /// Turns true when the server stops (ends open event streams).
    pub stop: Arc<tokio::sync::watch::Sender<bool>>,
}

/// A one-time message shown on the next page (after a redirect).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Flash {
    pub message: String,
    /// Something shown once and never again (a new API token, an invitation link).
    pub secret: Option<String>,
}

/// Stores a flash message in the caller's session.
pub async fn set_flash(db: &Db, session_hash: &str, flash: Flash) -> Result<(), AppError> {
    let text = serde_json::to_string(&flash).map_err(|e| AppError::Internal(e.to_string()))?;
    db.execute(
        "UPDATE sessions SET flash = $1 WHERE token_hash = $2",
        args![text, session_hash],
    )
    .await?;
    Ok(())
}

/// Stores a plain message (no secret) for the caller's next page.
pub async fn flash_notice(
    db: &Db,
    session_hash: &str,
    message: impl Into<String>,
) -> Result<(), AppError> {
    set_flash(
        db,
        session_hash,
        Flash {
            message: message.into(),
            secret: None,
        },
    )
    .await
}

/// Takes the caller's flash message: it came with the session; clear it only if there was one.
pub async fn take_flash(db: &Db, staff: &Staff) -> Result<Option<Flash>, AppError> {
    let Some(text) = &staff.flash else {
        return Ok(None);
    };
    db.execute(
        "UPDATE sessions SET flash = NULL WHERE token_hash = $1",
        args![staff.session_hash.as_str()],
    )
    .await?;
    Ok(serde_json::from_str(text).ok())
}

/// The frame around every employee page.
pub struct Shell {
    pub user_name: String,
    pub user_initials: String,
    pub is_admin: bool,
    pub csrf: String,
    /// Which navigation entry is highlighted.
    pub active: &'static str,
    pub flash: Option<Flash>,
    pub company_name: String,
    /// Unread in-app notifications of the user (the bell).
    pub unread: i64,
}

impl Shell {
    pub async fn new(
        state: &AppState,
        staff: &Staff,
        active: &'static str,
    ) -> Result<Self, AppError> {
        let flash = take_flash(&state.db, staff).await?;
        Ok(Shell {
            user_initials: initials(&staff.user.name),
            user_name: staff.user.name.clone(),
            is_admin: staff.user.is_admin,
            csrf: staff.csrf.clone(),
            active,
            flash,
            company_name: crate::settings::company_name(&state.db).await?,
            unread: crate::notifications::unread_count(&state.db, staff.user.id).await?,
        })
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// Renders a template; a template error becomes a plain message (and a log line)
/// rather than a panic.
pub fn render<T: Template>(template: &T) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed to render");
        "<!doctype html><title>Error</title><p>This page could not be shown.</p>".to_owned()
    })
}

/// A rendered page as a response.
pub fn page<T: Template>(template: &T) -> Response {
    Html(render(template)).into_response()
}

/// The page shown for any error.
#[derive(Template)]
#[template(path = "kernel/templates/error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// A JSON object body. Malformed JSON, a wrong content type or a non-object body is answered
/// with a problem document instead of axum's plain-text rejection.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v.starts_with("application/json") || v.contains("+json")
            });
        if !is_json {
            return Err(AppError::BadRequest(
                "Send a JSON body with Content-Type: application/json.".into(),
            )
            .into());
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                AppError::BadRequest("The request body could not be read (too large?).".into())
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(AppError::BadRequest("The JSON body must be an object.".into()).into()),
            Err(e) => Err(AppError::BadRequest(format!("The body is not valid JSON: {e}")).into()),
        }
    }
}

/// The one text field a small JSON body carries (a reply's `body`, an item's `text`): a
/// missing or non-text value, or any other field, is a field error. The caller checks the
/// text itself.
pub fn only_text_field(
    body: &Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<String, AppError> {
    let mut errors = accord_domain::FieldErrors::new();
    for key in body.keys().filter(|k| k.as_str() != field) {
        errors.add(key, format!("is not a field of {what}"));
    }
    let text = match body.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            errors.add(field, "is required (a text string)");
            String::new()
        }
        Some(_) => {
            errors.add(field, "must be a text string");
            String::new()
        }
    };
    errors.into_result(text).map_err(AppError::from)
}

/// A submitted HTML form, as ordered (name, value) pairs.
pub struct FormPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for FormPairs {
    type Rejection = super::error::PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map(FormPairs)
            .map_err(|_| AppError::BadRequest("The form could not be read.".into()).into())
    }
}

impl FormPairs {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated field (multi-selects, checkbox groups).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Paging as asked for in a query string: `?page=&per_page=`.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub const MAX_PER_PAGE: i64 = 200;

    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }

    pub fn pages(self, total: i64) -> i64 {
        ((total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// A query-string parameter that must be a whole number in `range`.
pub fn int_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, AppError> {
    match params.get(name).map(|s| s.trim()) {
        None => Ok(default),
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => Err(AppError::Validation(accord_domain::FieldErrors::single(
                name,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            ))),
        },
    }
}

/// The map inside a JSON object (built with `json!({...})`); anything else is empty.
pub fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A time stored as UTC microseconds, shown to people (UTC for now; user time zones later).
pub fn show_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A time stored as UTC microseconds, in RFC 3339 for the API.
pub fn api_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Optional time for the API (`null` when unset).
pub fn api_time_opt(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| Value::String(api_time(m)))
}
