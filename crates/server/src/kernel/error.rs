//! The one error type of the web edge, mapped once to HTTP: an HTML page for the UI
//! ([`PageError`]) and an RFC 9457 problem document for the API ([`ApiError`]).

use accord_domain::FieldErrors;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// No route matches the path (as opposed to an object that does not exist).
    #[error("{0}")]
    NoRoute(String),
    #[error("{0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("That e-mail address and password do not match.")]
    BadCredentials,
    /// The password was right but the login's second step is not done yet.
    #[error("{}", .0.message())]
    SecondStepPending(super::auth::Stage),
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        AppError::Validation(errors)
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::NoRoute(_) => StatusCode::NOT_FOUND,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized | AppError::BadCredentials | AppError::SecondStepPending(_) => {
                StatusCode::UNAUTHORIZED
            }
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a person is told. Internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound => {
                "There is nothing here: it may have been moved, or the link is wrong.".into()
            }
            AppError::Validation(errors) => format!("Some fields need attention: {errors}"),
            AppError::Database(_) | AppError::Internal(_) => {
                "Something went wrong on our side; nothing was changed. Please try again.".into()
            }
            other => other.to_string(),
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
    }
}

/// An error answered as `application/problem+json` (RFC 9457).
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let status = err.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut body = json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": err.public_message(),
        });
        if let AppError::Validation(errors) = &err {
            body["detail"] = json!("The request has invalid fields; see errors.");
            body["errors"] = json!(errors);
        }
        problem_response(status, body, &err)
    }
}

fn problem_response(status: StatusCode, body: serde_json::Value, err: &AppError) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let AppError::TooManyRequests { retry_after_secs } = err
        && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        headers.insert(header::RETRY_AFTER, v);
    }
    if matches!(err, AppError::Unauthorized) {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// An error answered as an HTML page (or, for "log in first", a redirect to the login page).
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        match err {
            AppError::Unauthorized => return Redirect::to("/login").into_response(),
            AppError::SecondStepPending(stage) => {
                return Redirect::to(stage.page()).into_response();
            }
            _ => {}
        }
        let status = err.status();
        let page = super::web::ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: err.public_message(),
        };
        (status, Html(super::web::render(&page))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T = Response> = Result<T, PageError>;
