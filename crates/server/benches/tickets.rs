//! Benchmark: the ticket list (filtered, saved views, full-text search) and the SLA breach
//! scan over a large service desk, on SQLite and PostgreSQL.
//!
//! For each backend it makes a fresh database, seeds 1,000,000 tickets by default (SQL bulk
//! insert: 500 customers, 20 employees, one workflow), starts the real HTTP server on
//! 127.0.0.1:0, and times `GET /api/v1/tickets?...` one request after another (latency, not
//! throughput), printing p50/p95/p99 against the target (p99 < 10 ms). Then it times the
//! breach scan over the open tickets (target < 1 s): once when 1 % of them have just become
//! late, once when nothing has.
//!
//! Run: `cargo bench -p accord --bench tickets`.
//!
//! Environment:
//! - `ACCORD_BENCH_TICKETS`: tickets to seed (default 1000000).
//! - `ACCORD_BENCH_REQUESTS`: timed requests per query (default 300, after 30 warm-up).
//! - `ACCORD_BENCH_BACKENDS`: `sqlite,postgres` (default both).
//! - `ACCORD_BENCH_POSTGRES_URL`: server for the throw-away database `accord_bench_t_<pid>`
//!   (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
//!
//! All traffic goes to 127.0.0.1; every phase is bounded in request count.

use accord::config::Config;
use accord::kernel::db::{Db, now};
use accord::kernel::resource::create;
use accord::kernel::web::{AppState, into_map};
use accord::tickets::setup::{TicketTypes, Workflows};
use anyhow::{Context, Result, anyhow};
use serde_json::json;
use std::time::{Duration, Instant};

