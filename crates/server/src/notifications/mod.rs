//! Notifications: the bell, the notifications page, *System Email Templates*, marking read,
//! and the live unread count (server-sent events).
//!
//! An event ([`notify`]) writes one row per recipient in the caller's transaction (and a
//! queued mail when the template's *Email Notifications* is on), so the notification exists
//! exactly when the change that caused it does. Counts are pushed after commit: on
//! PostgreSQL by `NOTIFY accord_bell` inside the same transaction (delivered on commit to
//! every instance's `LISTEN`), on SQLite (one instance) by an in-process broadcast. Each
//! open bell stream re-reads its own count when its recipient is named.

pub mod bell;
mod pages;

use crate::args;
use crate::kernel::db::{Arg, Backend, Db, Tx, now};
use crate::kernel::error::AppError;
use crate::kernel::web::{AppState, api_time, api_time_opt, show_time};
use accord_domain::notify::{EVENT_KINDS, EventKind, Values, event_kind, render_template};
use serde_json::{Value, json};

pub use pages::routes;

/// The effective template of one event kind: stored changes, or the built-in one.
#[derive(Debug, Clone)]
pub struct EmailTemplate {
    pub kind: &'static EventKind,
    pub subject: String,
    pub body: String,
    pub in_app: bool,
    pub email: bool,
    /// Codes of *Mark As Read Events*.
    pub mark_read_events: Vec<String>,
    pub customised: bool,
}

/// Out of the box: both switches on; opening or replying marks read.
const DEFAULT_MARK_READ: &str = "opened,replied";

#[derive(Debug, sqlx::FromRow)]
struct TemplateRow {
    event_kind: String,
    subject: String,
    body: String,
    in_app: bool,
    email: bool,
    mark_read_events: String,
}

impl EmailTemplate {
    fn builtin(kind: &'static EventKind) -> EmailTemplate {
        EmailTemplate {
            kind,
            subject: kind.subject.to_owned(),
            body: kind.body.to_owned(),
            in_app: true,
            email: true,
            mark_read_events: split_codes(DEFAULT_MARK_READ),
            customised: false,
        }
    }

    fn from_row(kind: &'static EventKind, row: TemplateRow) -> EmailTemplate {
        EmailTemplate {
            kind,
            subject: row.subject,
            body: row.body,
            in_app: row.in_app,
            email: row.email,
            mark_read_events: split_codes(&row.mark_read_events),
            customised: true,
        }
    }

    pub fn marks_read_on(&self, event: &str) -> bool {
        self.mark_read_events.iter().any(|e| e == event)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "event_kind": self.kind.code,
            "label": self.kind.label,
            "category": self.kind.category,
            "subject": self.subject,
            "body": self.body,
            "in_app": self.in_app,
            "email": self.email,
            "mark_read_events": self.mark_read_events,
            "customised": self.customised,
        })
    }
}

