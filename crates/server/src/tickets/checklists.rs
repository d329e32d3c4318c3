//! Checklists on tickets (SPEC F3): ad hoc or copied from a template; items are ticked and
//! unticked (who and when is kept), added, edited, moved and removed. Every change keeps the
//! ticket's counts ("3/5") and writes the ticket's Audit Log in the same transaction.

use super::Tickets;
use super::setup::text_array;
use crate::args;
use crate::kernel::audit;
use crate::kernel::auth::EmployeeUser;
use crate::kernel::db::{Db, Tx, now};
use crate::kernel::error::AppError;
use crate::kernel::resource::ObjectType;
use crate::kernel::web::{AppState, api_time_opt, show_time};
use accord_domain::FieldErrors;
use accord_domain::tickets::{MAX_ITEMS, NewChecklist, parse_item};
use serde_json::{Map, Value, json};

/// One item as shown and in the API.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub checklist_id: i64,
    pub text: String,
    pub position: i64,
    pub done_at: Option<i64>,
    pub done_by_id: Option<i64>,
    pub done_by_name: Option<String>,
}

impl Item {
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// "Ada Administrator, 2026-12-04 10:30 UTC" for a ticked item.
    pub fn done_note(&self) -> String {
        match (&self.done_by_name, self.done_at) {
            (Some(who), Some(at)) => format!("{who}, {}", show_time(at)),
            (None, Some(at)) => show_time(at),
            _ => String::new(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "text": self.text,
            "position": self.position,
            "done": self.done(),
            "done_at": api_time_opt(self.done_at),
            "done_by_id": self.done_by_id,
            "done_by_name": self.done_by_name,
        })
    }
}

/// A checklist with its items.
#[derive(Debug, Clone)]
pub struct Checklist {
    pub id: i64,
    pub name: String,
    pub template_id: Option<i64>,
    pub items: Vec<Item>,
}

