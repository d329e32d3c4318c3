//! Outgoing e-mail: the outbox, sending over SMTP with retries, and the *Outbox* page.
//!
//! A mail is queued as a row of `outbox` in the transaction of whatever caused it, so it
//! is never lost. The `mail.send` periodic task (or [`send_due`]) sends due mails: each is
//! first marked `sending` with a lease in a committed transaction, then handed to the SMTP
//! server, then marked `sent`. A refused or vanished server puts the mail back to `queued`
//! with back-off; a permanent refusal (5xx) marks it `failed` with the server's answer.
//! The one window for a duplicate is a crash after the server accepted the mail and before
//! `sent` was committed: the lease then runs out and the mail is sent again with the same
//! `Message-ID`, so receiving systems can recognise the copy.

use crate::args;
use crate::kernel::auth::{ApiStaff, Staff};
use crate::kernel::db::{Backend, Db, Tx, now};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::api::{ApiId, ApiQuery};
use crate::kernel::web::{
    AppState, Shell, api_time, api_time_opt, flash_notice, int_param, page, show_time,
};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};
use std::time::Duration;

/// After this many failed attempts a mail is marked failed.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a mail may stay `sending` before it is taken for lost and sent again.
const SEND_LEASE_MICROS: i64 = 120_000_000;
/// Most mails one call of [`send_due`] sends.
const BATCH: usize = 500;

/// One mail to queue.
pub struct NewMail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub event_kind: Option<&'a str>,
    pub object: Option<(&'a str, i64)>,
}

/// A fresh `Message-ID`, kept with the mail so a resend after a crash carries the same one.
pub fn new_message_id() -> String {
    let token: String = crate::kernel::auth::random_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    format!("<{token}@accord>")
}

/// Queues a mail inside the caller's transaction.
pub async fn queue_tx(tx: &mut Tx, mail: &NewMail<'_>) -> Result<i64, AppError> {
    let at = now();
    tx.fetch_i64(
        "INSERT INTO outbox (to_address, subject, body_text, body_html, message_id, status,
                             attempts, next_attempt_at, event_kind, object_type, object_id,
                             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $6, $6) RETURNING id",
        args![
            mail.to,
            mail.subject,
            mail.text,
            mail.html,
            new_message_id(),
            at,
            mail.event_kind,
            mail.object.map(|(t, _)| t),
            mail.object.map(|(_, id)| id)
        ],
    )
    .await?
    .ok_or_else(|| AppError::Internal("insert returned no id".into()))
}

/// The SMTP server to send through; `None` keeps mails in the Outbox.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
}

impl SmtpConfig {
    /// The settings of *Defaults*, each overridden by its `ACCORD_SMTP_*` variable; the
    /// password only comes from `ACCORD_SMTP_PASSWORD`.
    pub async fn load(db: &Db) -> Result<Option<SmtpConfig>, AppError> {
        async fn pick(db: &Db, env: &str, key: &str) -> Result<String, AppError> {
            match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => crate::settings::value_of(db, key).await,
            }
        }
        let host = pick(db, "ACCORD_SMTP_HOST", "smtp_host").await?;
        if host.is_empty() {
            return Ok(None);
        }
        let port = pick(db, "ACCORD_SMTP_PORT", "smtp_port").await?;
        Ok(Some(SmtpConfig {
            host,
            port: port.parse().unwrap_or(587),
            security: pick(db, "ACCORD_SMTP_SECURITY", "smtp_security").await?,
            username: pick(db, "ACCORD_SMTP_USERNAME", "smtp_username").await?,
            password: std::env::var("ACCORD_SMTP_PASSWORD").unwrap_or_default(),
            from: pick(db, "ACCORD_SMTP_FROM", "smtp_from").await?,
        }))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let builder = match self.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host)
                .map_err(|e| e.to_string())?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)
                .map_err(|e| e.to_string())?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(20)));
        if !self.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                self.username.clone(),
                self.password.clone(),
            ));
        }
        Ok(builder.build())
    }
}

