//! The durable job queue, its worker loop and the periodic tasks.
//!
//! A job is a row of `jobs`. A worker claims one by setting `status = 'running'` with a
//! lease (`locked_by`, `locked_until`) in one committed statement: on PostgreSQL the
//! candidate row is picked `FOR UPDATE SKIP LOCKED`, on SQLite the write lock taken at
//! `BEGIN IMMEDIATE` serialises claimers. While it runs, the worker renews the lease; a
//! worker that dies stops renewing, the lease runs out and another worker claims the job
//! again. A handler whose work is database work commits that work and the job's `done` in
//! one transaction ([`finish`]), guarded by still holding the lease, so it happens exactly
//! once.

use super::db::{Backend, Db, Tx, now};
use super::error::AppError;
use super::web::AppState;
use crate::args;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::Notify;

/// The job kind of the test-only demo job (registered only when
/// `ACCORD_ENABLE_TEST_JOBS=1`): sleeps `ms`, then records one audit entry and finishes in
/// the same transaction.
pub const DEMO_KIND: &str = "demo.sleep_then_insert";

/// How often a worker looks for due jobs when nothing woke it.
const POLL: Duration = Duration::from_secs(1);

/// Wakes local workers when a job is queued in this process.
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// A claimed job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

impl Job {
    pub fn payload_json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or(Value::Null)
    }
}

/// One worker: its name in `locked_by` and how long its leases last.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: String,
    pub lease: Duration,
}

impl Worker {
    /// A worker named after the host, the process and a random suffix; the lease comes
    /// from `ACCORD_JOB_LEASE_SECS` (default 300 s).
    pub fn new() -> Worker {
        let lease = std::env::var("ACCORD_JOB_LEASE_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(300);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let suffix: String = super::auth::random_token().chars().take(6).collect();
        Worker {
            id: format!("{host}-{}-{suffix}", std::process::id()),
            lease: Duration::from_secs(lease),
        }
    }

    fn lease_micros(&self) -> i64 {
        i64::try_from(self.lease.as_micros()).unwrap_or(i64::MAX / 2)
    }
}

impl Default for Worker {
    fn default() -> Self {
        Worker::new()
    }
}

/// What a job handler returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
/// A job handler.
pub type Handler = for<'a> fn(&'a AppState, &'a Job, &'a Worker) -> HandlerFuture<'a>;

/// The handler of a job kind. Later features add their kinds here.
pub fn handler(kind: &str) -> Option<Handler> {
    match kind {
        super::nightly::JOB_KIND => Some(nightly_handler),
        DEMO_KIND if test_jobs_enabled() => Some(demo_handler),
        _ => None,
    }
}

fn test_jobs_enabled() -> bool {
    std::env::var("ACCORD_ENABLE_TEST_JOBS").is_ok_and(|v| v == "1")
}

fn nightly_handler<'a>(state: &'a AppState, job: &'a Job, worker: &'a Worker) -> HandlerFuture<'a> {
    Box::pin(super::nightly::run_job(state, job, worker))
}

fn demo_handler<'a>(state: &'a AppState, job: &'a Job, worker: &'a Worker) -> HandlerFuture<'a> {
    Box::pin(async move {
        let ms = job.payload_json()["ms"].as_u64().unwrap_or(0);
        set_progress(&state.db, job, worker, "sleeping").await;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let mut tx = finish(&state.db, job, worker).await?;
        tx.execute(
            "INSERT INTO audit_log (object_type, object_id, action, changes, actor_kind, actor_id, actor_name, at)
             VALUES ('jobs', $1, 'demo.done', '{}', NULL, NULL, $2, $3)",
            args![job.id, worker.id.as_str(), now()],
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    })
}

/// Queues a job inside a transaction. With a `unique_key` already queued (or done) it
/// queues nothing and returns `None`.
pub async fn enqueue_tx(
    tx: &mut Tx,
    kind: &str,
    payload: &Value,
    run_after: i64,
    unique_key: Option<&str>,
) -> Result<Option<i64>, AppError> {
    let at = now();
    let id = tx
        .fetch_i64(
            "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_after, unique_key, created_at, updated_at)
             VALUES ($1, $2, 'queued', 0, 5, $3, $4, $5, $5)
             ON CONFLICT (unique_key) DO NOTHING RETURNING id",
            args![kind, payload.to_string(), run_after, unique_key, at],
        )
        .await?;
    WAKE.notify_waiters();
    Ok(id)
}

/// Queues a job in its own transaction.
pub async fn enqueue(
    db: &Db,
    kind: &str,
    payload: &Value,
    unique_key: Option<&str>,
) -> Result<Option<i64>, AppError> {
    let mut tx = db.begin().await?;
    let id = enqueue_tx(&mut tx, kind, payload, now(), unique_key).await?;
    tx.commit().await?;
    WAKE.notify_waiters();
    Ok(id)
}

