//! Tickets in the customer portal: a contact opens tickets for their customer and follows
//! them (status, checklist progress, due time). Only their own customer's tickets are seen.

use super::customer_of;
use crate::args;
use crate::kernel::auth::PortalUser;
use crate::kernel::error::{AppError, PageResult};
use crate::kernel::resource;
use crate::kernel::resource::pages::PageId;
use crate::kernel::web::{AppState, FormPairs, page, show_time};
use crate::tickets::Tickets;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};

#[derive(sqlx::FromRow)]
struct TicketLine {
    id: i64,
    summary: String,
    status: String,
    is_closed: bool,
    created_at: i64,
}

#[derive(Template)]
#[template(path = "portal/templates/tickets.html")]
struct TicketList {
    me: String,
    csrf: String,
    customer: String,
    tickets: Vec<TicketLine>,
}

impl TicketLine {
    fn opened(&self) -> String {
        show_time(self.created_at)
    }
}

pub async fn list(State(state): State<AppState>, user: PortalUser) -> PageResult {
    let customer = customer_of(&state, &user).await?;
    let tickets = state
        .db
        .fetch_all::<TicketLine>(
            "SELECT id, summary, status, is_closed, created_at FROM tickets
             WHERE customer_id = $1 AND archived_at IS NULL ORDER BY id DESC LIMIT 200",
            args![user.contact.customer_id],
        )
        .await?;
    Ok(page(&TicketList {
        me: user.contact.name.clone(),
        csrf: user.csrf.clone(),
        customer: customer.name,
        tickets,
    }))
}

#[derive(Template)]
#[template(path = "portal/templates/ticket_form.html")]
struct TicketForm {
    me: String,
    csrf: String,
    customer: String,
    types: Vec<(i64, String)>,
    summary: String,
    details: String,
    ticket_type_id: i64,
    errors: Vec<(String, String)>,
}

async fn types(state: &AppState) -> Result<Vec<(i64, String)>, AppError> {
    Ok(state
        .db
        .fetch_all::<(i64, String)>(
            "SELECT id, name FROM ticket_types WHERE archived_at IS NULL ORDER BY name LIMIT 100",
            vec![],
        )
        .await?)
}

pub async fn new_form(State(state): State<AppState>, user: PortalUser) -> PageResult {
    let customer = customer_of(&state, &user).await?;
    Ok(page(&TicketForm {
        me: user.contact.name.clone(),
        csrf: user.csrf.clone(),
        customer: customer.name,
        types: types(&state).await?,
        summary: String::new(),
        details: String::new(),
        ticket_type_id: 0,
        errors: Vec::new(),
    }))
}

/// Opens a ticket for the contact's own customer, through the same rules as the API.
pub async fn create(
    State(state): State<AppState>,
    user: PortalUser,
    form: FormPairs,
) -> PageResult {
    let customer = customer_of(&state, &user).await?;
    let summary = form.get("summary").unwrap_or("").to_owned();
    let details = form.get("details").unwrap_or("").to_owned();
    let type_id = form
        .get("ticket_type_id")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let mut input = Map::new();
    input.insert("summary".into(), Value::String(summary.clone()));
    input.insert("details".into(), Value::String(details.clone()));
    input.insert("customer_id".into(), Value::from(user.contact.customer_id));
    input.insert("contact_id".into(), Value::from(user.contact.id));
    input.insert(
        "ticket_type_id".into(),
        if type_id > 0 {
            Value::from(type_id)
        } else {
            Value::Null
        },
    );
    match resource::create::<Tickets>(&state, None, &input).await {
        Ok(written) => Ok(Redirect::to(&format!("/portal/tickets/{}", written.id)).into_response()),
        Err(AppError::Validation(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&TicketForm {
                me: user.contact.name.clone(),
                csrf: user.csrf.clone(),
                customer: customer.name,
                types: types(&state).await?,
                summary,
                details,
                ticket_type_id: type_id,
                errors: errors
                    .iter()
                    .map(|e| (e.field.clone(), e.message.clone()))
                    .collect(),
            }),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/templates/ticket.html")]
struct TicketPage {
    me: String,
    csrf: String,
    customer: String,
    ticket: crate::tickets::TicketRow,
    progress: String,
    opened: String,
    due: String,
    replies: Vec<crate::tickets::replies::Reply>,
    error: Option<String>,
}

/// One of the caller's customer's tickets; another customer's is simply not found.
async fn own_ticket(
    state: &AppState,
    user: &PortalUser,
    id: i64,
) -> Result<crate::tickets::TicketRow, AppError> {
    crate::tickets::fetch(&state.db, id)
        .await?
        .filter(|t| t.customer_id == user.contact.customer_id && t.archived_at.is_none())
        .ok_or(AppError::NotFound)
}

async fn ticket_page(
    state: &AppState,
    user: &PortalUser,
    id: i64,
    error: Option<String>,
) -> Result<TicketPage, AppError> {
    let customer = customer_of(state, user).await?;
    let ticket = own_ticket(state, user, id).await?;
    Ok(TicketPage {
        me: user.contact.name.clone(),
        csrf: user.csrf.clone(),
        customer: customer.name,
        progress: accord_domain::tickets::progress(
            ticket.checklist_items_done,
            ticket.checklist_items,
        ),
        opened: show_time(ticket.created_at),
        due: show_time(ticket.resolution_due_at),
        replies: crate::tickets::replies::of_ticket(&state.db, id).await?,
        ticket,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    user: PortalUser,
    PageId(id): PageId,
) -> PageResult {
    Ok(page(&ticket_page(&state, &user, id, None).await?))
}

/// A contact answers on their customer's ticket.
pub async fn reply(
    State(state): State<AppState>,
    user: PortalUser,
    PageId(id): PageId,
    form: FormPairs,
) -> PageResult {
    own_ticket(&state, &user, id).await?;
    let author = crate::tickets::replies::ReplyAuthor::Contact {
        id: user.contact.id,
        name: &user.contact.name,
    };
    match crate::tickets::replies::add(&state, id, author, form.get("body").unwrap_or("")).await {
        Ok(_) => Ok(Redirect::to(&format!("/portal/tickets/{id}")).into_response()),
        Err(AppError::Validation(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&ticket_page(&state, &user, id, Some(e.to_string())).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
