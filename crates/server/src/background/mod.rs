//! *Setup → System → Background Jobs*: the job queue and the nightly runs, for
//! administrators, and `GET /api/v1/jobs`.

use crate::kernel::auth::{ApiStaff, Staff};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::jobs::{self, JobRow, STATUSES};
use crate::kernel::nightly::{self, RunRow};
use crate::kernel::resource::api::{ApiId, ApiQuery};
use crate::kernel::web::{AppState, Shell, flash_notice, int_param, page, show_time};
use crate::mail::status_param;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup/jobs", get(jobs_page))
        .route("/api/v1/jobs", get(list_api))
        .route("/api/v1/jobs/{id}", get(get_api))
        .route("/api/v1/jobs/{id}/retry", post(retry_api))
        .route("/setup/jobs/{id}/retry", post(retry_submit))
}

fn admin_only(is_admin: bool) -> Result<(), AppError> {
    if is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only administrators can see Background Jobs.".into(),
        ))
    }
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
    let (rows, total) = jobs::list(
        &state.db,
        status.as_deref(),
        per_page,
        (page - 1) * per_page,
    )
    .await?;
    let items: Vec<Value> = rows.iter().map(JobRow::to_json).collect();
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "per_page": per_page}),
    ))
}

async fn retry_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    jobs::retry(&state.db, id).await?;
    get_api(State(state), staff, ApiId(id)).await
}

async fn retry_submit(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> PageResult<Response> {
    admin_only(staff.user.is_admin)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let message = match jobs::retry(&state.db, id).await {
        Ok(()) => format!("Job #{id} is queued again."),
        Err(AppError::Conflict(m)) => m,
        Err(e) => return Err(e.into()),
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to("/setup/jobs").into_response())
}

async fn get_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    admin_only(staff.user.is_admin)?;
    let row = state
        .db
        .fetch_optional::<JobRow>(
            "SELECT id, kind, payload, status, attempts, max_attempts, run_after, locked_by,
                    locked_until, last_error, progress, created_at, updated_at, finished_at
             FROM jobs WHERE id = $1",
            crate::args![id],
        )
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(row.to_json()))
}

/// A job as shown in the table.
struct Shown {
    row: JobRow,
    updated: String,
    run_after: String,
}

/// A nightly run as shown.
struct ShownRun {
    row: RunRow,
    finished: String,
}

#[derive(Template)]
#[template(path = "background/templates/jobs.html")]
struct JobsPage {
    shell: Shell,
    jobs: Vec<Shown>,
    total: i64,
    status: String,
    statuses: &'static [&'static str],
    runs: Vec<ShownRun>,
}

async fn jobs_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> PageResult {
    admin_only(staff.user.is_admin)?;
    let status = status_param(&params, STATUSES, true)?;
    let (rows, total) = jobs::list(&state.db, status.as_deref(), 200, 0).await?;
    let runs = nightly::recent_runs(&state.db, 14).await?;
    Ok(page(&JobsPage {
        shell: Shell::new(&state, &staff, "jobs").await?,
        jobs: rows
            .into_iter()
            .map(|row| Shown {
                updated: show_time(row.updated_at),
                run_after: show_time(row.run_after),
                row,
            })
            .collect(),
        total,
        status: status.unwrap_or_default(),
        statuses: STATUSES,
        runs: runs
            .into_iter()
            .map(|row| ShownRun {
                finished: show_time(row.finished_at),
                row,
            })
            .collect(),
    }))
}
