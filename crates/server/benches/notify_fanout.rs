//! Benchmark: one event fanned out to many recipients, and mails through a real SMTP sink,
//! on SQLite and PostgreSQL.
//!
//! 1. Fan-out: 10,000 employees are tagged by one event ("mentioned in a post"). Measured:
//!    the in-app rows written and committed, and the count push delivered (the bell
//!    broadcast every open stream listens to; on PostgreSQL it travels through
//!    `NOTIFY`/`LISTEN`). Target: under 500 ms. Measured twice: in-app only, and with the
//!    10,000 mails queued as well (both switches on, the out-of-the-box setting).
//! 2. Mail: 1,000 queued mails sent to aiosmtpd on 127.0.0.1 (the test virtualenv's Python,
//!    `ACCORD_VENV` or `.venv`); mails per second.
//!
//! Run: `cargo bench -p accord --bench notify_fanout`.
//! Environment: `ACCORD_BENCH_RECIPIENTS` (default 10000), `ACCORD_BENCH_MAILS` (default
//! 1000), `ACCORD_BENCH_BACKENDS` (`sqlite,postgres`), `ACCORD_BENCH_POSTGRES_URL`.

use accord::config::Config;
use accord::kernel::db::{Arg, Db, now};
use accord::kernel::web::AppState;
use accord::notifications::{self, Event, bell};
use anyhow::{Context, Result, anyhow};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fresh(backend: &str, dir: &Path) -> Result<(AppState, Option<String>)> {
    let (url, pg_db) = if backend == "postgres" {
        let admin = std::env::var("ACCORD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let name = format!("accord_bench_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&pool)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await?;
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        (format!("{base}/{name}"), Some(name))
    } else {
        (format!("sqlite://{}/bench.db", dir.display()), None)
    };
    let state = accord::prepare(Config {
        listen: "127.0.0.1:0".into(),
        database_url: url,
        public_url: "https://psa.example".into(),
        secret_key_file: std::env::temp_dir().join("accord-bench-secret.key"),
    })
    .await?;
    Ok((state, pg_db))
}

async fn drop_pg(name: Option<String>) -> Result<()> {
    if let Some(name) = name {
        let admin = std::env::var("ACCORD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let pool = sqlx::PgPool::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&pool)
        .await?;
        pool.close().await;
    }
    Ok(())
}

async fn seed_employees(db: &Db, n: usize) -> Result<Vec<i64>> {
    let at = now();
    let mut tx = db.begin().await?;
    for start in (0..n).step_by(100) {
        let end = (start + 100).min(n);
        let mut sql = String::from(
            "INSERT INTO employees (name, email, is_admin, created_at, updated_at) VALUES ",
        );
        let mut args: Vec<Arg> = Vec::new();
        for (k, i) in (start..end).enumerate() {
            let b = k * 4;
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, FALSE, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4
            ));
            args.extend(accord::args![
                format!("Employee {i}"),
                format!("employee{i}@bench.example"),
                at,
                at
            ]);
        }
        tx.execute(&sql, args).await?;
    }
    tx.commit().await?;
    let ids: Vec<(i64,)> = db
        .fetch_all("SELECT id FROM employees ORDER BY id", vec![])
        .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// One event to every id; returns (rows committed, push delivered) in milliseconds.
async fn fan_out(state: &AppState, ids: &[i64]) -> Result<(f64, f64)> {
    let mut rx = bell::subscribe();
    let last = *ids.last().ok_or_else(|| anyhow!("no recipients"))?;
    let start = Instant::now();
    let mut tx = state.db.begin().await?;
    let event = Event {
        kind: "mentioned_in_post",
        object_type: "employees",
        object_label: "employee",
        object_id: ids[0],
        object_name: "Employee 0",
        actor_name: "Bench",
        text: "Everyone, please read this.",
    };
    let notified = notifications::notify(&mut tx, &state.config.public_url, &event, ids).await?;
    tx.commit().await?;
    let committed = start.elapsed();
    notifications::announce(&state.db, notified).await;
    // Wait until the broadcast naming the last recipient arrived.
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Ok(changed) if changed.contains(&last) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(anyhow!("bell: {e}")),
            }
        }
    })
    .await
    .context("the push did not arrive")??;
    let pushed = start.elapsed();
    Ok((
        committed.as_secs_f64() * 1000.0,
        pushed.as_secs_f64() * 1000.0,
    ))
}