/// A stored mail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRow {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub event_kind: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const MAIL_COLUMNS: &str = "id, to_address, subject, body_text, body_html, message_id, status,
    attempts, next_attempt_at, last_error, event_kind, object_type, object_id, created_at, sent_at";

impl MailRow {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "to": self.to_address,
            "subject": self.subject,
            "body_text": self.body_text,
            "body_html": self.body_html,
            "message_id": self.message_id,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": api_time(self.next_attempt_at),
            "last_error": self.last_error,
            "event_kind": self.event_kind,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "created_at": api_time(self.created_at),
            "sent_at": api_time_opt(self.sent_at),
        })
    }

    pub fn created(&self) -> String {
        show_time(self.created_at)
    }

    pub fn sent(&self) -> String {
        self.sent_at.map(show_time).unwrap_or_default()
    }

    pub fn next_attempt(&self) -> String {
        show_time(self.next_attempt_at)
    }
}

/// Marks the next due mail `sending` (committed), so no other sender takes it.
async fn claim(db: &Db) -> Result<Option<MailRow>, AppError> {
    let at = now();
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1,
                updated_at = $2
         WHERE id = (SELECT id FROM outbox
                     WHERE (status = 'queued' AND next_attempt_at <= $2)
                        OR (status = 'sending' AND locked_until < $2)
                     ORDER BY next_attempt_at, id LIMIT 1{skip_locked})
         RETURNING {MAIL_COLUMNS}"
    );
    let mut tx = db.begin().await?;
    let row = tx
        .fetch_optional::<MailRow>(&sql, args![at + SEND_LEASE_MICROS, at])
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// What happened to one mail.
enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
}

fn build(config: &SmtpConfig, mail: &MailRow) -> Result<Message, String> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e| format!("the From address {:?} is invalid: {e}", config.from))?;
    let to: Mailbox = mail
        .to_address
        .parse()
        .map_err(|e| format!("the address {:?} is invalid: {e}", mail.to_address))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            mail.body_text.clone(),
            mail.body_html.clone(),
        ))
        .map_err(|e| e.to_string())
}

async fn deliver(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    config: &SmtpConfig,
    mail: &MailRow,
) -> Outcome {
    let message = match build(config, mail) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(e),
    };
    match transport.send(message).await {
        Ok(_) => Outcome::Sent,
        Err(e) if e.is_permanent() => Outcome::Failed(e.to_string()),
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

async fn record(db: &Db, mail: &MailRow, outcome: Outcome) -> Result<(), AppError> {
    let at = now();
    match outcome {
        Outcome::Sent => {
            db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1,
                        locked_until = NULL, last_error = NULL
                 WHERE id = $2 AND status = 'sending'",
                args![at, mail.id],
            )
            .await?;
        }
        Outcome::Retry(error) => {
            let give_up = mail.attempts >= MAX_ATTEMPTS;
            db.execute(
                "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3,
                        locked_until = NULL, updated_at = $4
                 WHERE id = $5 AND status = 'sending'",
                args![
                    if give_up { "failed" } else { "queued" },
                    at + accord_domain::notify::backoff_secs(mail.attempts) * 1_000_000,
                    error,
                    at,
                    mail.id
                ],
            )
            .await?;
        }
        Outcome::Failed(error) => {
            db.execute(
                "UPDATE outbox SET status = 'failed', last_error = $1, locked_until = NULL,
                        updated_at = $2
                 WHERE id = $3 AND status = 'sending'",
                args![error, at, mail.id],
            )
            .await?;
        }
    }
    Ok(())
}

/// What one sending round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub retry: usize,
    pub failed: usize,
}

/// Connections sending at once: each SMTP exchange waits on the network, so several in
/// parallel keep the line busy. Every mail is still claimed by exactly one sender.
const PARALLEL: usize = 8;

