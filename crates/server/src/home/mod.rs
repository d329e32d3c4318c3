//! The home page (counts and recent changes) and global search across object types.

use crate::args;
use crate::contacts::Contacts;
use crate::customers::Customers;
use crate::employees::Employees;
use crate::kernel::audit::show_value;
use crate::kernel::auth::{MaybeAuth, Principal, Staff};
use crate::kernel::error::PageResult;
use crate::kernel::resource::{ListQuery, ObjectRow, Resource, json_of, list};
use crate::kernel::web::{AppState, Shell, page, show_time};
use crate::legal_entities::LegalEntities;
use crate::products::Products;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/home", get(dashboard))
        .route("/search", get(search))
}

struct Recent {
    link: String,
    what: String,
    action: String,
    who: String,
    when: String,
}

#[derive(Template)]
#[template(path = "home/templates/home.html")]
struct HomePage {
    shell: Shell,
    counts: Vec<(&'static str, &'static str, i64)>,
    recent: Vec<Recent>,
}

#[derive(sqlx::FromRow)]
struct RecentRow {
    object_type: String,
    object_id: i64,
    action: String,
    actor_name: Option<String>,
    at: i64,
}

async fn home(auth: MaybeAuth) -> PageResult {
    match auth.0.map(|a| a.principal) {
        None => return Ok(Redirect::to("/login").into_response()),
        Some(Principal::Contact(_)) => return Ok(Redirect::to("/portal").into_response()),
        Some(Principal::Employee(_)) => {}
    }
    Ok(Redirect::to("/home").into_response())
}

/// The dashboard itself (behind `/` so that `/` can route each kind of user).
pub async fn dashboard(State(state): State<AppState>, staff: Staff) -> PageResult {
    let mut counts = Vec::new();
    for (label, path, table) in [
        ("Customers", "/customers", "customers"),
        ("Contacts", "/contacts", "contacts"),
        ("Employees", "/employees", "employees"),
        ("Products", "/products", "products"),
    ] {
        let n = state
            .db
            .fetch_i64(
                &format!("SELECT COUNT(*) FROM {table} WHERE archived_at IS NULL"),
                vec![],
            )
            .await?
            .unwrap_or(0);
        counts.push((label, path, n));
    }
    let rows = state
        .db
        .fetch_all::<RecentRow>(
            "SELECT object_type, object_id, action, actor_name, at FROM audit_log ORDER BY id DESC LIMIT $1",
            args![12_i64],
        )
        .await?;
    let names = object_names(&state, &rows).await?;
    let recent = rows
        .into_iter()
        .map(|r| Recent {
            link: if r.object_type == "settings" {
                "/setup/defaults?tab=audit".into()
            } else {
                format!("/{}/{}", r.object_type, r.object_id)
            },
            what: names
                .get(&(r.object_type.clone(), r.object_id))
                .cloned()
                .unwrap_or_else(|| format!("{} #{}", r.object_type.replace('-', " "), r.object_id)),
            action: r.action,
            who: r.actor_name.unwrap_or_else(|| "System".into()),
            when: show_time(r.at),
        })
        .collect();
    Ok(page(&HomePage {
        shell: Shell::new(&state, &staff, "home").await?,
        counts,
        recent,
    }))
}

/// Names of the objects in audit rows: one query per object type, not one per row.
async fn object_names(
    state: &AppState,
    rows: &[RecentRow],
) -> Result<HashMap<(String, i64), String>, crate::kernel::error::AppError> {
    #[derive(sqlx::FromRow)]
    struct Named {
        id: i64,
        name: String,
    }
    let mut names = HashMap::new();
    for (path, table, name_column) in crate::OBJECT_NAMES {
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.object_type == *path)
            .map(|r| r.object_id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let found = state
            .db
            .fetch_all::<Named>(
                &format!(
                    "SELECT id, {name_column} AS name FROM {table} WHERE id IN ({})",
                    placeholders.join(", ")
                ),
                ids.into_iter().map(Into::into).collect(),
            )
            .await?;
        for n in found {
            names.insert(((*path).to_owned(), n.id), n.name);
        }
    }
    Ok(names)
}

/// One group of search results.
struct Hits {
    title: &'static str,
    more_link: String,
    total: crate::kernel::resource::Total,
    items: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "home/templates/search.html")]
struct SearchPage {
    shell: Shell,
    q: String,
    groups: Vec<Hits>,
}

async fn hits<R: Resource>(
    state: &AppState,
    q: &str,
    detail_key: &str,
) -> Result<Hits, crate::kernel::error::AppError> {
    let mut params = HashMap::new();
    params.insert("search".to_owned(), q.to_owned());
    params.insert("per_page".to_owned(), "10".to_owned());
    let query = ListQuery::parse::<R>(&params)?;
    let (rows, total) = list::<R>(&state.db, &query).await?;
    Ok(Hits {
        title: R::PLURAL,
        more_link: format!(
            "/{}?{}",
            R::PATH,
            serde_urlencoded::to_string([("search", q)]).unwrap_or_default()
        ),
        total,
        items: rows
            .iter()
            .map(|r| {
                let json = json_of::<R>(r);
                (
                    format!("/{}/{}", R::PATH, r.id()),
                    r.title(),
                    show_value(json.get(detail_key).unwrap_or(&serde_json::Value::Null)),
                )
            })
            .collect(),
    })
}

async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult<Response> {
    let q: String = params
        .get("q")
        .map(|s| s.trim().chars().take(200).collect())
        .unwrap_or_default();
    let mut groups = Vec::new();
    if !q.is_empty() {
        groups.push(hits::<crate::tickets::Tickets>(&state, &q, "customer_name").await?);
        groups.push(hits::<Customers>(&state, &q, "email_domains").await?);
        groups.push(hits::<Contacts>(&state, &q, "customer_name").await?);
        groups.push(hits::<Employees>(&state, &q, "email").await?);
        groups.push(hits::<Products>(&state, &q, "sku").await?);
        groups.push(hits::<LegalEntities>(&state, &q, "currency").await?);
        groups.retain(|g| g.total.count > 0);
    }
    Ok(page(&SearchPage {
        shell: Shell::new(&state, &staff, "home").await?,
        q,
        groups,
    }))
}
