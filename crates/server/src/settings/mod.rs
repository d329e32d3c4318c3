//! *Setup → Control → Defaults*: typed system settings with defaults (the catalogue lives in
//! the domain crate). Stored rows hold overrides; a row with no value uses the default.

use crate::activity;
use crate::args;
use crate::kernel::audit::{self, AuditEntry};
use crate::kernel::auth::{ApiStaff, EmployeeUser, Staff};
use crate::kernel::db::{Db, now};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::ObjectType;
use crate::kernel::resource::api::{ApiId, ApiQuery};
use crate::kernel::web::{AppState, FormPairs, JsonObject, Shell, api_time, flash_notice, page};
use accord_domain::FieldErrors;
use accord_domain::settings::{CATALOGUE, SettingDef, SettingKind, find};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The settings object type (for its Audit Log and Activity).
pub struct Settings;

impl ObjectType for Settings {
    const PATH: &'static str = "settings";
    const TABLE: &'static str = "settings";
    const SINGULAR: &'static str = "Setting";
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct SettingRow {
    id: i64,
    key: String,
    value: Option<String>,
    updated_at: i64,
}

impl SettingRow {
    fn def(&self) -> Option<&'static SettingDef> {
        find(&self.key)
    }

    fn effective(&self, def: &SettingDef) -> String {
        self.value.clone().unwrap_or_else(|| def.default.to_owned())
    }

    fn to_json(&self) -> Value {
        let Some(def) = self.def() else {
            return Value::Null;
        };
        let mut out = json!({
            "id": self.id,
            "key": def.key,
            "label": def.label,
            "help": def.help,
            "type": def.kind.code(),
            "value": def.to_json(&self.effective(def)),
            "default_value": def.to_json(def.default),
            "is_default": self.value.is_none(),
            "updated_at": api_time(self.updated_at),
        });
        if let SettingKind::Choice(options) = def.kind {
            out["options"] = options
                .iter()
                .map(|(code, label)| json!({"value": code, "label": label}))
                .collect();
        }
        out
    }
}

/// Makes sure every catalogue key has a row; runs at start-up, safe with several instances.
pub async fn sync_catalogue(db: &Db) -> Result<(), AppError> {
    for def in CATALOGUE {
        let at = now();
        db.execute(
            "INSERT INTO settings (key, value, created_at, updated_at) VALUES ($1, NULL, $2, $2)
             ON CONFLICT (key) DO NOTHING",
            args![def.key, at],
        )
        .await?;
    }
    Ok(())
}

/// The effective value of a setting (stored or default).
pub async fn value_of(db: &Db, key: &str) -> Result<String, AppError> {
    let def = find(key).ok_or_else(|| AppError::Internal(format!("unknown setting {key}")))?;
    let stored = db
        .fetch_optional::<SettingRow>(
            "SELECT id, key, value, updated_at FROM settings WHERE key = $1",
            args![key],
        )
        .await?;
    Ok(stored
        .and_then(|r| r.value)
        .unwrap_or_else(|| def.default.to_owned()))
}

/// *Company Name*, shown in the top bar.
pub async fn company_name(db: &Db) -> Result<String, AppError> {
    value_of(db, "company_name").await
}

async fn all_rows(db: &Db) -> Result<Vec<SettingRow>, AppError> {
    let rows = db
        .fetch_all::<SettingRow>(
            "SELECT id, key, value, updated_at FROM settings ORDER BY id",
            vec![],
        )
        .await?;
    // Catalogue order, known keys only.
    Ok(CATALOGUE
        .iter()
        .filter_map(|def| rows.iter().find(|r| r.key == def.key).cloned())
        .collect())
}

async fn row_by_ref(db: &Db, id_or_key: &str) -> Result<SettingRow, AppError> {
    let row = match id_or_key.parse::<i64>() {
        Ok(id) => {
            db.fetch_optional::<SettingRow>(
                "SELECT id, key, value, updated_at FROM settings WHERE id = $1",
                args![id],
            )
            .await?
        }
        Err(_) => {
            db.fetch_optional::<SettingRow>(
                "SELECT id, key, value, updated_at FROM settings WHERE key = $1",
                args![id_or_key],
            )
            .await?
        }
    };
    row.filter(|r| r.def().is_some()).ok_or(AppError::NotFound)
}

