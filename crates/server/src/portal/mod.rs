//! The customer portal under `/portal`: a contact sees only their own customer.

mod tickets;

use crate::args;
use crate::kernel::auth::PortalUser;
use crate::kernel::error::{AppError, PageResult};
use crate::kernel::resource::pages::PageId;
use crate::kernel::web::{AppState, page};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/contacts/{id}", get(contact))
        .route("/portal/tickets", get(tickets::list).post(tickets::create))
        .route("/portal/tickets/new", get(tickets::new_form))
        .route("/portal/tickets/{id}", get(tickets::show))
        .route(
            "/portal/tickets/{id}/replies",
            axum::routing::post(tickets::reply),
        )
}

#[derive(sqlx::FromRow)]
struct CustomerView {
    name: String,
    email_domains: String,
}

#[derive(sqlx::FromRow)]
struct ContactView {
    id: i64,
    name: String,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/templates/home.html")]
struct PortalHome {
    me: String,
    csrf: String,
    customer: String,
    domains: String,
    contacts: Vec<ContactView>,
    two_factor: crate::two_factor::TwoFactorView,
}

#[derive(Template)]
#[template(path = "portal/templates/contact.html")]
struct PortalContact {
    me: String,
    csrf: String,
    customer: String,
    contact: ContactView,
}

/// The caller's customer, if still active.
async fn customer_of(state: &AppState, user: &PortalUser) -> Result<CustomerView, AppError> {
    state
        .db
        .fetch_optional::<CustomerView>(
            "SELECT name, email_domains FROM customers WHERE id = $1 AND archived_at IS NULL",
            args![user.contact.customer_id],
        )
        .await?
        .ok_or_else(|| AppError::Forbidden("Your customer account is no longer active.".into()))
}

async fn home(State(state): State<AppState>, user: PortalUser) -> PageResult {
    let customer = customer_of(&state, &user).await?;
    let contacts = state
        .db
        .fetch_all::<ContactView>(
            "SELECT id, name, email, phone FROM contacts
             WHERE customer_id = $1 AND archived_at IS NULL ORDER BY name_lower LIMIT 500",
            args![user.contact.customer_id],
        )
        .await?;
    let account = crate::two_factor::Account::from(&crate::kernel::auth::Principal::Contact(
        user.contact.clone(),
    ));
    Ok(page(&PortalHome {
        two_factor: crate::two_factor::view_of(&state, &account).await?,
        me: user.contact.name.clone(),
        csrf: user.csrf.clone(),
        customer: customer.name,
        domains: customer
            .email_domains
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(", "),
        contacts,
    }))
}

async fn contact(
    State(state): State<AppState>,
    user: PortalUser,
    PageId(id): PageId,
) -> PageResult {
    let customer = customer_of(&state, &user).await?;
    // Scoped by the caller's customer: another customer's id is simply not found.
    let contact = state
        .db
        .fetch_optional::<ContactView>(
            "SELECT id, name, email, phone FROM contacts
             WHERE id = $1 AND customer_id = $2 AND archived_at IS NULL",
            args![id, user.contact.customer_id],
        )
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(page(&PortalContact {
        me: user.contact.name.clone(),
        csrf: user.csrf.clone(),
        customer: customer.name,
        contact,
    }))
}