/// Sends every due mail (up to a batch). With no SMTP server configured, does nothing:
/// mails wait in the Outbox.
pub async fn send_due(state: &AppState) -> Result<Sent, AppError> {
    let Some(config) = SmtpConfig::load(&state.db).await? else {
        return Ok(Sent::default());
    };
    let transport = match config.transport() {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "the SMTP settings are unusable");
            return Ok(Sent::default());
        }
    };
    let budget = std::sync::atomic::AtomicUsize::new(BATCH);
    let server_away = std::sync::atomic::AtomicBool::new(false);
    let sender = || async {
        let mut summary = Sent::default();
        while !server_away.load(std::sync::atomic::Ordering::Relaxed)
            && budget
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |b| b.checked_sub(1),
                )
                .is_ok()
        {
            let Some(mail) = claim(&state.db).await? else {
                break;
            };
            let outcome = deliver(&transport, &config, &mail).await;
            match &outcome {
                Outcome::Sent => summary.sent += 1,
                Outcome::Retry(e) => {
                    summary.retry += 1;
                    // The server is away: leave the rest queued for the next round.
                    server_away.store(true, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(mail = mail.id, error = %e, "mail not sent; will retry");
                }
                Outcome::Failed(e) => {
                    summary.failed += 1;
                    tracing::warn!(mail = mail.id, error = %e, "mail refused");
                }
            }
            record(&state.db, &mail, outcome).await?;
        }
        Ok::<Sent, AppError>(summary)
    };
    let results = futures_util::future::join_all((0..PARALLEL).map(|_| sender())).await;
    let mut total = Sent::default();
    for result in results {
        let s = result?;
        total.sent += s.sent;
        total.retry += s.retry;
        total.failed += s.failed;
    }
    Ok(total)
}

/// *Resend*: a queued or failed mail is tried again now; a sent mail is queued again as a
/// new copy (with its own `Message-ID`). Returns the id of the mail that will go.
pub async fn resend(db: &Db, id: i64) -> Result<i64, AppError> {
    let mut tx = db.begin().await?;
    let mail = tx
        .fetch_optional::<MailRow>(
            &format!("SELECT {MAIL_COLUMNS} FROM outbox WHERE id = $1"),
            args![id],
        )
        .await?
        .ok_or(AppError::NotFound)?;
    let at = now();
    let target = match mail.status.as_str() {
        "sent" => {
            queue_tx(
                &mut tx,
                &NewMail {
                    to: &mail.to_address,
                    subject: &mail.subject,
                    text: &mail.body_text,
                    html: &mail.body_html,
                    event_kind: mail.event_kind.as_deref(),
                    object: mail.object_type.as_deref().zip(mail.object_id),
                },
            )
            .await?
        }
        "sending" => {
            return Err(AppError::Conflict(
                "This mail is being sent right now; look again in a minute.".into(),
            ));
        }
        _ => {
            tx.execute(
                "UPDATE outbox SET status = 'queued', next_attempt_at = $1, updated_at = $1,
                        attempts = 0
                 WHERE id = $2",
                args![at, id],
            )
            .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(target)
}

/// The statuses a mail can have.
pub const STATUSES: &[&str] = &["queued", "sending", "sent", "failed"];

/// Mails newest first (optionally of one status) and their total.
pub async fn list(
    db: &Db,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<MailRow>, i64), AppError> {
    let rows = db
        .fetch_all::<MailRow>(
            &format!(
                "SELECT {MAIL_COLUMNS} FROM outbox WHERE ($1 IS NULL OR status = $1)
                 ORDER BY id DESC LIMIT $2 OFFSET $3"
            ),
            args![status, limit, offset],
        )
        .await?;
    let total = db
        .fetch_i64(
            "SELECT COUNT(*) FROM outbox WHERE ($1 IS NULL OR status = $1)",
            args![status],
        )
        .await?
        .unwrap_or(0);
    Ok((rows, total))
}

async fn fetch(db: &Db, id: i64) -> Result<MailRow, AppError> {
    db.fetch_optional::<MailRow>(
        &format!("SELECT {MAIL_COLUMNS} FROM outbox WHERE id = $1"),
        args![id],
    )
    .await?
    .ok_or(AppError::NotFound)
}

fn admin_only(is_admin: bool) -> Result<(), AppError> {
    if is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only administrators can read the Outbox.".into(),
        ))
    }
}