fn split_codes(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const TEMPLATE_COLUMNS: &str = "event_kind, subject, body, in_app, email, mark_read_events";

/// Every template, in catalogue order.
pub async fn templates(db: &Db) -> Result<Vec<EmailTemplate>, AppError> {
    let rows = db
        .fetch_all::<TemplateRow>(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM email_templates"),
            vec![],
        )
        .await?;
    let mut stored: std::collections::HashMap<String, TemplateRow> = rows
        .into_iter()
        .map(|r| (r.event_kind.clone(), r))
        .collect();
    Ok(EVENT_KINDS
        .iter()
        .map(|k| match stored.remove(k.code) {
            Some(row) => EmailTemplate::from_row(k, row),
            None => EmailTemplate::builtin(k),
        })
        .collect())
}

/// One template by event kind.
pub async fn template(db: &Db, code: &str) -> Result<EmailTemplate, AppError> {
    let kind = event_kind(code).ok_or(AppError::NotFound)?;
    let row = db
        .fetch_optional::<TemplateRow>(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM email_templates WHERE event_kind = $1"),
            args![code],
        )
        .await?;
    Ok(row.map_or_else(
        || EmailTemplate::builtin(kind),
        |r| EmailTemplate::from_row(kind, r),
    ))
}

async fn template_tx(tx: &mut Tx, kind: &'static EventKind) -> Result<EmailTemplate, AppError> {
    let row = tx
        .fetch_optional::<TemplateRow>(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM email_templates WHERE event_kind = $1"),
            args![kind.code],
        )
        .await?;
    Ok(row.map_or_else(
        || EmailTemplate::builtin(kind),
        |r| EmailTemplate::from_row(kind, r),
    ))
}

/// Stores a template (already validated).
pub async fn save_template(db: &Db, t: &EmailTemplate) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO email_templates (event_kind, subject, body, in_app, email, mark_read_events, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (event_kind) DO UPDATE SET subject = excluded.subject, body = excluded.body,
            in_app = excluded.in_app, email = excluded.email,
            mark_read_events = excluded.mark_read_events, updated_at = excluded.updated_at",
        args![
            t.kind.code,
            t.subject.as_str(),
            t.body.as_str(),
            t.in_app,
            t.email,
            t.mark_read_events.join(","),
            now()
        ],
    )
    .await?;
    Ok(())
}

/// Something that happened to an object, to tell people about.
pub struct Event<'a> {
    pub kind: &'static str,
    pub object_type: &'a str,
    pub object_label: &'a str,
    pub object_id: i64,
    pub object_name: &'a str,
    pub actor_name: &'a str,
    /// Free text of the event (the post's text).
    pub text: &'a str,
}

#[derive(Debug, sqlx::FromRow)]
struct Recipient {
    id: i64,
    name: String,
    email: String,
}