const TARGET_P99_MS: f64 = 10.0;
const TARGET_SCAN_MS: f64 = 1000.0;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CUSTOMERS: i64 = 500;
const EMPLOYEES: i64 = 20;

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<()> {
    let tickets = env_num("ACCORD_BENCH_TICKETS", 1_000_000);
    let requests = env_num("ACCORD_BENCH_REQUESTS", 300) as usize;
    let backends =
        std::env::var("ACCORD_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("# Ticket benchmark: {tickets} tickets, {requests} sequential requests per query");
    for backend in backends.split(',').map(str::trim) {
        let dir = tempfile::tempdir()?;
        let (url, drop_db) = match backend {
            "sqlite" => (format!("sqlite://{}/bench.db", dir.path().display()), None),
            "postgres" => {
                let admin = std::env::var("ACCORD_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
                let name = format!("accord_bench_t_{}", std::process::id());
                let db = Db::connect(&admin).await?;
                db.execute(&format!("DROP DATABASE IF EXISTS {name}"), vec![])
                    .await?;
                db.execute(&format!("CREATE DATABASE {name}"), vec![])
                    .await?;
                db.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_owned();
                (format!("{base}/{name}"), Some((admin, name)))
            }
            other => return Err(anyhow!("unknown backend {other}")),
        };
        let result = run(backend, &url, dir.path(), tickets, requests).await;
        if let Some((admin, name)) = drop_db {
            let db = Db::connect(&admin).await?;
            db.execute(
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                vec![],
            )
            .await?;
            db.close().await;
        }
        result?;
    }
    Ok(())
}

async fn run(
    backend: &str,
    url: &str,
    dir: &std::path::Path,
    tickets: i64,
    requests: usize,
) -> Result<()> {
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url.into(),
        public_url: "http://127.0.0.1".into(),
        secret_key_file: dir.join("secret.key"),
    };
    let state = accord::prepare(config).await?;
    let started = Instant::now();
    seed(&state, tickets).await.context("seeding")?;
    println!(
        "\n## {backend}: seeded {tickets} tickets in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let server = tokio::spawn(async move {
        let _ = accord::serve(server_state, listener, async {
            let _ = stopped.await;
        })
        .await;
    });
    let admin = state
        .db
        .fetch_i64(
            "SELECT id FROM employees WHERE email = 'e2@bench.test'",
            vec![],
        )
        .await?
        .ok_or_else(|| anyhow!("no bench employee"))?;
    let token = accord::auth::create_api_token(&state.db, admin, "bench").await?;
    let client = reqwest::Client::new();

    println!("| query | rows | p50 ms | p95 ms | p99 ms | target p99 < {TARGET_P99_MS} ms |");
    println!("|---|---|---|---|---|---|");
    let queries = [
        ("newest first (no filter)", "/api/v1/tickets".to_owned()),
        ("view=open", "/api/v1/tickets?view=open".to_owned()),
        ("view=mine", "/api/v1/tickets?view=mine".to_owned()),
        (
            "view=unassigned",
            "/api/v1/tickets?view=unassigned".to_owned(),
        ),
        ("view=breached", "/api/v1/tickets?view=breached".to_owned()),
        (
            "status=Waiting on Customer",
            "/api/v1/tickets?status=Waiting%20on%20Customer".to_owned(),
        ),
        ("customer_id", "/api/v1/tickets?customer_id=7".to_owned()),
        (
            "assignee_id + status",
            "/api/v1/tickets?assignee_id=3&status=New".to_owned(),
        ),
        (
            "search, common word (printer)",
            "/api/v1/tickets?search=printer".to_owned(),
        ),
        (
            "search, rare word",
            "/api/v1/tickets?search=ticket-424242".to_owned(),
        ),
        (
            "page 10 of view=open",
            "/api/v1/tickets?view=open&page=10".to_owned(),
        ),
    ];
    for (label, path) in queries {
        let mut times = Vec::with_capacity(requests);
        let mut rows = 0;
        for i in 0..requests + 30 {
            let t = Instant::now();
            let resp = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .timeout(Duration::from_secs(30))
                .send()
                .await?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await?;
            if !status.is_success() {
                return Err(anyhow!("{path}: {status} {body}"));
            }
            if i >= 30 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            rows = body["items"].as_array().map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        let p99 = p(0.99);
        println!(
            "| {label} | {rows} | {:.2} | {:.2} | {:.2} | {} |",
            p(0.5),
            p(0.95),
            p99,
            if p99 < TARGET_P99_MS {
                "met"
            } else {
                "NOT met"
            }
        );
    }

    // The breach scan: 1 % of open tickets have just become late; then nothing new.
    let at = now();
    let open = state
        .db
        .fetch_i64(
            "SELECT COUNT(*) FROM tickets WHERE NOT is_closed AND NOT breached",
            vec![],
        )
        .await?
        .unwrap_or(0);
    state
        .db
        .execute(
            "UPDATE tickets SET resolution_due_at = $1 - 1000 WHERE id % 100 = 0 AND NOT is_closed AND NOT breached",
            accord::args![at],
        )
        .await?;
    if backend == "postgres" {
        state.db.execute("VACUUM ANALYZE tickets", vec![]).await?;
    }
    let t = Instant::now();
    let marked = accord::tickets::sla::scan(&state.db, &state.config.public_url, at).await?;
    let first = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let again = accord::tickets::sla::scan(&state.db, &state.config.public_url, at).await?;
    let second = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "\n| breach scan over {open} open tickets | marked | ms | target < {TARGET_SCAN_MS} ms |"
    );
    println!("|---|---|---|---|");
    println!(
        "| 1 % just late | {marked} | {first:.1} | {} |",
        if first < TARGET_SCAN_MS {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "| nothing new | {again} | {second:.1} | {} |",
        if second < TARGET_SCAN_MS {
            "met"
        } else {
            "NOT met"
        }
    );

    let _ = stop.send(());
    let _ = server.await;
    state.db.close().await;
    Ok(())
}

/// Customers, employees and a workflow through the normal code; tickets by bulk SQL (the
/// same for both databases: a recursive counter).
async fn seed(state: &AppState, tickets: i64) -> Result<()> {
    let workflow = create::<Workflows>(
        state,
        None,
        &into_map(json!({
            "name": "Desk", "statuses": ["New", "In Progress", "Waiting on Customer", "Resolved", "Closed"],
            "start_status": "New", "closed_statuses": ["Resolved", "Closed"],
            "transitions": ["New -> In Progress", "In Progress -> Resolved: checklists complete", "Resolved -> Closed"]
        })),
    )
    .await?
    .id;
    let ticket_type = create::<TicketTypes>(
        state,
        None,
        &into_map(
            json!({"name": "Incident", "default_priority": "medium", "workflow_id": workflow}),
        ),
    )
    .await?
    .id;
    let at = now();
    state
        .db
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
             INSERT INTO customers (name, name_lower, email_domains, created_at, updated_at)
             SELECT 'Customer ' || i, 'customer ' || i, '', $2, $2 FROM n",
            accord::args![CUSTOMERS, at],
        )
        .await?;
    state
        .db
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
             INSERT INTO employees (name, email, is_admin, created_at, updated_at)
             SELECT 'Employee ' || i, 'e' || i || '@bench.test', TRUE, $2, $2 FROM n",
            accord::args![EMPLOYEES, at],
        )
        .await?;
    // Statuses: 40 % New, 20 % In Progress, 10 % Waiting, 20 % Resolved, 10 % Closed; a fifth
    // unassigned; 1 in 50 summaries mention a printer; due times spread over the next weeks.
    let step = 50_000;
    let mut from = 1;
    while from <= tickets {
        let to = (from + step - 1).min(tickets);
        state
            .db
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
                 INSERT INTO tickets (summary, summary_lower, details, customer_id, ticket_type_id, priority, status,
                     is_closed, assignee_id, response_due_at, resolution_due_at, breached, created_at, updated_at)
                 SELECT s, lower(s), 'Reported by phone. Reference ticket-' || i || '.', 1 + i % $3, $4,
                     CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END,
                     CASE WHEN i % 10 < 4 THEN 'New' WHEN i % 10 < 6 THEN 'In Progress' WHEN i % 10 < 7 THEN 'Waiting on Customer'
                          WHEN i % 10 < 9 THEN 'Resolved' ELSE 'Closed' END,
                     i % 10 >= 7,
                     CASE WHEN i % 5 = 0 THEN NULL ELSE 1 + i % $5 END,
                     $6 + (i % 20000) * 60000000, $6 + 3600000000 + (i % 20000) * 120000000,
                     i % 97 = 0, $6, $6
                 FROM (SELECT i, CASE WHEN i % 50 = 0 THEN 'Printer jams on floor ' || (i % 9) ELSE 'Issue number ' || i END AS s FROM n) AS g",
                accord::args![from, to, CUSTOMERS, ticket_type, EMPLOYEES, now()],
            )
            .await?;
        from = to + 1;
    }
    if state.db.backend() == accord::kernel::db::Backend::Postgres {
        state.db.execute("VACUUM ANALYZE", vec![]).await?;
    } else {
        state.db.execute("ANALYZE", vec![]).await?;
    }
    Ok(())
}