/// Sets (`Some`) or resets (`None`) a setting, recording the change in its audit log.
async fn write(
    db: &Db,
    actor: &EmployeeUser,
    row: &SettingRow,
    value: Option<String>,
) -> Result<SettingRow, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden(
            "Only administrators can change system settings.".into(),
        ));
    }
    let def = row.def().ok_or(AppError::NotFound)?;
    let before = row.effective(def);
    let mut tx = db.begin().await?;
    tx.execute(
        "UPDATE settings SET value = $1, updated_at = $2 WHERE id = $3",
        args![value.clone(), now(), row.id],
    )
    .await?;
    let after = value.clone().unwrap_or_else(|| def.default.to_owned());
    if before != after || row.value.is_some() != value.is_some() {
        let mut changes = Map::new();
        changes.insert(
            def.key.to_owned(),
            json!({"from": def.to_json(&before), "to": def.to_json(&after)}),
        );
        let action = if value.is_none() {
            "reset to default"
        } else {
            "updated"
        };
        audit::record(
            &mut tx,
            Settings::PATH,
            row.id,
            action,
            changes,
            Some(actor),
        )
        .await?;
    }
    let updated = tx
        .fetch_optional::<SettingRow>(
            "SELECT id, key, value, updated_at FROM settings WHERE id = $1",
            args![row.id],
        )
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(updated)
}

fn parse_value(
    def: &SettingDef,
    body: &Map<String, Value>,
    allowed: &[&str],
) -> Result<String, AppError> {
    let mut errors = FieldErrors::new();
    for k in body.keys() {
        if !allowed.contains(&k.as_str()) {
            errors.add(k, "is not a field of this object");
        }
    }
    let value = match body.get("value") {
        None => {
            errors.add("value", "value is required");
            None
        }
        Some(v) => match def.parse_value(v) {
            Ok(s) => Some(s),
            Err(m) => {
                errors.add("value", m);
                None
            }
        },
    };
    Ok(errors.into_result(value)?.unwrap_or_default())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/settings", get(list_api).post(create_api))
        .route("/api/v1/settings/{id}", get(get_api).patch(update_api))
        .route("/api/v1/settings/{id}/archive", post(archive_api))
        .merge(activity::api_routes::<Settings>())
        .route("/setup/defaults", get(defaults_page).post(defaults_submit))
}

async fn list_api(
    State(state): State<AppState>,
    _: ApiStaff,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    let search = params
        .get("search")
        .map(|s| s.to_lowercase())
        .unwrap_or_default();
    let items: Vec<Value> = all_rows(&state.db)
        .await?
        .iter()
        .filter(|r| {
            search.is_empty()
                || r.key.contains(&search)
                || r.def()
                    .is_some_and(|d| d.label.to_lowercase().contains(&search))
        })
        .map(SettingRow::to_json)
        .collect();
    Ok(Json(
        json!({"total": items.len(), "items": items, "page": 1, "per_page": items.len().max(1)}),
    ))
}

async fn get_api(
    State(state): State<AppState>,
    _: ApiStaff,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(row_by_ref(&state.db, &id).await?.to_json()))
}

/// `POST {key, value}` sets a setting that is still at its default; a setting already set
/// is changed with PATCH (409 here, so two clients cannot silently overwrite each other).
async fn create_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let key = match body.get("key") {
        Some(Value::String(k)) => k.clone(),
        _ => {
            return Err(FieldErrors::single(
                "key",
                "must be the key of a setting, e.g. quick_create_invoice_by",
            )
            .into());
        }
    };
    let row = row_by_ref(&state.db, &key).await.map_err(|_| {
        AppError::Validation(FieldErrors::single(
            "key",
            format!("there is no setting {key:?}"),
        ))
    })?;
    let def = row.def().ok_or(AppError::NotFound)?;
    let value = parse_value(def, &body, &["key", "value"])?;
    if row.value.is_some() {
        return Err(AppError::Conflict(format!(
            "{key} is already set; change it with PATCH /api/v1/settings/{}",
            row.id
        ))
        .into());
    }
    let updated = write(&state.db, &staff.user, &row, Some(value)).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/settings/{}", updated.id))],
        Json(updated.to_json()),
    )
        .into_response())
}

async fn update_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let row = row_by_ref(&state.db, &id).await?;
    let def = row.def().ok_or(AppError::NotFound)?;
    let value = parse_value(def, &body, &["value"])?;
    Ok(Json(
        write(&state.db, &staff.user, &row, Some(value))
            .await?
            .to_json(),
    ))
}