/// The placeholder values of one event for one recipient.
pub fn values(event: &Event<'_>, recipient_name: &str, link: &str, company: &str) -> Values {
    let mut v = Values::new();
    v.insert("object.name", event.object_name.to_owned());
    v.insert("object.type", event.object_label.to_owned());
    v.insert("object.id", event.object_id.to_string());
    v.insert("actor.name", event.actor_name.to_owned());
    v.insert("recipient.name", recipient_name.to_owned());
    v.insert("link", link.to_owned());
    v.insert("company.name", company.to_owned());
    v.insert("text", event.text.to_owned());
    v
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML part of a mail: the template with escaped values, the link as an anchor,
/// paragraphs at blank lines.
pub fn render_html(body: &str, values: &Values) -> Result<String, AppError> {
    let mut escaped: Values = values.iter().map(|(k, v)| (*k, escape_html(v))).collect();
    if let Some(link) = values.get("link") {
        let link = escape_html(link);
        escaped.insert("link", format!("<a href=\"{link}\">{link}</a>"));
    }
    let html = render_template(&escape_html(body), &escaped)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let paragraphs: Vec<String> = html
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>")))
        .collect();
    Ok(format!(
        "<!doctype html><html><body>{}</body></html>",
        paragraphs.join("\n")
    ))
}

/// Placeholders in a VALUES list: `($1, $2, $3), ($4, $5, $6)`.
fn values_clause(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Recipients per multi-row INSERT: well under PostgreSQL's 65,535 parameters; smaller on
/// SQLite, where binding cost grows with the square of a statement's parameters.
fn chunk_size(tx: &Tx) -> usize {
    match tx {
        Tx::Sqlite(_) => 50,
        Tx::Postgres(_) => 1000,
    }
}

/// Notifies `recipients` (employee ids; archived ones and duplicates are skipped) of an
/// event in the caller's transaction, as the event kind's template says: in-app rows and/or
/// queued mails. Returns the recipients whose bell changes; call [`announce`] with them
/// after commit.
pub async fn notify(
    tx: &mut Tx,
    public_url: &str,
    event: &Event<'_>,
    recipients: &[i64],
) -> Result<Vec<i64>, AppError> {
    let kind = event_kind(event.kind)
        .ok_or_else(|| AppError::Internal(format!("unknown event kind {}", event.kind)))?;
    let template = template_tx(tx, kind).await?;
    if !template.in_app && !template.email {
        return Ok(Vec::new());
    }
    let mut ids = recipients.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let company = tx
        .fetch_optional::<(Option<String>,)>(
            "SELECT value FROM settings WHERE key = 'company_name'",
            vec![],
        )
        .await?
        .and_then(|(v,)| v)
        .unwrap_or_else(|| "Accord".to_owned());
    let link = format!(
        "{}/{}/{}",
        public_url.trim_end_matches('/'),
        event.object_type,
        event.object_id
    );
    let at = now();
    let title = render_template(&template.subject, &values(event, "", &link, &company))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut notified = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(chunk_size(tx)) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let people = tx
            .fetch_all::<Recipient>(
                &format!(
                    "SELECT id, name, email FROM employees
                     WHERE archived_at IS NULL AND id IN ({}) ORDER BY id",
                    placeholders.join(", ")
                ),
                chunk.iter().map(|id| Arg::Int(*id)).collect(),
            )
            .await?;
        if people.is_empty() {
            continue;
        }
        let mut args: Vec<Arg> = Vec::with_capacity(people.len() * 9);
        for p in &people {
            args.extend(args![
                p.id,
                kind.category,
                kind.code,
                event.object_type,
                event.object_id,
                title.as_str(),
                template.in_app,
                template.email,
                at
            ]);
        }
        tx.execute(
            &format!(
                "INSERT INTO notifications (recipient_id, category, event_kind, object_type, object_id,
                                            title, in_app, email, created_at) VALUES {}",
                values_clause(people.len(), 9)
            ),
            args,
        )
        .await?;
        if template.email {
            let mut args: Vec<Arg> = Vec::with_capacity(people.len() * 13);
            for p in &people {
                let v = values(event, &p.name, &link, &company);
                let subject = render_template(&template.subject, &v)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let text = render_template(&template.body, &v)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let html = render_html(&template.body, &v)?;
                args.extend(args![
                    p.email.as_str(),
                    subject,
                    text,
                    html,
                    crate::mail::new_message_id(),
                    "queued",
                    0_i64,
                    at,
                    kind.code,
                    event.object_type,
                    event.object_id,
                    at,
                    at
                ]);
            }
            tx.execute(
                &format!(
                    "INSERT INTO outbox (to_address, subject, body_text, body_html, message_id, status,
                                         attempts, next_attempt_at, event_kind, object_type, object_id,
                                         created_at, updated_at)
                     VALUES {}",
                    values_clause(people.len(), 13)
                ),
                args,
            )
            .await?;
        }
        if template.in_app {
            notified.extend(people.iter().map(|p| p.id));
        }
    }
    signal(tx, &notified).await?;
    Ok(notified)
}

/// On PostgreSQL, `NOTIFY accord_bell` with the recipients, delivered when the caller's
/// transaction commits (payloads are kept under the 8000-byte limit).
async fn signal(tx: &mut Tx, recipients: &[i64]) -> Result<(), AppError> {
    if recipients.is_empty() || matches!(tx, Tx::Sqlite(_)) {
        return Ok(());
    }
    for chunk in recipients.chunks(900) {
        let payload: Vec<String> = chunk.iter().map(i64::to_string).collect();
        tx.execute(
            "SELECT pg_notify('accord_bell', $1)",
            args![payload.join(",")],
        )
        .await?;
    }
    Ok(())
}

/// Pushes new counts after a commit. On PostgreSQL the `NOTIFY` already did (every
/// instance listens); on SQLite this process is the only one.
pub async fn announce(db: &Db, recipients: Vec<i64>) {
    if db.backend() == Backend::Sqlite && !recipients.is_empty() {
        bell::publish(recipients);
    }
}

