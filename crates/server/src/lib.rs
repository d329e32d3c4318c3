//! Accord PSA server.
//!
//! Rooms by feature (each holds its storage, routes and templates): `customers`, `contacts`,
//! `employees`, `legal_entities`, `products`, `settings`, `activity`, `auth`, `portal`,
//! `home`, `two_factor`, `tickets`. The shared `kernel` holds the database, web shell, errors, authentication, the
//! audit log and the generic object machinery. Pure rules live in the `accord-domain` crate.
//! See ARCHITECTURE.md for the map.

pub mod activity;
pub mod auth;
pub mod background;
pub mod cli;
pub mod config;
pub mod contacts;
pub mod customers;
pub mod demo;
pub mod employees;
pub mod home;
pub mod kernel;
pub mod legal_entities;
pub mod mail;
pub mod notifications;
pub mod openapi;
pub mod portal;
pub mod products;
pub mod settings;
pub mod tickets;
pub mod two_factor;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kernel::error::{ApiError, AppError, PageError};
use kernel::resource::{ObjectType, Resource};
use kernel::web::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Connects to the database, brings the schema up to date and makes the shared state.
pub async fn prepare(config: config::Config) -> anyhow::Result<AppState> {
    let server_key = kernel::secrets::ServerKey::load_or_create(&config.secret_key_file)?;
    let db = kernel::db::Db::connect(&config.database_url).await?;
    db.migrate().await?;
    settings::sync_catalogue(&db).await?;
    Ok(AppState {
        db,
        config: Arc::new(config),
        server_key,
        stop: Arc::new(tokio::sync::watch::channel(false).0),
    })
}

/// Web pages and API routes of one object type, plus its Activity and Audit Log API.
fn object<R: Resource>() -> Router<AppState> {
    Router::new()
        .merge(kernel::resource::api::routes::<R>())
        .merge(kernel::resource::pages::routes::<R>())
        .merge(activity::api_routes::<R>())
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(object::<customers::Customers>())
        .merge(object::<contacts::Contacts>())
        .merge(object::<employees::Employees>())
        .merge(object::<legal_entities::LegalEntities>())
        .merge(object::<products::Products>())
        .merge(object::<tickets::Tickets>())
        .merge(object::<tickets::setup::TicketTypes>())
        .merge(object::<tickets::setup::Workflows>())
        .merge(object::<tickets::setup::ChecklistTemplates>())
        .merge(tickets::routes())
        .merge(settings::routes())
        .merge(auth::routes())
        .merge(two_factor::routes())
        .merge(portal::routes())
        .merge(home::routes())
        .merge(notifications::routes())
        .merge(mail::routes())
        .merge(background::routes())
        .route("/static/bell.js", get(bell_script))
        .route("/api/openapi.json", get(openapi::handler))
        .route("/healthz", get(healthz))
        .route("/static/app.css", get(stylesheet))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            kernel::auth::middleware,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.fetch_i64("SELECT CAST(1 AS BIGINT)", vec![]).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

async fn bell_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/bell.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

fn error_for(request: &Request, err: AppError) -> Response {
    if request.uri().path().starts_with("/api/") {
        ApiError(err).into_response()
    } else {
        PageError(err).into_response()
    }
}

async fn not_found(request: Request) -> Response {
    let err = if request.uri().path().starts_with("/api/") {
        AppError::NoRoute(format!(
            "There is no API endpoint {} {}.",
            request.method(),
            request.uri().path()
        ))
    } else {
        AppError::NotFound
    };
    error_for(&request, err)
}

async fn method_not_allowed(request: Request) -> Response {
    let mut response = error_for(
        &request,
        AppError::BadRequest(format!("{} is not allowed here.", request.method())),
    );
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish. Also runs the
/// background work of this instance: a job worker, the periodic tasks (mail, nightly, the SLA
/// breach scan) and (on PostgreSQL) the bell listener.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut background = vec![
        tokio::spawn(kernel::jobs::work(
            state.clone(),
            kernel::jobs::Worker::new(),
        )),
        tokio::spawn(kernel::jobs::tick(state.clone())),
    ];
    background.extend(notifications::start(&state));
    let stop = state.stop.clone();
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Open bell streams end, so graceful shutdown does not wait for them.
        stop.send_replace(true);
    })
    .await;
    for task in background {
        task.abort();
    }
    result
}

/// Where each object type's name is, to show in the Audit Log on the home page and in
/// notifications: (URL segment, table, column).
pub const OBJECT_NAMES: &[(&str, &str, &str)] = &[
    ("customers", "customers", "name"),
    ("contacts", "contacts", "name"),
    ("employees", "employees", "name"),
    ("legal-entities", "legal_entities", "name"),
    ("products", "products", "name"),
    ("settings", "settings", "key"),
    ("tickets", "tickets", "summary"),
    ("ticket-types", "ticket_types", "name"),
    ("workflows", "workflows", "name"),
    ("checklist-templates", "checklist_templates", "name"),
];

/// Every object type that has an Activity tab and an Audit Log, by URL segment.
pub const OBJECT_TYPES: &[&str] = &[
    customers::Customers::PATH,
    contacts::Contacts::PATH,
    employees::Employees::PATH,
    legal_entities::LegalEntities::PATH,
    products::Products::PATH,
    settings::Settings::PATH,
    tickets::Tickets::PATH,
    tickets::setup::TicketTypes::PATH,
    tickets::setup::Workflows::PATH,
    tickets::setup::ChecklistTemplates::PATH,
];
