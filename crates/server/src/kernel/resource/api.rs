//! The REST API of every [`Resource`]: `/api/v1/{type}` list and create,
//! `/{id}` get and PATCH, `/{id}/archive` and `/{id}/restore`.

use super::{ListQuery, Resource, create, fetch, json_of, list, set_archived, update};
use crate::kernel::auth::ApiStaff;
use crate::kernel::error::{ApiError, ApiResult, AppError};
use crate::kernel::web::{AppState, JsonObject};
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `{id}` of an API path; anything but a positive number is a 404 problem.
pub struct ApiId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ApiId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        raw.get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(ApiId)
            .ok_or(AppError::NotFound.into())
    }
}

/// Query-string parameters; a malformed query string is a 400 problem.
pub struct ApiQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|_| AppError::BadRequest("The query string is malformed.".into()).into())
    }
}

/// Routes of one resource type.
pub fn routes<R: Resource>() -> Router<AppState> {
    let base = format!("/api/v1/{}", R::PATH);
    Router::new()
        .route(&base, get(list_handler::<R>).post(create_handler::<R>))
        .route(
            &format!("{base}/{{id}}"),
            get(get_handler::<R>).patch(update_handler::<R>),
        )
        .route(
            &format!("{base}/{{id}}/archive"),
            post(archive_handler::<R>),
        )
        .route(
            &format!("{base}/{{id}}/restore"),
            post(restore_handler::<R>),
        )
}

async fn list_handler<R: Resource>(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    let mut q = ListQuery::parse::<R>(&params)?;
    q.viewer = Some(staff.user.id);
    let (rows, total) = list::<R>(&state.db, &q).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| Value::Object(json_of::<R>(r)))
        .collect();
    let mut body = json!({
        "items": items,
        "total": total.count,
        "page": q.paging.page,
        "per_page": q.paging.per_page,
    });
    if total.more {
        // More than the type counts: `total` is a lower bound.
        body["total_is_lower_bound"] = json!(true);
    }
    Ok(Json(body))
}

fn with_invitation(mut json: serde_json::Map<String, Value>, url: Option<String>) -> Value {
    if let Some(url) = url {
        json.insert("invitation_url".into(), Value::String(url));
    }
    Value::Object(json)
}

async fn create_handler<R: Resource>(
    State(state): State<AppState>,
    staff: ApiStaff,
    JsonObject(input): JsonObject,
) -> ApiResult<Response> {
    let written = create::<R>(&state, Some(&staff.user), &input).await?;
    let location = format!("/api/v1/{}/{}", R::PATH, written.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(with_invitation(written.json, written.invitation_url)),
    )
        .into_response())
}

async fn get_handler<R: Resource>(
    State(state): State<AppState>,
    _: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    let row = fetch::<R>(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(Value::Object(json_of::<R>(&row))))
}

async fn update_handler<R: Resource>(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
    JsonObject(patch): JsonObject,
) -> ApiResult<Json<Value>> {
    let written = update::<R>(&state, Some(&staff.user), id, &patch).await?;
    Ok(Json(with_invitation(written.json, written.invitation_url)))
}

async fn archive_handler<R: Resource>(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Object(
        set_archived::<R>(&state, &staff.user, id, true).await?,
    )))
}

async fn restore_handler<R: Resource>(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Object(
        set_archived::<R>(&state, &staff.user, id, false).await?,
    )))
}