fn python() -> PathBuf {
    let venv = std::env::var("ACCORD_VENV").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
        PathBuf::from,
    );
    venv.join("bin/python")
}

async fn mail_throughput(state: &AppState, mails: usize, dir: &Path) -> Result<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let sink_dir = dir.join("mail");
    let mut child = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py"))
        .arg(port.to_string())
        .arg(&sink_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start the aiosmtpd sink (is the .venv with aiosmtpd there?)")?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    if line.trim() != "READY" {
        let _ = child.kill();
        return Err(anyhow!("the SMTP sink did not start"));
    }
    for (key, value) in [
        ("smtp_host", "127.0.0.1".to_owned()),
        ("smtp_port", port.to_string()),
        ("smtp_security", "none".to_owned()),
    ] {
        state
            .db
            .execute(
                "UPDATE settings SET value = $1 WHERE key = $2",
                accord::args![value, key],
            )
            .await?;
    }
    state.db.execute("DELETE FROM outbox", vec![]).await?;
    let mut tx = state.db.begin().await?;
    for i in 0..mails {
        accord::mail::queue_tx(
            &mut tx,
            &accord::mail::NewMail {
                to: &format!("employee{i}@bench.example"),
                subject: "Benchmark",
                text: "Hello,\n\nthis is a benchmark mail.\n",
                html: "<p>Hello,</p><p>this is a benchmark mail.</p>",
                event_kind: None,
                object: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    let start = Instant::now();
    let mut sent = 0;
    while sent < mails {
        let round = accord::mail::send_due(state).await?;
        if round.sent == 0 {
            let _ = child.kill();
            return Err(anyhow!("sending stalled at {sent}: {round:?}"));
        }
        sent += round.sent;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    Ok(mails as f64 / secs)
}

#[tokio::main]
async fn main() -> Result<()> {
    let recipients = env_usize("ACCORD_BENCH_RECIPIENTS", 10_000);
    let mails = env_usize("ACCORD_BENCH_MAILS", 1_000);
    let backends =
        std::env::var("ACCORD_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    println!("recipients: {recipients}, mails: {mails}");
    println!(
        "{:<9} {:<28} {:>12} {:>12} {:>8}",
        "backend", "case", "commit ms", "pushed ms", "target"
    );
    for backend in backends.split(',').map(str::trim) {
        let dir = tempfile::tempdir()?;
        let (state, pg_db) = fresh(backend, dir.path()).await?;
        let listener = notifications::start(&state);
        // Let the listener connect before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ids = seed_employees(&state.db, recipients).await?;
        let result: Result<()> = async {
            let mut template = notifications::template(&state.db, "mentioned_in_post").await?;
            template.email = false;
            notifications::save_template(&state.db, &template).await?;
            for (case, email) in [("in-app only", false), ("in-app + 10k mails queued", true)] {
                template.email = email;
                notifications::save_template(&state.db, &template).await?;
                let (committed, pushed) = fan_out(&state, &ids).await?;
                println!(
                    "{backend:<9} {case:<28} {committed:>12.1} {pushed:>12.1} {:>8}",
                    if pushed < 500.0 { "met" } else { "MISSED" }
                );
            }
            let count_start = Instant::now();
            let unread = notifications::unread_count(&state.db, ids[ids.len() / 2]).await?;
            println!(
                "{backend:<9} one recipient's count ({unread}) read in {:.2} ms",
                count_start.elapsed().as_secs_f64() * 1000.0
            );
            let rate = mail_throughput(&state, mails, dir.path()).await?;
            println!("{backend:<9} SMTP: {mails} mails to aiosmtpd at {rate:.0} mails/s");
            Ok(())
        }
        .await;
        if let Some(task) = listener {
            task.abort();
        }
        state.db.close().await;
        drop_pg(pg_db).await?;
        result?;
    }
    Ok(())
}