/// Archiving a setting's value puts it back to its default.
async fn archive_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    let row = row_by_ref(&state.db, &id.to_string()).await?;
    Ok(Json(
        write(&state.db, &staff.user, &row, None).await?.to_json(),
    ))
}

/// A setting on the Defaults page.
struct SettingField {
    key: &'static str,
    label: &'static str,
    help: &'static str,
    input: &'static str,
    value: String,
    is_default: bool,
    default_shown: String,
    options: Vec<(&'static str, &'static str)>,
    min: i64,
    max: i64,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/templates/defaults.html")]
struct DefaultsPage {
    shell: Shell,
    fields: Vec<SettingField>,
    tab: &'static str,
    audit: Vec<AuditEntry>,
    error_count: usize,
}

async fn render_defaults(
    state: &AppState,
    staff: &Staff,
    submitted: &HashMap<String, String>,
    errors: &FieldErrors,
    tab: &'static str,
) -> PageResult {
    let rows = all_rows(&state.db).await?;
    let fields = rows
        .iter()
        .filter_map(|r| {
            let def = r.def()?;
            let value = submitted
                .get(def.key)
                .cloned()
                .unwrap_or_else(|| r.effective(def));
            let (input, options, min, max) = match def.kind {
                SettingKind::Bool => ("checkbox", vec![], 0, 0),
                SettingKind::Choice(o) => ("select", o.to_vec(), 0, 0),
                SettingKind::Text { .. } | SettingKind::Checked { .. } => ("text", vec![], 0, 0),
                SettingKind::Integer { min, max } => ("number", vec![], min, max),
            };
            Some(SettingField {
                key: def.key,
                label: def.label,
                help: def.help,
                input,
                value,
                is_default: r.value.is_none(),
                default_shown: def.display(def.default),
                options,
                min,
                max,
                error: errors.for_field(def.key).map(str::to_owned),
            })
        })
        .collect();
    let audit = if tab == "audit" {
        state
            .db
            .fetch_all::<AuditEntry>(
                "SELECT id, action, changes, actor_id, actor_name, at FROM audit_log
                 WHERE object_type = 'settings' ORDER BY id DESC LIMIT 200",
                vec![],
            )
            .await?
    } else {
        Vec::new()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        page(&DefaultsPage {
            shell: Shell::new(state, staff, "defaults").await?,
            fields,
            tab,
            audit,
            error_count: errors.iter().count(),
        }),
    )
        .into_response())
}

async fn defaults_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    let tab = if params.get("tab").map(String::as_str) == Some("audit") {
        "audit"
    } else {
        "details"
    };
    render_defaults(&state, &staff, &HashMap::new(), &FieldErrors::new(), tab).await
}

async fn defaults_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult {
    if !staff.user.is_admin {
        return Err(
            AppError::Forbidden("Only administrators can change system settings.".into()).into(),
        );
    }
    // Validate everything first so that a bad value saves nothing.
    let mut errors = FieldErrors::new();
    let mut submitted = HashMap::new();
    let mut parsed = Vec::new();
    for def in CATALOGUE {
        let raw = form.get(def.key).unwrap_or("").trim().to_owned();
        let json = match def.kind {
            SettingKind::Bool => Value::Bool(matches!(raw.as_str(), "on" | "true")),
            SettingKind::Integer { .. } => raw
                .parse::<i64>()
                .map_or(Value::String(raw.clone()), Value::from),
            _ => Value::String(raw.clone()),
        };
        submitted.insert(def.key.to_owned(), raw);
        match def.parse_value(&json) {
            Ok(v) => parsed.push((def, v)),
            Err(m) => errors.add(def.key, m),
        }
    }
    if !errors.is_empty() {
        return render_defaults(&state, &staff, &submitted, &errors, "details").await;
    }
    let rows = all_rows(&state.db).await?;
    for (def, value) in parsed {
        if let Some(row) = rows.iter().find(|r| r.key == def.key)
            && row.effective(def) != value
        {
            write(&state.db, &staff.user, row, Some(value)).await?;
        }
    }
    flash_notice(&state.db, &staff.session_hash, "Defaults saved.").await?;
    Ok(Redirect::to("/setup/defaults").into_response())
}