/// Claims the next due job (or one whose lease ran out), if any.
pub async fn claim(db: &Db, worker: &Worker) -> Result<Option<Job>, AppError> {
    let at = now();
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2,
                attempts = attempts + 1, updated_at = $3
         WHERE id = (SELECT id FROM jobs
                     WHERE (status = 'queued' AND run_after <= $3)
                        OR (status = 'running' AND locked_until < $3)
                     ORDER BY run_after, id LIMIT 1{skip_locked})
         RETURNING id, kind, payload, attempts, max_attempts"
    );
    let mut tx = db.begin().await?;
    let job = tx
        .fetch_optional::<Job>(
            &sql,
            args![worker.id.as_str(), at + worker.lease_micros(), at],
        )
        .await?;
    tx.commit().await?;
    Ok(job)
}

/// Opens the transaction that completes a job: marks it done if this worker still holds
/// its lease. The handler writes its effects in the same transaction and commits, so the
/// effects and the completion happen together or not at all.
pub async fn finish(db: &Db, job: &Job, worker: &Worker) -> Result<Tx, String> {
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    let at = now();
    let changed = tx
        .execute(
            "UPDATE jobs SET status = 'done', finished_at = $1, updated_at = $1,
                    locked_until = NULL, last_error = NULL
             WHERE id = $2 AND locked_by = $3 AND status = 'running'",
            args![at, job.id, worker.id.as_str()],
        )
        .await
        .map_err(|e| e.to_string())?;
    if changed == 1 {
        Ok(tx)
    } else {
        Err("the job's lease was lost to another worker".into())
    }
}

/// Records how far a job got (shown on *Background Jobs*); failures are only logged.
pub async fn set_progress(db: &Db, job: &Job, worker: &Worker, progress: &str) {
    let result = db
        .execute(
            "UPDATE jobs SET progress = $1, updated_at = $2
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            args![progress, now(), job.id, worker.id.as_str()],
        )
        .await;
    if let Err(e) = result {
        tracing::warn!(job = job.id, error = %e, "could not record job progress");
    }
}

async fn renew_lease(db: &Db, job: &Job, worker: &Worker) -> Result<(), sqlx::Error> {
    let at = now();
    db.execute(
        "UPDATE jobs SET locked_until = $1, updated_at = $2
         WHERE id = $3 AND locked_by = $4 AND status = 'running'",
        args![at + worker.lease_micros(), at, job.id, worker.id.as_str()],
    )
    .await
    .map(|_| ())
}

/// Runs one claimed job to its end: done, queued again with back-off, or failed.
pub async fn run_one(state: &AppState, job: Job, worker: &Worker) -> Result<(), AppError> {
    let outcome = if job.attempts > job.max_attempts {
        Err(format!(
            "gave up after {} attempts (the last worker stopped without finishing)",
            job.max_attempts
        ))
    } else if let Some(handler) = handler(&job.kind) {
        let work = handler(state, &job, worker);
        tokio::pin!(work);
        let renew_every = worker.lease / 3;
        loop {
            tokio::select! {
                result = &mut work => break result,
                () = tokio::time::sleep(renew_every) => {
                    if let Err(e) = renew_lease(&state.db, &job, worker).await {
                        tracing::warn!(job = job.id, error = %e, "could not renew the job's lease");
                    }
                }
            }
        }
    } else {
        Err(format!("no handler for job kind {:?}", job.kind))
    };
    let at = now();
    match outcome {
        Ok(()) => {
            // A handler that did not finish the job itself (no database work) ends here.
            state
                .db
                .execute(
                    "UPDATE jobs SET status = 'done', finished_at = $1, updated_at = $1,
                            locked_until = NULL, last_error = NULL
                     WHERE id = $2 AND locked_by = $3 AND status = 'running'",
                    args![at, job.id, worker.id.as_str()],
                )
                .await?;
        }
        Err(message) => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %message, "job failed");
            let give_up = job.attempts >= job.max_attempts;
            let retry_at = at + accord_domain::notify::backoff_secs(job.attempts) * 1_000_000;
            state
                .db
                .execute(
                    "UPDATE jobs SET status = $1, run_after = $2, last_error = $3,
                            locked_until = NULL, updated_at = $4, finished_at = $5
                     WHERE id = $6 AND locked_by = $7 AND status = 'running'",
                    args![
                        if give_up { "failed" } else { "queued" },
                        retry_at,
                        message,
                        at,
                        give_up.then_some(at),
                        job.id,
                        worker.id.as_str()
                    ],
                )
                .await?;
        }
    }
    Ok(())
}

