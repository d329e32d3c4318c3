//! Overnight processing: a list of tasks run once per date, at the configured local time
//! (*Nightly Run Time* in *Nightly Run Time Zone*), or by hand with `accord nightly`.
//!
//! A date is done when its row is in `nightly_runs`; the row and every task's work are
//! committed in one transaction, so a date runs once however many instances or commands
//! try, and a crash leaves it to be run again. Missed nights are caught up (at most
//! [`MAX_CATCH_UP`] of them) by the periodic `nightly.schedule` task, which queues one
//! `nightly` job per date.

use super::db::{Db, Tx, now};
use super::error::AppError;
use super::jobs::{self, Job, Worker};
use super::web::AppState;
use crate::args;
use accord_domain::nightly::{Date, dates_to_run, due_date, parse_run_time};
use chrono::{Datelike, Timelike};
use std::future::Future;
use std::pin::Pin;

/// The job kind of one date's run.
pub const JOB_KIND: &str = "nightly";
/// Most missed nights caught up at once.
pub const MAX_CATCH_UP: u32 = 7;

const DAY_MICROS: i64 = 86_400_000_000;

/// What a nightly task returns: a line for the run's summary.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<String, AppError>> + Send + 'a>>;

/// One task of the nightly run; it does its work in the run's transaction.
pub struct NightlyTask {
    pub name: &'static str,
    pub run: for<'a> fn(&'a mut Tx, Date) -> TaskFuture<'a>,
}

/// Every nightly task, in order. Later features (invoices from schedules ...) add theirs.
pub const TASKS: &[NightlyTask] = &[
    NightlyTask {
        name: "purge expired sessions",
        run: purge_sessions,
    },
    NightlyTask {
        name: "purge old login attempts",
        run: purge_login_attempts,
    },
    NightlyTask {
        name: "purge old read notifications",
        run: purge_read_notifications,
    },
    NightlyTask {
        name: "purge old finished jobs",
        run: purge_finished_jobs,
    },
];

fn purge_finished_jobs(tx: &mut Tx, _: Date) -> TaskFuture<'_> {
    Box::pin(async move {
        // Failed jobs stay until someone has looked; done ones go after 30 days.
        let n = tx
            .execute(
                "DELETE FROM jobs WHERE status = 'done' AND finished_at < $1",
                args![now() - 30 * DAY_MICROS],
            )
            .await?;
        Ok(format!("{n} jobs done over 30 days ago removed"))
    })
}

fn purge_sessions(tx: &mut Tx, _: Date) -> TaskFuture<'_> {
    Box::pin(async move {
        let n = tx
            .execute("DELETE FROM sessions WHERE expires_at < $1", args![now()])
            .await?;
        Ok(format!("{n} expired sessions removed"))
    })
}

fn purge_login_attempts(tx: &mut Tx, _: Date) -> TaskFuture<'_> {
    Box::pin(async move {
        let n = tx
            .execute(
                "DELETE FROM login_attempts WHERE at < $1",
                args![now() - 30 * DAY_MICROS],
            )
            .await?;
        Ok(format!("{n} login attempts older than 30 days removed"))
    })
}

fn purge_read_notifications(tx: &mut Tx, _: Date) -> TaskFuture<'_> {
    Box::pin(async move {
        let n = tx
            .execute(
                "DELETE FROM notifications WHERE read_at IS NOT NULL AND read_at < $1",
                args![now() - 90 * DAY_MICROS],
            )
            .await?;
        Ok(format!("{n} notifications read over 90 days ago removed"))
    })
}

/// Runs the nightly tasks for `date` unless that date is done. Returns the summary, or
/// `None` when the date had been done already.
pub async fn run_date(db: &Db, date: Date) -> Result<Option<String>, AppError> {
    let mut tx = db.begin().await?;
    let started = now();
    // A second runner of the same date waits here on the key, then inserts nothing.
    let claimed = tx
        .execute(
            "INSERT INTO nightly_runs (run_date, started_at, finished_at, summary)
             VALUES ($1, $2, $2, '') ON CONFLICT (run_date) DO NOTHING",
            args![date.to_string(), started],
        )
        .await?;
    if claimed == 0 {
        return Ok(None);
    }
    let mut lines = Vec::new();
    for task in TASKS {
        let line = (task.run)(&mut tx, date).await?;
        lines.push(format!("{}: {line}", task.name));
    }
    let summary = lines.join("; ");
    tx.execute(
        "UPDATE nightly_runs SET finished_at = $1, summary = $2 WHERE run_date = $3",
        args![now(), summary.as_str(), date.to_string()],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(date = %date, %summary, "nightly run done");
    Ok(Some(summary))
}

/// The `nightly` job: runs its date (payload `{"date": "YYYY-MM-DD"}`).
pub async fn run_job(state: &AppState, job: &Job, worker: &Worker) -> Result<(), String> {
    let payload = job.payload_json();
    let date = payload["date"]
        .as_str()
        .and_then(Date::parse)
        .ok_or_else(|| format!("the payload {payload} has no valid date"))?;
    jobs::set_progress(&state.db, job, worker, &format!("running {date}")).await;
    run_date(&state.db, date)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The configured zone (UTC when the setting is not a known zone) and run time.
async fn schedule(db: &Db) -> Result<(chrono_tz::Tz, u32), AppError> {
    let zone_name = crate::settings::value_of(db, "nightly_time_zone").await?;
    let zone = zone_name.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
        tracing::warn!(zone = %zone_name, "unknown Nightly Run Time Zone; using UTC");
        chrono_tz::UTC
    });
    let time = crate::settings::value_of(db, "nightly_run_time").await?;
    Ok((zone, parse_run_time(&time).unwrap_or(120)))
}

/// Today's date in the configured zone, and the minutes after its midnight.
pub async fn local_today(db: &Db) -> Result<(Date, u32, u32), AppError> {
    let (zone, run_at) = schedule(db).await?;
    let local = chrono::Utc::now().with_timezone(&zone);
    let today = Date {
        year: local.year(),
        month: local.month(),
        day: local.day(),
    };
    Ok((today, local.hour() * 60 + local.minute(), run_at))
}

/// The periodic `nightly.schedule` task: queues a `nightly` job for every date due and not
/// done (the unique key makes a date's job once).
pub async fn schedule_due(state: &AppState) -> Result<(), AppError> {
    let (today, minutes, run_at) = local_today(&state.db).await?;
    let due = due_date(today, minutes, run_at);
    let last: Option<String> = state
        .db
        .fetch_optional::<(String,)>(
            "SELECT run_date FROM nightly_runs ORDER BY run_date DESC LIMIT 1",
            vec![],
        )
        .await?
        .map(|(d,)| d);
    let last = last.as_deref().and_then(Date::parse);
    for date in dates_to_run(last, due, MAX_CATCH_UP) {
        let key = format!("nightly:{date}");
        let payload = serde_json::json!({"date": date.to_string()});
        jobs::enqueue(&state.db, JOB_KIND, &payload, Some(&key)).await?;
    }
    Ok(())
}

/// A run as listed on *Background Jobs*.
#[derive(Debug, sqlx::FromRow)]
pub struct RunRow {
    pub run_date: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub summary: String,
}

/// The latest runs, newest first.
pub async fn recent_runs(db: &Db, limit: i64) -> Result<Vec<RunRow>, AppError> {
    Ok(db
        .fetch_all::<RunRow>(
            "SELECT run_date, started_at, finished_at, summary FROM nightly_runs
             ORDER BY run_date DESC LIMIT $1",
            args![limit],
        )
        .await?)
}
