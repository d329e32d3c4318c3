//! Activity on every object: posts (text, author, time, tagged employees), and the API of
//! each object's Activity and Audit Log tabs.

use crate::args;
use crate::kernel::audit;
use crate::kernel::auth::{ApiStaff, EmployeeUser};
use crate::kernel::db::{Db, now};
use crate::kernel::error::{ApiResult, AppError};
use crate::kernel::resource::ObjectType;
use crate::kernel::resource::api::{ApiId, ApiQuery};
use crate::kernel::resource::exists;
use crate::kernel::web::{AppState, JsonObject, api_time, int_param, show_time};
use crate::notifications;
use accord_domain::FieldErrors;
use accord_domain::input::{Input, whole_number};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// Longest post accepted.
pub const MAX_POST_CHARS: usize = 20_000;

#[derive(Debug, sqlx::FromRow)]
struct PostRow {
    id: i64,
    author_id: i64,
    author_name: String,
    body: String,
    created_at: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct TagRow {
    post_id: i64,
    employee_id: i64,
    name: String,
}

/// A post as shown on the Activity tab.
pub struct PostView {
    pub id: i64,
    pub author_id: i64,
    pub author_name: String,
    pub body: String,
    pub at: String,
    pub at_api: String,
    pub tagged: Vec<String>,
    pub tagged_ids: Vec<i64>,
}

impl PostView {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "body": self.body,
            "created_at": self.at_api,
            "tagged_employee_ids": self.tagged_ids,
        })
    }
}

/// An object's posts, newest first (at most 200).
pub async fn list_posts(
    db: &Db,
    object_type: &str,
    object_id: i64,
) -> Result<Vec<PostView>, AppError> {
    let rows = db
        .fetch_all::<PostRow>(
            "SELECT p.id, p.author_id, e.name AS author_name, p.body, p.created_at
             FROM posts p JOIN employees e ON e.id = p.author_id
             WHERE p.object_type = $1 AND p.object_id = $2 ORDER BY p.id DESC LIMIT 200",
            args![object_type, object_id],
        )
        .await?;
    // One query for the tags of all listed posts, not one per post.
    let tags = db
        .fetch_all::<TagRow>(
            "SELECT pt.post_id, pt.employee_id, e.name FROM post_tags pt
             JOIN posts p ON p.id = pt.post_id JOIN employees e ON e.id = pt.employee_id
             WHERE p.object_type = $1 AND p.object_id = $2 ORDER BY e.name",
            args![object_type, object_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<&TagRow> = tags.iter().filter(|t| t.post_id == r.id).collect();
            PostView {
                id: r.id,
                author_id: r.author_id,
                author_name: r.author_name,
                body: r.body,
                at: show_time(r.created_at),
                at_api: api_time(r.created_at),
                tagged: mine.iter().map(|t| t.name.clone()).collect(),
                tagged_ids: mine.iter().map(|t| t.employee_id).collect(),
            }
        })
        .collect())
}