/// Claims and runs jobs until the task is dropped.
pub async fn work(state: AppState, worker: Worker) {
    tracing::info!(worker = %worker.id, "job worker started");
    loop {
        match claim(&state.db, &worker).await {
            Ok(Some(job)) => {
                let id = job.id;
                if let Err(e) = run_one(&state, job, &worker).await {
                    tracing::error!(job = id, error = %e, "could not record a job's outcome");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not claim a job"),
        }
        let _ = tokio::time::timeout(POLL, WAKE.notified()).await;
    }
}

/// What a periodic task returns.
pub type TickFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AppError>> + Send + 'a>>;

/// A task run every `every_secs` by one instance of the cluster.
pub struct Periodic {
    pub name: &'static str,
    pub every_secs: i64,
    pub run: for<'a> fn(&'a AppState) -> TickFuture<'a>,
}

/// Every periodic task. Later features add theirs here.
pub const PERIODIC: &[Periodic] = &[
    Periodic {
        name: "tickets.sla_scan",
        every_secs: crate::tickets::sla::SCAN_EVERY_SECS,
        run: sla_scan_tick,
    },
    Periodic {
        name: "mail.send",
        every_secs: 5,
        run: mail_tick,
    },
    Periodic {
        name: "nightly.schedule",
        every_secs: 60,
        run: nightly_tick,
    },
];

fn sla_scan_tick(state: &AppState) -> TickFuture<'_> {
    Box::pin(crate::tickets::sla::scan_now(state))
}

fn mail_tick(state: &AppState) -> TickFuture<'_> {
    Box::pin(async move { crate::mail::send_due(state).await.map(|_| ()) })
}

fn nightly_tick(state: &AppState) -> TickFuture<'_> {
    Box::pin(super::nightly::schedule_due(state))
}

/// Takes the tick `slot` of a periodic task for this instance: true for exactly one
/// instance per slot, because the row only moves forward.
pub async fn take_tick(db: &Db, task: &str, slot: i64) -> Result<bool, AppError> {
    let changed = db
        .execute(
            "INSERT INTO periodic_ticks (task, last_slot, ran_at) VALUES ($1, $2, $3)
             ON CONFLICT (task) DO UPDATE SET last_slot = excluded.last_slot, ran_at = excluded.ran_at
             WHERE periodic_ticks.last_slot < excluded.last_slot",
            args![task, slot, now()],
        )
        .await?;
    Ok(changed == 1)
}

/// Runs the periodic tasks until the task is dropped.
pub async fn tick(state: AppState) {
    loop {
        let secs = now() / 1_000_000;
        for task in PERIODIC {
            match take_tick(&state.db, task.name, secs / task.every_secs).await {
                Ok(true) => {
                    if let Err(e) = (task.run)(&state).await {
                        tracing::warn!(task = task.name, error = %e, "periodic task failed");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(task = task.name, error = %e, "could not take a tick"),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A job as listed on *Background Jobs* and in the API.
#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub progress: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

impl JobRow {
    pub fn to_json(&self) -> Value {
        use super::web::{api_time, api_time_opt};
        serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "payload": serde_json::from_str::<Value>(&self.payload).unwrap_or(Value::Null),
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_after": api_time(self.run_after),
            "locked_by": self.locked_by,
            "locked_until": api_time_opt(self.locked_until),
            "last_error": self.last_error,
            "progress": self.progress,
            "created_at": api_time(self.created_at),
            "updated_at": api_time(self.updated_at),
            "finished_at": api_time_opt(self.finished_at),
        })
    }
}

/// *Retry* on a failed job: queued again now, with its attempts counted afresh.
pub async fn retry(db: &Db, id: i64) -> Result<(), AppError> {
    let at = now();
    let changed = db
        .execute(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_after = $1, updated_at = $1,
                    finished_at = NULL, locked_by = NULL, locked_until = NULL
             WHERE id = $2 AND status = 'failed'",
            args![at, id],
        )
        .await?;
    if changed == 1 {
        WAKE.notify_waiters();
        return Ok(());
    }
    match db
        .fetch_optional::<(String,)>("SELECT status FROM jobs WHERE id = $1", args![id])
        .await?
    {
        None => Err(AppError::NotFound),
        Some((status,)) => Err(AppError::Conflict(format!(
            "Only a failed job can be retried; this one is {status}."
        ))),
    }
}

/// The statuses a job can have.
pub const STATUSES: &[&str] = &["queued", "running", "done", "failed"];

/// Jobs newest first, optionally of one status, and their total.
pub async fn list(
    db: &Db,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobRow>, i64), AppError> {
    let rows = db
        .fetch_all::<JobRow>(
            "SELECT id, kind, payload, status, attempts, max_attempts, run_after, locked_by,
                    locked_until, last_error, progress, created_at, updated_at, finished_at
             FROM jobs WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
            args![status, limit, offset],
        )
        .await?;
    let total = db
        .fetch_i64(
            "SELECT COUNT(*) FROM jobs WHERE ($1 IS NULL OR status = $1)",
            args![status],
        )
        .await?
        .unwrap_or(0);
    Ok((rows, total))
}