/// Marks read and announces it (a change outside any other transaction).
async fn mark_and_announce(
    db: &Db,
    recipient: i64,
    sql: &str,
    args: Vec<Arg>,
) -> Result<u64, AppError> {
    let changed = match db.backend() {
        Backend::Sqlite => db.execute(sql, args).await?,
        Backend::Postgres => {
            let mut tx = db.begin().await?;
            let n = tx.execute(sql, args).await?;
            if n > 0 {
                signal(&mut tx, &[recipient]).await?;
            }
            tx.commit().await?;
            n
        }
    };
    if changed > 0 {
        announce(db, vec![recipient]).await;
    }
    Ok(changed)
}

/// The viewer's unread in-app notifications.
pub async fn unread_count(db: &Db, recipient: i64) -> Result<i64, AppError> {
    Ok(db
        .fetch_i64(
            "SELECT COUNT(*) FROM notifications
             WHERE recipient_id = $1 AND read_at IS NULL AND in_app",
            args![recipient],
        )
        .await?
        .unwrap_or(0))
}

/// The viewer's unread notifications on one object.
pub async fn unread_on(
    db: &Db,
    recipient: i64,
    object_type: &str,
    object_id: i64,
) -> Result<i64, AppError> {
    Ok(db
        .fetch_i64(
            "SELECT COUNT(*) FROM notifications
             WHERE recipient_id = $1 AND read_at IS NULL AND in_app
               AND object_type = $2 AND object_id = $3",
            args![recipient, object_type, object_id],
        )
        .await?
        .unwrap_or(0))
}

/// Ids of the objects of one type on which the viewer has unread notifications (for bold
/// rows in lists).
pub async fn unread_objects(
    db: &Db,
    recipient: i64,
    object_type: &str,
) -> Result<std::collections::HashSet<i64>, AppError> {
    Ok(db
        .fetch_all::<(i64,)>(
            "SELECT DISTINCT object_id FROM notifications
             WHERE recipient_id = $1 AND read_at IS NULL AND in_app AND object_type = $2",
            args![recipient, object_type],
        )
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect())
}

/// Marks one notification of the viewer read; false if there is no such unread one.
pub async fn mark_read(db: &Db, recipient: i64, id: i64) -> Result<bool, AppError> {
    let n = mark_and_announce(
        db,
        recipient,
        "UPDATE notifications SET read_at = $1 WHERE id = $2 AND recipient_id = $3 AND read_at IS NULL",
        args![now(), id, recipient],
    )
    .await?;
    Ok(n > 0)
}

/// Marks all of the viewer's notifications read (or those of one category).
pub async fn mark_all_read(
    db: &Db,
    recipient: i64,
    category: Option<&str>,
) -> Result<u64, AppError> {
    mark_and_announce(
        db,
        recipient,
        "UPDATE notifications SET read_at = $1
         WHERE recipient_id = $2 AND read_at IS NULL AND ($3 IS NULL OR category = $3)",
        args![now(), recipient, category],
    )
    .await
}

/// Marks the viewer's notifications on an object read: all of them (`event` `None`, the
/// object's own bell), or those whose template lists `event` among *Mark As Read Events*.
pub async fn mark_object_read(
    db: &Db,
    recipient: i64,
    object_type: &str,
    object_id: i64,
    event: Option<&str>,
) -> Result<u64, AppError> {
    // Cheap when there is nothing unread: most page views.
    if unread_on(db, recipient, object_type, object_id).await? == 0 {
        return Ok(0);
    }
    let mut args = args![now(), recipient, object_type, object_id];
    let mut sql = "UPDATE notifications SET read_at = $1
         WHERE recipient_id = $2 AND object_type = $3 AND object_id = $4 AND read_at IS NULL"
        .to_owned();
    if let Some(event) = event {
        let kinds: Vec<&'static str> = templates(db)
            .await?
            .into_iter()
            .filter(|t| t.marks_read_on(event))
            .map(|t| t.kind.code)
            .collect();
        if kinds.is_empty() {
            return Ok(0);
        }
        let start = args.len();
        let marks: Vec<String> = (1..=kinds.len())
            .map(|i| format!("${}", start + i))
            .collect();
        sql.push_str(&format!(" AND event_kind IN ({})", marks.join(", ")));
        args.extend(kinds.into_iter().map(Arg::from));
    }
    mark_and_announce(db, recipient, &sql, args).await
}

