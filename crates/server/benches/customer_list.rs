//! Benchmark: the paged, searched customer list over HTTP, on SQLite and PostgreSQL.
//!
//! For each backend it seeds a fresh database (100,000 customers and 300,000 contacts by
//! default), starts the real HTTP server in-process on 127.0.0.1:0 and drives
//! `GET /api/v1/customers?...&per_page=50&page=N` with a fixed number of keep-alive
//! connections for a fixed time, then prints requests, p50, p99 and requests/second next to
//! the target (p99 < 10 ms and > 5,000 requests/s for a 50-row page).
//!
//! Run: `cargo bench -p accord --bench customer_list` (add `-- --quick` for a smoke run).
//!
//! Environment:
//! - `ACCORD_BENCH_QUICK=1` (or `--quick`): smoke run, 2,000 customers, 1 s per query.
//! - `ACCORD_BENCH_ROWS`: customers to seed (default 100000); contacts are 3 per customer.
//! - `ACCORD_BENCH_SECONDS`: measured seconds per query (default 10).
//! - `ACCORD_BENCH_WARMUP`: warm-up seconds per query (default 2).
//! - `ACCORD_BENCH_CONCURRENCY`: keep-alive connections (default 16).
//! - `ACCORD_BENCH_MAX_REQUESTS`: cap on requests per query and phase (default 2000000).
//! - `ACCORD_BENCH_BACKENDS`: `sqlite,postgres` (default both).
//! - `ACCORD_BENCH_POSTGRES_URL`: server to create the throw-away database on (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`); a database `accord_bench_<random>` is
//!   created there and dropped at the end.
//! - `ACCORD_BENCH_SQLITE_ANALYZE=1`: run `ANALYZE` on SQLite after seeding (the server
//!   does not, so it is off by default; PostgreSQL gets `VACUUM ANALYZE`, as autovacuum
//!   would do soon after a bulk load).
//! - `ACCORD_BENCH_TOKENS`: distinct API tokens the connections share round-robin
//!   (default 1: every request authenticates with the same token).
//! - `ACCORD_BENCH_BASELINE=0`: skip the two baseline rows (`GET /healthz` with and without
//!   the bearer token), which show the cost of HTTP and of the token check alone.
//! - `ACCORD_BENCH_EXPLAIN=1`: after the HTTP runs, print the query plans of the SQL the
//!   list runs and time each statement on its own.
//!
//! All traffic goes to 127.0.0.1; every phase is bounded in time and in request count.

use accord::config::Config;
use accord::customers::{CustomerRow, Customers};
use accord::kernel::db::{Arg, Backend, Db};
use accord::kernel::resource::{ListQuery, list_sql};
use accord::kernel::web::AppState;
use accord::kernel::web::Paging;
use anyhow::{Context, Result, anyhow, bail};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PER_PAGE: u64 = 50;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_RPS: f64 = 5000.0;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Rows per multi-row INSERT on PostgreSQL (at most 10 parameters a row: far below 65535).
const PG_BATCH_ROWS: usize = 1000;
/// Rows per multi-row INSERT on SQLite. Smaller: sqlx looks up each parameter's name with
/// `sqlite3_bind_parameter_name`, a linear scan, so binding costs grow with the square of
/// the parameters in one statement.
const SQLITE_BATCH_ROWS: usize = 100;
/// Rows per seeding transaction.
const ROWS_PER_TX: usize = 20_000;
/// The common search term: one of the industry words, in about 1 in 30 names.
const COMMON_TERM: &str = "logistics";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

struct Settings {
    rows: usize,
    contacts: usize,
    seconds: f64,
    warmup: f64,
    concurrency: usize,
    max_requests: u64,
    backends: Vec<Backend>,
    postgres_url: String,
    sqlite_analyze: bool,
    explain: bool,
    baseline: bool,
    tokens: usize,
}

fn env_value<T: FromStr>(name: &str) -> Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| anyhow!("{name}={v:?} is not a valid value")),
        _ => Ok(None),
    }
}

fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Ok("1" | "true" | "yes" | "on")
    )
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let quick = env_flag("ACCORD_BENCH_QUICK") || std::env::args().any(|a| a == "--quick");
        let rows =
            env_value::<usize>("ACCORD_BENCH_ROWS")?.unwrap_or(if quick { 2_000 } else { 100_000 });
        if rows < 100 {
            bail!("ACCORD_BENCH_ROWS must be at least 100");
        }
        let seconds =
            env_value::<f64>("ACCORD_BENCH_SECONDS")?.unwrap_or(if quick { 1.0 } else { 10.0 });
        let warmup =
            env_value::<f64>("ACCORD_BENCH_WARMUP")?.unwrap_or(if quick { 0.5 } else { 2.0 });
        if !(seconds > 0.0 && seconds <= 600.0 && (0.0..=60.0).contains(&warmup)) {
            bail!("ACCORD_BENCH_SECONDS must be in (0, 600] and ACCORD_BENCH_WARMUP in [0, 60]");
        }
        let concurrency = env_value::<usize>("ACCORD_BENCH_CONCURRENCY")?
            .unwrap_or(16)
            .clamp(1, 256);
        let max_requests = env_value::<u64>("ACCORD_BENCH_MAX_REQUESTS")?
            .unwrap_or(2_000_000)
            .max(1);
        let tokens = env_value::<usize>("ACCORD_BENCH_TOKENS")?
            .unwrap_or(1)
            .clamp(1, concurrency);
        let backends = match std::env::var("ACCORD_BENCH_BACKENDS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .map(|b| match b.trim().to_ascii_lowercase().as_str() {
                    "sqlite" => Ok(Backend::Sqlite),
                    "postgres" | "postgresql" | "pg" => Ok(Backend::Postgres),
                    other => Err(anyhow!(
                        "unknown backend {other:?} in ACCORD_BENCH_BACKENDS"
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![Backend::Sqlite, Backend::Postgres],
        };
        let postgres_url = std::env::var("ACCORD_BENCH_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
        Ok(Settings {
            rows,
            contacts: rows * 3,
            seconds,
            warmup,
            concurrency,
            max_requests,
            backends,
            postgres_url,
            sqlite_analyze: env_flag("ACCORD_BENCH_SQLITE_ANALYZE"),
            explain: env_flag("ACCORD_BENCH_EXPLAIN"),
            baseline: !matches!(
                std::env::var("ACCORD_BENCH_BASELINE")
                    .as_deref()
                    .map(str::trim),
                Ok("0" | "false" | "no" | "off")
            ),
            tokens,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic pseudo-random data
// ---------------------------------------------------------------------------------------

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A small, fast generator for the load workers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }
    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ven", "tor", "bel", "dan", "fi", "gor", "hal", "is", "jun", "kor",
    "lin", "mar", "nor", "ost", "pel", "qua", "ros", "sil", "tam", "ul",
];
const INDUSTRIES: &[&str] = &[
    "Logistics",
    "Consulting",
    "Engineering",
    "Software",
    "Systems",
    "Trading",
    "Foods",
    "Medical",
    "Energy",
    "Construction",
    "Media",
    "Design",
    "Analytics",
    "Robotics",
    "Textiles",
    "Pharma",
    "Finance",
    "Insurance",
    "Retail",
    "Marine",
    "Aviation",
    "Solar",
    "Security",
    "Labs",
    "Networks",
    "Motors",
    "Studios",
    "Partners",
    "Holdings",
    "Ventures",
];
const LEGAL_FORMS: &[&str] = &[
    "Ltd", "GmbH", "Inc", "AG", "BV", "SA", "LLC", "Oy", "AB", "plc", "",
];
const TLDS: &[&str] = &["com", "de", "co.uk", "nl", "fr", "io"];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jakob", "Karin",
    "Liam", "Maria", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Lars", "Mila", "Omar", "Priya",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Müller",
    "Jones",
    "Schmidt",
    "Brown",
    "Fischer",
    "Taylor",
    "Weber",
    "Wilson",
    "Meyer",
    "Davies",
    "Wagner",
    "Evans",
    "Becker",
    "Thomas",
    "Hoffmann",
    "Johnson",
    "Schulz",
    "Roberts",
    "Koch",
    "Walker",
    "Richter",
    "Wright",
    "Klein",
    "Green",
    "Wolf",
    "Hall",
    "Schröder",
    "Wood",
    "Neumann",
    "Janssen",
    "de Vries",
    "Dubois",
    "Martin",
    "Lindqvist",
    "Virtanen",
];

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

/// The generated parts of customer number `k` (0-based, in insertion order).
struct CustomerSeed {
    name: String,
    /// Lower-case distinctive first word: matches a handful of customers.
    word: String,
    domains: String,
    archived: bool,
    legal_entity: Option<usize>,
}

fn customer_seed(k: usize) -> CustomerSeed {
    let h = splitmix64(k as u64 ^ 0xACC0_0D00);
    let mut word = String::new();
    for i in 0..3 {
        word.push_str(pick(SYLLABLES, h >> (i * 8)));
    }
    let industry = pick(INDUSTRIES, h >> 15);
    let form = pick(LEGAL_FORMS, h >> 25);
    let mut display_word = word.clone();
    if let Some(first) = display_word.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let name = if form.is_empty() {
        format!("{display_word} {industry}")
    } else {
        format!("{display_word} {industry} {form}")
    };
    let mut domains = vec![format!(
        "{word}{}.{}",
        industry.to_ascii_lowercase(),
        pick(TLDS, h >> 30)
    )];
    if (h >> 35).is_multiple_of(3) {
        domains.push(format!("{word}.{}", pick(TLDS, h >> 38)));
    }
    domains.sort();
    domains.dedup();
    CustomerSeed {
        name,
        word,
        domains: domains.join(" "),
        archived: (h >> 41).is_multiple_of(50),
        legal_entity: match (h >> 47) % 5 {
            0 => None,
            n => Some((n % 3) as usize),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------

struct SeedReport {
    customers: Duration,
    contacts: Duration,
    finish: Duration,
    total: Duration,
}

fn values_clause(rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 6);
    let mut p = 1;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${p}");
            p += 1;
        }
        sql.push(')');
    }
    sql
}

/// Inserts `total` rows made by `row(i)` in multi-row INSERTs, in large transactions.
async fn insert_rows(
    db: &Db,
    head: &str,
    cols: usize,
    total: usize,
    row: impl Fn(usize) -> Vec<Arg>,
) -> Result<()> {
    let sqlite = db.backend() == Backend::Sqlite;
    let batch_rows = if sqlite {
        SQLITE_BATCH_ROWS
    } else {
        PG_BATCH_ROWS
    };
    let full_sql = format!("{head} VALUES {}", values_clause(batch_rows, cols));
    let mut start = 0;
    while start < total {
        let mut tx = db.begin().await?;
        if sqlite {
            // A large page cache while loading (random index inserts thrash the default
            // 2 MB one); put back to the default before the connection returns to the pool.
            tx.execute("PRAGMA cache_size = -262144", vec![]).await?;
        }
        for _ in 0..ROWS_PER_TX / batch_rows {
            if start >= total {
                break;
            }
            let end = (start + batch_rows).min(total);
            let mut args = Vec::with_capacity((end - start) * cols);
            for i in start..end {
                args.extend(row(i));
            }
            if end - start == batch_rows {
                tx.execute(&full_sql, args).await?;
            } else {
                let sql = format!("{head} VALUES {}", values_clause(end - start, cols));
                tx.execute(&sql, args).await?;
            }
            start = end;
        }
        if sqlite {
            tx.execute("PRAGMA cache_size = -2000", vec![]).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn seed(db: &Db, s: &Settings) -> Result<SeedReport> {
    let started = Instant::now();
    let now = accord::kernel::db::now();
    let mut entities = Vec::new();
    for (name, currency, rate, using) in [
        ("Bench Services Ltd", "GBP", 2000_i64, "markup"),
        ("Bench Services GmbH", "EUR", 1900, "gross_margin"),
        ("Bench Services Inc", "USD", 0, "markup"),
    ] {
        let id = db
            .fetch_i64(
                "INSERT INTO legal_entities (name, currency, tax_rate, calculate_sale_price_using, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                accord::args![name, currency, rate, using, now],
            )
            .await?
            .context("legal entity id")?;
        entities.push(id);
    }

    let rows = s.rows;
    let minute = 60_000_000_i64;
    insert_rows(
        db,
        "INSERT INTO customers (name, name_lower, email_domains, legal_entity_id, created_at, updated_at, archived_at)",
        7,
        rows,
        |k| {
            let c = customer_seed(k);
            let created = now - (rows - k) as i64 * minute;
            accord::args![
                c.name.clone(),
                c.name.to_lowercase(),
                c.domains,
                c.legal_entity.map(|e| entities[e]),
                created,
                created,
                if c.archived { Some(created + minute) } else { None::<i64> },
            ]
        },
    )
    .await?;
    let customers_done = started.elapsed();

    let min_id = db
        .fetch_i64("SELECT MIN(id) FROM customers", vec![])
        .await?
        .context("no customers")?;
    let max_id = db
        .fetch_i64("SELECT MAX(id) FROM customers", vec![])
        .await?
        .context("no customers")?;
    if (max_id - min_id + 1) as usize != rows {
        bail!("customer ids are not consecutive ({min_id}..={max_id} for {rows} rows)");
    }

    let contacts_started = Instant::now();
    insert_rows(
        db,
        "INSERT INTO contacts (customer_id, name, name_lower, email, phone, portal_access, created_at, updated_at, archived_at)",
        9,
        s.contacts,
        |i| {
            let h = splitmix64(i as u64 ^ 0xC0_47AC_7000);
            let k = (h % rows as u64) as usize;
            let customer = customer_seed(k);
            let first = pick(FIRST_NAMES, h >> 20);
            let last = pick(LAST_NAMES, h >> 28);
            let name = format!("{first} {last}");
            let domain = customer.domains.split(' ').next().unwrap_or("example.com").to_owned();
            let local = format!("{first}.{last}").to_lowercase().replace(' ', "");
            let portal = (h >> 36).is_multiple_of(20);
            let email = if (h >> 42).is_multiple_of(10) {
                None
            } else if portal {
                Some(format!("{local}.{i}@{domain}"))
            } else {
                Some(format!("{local}@{domain}"))
            };
            let phone = if (h >> 46).is_multiple_of(4) {
                None
            } else {
                Some(format!("+44 20 7946 {:04}", (h >> 50) % 10_000))
            };
            let created = now - (s.contacts - i) as i64 * (minute / 3);
            let archived = if (h >> 56).is_multiple_of(25) { Some(created + minute) } else { None::<i64> };
            accord::args![
                min_id + k as i64,
                name.to_lowercase(),
                name,
                email,
                phone,
                portal,
                created,
                created,
                archived,
            ]
        },
    )
    .await?;
    let contacts_done = contacts_started.elapsed();

    let finish_started = Instant::now();
    // Two in three customers name an invoice contact (one of their own contacts).
    db.execute(
        "UPDATE customers SET invoice_contact_id =
           (SELECT MIN(c.id) FROM contacts c WHERE c.customer_id = customers.id AND c.archived_at IS NULL)
         WHERE id % 3 <> 0",
        vec![],
    )
    .await?;
    match db.backend() {
        Backend::Postgres => {
            db.execute("VACUUM ANALYZE customers", vec![]).await?;
            db.execute("VACUUM ANALYZE contacts", vec![]).await?;
            db.execute("VACUUM ANALYZE legal_entities", vec![]).await?;
        }
        Backend::Sqlite => {
            if s.sqlite_analyze {
                db.execute("ANALYZE", vec![]).await?;
            }
        }
    }
    Ok(SeedReport {
        customers: customers_done,
        contacts: contacts_done,
        finish: finish_started.elapsed(),
        total: started.elapsed(),
    })
}

// ---------------------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------------------

/// One kind of request to measure.
#[derive(Clone)]
struct Kind {
    label: String,
    /// A baseline request instead of the list: `GET /healthz` (no list work at all).
    healthz: bool,
    /// Send the bearer token (the list always does; the HTTP-floor baseline does not).
    authed: bool,
    search: Option<String>,
    /// Pages are drawn uniformly from this range.
    first_page: u64,
    last_page: u64,
    /// Matching customers (the list's `total`).
    total: u64,
}

impl Kind {
    fn list(label: String, search: Option<String>, pages: (u64, u64), total: u64) -> Kind {
        Kind {
            label,
            healthz: false,
            authed: true,
            search,
            first_page: pages.0,
            last_page: pages.1,
            total,
        }
    }
    fn baseline(label: &str, authed: bool) -> Kind {
        Kind {
            label: label.to_owned(),
            healthz: true,
            authed,
            search: None,
            first_page: 1,
            last_page: 1,
            total: 0,
        }
    }
    fn url(&self, base: &str, page: u64) -> String {
        if self.healthz {
            return format!("{base}/healthz");
        }
        match &self.search {
            Some(term) => {
                format!("{base}/api/v1/customers?search={term}&per_page={PER_PAGE}&page={page}")
            }
            None => format!("{base}/api/v1/customers?per_page={PER_PAGE}&page={page}"),
        }
    }
    fn expected_items(&self, page: u64) -> u64 {
        self.total
            .saturating_sub((page - 1) * PER_PAGE)
            .min(PER_PAGE)
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

/// One GET, returning status and body.
async fn get(client: &reqwest::Client, url: &str, auth: Option<&str>) -> Result<(u16, Vec<u8>)> {
    let mut request = client.get(url);
    if let Some(auth) = auth {
        request = request.header(reqwest::header::AUTHORIZATION, auth);
    }
    let resp = request.send().await?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await?;
    Ok((status, body.to_vec()))
}

/// Fetches `page` of a kind and checks it is a real 50-row (or final) page.
async fn verify(client: &Client, kind: &Kind, page: u64) -> Result<()> {
    let url = kind.url(&client.base, page);
    let auth = kind.authed.then_some(client.auth.as_str());
    let (status, body) = get(&client.http, &url, auth).await?;
    if status != 200 {
        bail!(
            "GET {url} returned {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: not JSON"))?;
    if kind.healthz {
        if json["status"] != "ok" {
            bail!("GET {url}: {json}");
        }
        return Ok(());
    }
    let items = json["items"].as_array().map_or(0, Vec::len) as u64;
    let total = json["total"].as_u64().unwrap_or(0);
    let want = kind.expected_items(page);
    if total != kind.total || items != want {
        bail!(
            "GET {url}: {items} items, total {total}; expected {want} items, total {}",
            kind.total
        );
    }
    Ok(())
}

/// The `total` of a list.
async fn total_of(client: &Client, search: Option<&str>) -> Result<u64> {
    let probe = Kind::list(String::new(), search.map(str::to_owned), (1, 1), 0);
    let url = probe.url(&client.base, 1);
    let (status, body) = get(&client.http, &url, Some(&client.auth)).await?;
    if status != 200 {
        bail!(
            "GET {url} returned {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    json["total"]
        .as_u64()
        .ok_or_else(|| anyhow!("GET {url}: no total"))
}

#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

/// What one load worker does: GETs on its own keep-alive connection until the deadline.
struct Job {
    http: reqwest::Client,
    base: Arc<str>,
    auth: Arc<str>,
    kind: Arc<Kind>,
    deadline: Instant,
    /// Requests started by all workers of this phase, against `max_requests`.
    issued: Arc<AtomicU64>,
    max_requests: u64,
    seed: u64,
}

async fn worker(job: Job) -> WorkerResult {
    let Job {
        http,
        base,
        auth,
        kind,
        deadline,
        issued,
        max_requests,
        seed,
    } = job;
    let mut rng = Rng(seed);
    let mut out = WorkerResult {
        latencies_us: Vec::with_capacity(16_384),
        ..WorkerResult::default()
    };
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_requests {
        let page = rng.between(kind.first_page, kind.last_page);
        let url = kind.url(&base, page);
        let started = Instant::now();
        let mut request = http.get(&url);
        if kind.authed {
            request = request.header(reqwest::header::AUTHORIZATION, &*auth);
        }
        let outcome = match request.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(body) => Err(format!("{status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                out.latencies_us.push(us);
            }
            Err(e) => {
                out.errors += 1;
                if out.first_error.is_none() {
                    out.first_error = Some(format!("GET {url}: {e}"));
                }
            }
        }
    }
    out
}

struct Measurement {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    rps: f64,
}

async fn drive(
    clients: &[Client],
    kind: &Kind,
    seconds: f64,
    max_requests: u64,
    seed: u64,
) -> Result<Measurement> {
    let kind = Arc::new(kind.clone());
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut handles = Vec::with_capacity(clients.len());
    for (i, c) in clients.iter().enumerate() {
        handles.push(tokio::spawn(worker(Job {
            http: c.http.clone(),
            base: Arc::from(c.base.as_str()),
            auth: Arc::from(c.auth.as_str()),
            kind: kind.clone(),
            deadline,
            issued: issued.clone(),
            max_requests,
            seed: seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
        })));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for h in handles {
        let r = h.await?;
        latencies.extend(r.latencies_us);
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        f64::from(latencies[rank - 1]) / 1000.0
    };
    let mean_ms = if latencies.is_empty() {
        f64::NAN
    } else {
        latencies.iter().map(|&v| f64::from(v)).sum::<f64>() / latencies.len() as f64 / 1000.0
    };
    Ok(Measurement {
        requests: latencies.len() as u64,
        errors,
        first_error,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        mean_ms,
        rps: latencies.len() as f64 / elapsed,
    })
}

// ---------------------------------------------------------------------------------------
// One backend
// ---------------------------------------------------------------------------------------

struct Row {
    backend: &'static str,
    kind: Kind,
    m: Measurement,
}

struct BackendReport {
    seed: SeedReport,
    rows: Vec<Row>,
}

fn backend_label(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

async fn bench_backend(backend: Backend, url: String, s: &Settings) -> Result<BackendReport> {
    let label = backend_label(backend);
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url,
        public_url: "http://127.0.0.1".into(),
        secret_key_file: std::env::temp_dir().join("accord-bench-secret.key"),
    };
    let state = accord::prepare(config.clone())
        .await
        .with_context(|| format!("{label}: prepare"))?;
    let result = bench_state(backend, &state, &config, s).await;
    state.db.close().await;
    result
}

async fn bench_state(
    backend: Backend,
    state: &AppState,
    config: &Config,
    s: &Settings,
) -> Result<BackendReport> {
    let label = backend_label(backend);
    println!(
        "[{label}] seeding {} customers and {} contacts ...",
        s.rows, s.contacts
    );
    let seeded = seed(&state.db, s)
        .await
        .with_context(|| format!("{label}: seeding"))?;
    println!(
        "[{label}] seeded in {:.1} s (customers {:.1} s, contacts {:.1} s, invoice contacts + {} {:.1} s)",
        seeded.total.as_secs_f64(),
        seeded.customers.as_secs_f64(),
        seeded.contacts.as_secs_f64(),
        if backend == Backend::Postgres {
            "VACUUM ANALYZE"
        } else if s.sqlite_analyze {
            "ANALYZE"
        } else {
            "no ANALYZE"
        },
        seeded.finish.as_secs_f64(),
    );

    let employee = accord::employees::add_with_password(
        state,
        "bench@example.com",
        "Bench Runner",
        true,
        "bench-password-123",
    )
    .await
    .map_err(|e| anyhow!("{label}: add_with_password: {e}"))?;
    let mut tokens = Vec::with_capacity(s.tokens);
    for _ in 0..s.tokens {
        let token = accord::auth::create_api_token(&state.db, employee, "bench")
            .await
            .map_err(|e| anyhow!("{label}: create_api_token: {e}"))?;
        tokens.push(token);
    }

    let (rows, kinds) = measure_all(backend, state, config, s, &tokens).await?;
    if s.explain
        && let Err(e) = explain(state, &kinds).await
    {
        eprintln!("[{label}] explain failed: {e:#}");
    }
    Ok(BackendReport { seed: seeded, rows })
}

/// The real HTTP server, in-process on 127.0.0.1:0, with a connection pool of its own.
struct Server {
    state: AppState,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(config: &Config) -> Result<Server> {
        let state = accord::prepare(config.clone()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(accord::serve(state.clone(), listener, async move {
            let _ = stop_rx.await;
        }));
        Ok(Server {
            state,
            base,
            stop,
            task,
        })
    }

    async fn stop(self, label: &str) {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("[{label}] server error: {e}"),
            Ok(Err(e)) => eprintln!("[{label}] server task failed: {e}"),
            Err(_) => eprintln!("[{label}] server did not stop within 30 s"),
        }
        if tokio::time::timeout(Duration::from_secs(30), self.state.db.close())
            .await
            .is_err()
        {
            eprintln!("[{label}] database pool did not close within 30 s");
        }
    }
}

/// `n` clients, each with its own keep-alive connection, bypassing any proxy.
fn clients(base: &str, tokens: &[String], n: usize) -> Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        clients.push(Client {
            http,
            base: base.to_owned(),
            auth: format!("Bearer {}", tokens[i % tokens.len()]),
        });
    }
    Ok(clients)
}

/// The list totals the kinds page through: (all, common term, rare word, rare total).
async fn totals(
    config: &Config,
    tokens: &[String],
    s: &Settings,
) -> Result<(u64, u64, String, u64)> {
    let server = Server::start(config).await?;
    let result = async {
        let probe = clients(&server.base, tokens, 1)?;
        let probe = &probe[0];
        let all = total_of(probe, None).await?;
        let common = total_of(probe, Some(COMMON_TERM)).await?;
        let rare = selective_word(s.rows);
        let rare_total = total_of(probe, Some(&rare)).await?;
        Ok::<_, anyhow::Error>((all, common, rare, rare_total))
    }
    .await;
    server.stop("totals").await;
    result
}

/// A distinctive word of a live customer that matches few (up to 8 where possible) live
/// customers' names or domains.
fn selective_word(rows: usize) -> String {
    let seeds: Vec<CustomerSeed> = (0..rows)
        .map(customer_seed)
        .filter(|c| !c.archived)
        .collect();
    let mut best: Option<(usize, String)> = None;
    for c in seeds.iter().skip(12_345 % seeds.len()).take(50) {
        let matches = seeds
            .iter()
            .filter(|o| o.name.to_lowercase().contains(&c.word) || o.domains.contains(&c.word))
            .count();
        if best.as_ref().is_none_or(|(n, _)| matches < *n) {
            best = Some((matches, c.word.clone()));
        }
        if matches <= 8 {
            break;
        }
    }
    best.map_or_else(|| seeds[0].word.clone(), |(_, w)| w)
}

/// Checks, warms up and measures one kind against a running server.
async fn measure_kind(
    server: &Server,
    kind: &Kind,
    s: &Settings,
    tokens: &[String],
    i: u64,
) -> Result<Measurement> {
    let clients = clients(&server.base, tokens, s.concurrency)?;
    // Real work: the first and the deepest page drawn are full 50-row pages (or, for the
    // selective search, all matches), with status 200.
    verify(&clients[0], kind, kind.first_page).await?;
    verify(&clients[0], kind, kind.last_page).await?;
    if s.warmup > 0.0 {
        drive(&clients, kind, s.warmup, s.max_requests, 7 + i).await?;
    }
    drive(&clients, kind, s.seconds, s.max_requests, 1000 + i).await
}

/// Measures every kind, each against a freshly started server (own pool, so statement
/// caches and, on PostgreSQL, cached plans do not carry over from one kind to the next).
async fn measure_all(
    backend: Backend,
    state: &AppState,
    config: &Config,
    s: &Settings,
    tokens: &[String],
) -> Result<(Vec<Row>, Vec<Kind>)> {
    let label = backend_label(backend);
    let (all, common, rare, rare_total) = totals(config, tokens, s).await?;
    let live = db_count(&state.db).await?;
    if all != live {
        bail!("{label}: list total {all} differs from {live} live customers in the database");
    }
    let full_pages = |total: u64| (total / PER_PAGE).max(1);
    let mut kinds = vec![
        Kind::list(
            "list, pages 1-10".into(),
            None,
            (1, full_pages(all).min(10)),
            all,
        ),
        Kind::list(
            format!("list, random page 1-{}", full_pages(all)),
            None,
            (1, full_pages(all)),
            all,
        ),
        Kind::list(
            format!("search \"{COMMON_TERM}\", page 1-{}", full_pages(common)),
            Some(COMMON_TERM.into()),
            (1, full_pages(common)),
            common,
        ),
        Kind::list(
            format!("search \"{rare}\" (selective), page 1"),
            Some(rare.clone()),
            (1, 1),
            rare_total,
        ),
    ];
    if s.baseline {
        kinds.push(Kind::baseline(
            "baseline: /healthz + bearer (auth only)",
            true,
        ));
        kinds.push(Kind::baseline(
            "baseline: /healthz, no token (HTTP floor)",
            false,
        ));
    }
    if common < PER_PAGE {
        bail!("{label}: search {COMMON_TERM:?} matches only {common} customers; seed more rows");
    }
    if !(1..=10).contains(&rare_total) {
        println!(
            "[{label}] note: selective search {rare:?} matches {rare_total} customers (aimed at 1-10)"
        );
    }

    let mut rows = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let server = Server::start(config).await?;
        let measured = measure_kind(&server, kind, s, tokens, i as u64).await;
        server.stop(label).await;
        let m = measured.with_context(|| format!("{label}: {}", kind.label))?;
        println!(
            "[{label}] {:<40} {:>8} req  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>8.0} req/s{}",
            kind.label,
            m.requests,
            m.p50_ms,
            m.p99_ms,
            m.rps,
            if m.errors > 0 {
                format!("  ({} errors)", m.errors)
            } else {
                String::new()
            }
        );
        if let Some(e) = &m.first_error {
            println!("[{label}]   first error: {e}");
        }
        rows.push(Row {
            backend: label,
            kind: kind.clone(),
            m,
        });
    }
    Ok((rows, kinds))
}

async fn db_count(db: &Db) -> Result<u64> {
    let n = db
        .fetch_i64(
            "SELECT COUNT(*) FROM customers WHERE archived_at IS NULL",
            vec![],
        )
        .await?
        .unwrap_or(0);
    Ok(n as u64)
}

// ---------------------------------------------------------------------------------------
// Diagnostics (ACCORD_BENCH_EXPLAIN=1)
// ---------------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct SqlitePlan {
    id: i64,
    parent: i64,
    detail: String,
}

#[derive(sqlx::FromRow)]
struct PgPlan {
    #[sqlx(rename = "QUERY PLAN")]
    plan: String,
}

/// The query the server's list runs for `search` and `page` (50 rows, sorted by name).
fn list_query(search: Option<&str>, page: u64) -> ListQuery {
    ListQuery {
        search: search.map(str::to_owned),
        sort: "name",
        descending: false,
        paging: Paging {
            page: page as i64,
            per_page: PER_PAGE as i64,
        },
        archived: false,
        filters: Vec::new(),
        view: None,
        viewer: None,
    }
}

async fn print_plan(db: &Db, sql: &str, args: Vec<Arg>) -> Result<()> {
    let args_again = args.clone();
    match db.backend() {
        Backend::Sqlite => {
            let plan: Vec<SqlitePlan> = db
                .fetch_all(&format!("EXPLAIN QUERY PLAN {sql}"), args)
                .await?;
            let mut depth: Vec<(i64, usize)> = Vec::new();
            for p in plan {
                let level = depth
                    .iter()
                    .find(|(id, _)| *id == p.parent)
                    .map_or(0, |(_, l)| l + 1);
                depth.push((p.id, level));
                println!("      {}{}", "  ".repeat(level), p.detail);
            }
        }
        Backend::Postgres => {
            let plan: Vec<PgPlan> = db
                .fetch_all(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), args)
                .await?;
            for p in plan {
                println!("      {}", p.plan);
            }
            // sqlx keeps statements prepared per connection, so after five runs PostgreSQL
            // may switch the server's statement to a generic plan (no look at $1): show it.
            let (types, values): (Vec<&str>, Vec<String>) = args_again
                .iter()
                .map(|a| match a {
                    Arg::Int(v) => ("bigint", v.to_string()),
                    Arg::Text(t) => ("text", format!("'{}'", t.replace('\'', "''"))),
                    other => ("text", format!("{other:?}")),
                })
                .unzip();
            let (types, values) = if types.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!("({})", types.join(", ")),
                    format!("({})", values.join(", ")),
                )
            };
            let mut tx = db.begin().await?;
            tx.execute("SET LOCAL plan_cache_mode = force_generic_plan", vec![])
                .await?;
            tx.execute(
                &format!("PREPARE accord_bench_plan{types} AS {sql}"),
                vec![],
            )
            .await?;
            let plan: Result<Vec<PgPlan>, _> = tx
                .fetch_all(
                    &format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE accord_bench_plan{values}"),
                    vec![],
                )
                .await;
            tx.execute("DEALLOCATE accord_bench_plan", vec![]).await?;
            tx.commit().await?;
            let plan = plan?;
            println!("      -- generic plan (plan_cache_mode = force_generic_plan):");
            for p in plan {
                println!("      {}", p.plan);
            }
        }
    }
    Ok(())
}

async fn time_it<F, Fut>(runs: u32, mut f: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    f().await?;
    let started = Instant::now();
    for _ in 0..runs {
        f().await?;
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs))
}

async fn explain(state: &AppState, kinds: &[Kind]) -> Result<()> {
    let db = &state.db;
    println!(
        "\n[{}] query plans and single-statement timings (sequential, no HTTP)",
        backend_label(db.backend())
    );
    for kind in kinds.iter().filter(|k| !k.healthz) {
        let deep = kind.last_page;
        let first = list_sql::<Customers>(db.backend(), &list_query(kind.search.as_deref(), 1));
        let last = list_sql::<Customers>(db.backend(), &list_query(kind.search.as_deref(), deep));
        let (count_sql, base_args) = (first.count.clone(), first.count_args.clone());
        let count_ms = time_it(5, || async {
            db.fetch_i64(&count_sql, base_args.clone()).await?;
            Ok(())
        })
        .await?;
        let first_ms = time_it(5, || async {
            db.fetch_all::<CustomerRow>(&first.page, first.page_args.clone())
                .await?;
            Ok(())
        })
        .await?;
        let deep_ms = time_it(5, || async {
            db.fetch_all::<CustomerRow>(&last.page, last.page_args.clone())
                .await?;
            Ok(())
        })
        .await?;
        println!(
            "\n  {}: COUNT {count_ms:.2} ms, page 1 {first_ms:.2} ms, page {deep} {deep_ms:.2} ms",
            kind.label
        );
        println!("    COUNT plan:");
        print_plan(db, &count_sql, base_args.clone()).await?;
        println!("    page {deep} plan:");
        print_plan(db, &last.page, last.page_args.clone()).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Backends and the report
// ---------------------------------------------------------------------------------------

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    match query {
        Some(q) => format!("{}/{name}?{q}", &base[..host_end]),
        None => format!("{}/{name}", &base[..host_end]),
    }
}

async fn bench_sqlite(s: &Settings) -> Result<BackendReport> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    println!("[SQLite] database {url}");
    bench_backend(Backend::Sqlite, url, s).await
}

async fn bench_postgres(s: &Settings) -> Result<BackendReport> {
    let admin = Db::connect(&s.postgres_url)
        .await
        .with_context(|| format!("cannot connect to {}", s.postgres_url))?;
    let nonce = splitmix64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()),
    );
    let name = format!("accord_bench_{:012x}", nonce & 0xFFFF_FFFF_FFFF);
    admin
        .execute(&format!("CREATE DATABASE {name}"), vec![])
        .await?;
    let url = with_database(&s.postgres_url, &name);
    println!("[PostgreSQL] database {name} (created; dropped at the end)");
    let result = bench_backend(Backend::Postgres, url, s).await;
    let dropped = admin
        .execute(
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            vec![],
        )
        .await;
    admin.close().await;
    match dropped {
        Ok(_) => println!("[PostgreSQL] dropped database {name}"),
        Err(e) => eprintln!("[PostgreSQL] could not drop database {name}: {e}"),
    }
    result
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISS" }
}

