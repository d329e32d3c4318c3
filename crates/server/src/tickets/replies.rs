//! The conversation with the customer on a ticket: replies by agents and by the ticket's
//! customer contacts (in the portal). Internal notes stay the ticket's Activity posts, which
//! the customer never sees. An agent's first reply is the ticket's first response (SLA).

use super::Tickets;
use crate::args;
use crate::kernel::audit;
use crate::kernel::db::{Db, now};
use crate::kernel::error::AppError;
use crate::kernel::resource::ObjectType;
use crate::kernel::web::AppState;
use crate::kernel::web::{api_time, show_time};
use crate::notifications;
use accord_domain::FieldErrors;
use accord_domain::tickets::{MAX_DETAILS_CHARS, check_plain_text_multiline};
use serde_json::{Map, Value, json};

/// Who wrote a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyAuthor<'a> {
    Employee { id: i64, name: &'a str },
    Contact { id: i64, name: &'a str },
}

/// One reply.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Reply {
    pub id: i64,
    pub author_kind: String,
    pub author_id: i64,
    pub author_name: String,
    pub body: String,
    pub created_at: i64,
}

impl Reply {
    pub fn when(&self) -> String {
        show_time(self.created_at)
    }

    /// Written by the customer (not an agent).
    pub fn from_customer(&self) -> bool {
        self.author_kind == "contact"
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "author_kind": self.author_kind,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "body": self.body,
            "created_at": api_time(self.created_at),
        })
    }
}

/// A reply's text as typed.
pub fn parse_body(body: &str) -> Result<String, FieldErrors> {
    let body = body.trim();
    if body.is_empty() {
        return Err(FieldErrors::single("body", "Write a reply first"));
    }
    check_plain_text_multiline(body, MAX_DETAILS_CHARS)
        .map_err(|e| FieldErrors::single("body", e))?;
    Ok(body.to_owned())
}

/// The replies of a ticket, oldest first.
pub async fn of_ticket(db: &Db, ticket_id: i64) -> Result<Vec<Reply>, AppError> {
    Ok(db
        .fetch_all::<Reply>(
            "SELECT id, author_kind, author_id, author_name, body, created_at FROM ticket_replies
             WHERE ticket_id = $1 ORDER BY id LIMIT 1000",
            args![ticket_id],
        )
        .await?)
}

/// Adds a reply to an active ticket, with its Audit Log entry, in one transaction. A
/// customer's reply tells the assignee (*Ticket updated by customer*); an agent's reply marks
/// their own notifications on the ticket read where *Replied* is a mark-as-read event.
pub async fn add(
    state: &AppState,
    ticket_id: i64,
    author: ReplyAuthor<'_>,
    body: &str,
) -> Result<Reply, AppError> {
    let db = &state.db;
    let body = parse_body(body)?;
    let mut tx = db.begin().await?;
    let archived = tx
        .fetch_optional::<(Option<i64>,)>(
            "SELECT archived_at FROM tickets WHERE id = $1",
            args![ticket_id],
        )
        .await?
        .ok_or(AppError::NotFound)?
        .0;
    if archived.is_some() {
        return Err(AppError::Conflict(
            "This ticket is archived; restore it before replying.".into(),
        ));
    }
    let (kind, author_id, name) = match author {
        ReplyAuthor::Employee { id, name } => ("employee", id, name),
        ReplyAuthor::Contact { id, name } => ("contact", id, name),
    };
    let at = now();
    let id = tx
        .fetch_i64(
            "INSERT INTO ticket_replies (ticket_id, author_kind, author_id, author_name, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            args![ticket_id, kind, author_id, name, body.clone(), at],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
    if kind == "employee" {
        tx.execute(
            // A first response after its due time is a breach, even if no scan saw it.
            "UPDATE tickets SET responded_at = $1,
                 breached_at = CASE WHEN breached THEN breached_at WHEN $1 > response_due_at THEN $1 ELSE NULL END,
                 breached = (breached OR $1 > response_due_at)
             WHERE id = $2 AND responded_at IS NULL",
            args![at, ticket_id],
        )
        .await?;
    }
    let mut changes = Map::new();
    changes.insert("reply".into(), json!({"from": null, "to": body.clone()}));
    audit::record_by(
        &mut tx,
        Tickets::PATH,
        ticket_id,
        "replied",
        changes,
        kind,
        author_id,
        name,
    )
    .await?;
    let mut announce = Vec::new();
    if kind == "contact" {
        let (summary, assignee) = tx
            .fetch_one::<(String, Option<i64>)>(
                "SELECT summary, assignee_id FROM tickets WHERE id = $1",
                args![ticket_id],
            )
            .await?;
        if let Some(assignee) = assignee {
            let event = notifications::Event {
                kind: "ticket_updated_by_customer",
                object_type: Tickets::PATH,
                object_label: "ticket",
                object_id: ticket_id,
                object_name: &summary,
                actor_name: name,
                text: &body,
            };
            announce =
                notifications::notify(&mut tx, &state.config.public_url, &event, &[assignee])
                    .await?;
        }
    }
    tx.commit().await?;
    notifications::announce(db, announce).await;
    if kind == "employee" {
        notifications::mark_object_read(db, author_id, Tickets::PATH, ticket_id, Some("replied"))
            .await?;
    }
    Ok(Reply {
        id,
        author_kind: kind.into(),
        author_id,
        author_name: name.into(),
        body,
        created_at: at,
    })
}
