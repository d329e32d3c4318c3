//! The job queue, periodic ticks and the nightly run, on SQLite and PostgreSQL, with real
//! worker processes (`accord worker`) killed with SIGKILL mid-job.

mod common;

use accord::config::Config;
use accord::kernel::db::Db;
use accord::kernel::jobs::{self, DEMO_KIND};
use accord::kernel::web::AppState;
use common::{Backend, fresh_database};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A migrated database without a server (so no in-process worker takes the test's jobs).
async fn database(backend: Backend) -> (AppState, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(backend, dir.path()).await;
    let state = accord::prepare(Config {
        listen: "127.0.0.1:0".into(),
        database_url: url.clone(),
        public_url: "http://accord.test".into(),
        secret_key_file: dir.path().join("accord-secret.key"),
    })
    .await
    .expect("prepare");
    (state, url, dir)
}

/// Starts `accord worker` with the test job kind and a short lease.
fn worker(url: &str, lease_secs: u32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .env("ACCORD_SECRET_KEY_FILE", common::test_secret_key_file())
        .arg("worker")
        .env("ACCORD_DATABASE_URL", url)
        .env("ACCORD_ENABLE_TEST_JOBS", "1")
        .env("ACCORD_JOB_LEASE_SECS", lease_secs.to_string())
        .env("ACCORD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start accord worker")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status(db: &Db, id: i64) -> String {
    db.fetch_optional::<(String,)>("SELECT status FROM jobs WHERE id = $1", accord::args![id])
        .await
        .expect("status")
        .map(|(s,)| s)
        .unwrap_or_default()
}

async fn marks(db: &Db, id: i64) -> i64 {
    db.fetch_i64(
        "SELECT COUNT(*) FROM audit_log WHERE object_type = 'jobs' AND object_id = $1 AND action = 'demo.done'",
        accord::args![id],
    )
    .await
    .expect("count")
    .unwrap_or(0)
}

async fn wait_for(db: &Db, id: i64, wanted: &str, limit: Duration) {
    let start = Instant::now();
    while status(db, id).await != wanted {
        assert!(
            start.elapsed() < limit,
            "job {id} did not become {wanted} within {limit:?} (it is {})",
            status(db, id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(Backend::Postgres).await;
            }
        }
    };
}

on_both!(
    a_worker_killed_mid_job_is_replaced_and_the_job_completes_once,
    |backend| async move {
        let (state, url, _dir) = database(backend).await;
        let id = jobs::enqueue(&state.db, DEMO_KIND, &json!({"ms": 3000}), None)
            .await
            .expect("enqueue")
            .expect("id");
        let mut first = worker(&url, 2);
        wait_for(&state.db, id, "running", Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        first.kill().expect("kill -9 the worker"); // SIGKILL: no cleanup runs
        first.wait().expect("reap");
        assert_eq!(
            status(&state.db, id).await,
            "running",
            "the lease still holds it"
        );
        assert_eq!(
            marks(&state.db, id).await,
            0,
            "the killed worker finished nothing"
        );

        let _second = Killed(worker(&url, 2));
        wait_for(&state.db, id, "done", Duration::from_secs(60)).await;
        assert_eq!(
            marks(&state.db, id).await,
            1,
            "the job's work happened exactly once"
        );
        let attempts = state
            .db
            .fetch_i64("SELECT attempts FROM jobs WHERE id = $1", accord::args![id])
            .await
            .expect("attempts");
        assert_eq!(attempts, Some(2));
    }
);

on_both!(
    two_workers_split_a_thousand_jobs_and_run_none_twice,
    |backend| async move {
        let (state, url, _dir) = database(backend).await;
        let mut tx = state.db.begin().await.expect("begin");
        for _ in 0..1000 {
            jobs::enqueue_tx(&mut tx, DEMO_KIND, &json!({"ms": 0}), 0, None)
                .await
                .expect("enqueue");
        }
        tx.commit().await.expect("commit");
        let _a = Killed(worker(&url, 30));
        let _b = Killed(worker(&url, 30));
        let start = Instant::now();
        loop {
            let done = state
                .db
                .fetch_i64("SELECT COUNT(*) FROM jobs WHERE status = 'done'", vec![])
                .await
                .expect("count")
                .unwrap_or(0);
            if done == 1000 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "only {done} of 1000 jobs done"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let per_job: Vec<(i64, i64)> = state
            .db
            .fetch_all(
                "SELECT object_id, COUNT(*) FROM audit_log WHERE object_type = 'jobs'
                 GROUP BY object_id",
                vec![],
            )
            .await
            .expect("marks");
        assert_eq!(per_job.len(), 1000, "every job ran");
        assert!(per_job.iter().all(|(_, n)| *n == 1), "no job ran twice");
        let per_worker: Vec<(String, i64)> = state
            .db
            .fetch_all(
                "SELECT actor_name, COUNT(*) FROM audit_log WHERE object_type = 'jobs'
                 GROUP BY actor_name",
                vec![],
            )
            .await
            .expect("workers");
        assert_eq!(
            per_worker.len(),
            2,
            "both workers took jobs: {per_worker:?}"
        );
    }
);

on_both!(a_failed_job_can_be_retried, |backend| async move {
    let (state, _url, _dir) = database(backend).await;
    let id = jobs::enqueue(&state.db, "no.such.kind", &json!({}), None)
        .await
        .expect("enqueue")
        .expect("id");
    state
        .db
        .execute(
            "UPDATE jobs SET max_attempts = 1 WHERE id = $1",
            accord::args![id],
        )
        .await
        .expect("update");
    let worker = jobs::Worker::new();
    let job = jobs::claim(&state.db, &worker)
        .await
        .expect("claim")
        .expect("a job");
    jobs::run_one(&state, job, &worker).await.expect("run");
    assert_eq!(
        status(&state.db, id).await,
        "failed",
        "no handler, one attempt"
    );
    let error: Option<(Option<String>,)> = state
        .db
        .fetch_optional(
            "SELECT last_error FROM jobs WHERE id = $1",
            accord::args![id],
        )
        .await
        .expect("error");
    assert!(
        error
            .and_then(|(e,)| e)
            .is_some_and(|e| e.contains("no handler"))
    );
    jobs::retry(&state.db, id).await.expect("retry");
    assert_eq!(status(&state.db, id).await, "queued");
    assert!(matches!(
        jobs::retry(&state.db, id).await,
        Err(accord::kernel::error::AppError::Conflict(_))
    ));
    assert!(matches!(
        jobs::retry(&state.db, id + 1000).await,
        Err(accord::kernel::error::AppError::NotFound)
    ));
});

on_both!(
    a_periodic_tick_runs_on_one_instance_only,
    |backend| async move {
        let (state, _url, _dir) = database(backend).await;
        assert!(
            jobs::take_tick(&state.db, "test.task", 100)
                .await
                .expect("tick")
        );
        assert!(
            !jobs::take_tick(&state.db, "test.task", 100)
                .await
                .expect("tick")
        );
        assert!(
            !jobs::take_tick(&state.db, "test.task", 99)
                .await
                .expect("tick")
        );
        assert!(
            jobs::take_tick(&state.db, "test.task", 101)
                .await
                .expect("tick")
        );
    }
);

on_both!(
    the_nightly_run_happens_once_per_date_and_catches_up,
    |backend| async move {
        let (state, url, _dir) = database(backend).await;
        let run = |date: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_accord"))
                .env("ACCORD_SECRET_KEY_FILE", common::test_secret_key_file())
                .args(["nightly", "--date", date])
                .env("ACCORD_DATABASE_URL", &url)
                .output()
                .expect("accord nightly");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert!(run("2026-01-05").contains("done"));
        assert!(run("2026-01-05").contains("already done"));
        let runs = state
            .db
            .fetch_i64("SELECT COUNT(*) FROM nightly_runs", vec![])
            .await
            .expect("count");
        assert_eq!(runs, Some(1));

        // Three nights ago was the last one done: the missed ones up to the due date are
        // queued, once however often the scheduler looks.
        let (today, minutes, run_at) = accord::kernel::nightly::local_today(&state.db)
            .await
            .expect("today");
        let due = accord_domain::nightly::due_date(today, minutes, run_at);
        let last = due.add_days(-3);
        state
            .db
            .execute(
                "INSERT INTO nightly_runs (run_date, started_at, finished_at, summary) VALUES ($1, 0, 0, '')",
                accord::args![last.to_string()],
            )
            .await
            .expect("insert");
        accord::kernel::nightly::schedule_due(&state)
            .await
            .expect("schedule");
        accord::kernel::nightly::schedule_due(&state)
            .await
            .expect("schedule again");
        let queued: Vec<(String,)> = state
            .db
            .fetch_all(
                "SELECT payload FROM jobs WHERE kind = 'nightly' ORDER BY id",
                vec![],
            )
            .await
            .expect("jobs");
        let dates: Vec<String> = queued
            .iter()
            .map(|(p,)| {
                serde_json::from_str::<serde_json::Value>(p).expect("json")["date"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let expected: Vec<String> = (1..=3).map(|d| last.add_days(d).to_string()).collect();
        assert_eq!(dates, expected);
    }
);
