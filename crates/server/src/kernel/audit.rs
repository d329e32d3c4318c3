//! The Audit Log: every create, change (before and after) and archive of every object,
//! by whom and when. Written in the same transaction as the change it records.

use super::auth::EmployeeUser;
use super::db::{Db, Tx, now};
use super::error::AppError;
use super::web::{api_time, show_time};
use crate::args;
use serde_json::{Map, Value, json};

/// Who did something; `None` for the system itself (the CLI, demo data, migrations).
pub type Actor<'a> = Option<&'a EmployeeUser>;

/// Records one entry.
pub async fn record(
    tx: &mut Tx,
    object_type: &str,
    object_id: i64,
    action: &str,
    changes: Map<String, Value>,
    actor: Actor<'_>,
) -> Result<(), AppError> {
    insert(
        tx,
        object_type,
        object_id,
        action,
        changes,
        actor.map(|a| ("employee", a.id)),
        actor.map_or("System", |a| a.name.as_str()),
    )
    .await
}

/// Records one entry made by someone who is not necessarily an employee (a portal contact
/// acting on their own account): `actor_kind` is `"employee"` or `"contact"`.
#[allow(clippy::too_many_arguments)]
pub async fn record_by(
    tx: &mut Tx,
    object_type: &str,
    object_id: i64,
    action: &str,
    changes: Map<String, Value>,
    actor_kind: &str,
    actor_id: i64,
    actor_name: &str,
) -> Result<(), AppError> {
    insert(
        tx,
        object_type,
        object_id,
        action,
        changes,
        Some((actor_kind, actor_id)),
        actor_name,
    )
    .await
}

async fn insert(
    tx: &mut Tx,
    object_type: &str,
    object_id: i64,
    action: &str,
    changes: Map<String, Value>,
    actor: Option<(&str, i64)>,
    actor_name: &str,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO audit_log (object_type, object_id, action, changes, actor_kind, actor_id, actor_name, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            object_type,
            object_id,
            action,
            Value::Object(changes).to_string(),
            actor.map(|(kind, _)| kind),
            actor.map(|(_, id)| id),
            actor_name,
            now()
        ],
    )
    .await?;
    Ok(())
}

/// One stored entry.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub action: String,
    pub changes: String,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub at: i64,
}

/// One changed field, ready to show.
pub struct ChangeLine {
    pub field: String,
    pub from: String,
    pub to: String,
}

impl AuditEntry {
    pub fn changes_json(&self) -> Value {
        serde_json::from_str(&self.changes).unwrap_or(Value::Null)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "action": self.action,
            "changes": self.changes_json(),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "at": api_time(self.at),
        })
    }

    pub fn when(&self) -> String {
        show_time(self.at)
    }

    pub fn who(&self) -> &str {
        self.actor_name.as_deref().unwrap_or("System")
    }

    /// The changed fields as lines of text for the Audit Log tab.
    pub fn lines(&self) -> Vec<ChangeLine> {
        let Value::Object(map) = self.changes_json() else {
            return Vec::new();
        };
        map.into_iter()
            .map(|(field, change)| {
                // Reference fields carry the names of what they point at.
                let shown = |key: &str| {
                    let name = change
                        .get(format!("{key}_name").as_str())
                        .filter(|v| !v.is_null());
                    show_value(name.or_else(|| change.get(key)).unwrap_or(&Value::Null))
                };
                ChangeLine {
                    field: field.trim_end_matches("_id").replace('_', " "),
                    from: shown("from"),
                    to: shown("to"),
                }
            })
            .collect()
    }
}

/// A JSON value as a person reads it.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(true) => "Yes".into(),
        Value::Bool(false) => "No".into(),
        Value::String(s) if s.is_empty() => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "—".into(),
        Value::Array(items) => items.iter().map(show_value).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// An object's entries, newest first, and their total.
pub async fn list(
    db: &Db,
    object_type: &str,
    object_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEntry>, i64), AppError> {
    let items = db
        .fetch_all::<AuditEntry>(
            "SELECT id, action, changes, actor_id, actor_name, at FROM audit_log
             WHERE object_type = $1 AND object_id = $2 ORDER BY id DESC LIMIT $3 OFFSET $4",
            args![object_type, object_id, limit, offset],
        )
        .await?;
    let total = db
        .fetch_i64(
            "SELECT COUNT(*) FROM audit_log WHERE object_type = $1 AND object_id = $2",
            args![object_type, object_id],
        )
        .await?
        .unwrap_or(0);
    Ok((items, total))
}