/// Active employees for the tag picker.
pub async fn employee_options(db: &Db) -> Result<Vec<(i64, String)>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
    }
    Ok(db
        .fetch_all::<Row>(
            "SELECT id, name FROM employees WHERE archived_at IS NULL ORDER BY name LIMIT 1000",
            vec![],
        )
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

/// Adds a post to an object, tagging employees; all or nothing. Each tagged employee
/// (other than the author) is notified ("mentioned in a post") in the same transaction;
/// the author's own notifications on the object whose template marks read on "replied"
/// are marked read.
pub async fn add_post(
    state: &AppState,
    object_type: &str,
    object_id: i64,
    author: &EmployeeUser,
    body: &str,
    tagged: &[i64],
) -> Result<i64, AppError> {
    let body = body.trim();
    let mut errors = FieldErrors::new();
    if body.is_empty() {
        errors.add("body", "Write something to post");
    } else if body.chars().count() > MAX_POST_CHARS {
        errors.add(
            "body",
            format!("must be at most {MAX_POST_CHARS} characters"),
        );
    }
    let mut tagged: Vec<i64> = tagged.to_vec();
    tagged.sort_unstable();
    tagged.dedup();
    let db = &state.db;
    let mut tx = db.begin().await?;
    for id in &tagged {
        let found = tx
            .fetch_i64(
                "SELECT id FROM employees WHERE id = $1 AND archived_at IS NULL",
                args![*id],
            )
            .await?;
        if found.is_none() {
            errors.add(
                "tagged_employee_ids",
                format!("There is no employee with id {id}"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let post_id = tx
        .fetch_i64(
            "INSERT INTO posts (object_type, object_id, author_id, body, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            args![object_type, object_id, author.id, body, now()],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
    for id in &tagged {
        tx.execute(
            "INSERT INTO post_tags (post_id, employee_id) VALUES ($1, $2)",
            args![post_id, *id],
        )
        .await?;
    }
    let others: Vec<i64> = tagged.into_iter().filter(|id| *id != author.id).collect();
    let notified = if others.is_empty() {
        Vec::new()
    } else {
        let name = notifications::object_name(&mut tx, object_type, object_id).await?;
        let label = object_label(object_type);
        let event = notifications::Event {
            kind: "mentioned_in_post",
            object_type,
            object_label: &label,
            object_id,
            object_name: &name,
            actor_name: &author.name,
            text: body,
        };
        notifications::notify(&mut tx, &state.config.public_url, &event, &others).await?
    };
    tx.commit().await?;
    notifications::announce(db, notified).await;
    notifications::mark_object_read(db, author.id, object_type, object_id, Some("replied")).await?;
    Ok(post_id)
}

/// How an object type is called in messages ("legal-entities" → "legal entity").
fn object_label(object_type: &str) -> String {
    let singular = object_type.strip_suffix("ies").map_or_else(
        || object_type.trim_end_matches('s').to_owned(),
        |stem| format!("{stem}y"),
    );
    singular.replace('-', " ")
}

/// `GET/POST /api/v1/{type}/{id}/posts` and `GET /api/v1/{type}/{id}/audit-log`.
pub fn api_routes<T: ObjectType>() -> Router<AppState> {
    let base = format!("/api/v1/{}/{{id}}", T::PATH);
    Router::new()
        .route(
            &format!("{base}/posts"),
            get(list_posts_api::<T>).post(create_post_api::<T>),
        )
        .route(&format!("{base}/audit-log"), get(audit_log_api::<T>))
}

async fn must_exist<T: ObjectType>(db: &Db, id: i64) -> Result<(), AppError> {
    if exists::<T>(db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn list_posts_api<T: ObjectType>(
    State(state): State<AppState>,
    _: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    must_exist::<T>(&state.db, id).await?;
    let posts = list_posts(&state.db, T::PATH, id).await?;
    let items: Vec<Value> = posts.iter().map(PostView::to_json).collect();
    Ok(Json(json!({"total": items.len(), "items": items})))
}

async fn create_post_api<T: ObjectType>(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    must_exist::<T>(&state.db, id).await?;
    let mut input = Input::new(&body, &["body", "tagged_employee_ids"]);
    let text = input.required_text("body", "Post text");
    let tags = match body.get("tagged_employee_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items))
            if items
                .iter()
                .all(|v| v.as_number().and_then(whole_number).is_some()) =>
        {
            items
                .iter()
                .filter_map(|v| v.as_number().and_then(whole_number))
                .collect()
        }
        Some(_) => {
            input
                .errors
                .add("tagged_employee_ids", "must be a list of employee ids");
            Vec::new()
        }
    };
    let errors = input.errors;
    let text = errors.into_result(text)?.unwrap_or_default();
    let post_id = add_post(&state, T::PATH, id, &staff.user, &text, &tags).await?;
    let posts = list_posts(&state.db, T::PATH, id).await?;
    let post = posts
        .iter()
        .find(|p| p.id == post_id)
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(post.to_json())))
}

async fn audit_log_api<T: ObjectType>(
    State(state): State<AppState>,
    _: ApiStaff,
    ApiId(id): ApiId,
    ApiQuery(params): ApiQuery,
) -> ApiResult<Json<Value>> {
    must_exist::<T>(&state.db, id).await?;
    let page = int_param(&params, "page", 1, 1..=1_000_000)?;
    let per_page = int_param(&params, "per_page", 50, 1..=200)?;
    let (entries, total) =
        audit::list(&state.db, T::PATH, id, per_page, (page - 1) * per_page).await?;
    let items: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "per_page": per_page}),
    ))
}