impl Checklist {
    pub fn progress(&self) -> String {
        let done = self.items.iter().filter(|i| i.done()).count();
        format!("{done}/{}", self.items.len())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "template_id": self.template_id,
            "progress": self.progress(),
            "items": self.items.iter().map(Item::to_json).collect::<Vec<_>>(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChecklistRow {
    id: i64,
    name: String,
    template_id: Option<i64>,
}

/// The checklists of a ticket, in order, with their items.
pub async fn of_ticket(db: &Db, ticket_id: i64) -> Result<Vec<Checklist>, AppError> {
    let lists = db
        .fetch_all::<ChecklistRow>(
            "SELECT id, name, template_id FROM ticket_checklists WHERE ticket_id = $1 ORDER BY position, id",
            args![ticket_id],
        )
        .await?;
    let items = db
        .fetch_all::<Item>(
            "SELECT i.id, i.checklist_id, i.text, i.position, i.done_at, i.done_by_id, i.done_by_name
             FROM ticket_checklist_items i JOIN ticket_checklists l ON l.id = i.checklist_id
             WHERE l.ticket_id = $1 ORDER BY i.position, i.id",
            args![ticket_id],
        )
        .await?;
    Ok(lists
        .into_iter()
        .map(|l| Checklist {
            items: items
                .iter()
                .filter(|i| i.checklist_id == l.id)
                .cloned()
                .collect(),
            id: l.id,
            name: l.name,
            template_id: l.template_id,
        })
        .collect())
}

/// The unticked items of a ticket as "Checklist › Item", for the workflow rule.
pub async fn open_items(tx: &mut Tx, ticket_id: i64) -> Result<Vec<String>, AppError> {
    Ok(tx
        .fetch_all::<(String, String)>(
            "SELECT l.name, i.text FROM ticket_checklist_items i JOIN ticket_checklists l ON l.id = i.checklist_id
             WHERE l.ticket_id = $1 AND i.done_at IS NULL ORDER BY l.position, l.id, i.position, i.id",
            args![ticket_id],
        )
        .await?
        .into_iter()
        .map(|(list, item)| format!("{list} › {item}"))
        .collect())
}

/// Keeps the ticket's item counts in step with its checklists.
async fn recount(tx: &mut Tx, ticket_id: i64) -> Result<(), AppError> {
    tx.execute(
        "UPDATE tickets SET
             checklist_items = (SELECT COUNT(*) FROM ticket_checklist_items i JOIN ticket_checklists l ON l.id = i.checklist_id WHERE l.ticket_id = $1),
             checklist_items_done = (SELECT COUNT(*) FROM ticket_checklist_items i JOIN ticket_checklists l ON l.id = i.checklist_id WHERE l.ticket_id = $1 AND i.done_at IS NOT NULL),
             updated_at = $2
         WHERE id = $1",
        args![ticket_id, now()],
    )
    .await?;
    Ok(())
}

async fn insert_checklist(
    tx: &mut Tx,
    ticket_id: i64,
    name: &str,
    template_id: Option<i64>,
    items: &[String],
) -> Result<i64, AppError> {
    let at = now();
    let position = tx
        .fetch_i64(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM ticket_checklists WHERE ticket_id = $1",
            args![ticket_id],
        )
        .await?
        .unwrap_or(1);
    let id = tx
        .fetch_i64(
            "INSERT INTO ticket_checklists (ticket_id, name, template_id, position, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            args![ticket_id, name, template_id, position, at],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
    for (i, text) in items.iter().enumerate() {
        tx.execute(
            "INSERT INTO ticket_checklist_items (checklist_id, text, position, created_at) VALUES ($1, $2, $3, $4)",
            args![id, text.clone(), (i + 1) as i64, at],
        )
        .await?;
    }
    recount(tx, ticket_id).await?;
    Ok(id)
}

/// Copies a template onto a ticket (for a ticket type's default checklists).
pub async fn add_from_template(
    tx: &mut Tx,
    ticket_id: i64,
    template_id: i64,
) -> Result<Option<i64>, AppError> {
    let Some((name, items)) = tx
        .fetch_optional::<(String, String)>(
            "SELECT name, items FROM checklist_templates WHERE id = $1 AND archived_at IS NULL",
            args![template_id],
        )
        .await?
    else {
        return Ok(None);
    };
    insert_checklist(tx, ticket_id, &name, Some(template_id), &text_array(&items))
        .await
        .map(Some)
}

/// Why a checklist change is refused.
#[derive(Debug)]
pub enum ChecklistError {
    TicketNotFound,
    ChecklistNotFound,
    ItemNotFound,
    TicketArchived,
    NoSuchTemplate(i64),
    TooManyItems,
}

impl From<ChecklistError> for AppError {
    fn from(e: ChecklistError) -> Self {
        match e {
            ChecklistError::TicketNotFound
            | ChecklistError::ChecklistNotFound
            | ChecklistError::ItemNotFound => AppError::NotFound,
            ChecklistError::TicketArchived => AppError::Conflict(
                "This ticket is archived; restore it before changing its checklists.".into(),
            ),
            ChecklistError::NoSuchTemplate(id) => AppError::Validation(FieldErrors::single(
                "template_id",
                format!("There is no checklist template with id {id}"),
            )),
            ChecklistError::TooManyItems => AppError::Validation(FieldErrors::single(
                "text",
                format!("A checklist has at most {MAX_ITEMS} items"),
            )),
        }
    }
}

/// Opens a transaction on an active ticket (and, if given, one of its checklists / items).
async fn begin_on(
    state: &AppState,
    ticket_id: i64,
    checklist_id: Option<i64>,
    item_id: Option<i64>,
) -> Result<Tx, AppError> {
    let mut tx = state.db.begin().await?;
    let archived = tx
        .fetch_optional::<(Option<i64>,)>(
            "SELECT archived_at FROM tickets WHERE id = $1",
            args![ticket_id],
        )
        .await?
        .ok_or(ChecklistError::TicketNotFound)?
        .0;
    if archived.is_some() {
        return Err(ChecklistError::TicketArchived.into());
    }
    if let Some(cid) = checklist_id {
        tx.fetch_i64(
            "SELECT id FROM ticket_checklists WHERE id = $1 AND ticket_id = $2",
            args![cid, ticket_id],
        )
        .await?
        .ok_or(ChecklistError::ChecklistNotFound)?;
        if let Some(iid) = item_id {
            tx.fetch_i64(
                "SELECT id FROM ticket_checklist_items WHERE id = $1 AND checklist_id = $2",
                args![iid, cid],
            )
            .await?
            .ok_or(ChecklistError::ItemNotFound)?;
        }
    }
    Ok(tx)
}

fn note(text: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("checklist".into(), json!({"from": null, "to": text}));
    m
}

/// Adds a checklist to a ticket (from a template, or ad hoc).
pub async fn add(
    state: &AppState,
    actor: &EmployeeUser,
    ticket_id: i64,
    new: &NewChecklist,
) -> Result<i64, AppError> {
    let mut tx = begin_on(state, ticket_id, None, None).await?;
    let (id, name) = match new {
        NewChecklist::FromTemplate(template) => {
            let id = add_from_template(&mut tx, ticket_id, *template)
                .await?
                .ok_or(ChecklistError::NoSuchTemplate(*template))?;
            let name = tx
                .fetch_one::<(String,)>(
                    "SELECT name FROM ticket_checklists WHERE id = $1",
                    args![id],
                )
                .await?
                .0;
            (id, name)
        }
        NewChecklist::AdHoc { name, items } => (
            insert_checklist(&mut tx, ticket_id, name.as_str(), None, items).await?,
            name.as_str().to_owned(),
        ),
    };
    audit::record(
        &mut tx,
        Tickets::PATH,
        ticket_id,
        "checklist added",
        note(name),
        Some(actor),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A change to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemChange {
    Done(bool),
    Text(String),
    /// Move up (-1) or down (+1) among its checklist's items.
    Move(i64),
    Remove,
}

/// Reads an API body `{"done": bool}`, `{"text": "..."}` or `{"position": n}` (one or more).
pub fn item_changes(body: &Map<String, Value>) -> Result<Vec<ItemChange>, AppError> {
    let mut errors = FieldErrors::new();
    let mut out = Vec::new();
    for (key, value) in body {
        match (key.as_str(), value) {
            ("done", Value::Bool(b)) => out.push(ItemChange::Done(*b)),
            ("done", _) => errors.add("done", "must be true or false"),
            ("text", Value::String(s)) => match parse_item(s) {
                Ok(t) => out.push(ItemChange::Text(t)),
                Err(e) => errors.add("text", e),
            },
            ("text", _) => errors.add("text", "must be a text string"),
            ("move", Value::String(s)) if s == "up" => out.push(ItemChange::Move(-1)),
            ("move", Value::String(s)) if s == "down" => out.push(ItemChange::Move(1)),
            ("move", _) => errors.add("move", "must be \"up\" or \"down\""),
            (other, _) => errors.add(other, "is not a field of a checklist item"),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.add("done", "Send done, text or move");
    }
    errors.into_result(out).map_err(AppError::from)
}

/// Applies changes to one item of a ticket's checklist.
pub async fn change_item(
    state: &AppState,
    actor: &EmployeeUser,
    ticket_id: i64,
    checklist_id: i64,
    item_id: i64,
    changes: &[ItemChange],
) -> Result<(), AppError> {
    let mut tx = begin_on(state, ticket_id, Some(checklist_id), Some(item_id)).await?;
    let text = tx
        .fetch_one::<(String,)>(
            "SELECT text FROM ticket_checklist_items WHERE id = $1",
            args![item_id],
        )
        .await?
        .0;
    for change in changes {
        let action = match change {
            ItemChange::Done(true) => {
                tx.execute(
                    "UPDATE ticket_checklist_items SET done_at = $1, done_by_id = $2, done_by_name = $3
                     WHERE id = $4 AND done_at IS NULL",
                    args![now(), actor.id, actor.name.clone(), item_id],
                )
                .await?;
                format!("ticked “{text}”")
            }
            ItemChange::Done(false) => {
                tx.execute(
                    "UPDATE ticket_checklist_items SET done_at = NULL, done_by_id = NULL, done_by_name = NULL WHERE id = $1",
                    args![item_id],
                )
                .await?;
                format!("unticked “{text}”")
            }
            ItemChange::Text(new) => {
                tx.execute(
                    "UPDATE ticket_checklist_items SET text = $1 WHERE id = $2",
                    args![new.clone(), item_id],
                )
                .await?;
                format!("renamed “{text}” to “{new}”")
            }
            ItemChange::Move(step) => {
                move_item(&mut tx, checklist_id, item_id, *step).await?;
                format!("moved “{text}” {}", if *step < 0 { "up" } else { "down" })
            }
            ItemChange::Remove => {
                tx.execute(
                    "DELETE FROM ticket_checklist_items WHERE id = $1",
                    args![item_id],
                )
                .await?;
                format!("removed “{text}”")
            }
        };
        audit::record(
            &mut tx,
            Tickets::PATH,
            ticket_id,
            "checklist item changed",
            note(action),
            Some(actor),
        )
        .await?;
    }
    recount(&mut tx, ticket_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Swaps an item with its neighbour; positions are renumbered 1.. first so gaps and ties
/// left by removals do not matter.
async fn move_item(
    tx: &mut Tx,
    checklist_id: i64,
    item_id: i64,
    step: i64,
) -> Result<(), AppError> {
    let ids: Vec<i64> = tx
        .fetch_all::<(i64,)>(
            "SELECT id FROM ticket_checklist_items WHERE checklist_id = $1 ORDER BY position, id",
            args![checklist_id],
        )
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect();
    let Some(from) = ids.iter().position(|i| *i == item_id) else {
        return Err(ChecklistError::ItemNotFound.into());
    };
    let to = from as i64 + step;
    let mut order = ids.clone();
    if (0..order.len() as i64).contains(&to) {
        order.swap(from, to as usize);
    }
    for (i, id) in order.iter().enumerate() {
        tx.execute(
            "UPDATE ticket_checklist_items SET position = $1 WHERE id = $2",
            args![(i + 1) as i64, *id],
        )
        .await?;
    }
    Ok(())
}

/// Adds an item at the end of a checklist.
pub async fn add_item(
    state: &AppState,
    actor: &EmployeeUser,
    ticket_id: i64,
    checklist_id: i64,
    text: &str,
) -> Result<i64, AppError> {
    let text = parse_item(text).map_err(|e| FieldErrors::single("text", e))?;
    let mut tx = begin_on(state, ticket_id, Some(checklist_id), None).await?;
    let count = tx
        .fetch_i64(
            "SELECT COUNT(*) FROM ticket_checklist_items WHERE checklist_id = $1",
            args![checklist_id],
        )
        .await?
        .unwrap_or(0);
    if count >= MAX_ITEMS as i64 {
        return Err(ChecklistError::TooManyItems.into());
    }
    let position = tx
        .fetch_i64(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM ticket_checklist_items WHERE checklist_id = $1",
            args![checklist_id],
        )
        .await?
        .unwrap_or(1);
    let id = tx
        .fetch_i64(
            "INSERT INTO ticket_checklist_items (checklist_id, text, position, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            args![checklist_id, text.clone(), position, now()],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
    audit::record(
        &mut tx,
        Tickets::PATH,
        ticket_id,
        "checklist item changed",
        note(format!("added “{text}”")),
        Some(actor),
    )
    .await?;
    recount(&mut tx, ticket_id).await?;
    tx.commit().await?;
    Ok(id)
}

/// One checklist of a ticket.
pub async fn one(db: &Db, ticket_id: i64, checklist_id: i64) -> Result<Checklist, AppError> {
    of_ticket(db, ticket_id)
        .await?
        .into_iter()
        .find(|c| c.id == checklist_id)
        .ok_or_else(|| ChecklistError::ChecklistNotFound.into())
}