/// One notification as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub recipient_id: i64,
    pub recipient_name: String,
    pub category: String,
    pub event_kind: String,
    pub object_type: String,
    pub object_id: i64,
    pub title: String,
    pub in_app: bool,
    pub email: bool,
    pub read_at: Option<i64>,
    pub created_at: i64,
}

impl NotificationRow {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "recipient_id": self.recipient_id,
            "recipient_name": self.recipient_name,
            "category": self.category,
            "event_kind": self.event_kind,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "link": self.link(),
            "title": self.title,
            "channels": self.channels(),
            "read": self.read_at.is_some(),
            "read_at": api_time_opt(self.read_at),
            "created_at": api_time(self.created_at),
        })
    }

    pub fn link(&self) -> String {
        format!("/{}/{}", self.object_type, self.object_id)
    }

    pub fn channels(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.in_app {
            c.push("in-app");
        }
        if self.email {
            c.push("email");
        }
        c
    }

    pub fn channels_shown(&self) -> String {
        self.channels().join(", ")
    }

    pub fn when(&self) -> String {
        show_time(self.created_at)
    }

    pub fn read_when(&self) -> String {
        self.read_at.map(show_time).unwrap_or_default()
    }
}

const ROW_SELECT: &str = "SELECT n.id, n.recipient_id, e.name AS recipient_name, n.category,
    n.event_kind, n.object_type, n.object_id, n.title, n.in_app, n.email, n.read_at, n.created_at
    FROM notifications n JOIN employees e ON e.id = n.recipient_id";

/// The viewer's in-app notifications, newest first, and their total.
pub async fn list_for(
    db: &Db,
    recipient: i64,
    unread_only: bool,
    category: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationRow>, i64), AppError> {
    let filter = "n.recipient_id = $1 AND n.in_app AND ($2 = FALSE OR n.read_at IS NULL)
                  AND ($3 IS NULL OR n.category = $3)";
    let rows = db
        .fetch_all::<NotificationRow>(
            &format!("{ROW_SELECT} WHERE {filter} ORDER BY n.id DESC LIMIT $4 OFFSET $5"),
            args![recipient, unread_only, category, limit, offset],
        )
        .await?;
    let total = db
        .fetch_i64(
            &format!("SELECT COUNT(*) FROM notifications n WHERE {filter}"),
            args![recipient, unread_only, category],
        )
        .await?
        .unwrap_or(0);
    Ok((rows, total))
}

/// Every notification about an object (for its Audit Log tab), newest first.
pub async fn for_object(
    db: &Db,
    object_type: &str,
    object_id: i64,
) -> Result<Vec<NotificationRow>, AppError> {
    Ok(db
        .fetch_all::<NotificationRow>(
            &format!(
                "{ROW_SELECT} WHERE n.object_type = $1 AND n.object_id = $2 ORDER BY n.id DESC LIMIT 200"
            ),
            args![object_type, object_id],
        )
        .await?)
}

/// The name of an object for messages (`#id` when it has none).
pub async fn object_name(
    tx: &mut Tx,
    object_type: &str,
    object_id: i64,
) -> Result<String, AppError> {
    let Some((_, table, column)) = crate::OBJECT_NAMES
        .iter()
        .find(|(path, _, _)| *path == object_type)
    else {
        return Ok(format!("#{object_id}"));
    };
    Ok(tx
        .fetch_optional::<(String,)>(
            &format!("SELECT {column} FROM {table} WHERE id = $1"),
            args![object_id],
        )
        .await?
        .map_or_else(|| format!("#{object_id}"), |(n,)| n))
}

/// Starts the background parts of notifications for a served app: on PostgreSQL, the
/// `LISTEN accord_bell` that forwards every instance's events to local bell streams.
pub fn start(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    match &state.db {
        Db::Postgres(pool) => Some(tokio::spawn(bell::listen(pool.clone()))),
        Db::Sqlite(_) => None,
    }
}
