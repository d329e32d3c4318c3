//! The SLA clock: due times from the settings (*Setup → Control → Defaults*: working days,
//! hours, time zone, per-priority targets) and the breach scan that runs in the background.

use crate::args;
use crate::kernel::db::{Db, Tx, now};
use crate::kernel::error::AppError;
use crate::notifications;
use accord_domain::settings::find;
use accord_domain::sla::{self, DueTimes, Targets, WorkingCalendar, target_keys};
use accord_domain::tickets::Priority;

/// How often the breach scan runs (a periodic task, `kernel::jobs::PERIODIC`, run by one
/// instance per tick): a breach is marked at most this long after it happens.
pub const SCAN_EVERY_SECS: i64 = 30;

/// A setting's value inside a transaction (stored, else its default).
async fn setting(tx: &mut Tx, key: &str) -> Result<String, AppError> {
    let def = find(key).ok_or_else(|| AppError::Internal(format!("unknown setting {key}")))?;
    let stored = tx
        .fetch_optional::<(Option<String>,)>(
            "SELECT value FROM settings WHERE key = $1",
            args![key],
        )
        .await?
        .and_then(|(v,)| v);
    Ok(stored.unwrap_or_else(|| def.default.to_owned()))
}

/// The working calendar the SLA targets count on.
pub async fn calendar(tx: &mut Tx) -> Result<WorkingCalendar, AppError> {
    let days = setting(tx, "sla_working_days").await?;
    let hours = setting(tx, "sla_working_hours").await?;
    let zone = setting(tx, "sla_time_zone").await?;
    WorkingCalendar::parse(&days, &hours, &zone)
        .map_err(|e| AppError::Internal(format!("the SLA calendar settings are not valid: {e}")))
}

/// A priority's targets.
pub async fn targets(tx: &mut Tx, priority: Priority) -> Result<Targets, AppError> {
    let (response, resolution) = target_keys(priority);
    let minutes = |v: String| v.parse::<i64>().unwrap_or(0);
    Ok(Targets {
        response_minutes: minutes(setting(tx, &response).await?),
        resolution_minutes: minutes(setting(tx, &resolution).await?),
    })
}

/// Due times of a ticket opened at `opened_at` with `priority`.
pub async fn due_times(
    tx: &mut Tx,
    opened_at: i64,
    priority: Priority,
) -> Result<DueTimes, AppError> {
    let calendar = calendar(tx).await?;
    let targets = targets(tx, priority).await?;
    Ok(sla::due_times(opened_at, targets, &calendar))
}

#[derive(sqlx::FromRow)]
struct Breached {
    id: i64,
    summary: String,
    assignee_id: Option<i64>,
}

/// Marks open tickets past a target as breached and tells their assignees (*SLA breached*),
/// in one transaction; returns how many were newly marked.
///
/// Each statement only touches tickets not yet marked, so instances running it at the same
/// time never mark one twice (the row lock, or SQLite's write lock, serialises them and the
/// condition is checked again). Each reads one partial index (migration 0005).
pub async fn scan(db: &Db, public_url: &str, at: i64) -> Result<u64, AppError> {
    let mut tx = db.begin().await?;
    let mut breached = tx
        .fetch_all::<Breached>(
            "UPDATE tickets SET breached = TRUE, breached_at = $1
             WHERE resolution_due_at < $1 AND NOT breached AND NOT is_closed AND archived_at IS NULL
             RETURNING id, summary, assignee_id",
            args![at],
        )
        .await?;
    breached.extend(
        tx.fetch_all::<Breached>(
            "UPDATE tickets SET breached = TRUE, breached_at = $1
             WHERE response_due_at < $1 AND responded_at IS NULL AND NOT breached AND NOT is_closed
               AND archived_at IS NULL
             RETURNING id, summary, assignee_id",
            args![at],
        )
        .await?,
    );
    let mut announce = Vec::new();
    for ticket in &breached {
        let Some(assignee) = ticket.assignee_id else {
            continue;
        };
        let event = notifications::Event {
            kind: "sla_breached",
            object_type: "tickets",
            object_label: "ticket",
            object_id: ticket.id,
            object_name: &ticket.summary,
            actor_name: "Accord",
            text: "",
        };
        announce.extend(notifications::notify(&mut tx, public_url, &event, &[assignee]).await?);
    }
    tx.commit().await?;
    announce.sort_unstable();
    announce.dedup();
    notifications::announce(db, announce).await;
    Ok(breached.len() as u64)
}

/// The periodic breach scan, as of now.
pub async fn scan_now(state: &crate::kernel::web::AppState) -> Result<(), AppError> {
    let marked = scan(&state.db, &state.config.public_url, now()).await?;
    if marked > 0 {
        tracing::info!(tickets = marked, "SLA breaches marked");
    }
    Ok(())
}
