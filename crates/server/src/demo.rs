//! Demo data: a small services firm with customers, contacts, employees and products,
//! loaded through the same validation as the UI. Loading twice adds nothing.

use crate::args;
use crate::auth::invitations;
use crate::contacts::Contacts;
use crate::customers::Customers;
use crate::kernel::error::AppError;
use crate::kernel::resource::{Resource, create, update};
use crate::kernel::web::{AppState, into_map};
use crate::legal_entities::LegalEntities;
use crate::products::Products;
use crate::tickets::Tickets;
use crate::tickets::setup::{ChecklistTemplates, TicketTypes, Workflows};
use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@accord.example";
pub const ADMIN_PASSWORD: &str = "accord-demo-admin";
pub const PORTAL_EMAIL: &str = "jane@acme.example";
pub const PORTAL_PASSWORD: &str = "accord-demo-portal";

/// Whether demo data was loaded now or found already there.
pub enum Outcome {
    Loaded,
    AlreadyThere,
}

async fn add<R: Resource>(state: &AppState, v: Value) -> Result<i64, AppError> {
    Ok(create::<R>(state, None, &into_map(v)).await?.id)
}

/// Loads the demo data unless its administrator already exists.
pub async fn load(state: &AppState) -> Result<Outcome, AppError> {
    let db = &state.db;
    if db
        .fetch_i64(
            "SELECT id FROM employees WHERE email = $1",
            args![ADMIN_EMAIL],
        )
        .await?
        .is_some()
    {
        return Ok(Outcome::AlreadyThere);
    }
    let uk = add::<LegalEntities>(state, json!({"name": "Accord Services Ltd", "currency": "GBP", "tax_rate": "20", "calculate_sale_price_using": "markup"})).await?;
    let de = add::<LegalEntities>(state, json!({"name": "Accord Services GmbH", "currency": "EUR", "tax_rate": "19", "calculate_sale_price_using": "gross_margin"})).await?;

    let admin = crate::employees::add_with_password(
        state,
        ADMIN_EMAIL,
        "Ada Administrator",
        true,
        ADMIN_PASSWORD,
    )
    .await?;
    for (email, name) in [
        ("ben@accord.example", "Ben Agent"),
        ("cara@accord.example", "Cara Consultant"),
        ("dan@accord.example", "Dan Developer"),
    ] {
        let id =
            crate::employees::add_with_password(state, email, name, false, "accord-demo-employee")
                .await?;
        update::<crate::employees::Employees>(
            state,
            None,
            id,
            &into_map(json!({"line_manager_id": admin})),
        )
        .await?;
    }

    let customers = [
        ("Acme Corporation", vec!["acme.example", "acme.co.uk"], uk),
        ("Globex Industries", vec!["globex.example"], uk),
        ("Initech", vec!["initech.example"], uk),
        ("Umbrella Logistics", vec!["umbrella.example"], de),
        ("Stark Engineering", vec!["stark.example"], uk),
        ("Wayne Foundation", vec!["wayne.example"], uk),
        ("Hooli Cloud", vec!["hooli.example"], de),
        ("Soylent Foods", vec![], uk),
    ];
    let contacts_of = |customer: &str| -> Vec<(&'static str, &'static str, &'static str)> {
        match customer {
            "Acme Corporation" => vec![
                ("Jane Doe", "jane@acme.example", "+44 20 7946 0001"),
                ("Wile E. Coyote", "wile@acme.example", "+44 20 7946 0002"),
            ],
            "Globex Industries" => vec![("Hank Scorpio", "hank@globex.example", "+1 555 0100")],
            "Initech" => vec![
                ("Bill Lumbergh", "bill@initech.example", "+1 555 0111"),
                ("Peter Gibbons", "peter@initech.example", "+1 555 0112"),
            ],
            "Umbrella Logistics" => {
                vec![("Alice Abernathy", "alice@umbrella.example", "+49 30 901820")]
            }
            _ => vec![],
        }
    };
    for (name, domains, entity) in customers {
        let customer = add::<Customers>(
            state,
            json!({"name": name, "email_domains": domains, "legal_entity_id": entity}),
        )
        .await?;
        let mut first = None;
        for (contact, email, phone) in contacts_of(name) {
            let id = add::<Contacts>(
                state,
                json!({"customer_id": customer, "name": contact, "email": email, "phone": phone}),
            )
            .await?;
            first.get_or_insert(id);
        }
        if let Some(contact) = first {
            update::<Customers>(
                state,
                None,
                customer,
                &into_map(json!({"invoice_contact_id": contact})),
            )
            .await?;
        }
    }

    // Jane may use the customer portal.
    let jane = db
        .fetch_i64(
            "SELECT id FROM contacts WHERE email = $1",
            args![PORTAL_EMAIL],
        )
        .await?
        .ok_or_else(|| AppError::Internal("demo contact missing".into()))?;
    update::<Contacts>(state, None, jane, &into_map(json!({"portal_access": true}))).await?;
    let hash = crate::kernel::auth::hash_password(PORTAL_PASSWORD).await?;
    invitations::set_password_hash(db, invitations::CONTACT, jane, &hash).await?;

    for (name, sku, cost, price) in [
        (
            "Business laptop 14\"",
            Some("HW-LAP-14"),
            Some("820.00"),
            "1099.00",
        ),
        ("27\" monitor", Some("HW-MON-27"), Some("180.00"), "249.00"),
        (
            "Managed endpoint (per month)",
            Some("MS-END-1M"),
            Some("6.50"),
            "15.00",
        ),
        (
            "Microsoft 365 Business Standard (per user/month)",
            Some("LIC-M365-BS"),
            Some("10.30"),
            "12.50",
        ),
        ("Remote support hour", Some("SVC-REM-1H"), None, "95.00"),
        ("On-site visit", Some("SVC-ONS-1"), None, "180.00"),
    ] {
        add::<Products>(
            state,
            json!({"name": name, "sku": sku, "unit_cost": cost, "unit_price": price}),
        )
        .await?;
    }
    load_service_desk(state, admin).await?;
    Ok(Outcome::Loaded)
}