fn print_report(s: &Settings, reports: &[(Backend, Result<BackendReport>)]) {
    println!();
    println!(
        "== Customer list over HTTP: {} customers / {} contacts, {PER_PAGE} rows per page, {} keep-alive connections, {} s per query after {} s warm-up ==",
        s.rows, s.contacts, s.concurrency, s.seconds, s.warmup
    );
    println!(
        "== Target: p99 < {TARGET_P99_MS} ms and > {TARGET_RPS} requests/s for a 50-row page; {} API token(s) ==",
        s.tokens
    );
    println!(
        "{:<10} {:<40} {:>7} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}  {:<9} {:<9}",
        "backend",
        "query",
        "matches",
        "requests",
        "errors",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "p99<10ms",
        ">5000/s"
    );
    for (backend, report) in reports {
        match report {
            Ok(r) => {
                for row in &r.rows {
                    let m = &row.m;
                    println!(
                        "{:<10} {:<40} {:>7} {:>9} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.0}  {:<9} {:<9}",
                        row.backend,
                        row.kind.label,
                        if row.kind.healthz {
                            "-".to_owned()
                        } else {
                            row.kind.total.to_string()
                        },
                        m.requests,
                        m.errors,
                        m.mean_ms,
                        m.p50_ms,
                        m.p99_ms,
                        m.max_ms,
                        m.rps,
                        verdict(m.errors == 0 && m.p99_ms < TARGET_P99_MS),
                        verdict(m.errors == 0 && m.rps > TARGET_RPS),
                    );
                }
            }
            Err(e) => println!("{:<10} FAILED: {e:#}", backend_label(*backend)),
        }
    }
    if s.baseline {
        println!(
            "(baseline rows are no list at all: the ceiling the HTTP stack and token check leave)"
        );
    }
    println!();
    for (backend, report) in reports {
        if let Ok(r) = report {
            println!(
                "Seeding {}: {:.1} s total (customers {:.1} s, contacts {:.1} s, finishing {:.1} s)",
                backend_label(*backend),
                r.seed.total.as_secs_f64(),
                r.seed.customers.as_secs_f64(),
                r.seed.contacts.as_secs_f64(),
                r.seed.finish.as_secs_f64(),
            );
        }
    }
}

async fn run(s: Settings) -> Result<()> {
    println!(
        "customer_list bench: {} customers, {} contacts, {} connections, {} s + {} s warm-up per query, backends {:?}",
        s.rows, s.contacts, s.concurrency, s.seconds, s.warmup, s.backends
    );
    let mut reports = Vec::new();
    for &backend in &s.backends {
        let report = match backend {
            Backend::Sqlite => bench_sqlite(&s).await,
            Backend::Postgres => bench_postgres(&s).await,
        };
        if let Err(e) = &report {
            eprintln!("[{}] failed: {e:#}", backend_label(backend));
        }
        reports.push((backend, report));
    }
    print_report(&s, &reports);
    if reports.iter().any(|(_, r)| r.is_err()) {
        bail!("at least one backend failed");
    }
    Ok(())
}

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}