/// A status from a query string, checked against the known ones. Pages pass
/// `empty_is_all` (their filter's "All" is an empty value); the API refuses an empty one.
pub fn status_param(
    params: &std::collections::HashMap<String, String>,
    known: &[&str],
    empty_is_all: bool,
) -> Result<Option<String>, AppError> {
    match params.get("status").map(|s| s.trim()) {
        None => Ok(None),
        Some("") if empty_is_all => Ok(None),
        Some(s) if known.contains(&s) => Ok(Some(s.to_owned())),
        Some(_) => Err(AppError::Validation(accord_domain::FieldErrors::single(
            "status",
            format!("must be one of: {}", known.join(", ")),
        ))),
    }
}

/// The Outbox pages and API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup/outbox", get(outbox_page))
        .route("/setup/outbox/{id}", get(mail_page))
        .route("/setup/outbox/{id}/resend", post(resend_submit))
        .route("/api/v1/outbox", get(list_api))
        .route("/api/v1/outbox/{id}", get(get_api))
        .route("/api/v1/outbox/{id}/resend", post(resend_api))
}

async fn list_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    let page = int_param(&params, "page", 1, 1..=1_000_000)?;
    let per_page = int_param(&params, "per_page", 50, 1..=200)?;
    let status = status_param(&params, STATUSES, false)?;
    let (rows, total) = list(
        &state.db,
        status.as_deref(),
        per_page,
        (page - 1) * per_page,
    )
    .await?;
    let items: Vec<Value> = rows.iter().map(MailRow::to_json).collect();
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "per_page": per_page}),
    ))
}

async fn get_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    Ok(Json(fetch(&state.db, id).await?.to_json()))
}

async fn resend_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    let target = resend(&state.db, id).await?;
    Ok(Json(fetch(&state.db, target).await?.to_json()))
}

#[derive(Template)]
#[template(path = "mail/templates/outbox.html")]
struct OutboxPage {
    shell: Shell,
    mails: Vec<MailRow>,
    total: i64,
    status: String,
    statuses: &'static [&'static str],
    smtp: Option<String>,
}

async fn outbox_page(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> PageResult {
    admin_only(staff.user.is_admin)?;
    let status = status_param(&params, STATUSES, true)?;
    let (mails, total) = list(&state.db, status.as_deref(), 200, 0).await?;
    let smtp = SmtpConfig::load(&state.db)
        .await?
        .map(|c| format!("{}:{} ({})", c.host, c.port, c.security));
    Ok(page(&OutboxPage {
        shell: Shell::new(&state, &staff, "outbox").await?,
        mails,
        total,
        status: status.unwrap_or_default(),
        statuses: STATUSES,
        smtp,
    }))
}

#[derive(Template)]
#[template(path = "mail/templates/mail.html")]
struct MailPage {
    shell: Shell,
    mail: MailRow,
}

async fn mail_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    admin_only(staff.user.is_admin)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let mail = fetch(&state.db, id).await?;
    Ok(page(&MailPage {
        shell: Shell::new(&state, &staff, "outbox").await?,
        mail,
    }))
}

async fn resend_submit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult<Response> {
    admin_only(staff.user.is_admin)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let target = resend(&state.db, id).await?;
    flash_notice(
        &state.db,
        &staff.session_hash,
        format!("Mail #{target} is queued to be sent."),
    )
    .await?;
    Ok(Redirect::to(&format!("/setup/outbox/{target}")).into_response())
}