/// A service desk: a workflow whose "Resolved" needs complete checklists, a new-starter
/// checklist, two ticket types and a few tickets.
async fn load_service_desk(state: &AppState, admin: i64) -> Result<(), AppError> {
    let workflow = add::<Workflows>(
        state,
        json!({
            "name": "Service Desk",
            "statuses": ["New", "In Progress", "Waiting on Customer", "Resolved", "Closed"],
            "start_status": "New",
            "closed_statuses": ["Resolved", "Closed"],
            "transitions": [
                "New -> In Progress",
                "In Progress -> Waiting on Customer",
                "Waiting on Customer -> In Progress",
                "In Progress -> Resolved: checklists complete",
                "Resolved -> In Progress",
                "Resolved -> Closed"
            ]
        }),
    )
    .await?;
    let new_starter = add::<ChecklistTemplates>(
        state,
        json!({"name": "New starter", "items": [
            "Create the user account", "Assign a Microsoft 365 licence",
            "Set up the laptop", "Add to the team's groups", "Send the welcome e-mail"
        ]}),
    )
    .await?;
    add::<ChecklistTemplates>(
        state,
        json!({"name": "Leaver", "items": ["Disable the account", "Collect the laptop", "Forward the mailbox"]}),
    )
    .await?;
    let incident = add::<TicketTypes>(
        state,
        json!({"name": "Incident", "default_priority": "high", "workflow_id": workflow}),
    )
    .await?;
    let onboarding = add::<TicketTypes>(
        state,
        json!({"name": "Onboarding", "default_priority": "medium", "workflow_id": workflow,
            "default_checklist_template_ids": [new_starter]}),
    )
    .await?;
    let customer = |name: &'static str| async move {
        state
            .db
            .fetch_i64("SELECT id FROM customers WHERE name = $1", args![name])
            .await?
            .ok_or_else(|| AppError::Internal(format!("demo customer {name} missing")))
    };
    let acme = customer("Acme Corporation").await?;
    let globex = customer("Globex Industries").await?;
    add::<Tickets>(
        state,
        json!({"summary": "Printer on the second floor jams", "details": "Paper jams on every second page since Monday.",
            "customer_id": acme, "ticket_type_id": incident, "assignee_id": admin}),
    )
    .await?;
    add::<Tickets>(
        state,
        json!({"summary": "New starter: Maria Lopez", "details": "Starts on the 1st; needs a laptop and a Microsoft 365 account.",
            "customer_id": acme, "ticket_type_id": onboarding}),
    )
    .await?;
    add::<Tickets>(
        state,
        json!({"summary": "VPN drops every hour", "customer_id": globex, "ticket_type_id": incident, "priority": "urgent"}),
    )
    .await?;
    Ok(())
}
