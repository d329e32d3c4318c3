//! Logging in and out, invitations, the user profile with API tokens, and `GET /api/v1/me`.

pub mod invitations;

use crate::args;
use crate::contacts::Contacts;
use crate::employees::Employees;
use crate::kernel::audit;
use crate::kernel::auth::{
    ApiStaff, Auth, CSRF_COOKIE, MaybeAuth, NewSession, Principal, Staff, Stage, Via, cookie,
    create_session, hash_token, random_token, session_cookie, verify_password,
};
use crate::kernel::db::{Db, now};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::ObjectType;
use crate::kernel::resource::api::ApiId;
use crate::kernel::resource::pages::PageId;
use crate::kernel::web::{
    AppState, Flash, FormPairs, JsonObject, Shell, flash_notice, page, set_flash, show_time,
};
use crate::two_factor;
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// Failed logins for one e-mail address within [`WINDOW_MINUTES`] before it is locked.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed logins from one client address within the window before it is locked.
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const WINDOW_MINUTES: i64 = 15;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/portal/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/invite/{token}", get(invite_page).post(invite_submit))
        .route("/profile", get(profile_page))
        .route("/profile/tokens", post(create_token_submit))
        .route("/profile/tokens/{id}/revoke", post(revoke_token_submit))
        .route("/profile/logout-everywhere", post(logout_everywhere))
        .route("/contacts/{id}/invitation", post(contact_invitation_submit))
        .route(
            "/employees/{id}/invitation",
            post(employee_invitation_submit),
        )
        .route("/api/v1/me", get(me_api))
        .route("/api/v1/auth/login", post(login_api))
        .route(
            "/api/v1/contacts/{id}/invitation",
            post(contact_invitation_api),
        )
        .route(
            "/api/v1/employees/{id}/invitation",
            post(employee_invitation_api),
        )
}

#[derive(Template)]
#[template(path = "auth/templates/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

fn login_response(
    status: StatusCode,
    csrf: String,
    set_cookie: bool,
    page_data: LoginPage,
) -> Response {
    let mut response = (status, page(&page_data)).into_response();
    if set_cookie {
        set_csrf_cookie(&mut response, &csrf);
    }
    response
}

/// Sets the pre-login CSRF cookie that anonymous forms (login, invitation) must echo.
fn set_csrf_cookie(response: &mut Response, csrf: &str) {
    if let Ok(v) = format!("{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict").parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Where a logged-in user starts.
pub fn home_of(principal: &Principal) -> &'static str {
    match principal {
        Principal::Employee(_) => "/",
        Principal::Contact(_) => "/portal",
    }
}

async fn login_page(MaybeAuth(auth): MaybeAuth, headers: HeaderMap) -> Response {
    if let Some(auth) = auth {
        return Redirect::to(home_of(&auth.principal)).into_response();
    }
    let existing = cookie(&headers, CSRF_COOKIE).map(str::to_owned);
    let csrf = existing.clone().unwrap_or_else(random_token);
    login_response(
        StatusCode::OK,
        csrf.clone(),
        existing.is_none(),
        LoginPage {
            csrf,
            email: String::new(),
            error: None,
            notice: None,
        },
    )
}

#[derive(sqlx::FromRow)]
struct Credentials {
    kind: String,
    id: i64,
    name: String,
    is_admin: bool,
    password_hash: Option<String>,
}

async fn recent_failures(db: &Db, column: &str, value: &str) -> Result<i64, AppError> {
    Ok(db
        .fetch_i64(
            &format!("SELECT COUNT(*) FROM login_attempts WHERE {column} = $1 AND factor = 'password' AND NOT succeeded AND at > $2"),
            args![value, now() - WINDOW_MINUTES * 60_000_000],
        )
        .await?
        .unwrap_or(0))
}

/// Why a password login was refused, with what the person is told.
enum LoginRefused {
    Missing,
    Throttled,
    Wrong,
}

impl LoginRefused {
    fn status(&self) -> StatusCode {
        match self {
            LoginRefused::Missing => StatusCode::UNPROCESSABLE_ENTITY,
            LoginRefused::Throttled => StatusCode::TOO_MANY_REQUESTS,
            LoginRefused::Wrong => StatusCode::UNAUTHORIZED,
        }
    }

    fn message(&self) -> String {
        match self {
            LoginRefused::Missing => "Enter your e-mail address and password.".into(),
            LoginRefused::Throttled => {
                format!("Too many failed attempts. Wait {WINDOW_MINUTES} minutes and try again.")
            }
            LoginRefused::Wrong => "That e-mail address and password do not match.".into(),
        }
    }
}

/// A correct password: the session opened for it, and how far it got.
struct PasswordAccepted {
    kind: &'static str,
    session: NewSession,
    stage: Stage,
}

/// The password step of every login (web form and JSON): throttling, checking, recording,
/// and a session at the stage the account's 2FA asks for.
async fn password_login(
    state: &AppState,
    email: &str,
    password: &str,
    client_ip: &str,
) -> Result<Result<PasswordAccepted, LoginRefused>, AppError> {
    if email.is_empty() || password.is_empty() || email.len() > 254 || password.len() > 1024 {
        return Ok(Err(LoginRefused::Missing));
    }
    let by_email = recent_failures(&state.db, "email", email).await?;
    let by_client = recent_failures(&state.db, "client_ip", client_ip).await?;
    if by_email >= MAX_FAILURES_PER_EMAIL || by_client >= MAX_FAILURES_PER_CLIENT {
        tracing::warn!(%email, %client_ip, "login refused: too many failed attempts");
        return Ok(Err(LoginRefused::Throttled));
    }
    let found = state
        .db
        .fetch_optional::<Credentials>(
            "SELECT 'employee' AS kind, id, name, is_admin, password_hash FROM employees
             WHERE email = $1 AND archived_at IS NULL
             UNION ALL
             SELECT 'contact' AS kind, id, name, FALSE AS is_admin, password_hash FROM contacts
             WHERE email = $1 AND portal_access AND archived_at IS NULL",
            args![email],
        )
        .await?;
    let ok = verify_password(
        password,
        found.as_ref().and_then(|c| c.password_hash.clone()),
    )
    .await;
    state
        .db
        .execute(
            "INSERT INTO login_attempts (email, client_ip, succeeded, at) VALUES ($1, $2, $3, $4)",
            args![email, client_ip, ok, now()],
        )
        .await?;
    let Some(found) = found.filter(|_| ok) else {
        tracing::warn!(%email, %client_ip, failures = by_email + 1, "login failed");
        // Each failure makes the next answer slower, up to two seconds.
        let delay = (by_email + 1).min(8) * 250;
        tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
        return Ok(Err(LoginRefused::Wrong));
    };
    let kind = if found.kind == "contact" {
        invitations::CONTACT
    } else {
        invitations::EMPLOYEE
    };
    let account = two_factor::Account {
        kind,
        id: found.id,
        email: email.to_owned(),
        name: found.name,
        is_admin: found.is_admin,
    };
    let stage = two_factor::stage_after_password(&state.db, &account).await?;
    let session = create_session(&state.db, kind, found.id, stage).await?;
    tracing::info!(%email, %kind, stage = stage.as_str(), "password accepted");
    Ok(Ok(PasswordAccepted {
        kind,
        session,
        stage,
    }))
}

fn with_session_cookie(mut response: Response, state: &AppState, token: &str) -> Response {
    if let Ok(v) = session_cookie(token, state.config.https()).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: FormPairs,
) -> PageResult {
    let email = form.get("email").unwrap_or("").trim().to_lowercase();
    let password = form.get("password").unwrap_or("");
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or("").to_owned();
    let accepted = match password_login(&state, &email, password, &client.ip().to_string()).await? {
        Ok(accepted) => accepted,
        Err(refused) => {
            return Ok(login_response(
                refused.status(),
                csrf.clone(),
                false,
                LoginPage {
                    csrf,
                    email,
                    error: Some(refused.message()),
                    notice: None,
                },
            ));
        }
    };
    let target = match (accepted.stage, accepted.kind) {
        (Stage::Full, invitations::CONTACT) => "/portal",
        (stage, _) => stage.page(),
    };
    Ok(with_session_cookie(
        Redirect::to(target).into_response(),
        &state,
        &accepted.session.token,
    ))
}

/// `POST /api/v1/auth/login {email, password}`: the JSON login for non-browser clients (the
/// Outlook add-in). Answers `{"status": "ok" | "totp_required" | "enrolment_required",
/// "csrf_token"}` with the session cookie; the next step is `POST /api/v1/auth/totp` or the
/// enrolment under `/api/v1/me/2fa`.
async fn login_api(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let mut errors = accord_domain::FieldErrors::new();
    for key in body
        .keys()
        .filter(|k| !["email", "password"].contains(&k.as_str()))
    {
        errors.add(key, "is not a field of a login");
    }
    let text = |key: &str, errors: &mut accord_domain::FieldErrors| match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(key, "is required");
            String::new()
        }
        Some(_) => {
            errors.add(key, "must be a text string");
            String::new()
        }
    };
    let email = text("email", &mut errors).trim().to_lowercase();
    let password = text("password", &mut errors);
    errors.into_result(())?;
    let accepted = match password_login(&state, &email, &password, &client.ip().to_string()).await?
    {
        Ok(accepted) => accepted,
        Err(LoginRefused::Throttled) => {
            return Err(AppError::TooManyRequests {
                retry_after_secs: (WINDOW_MINUTES * 60) as u64,
            }
            .into());
        }
        // Missing fields were answered above as field errors.
        Err(_) => return Err(AppError::BadCredentials.into()),
    };
    let status = match accepted.stage {
        Stage::Full => "ok",
        Stage::Code => "totp_required",
        Stage::Enrolment => "enrolment_required",
    };
    Ok(with_session_cookie(
        Json(json!({"status": status, "csrf_token": accepted.session.csrf_token})).into_response(),
        &state,
        &accepted.session.token,
    ))
}

async fn logout(State(state): State<AppState>, MaybeAuth(auth): MaybeAuth) -> PageResult {
    if let Some(Auth {
        via: Via::Session { token_hash, .. },
        ..
    }) = auth
    {
        state
            .db
            .execute(
                "DELETE FROM sessions WHERE token_hash = $1",
                args![token_hash],
            )
            .await?;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = session_cookie("", state.config.https()).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn logout_everywhere(State(state): State<AppState>, staff: Staff) -> PageResult {
    state
        .db
        .execute(
            "DELETE FROM sessions WHERE principal_kind = 'employee' AND principal_id = $1",
            args![staff.user.id],
        )
        .await?;
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = session_cookie("", state.config.https()).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "auth/templates/invite.html")]
struct InvitePage {
    name: String,
    email: String,
    action: String,
    csrf: String,
    error: Option<String>,
}

async fn invite_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let invitee = invitations::find(&state.db, &token).await?.ok_or_else(|| {
        AppError::BadRequest("This invitation link is not valid: it was used already, replaced by a newer one, or it expired. Ask for a new one.".into())
    })?;
    let existing = cookie(&headers, CSRF_COOKIE).map(str::to_owned);
    let csrf = existing.clone().unwrap_or_else(random_token);
    let mut response = page(&InvitePage {
        name: invitee.name,
        email: invitee.email,
        action: format!("/invite/{token}"),
        csrf: csrf.clone(),
        error: None,
    });
    if existing.is_none() {
        set_csrf_cookie(&mut response, &csrf);
    }
    Ok(response)
}

async fn invite_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: FormPairs,
) -> PageResult {
    let invitee = invitations::find(&state.db, &token).await?.ok_or_else(|| {
        AppError::BadRequest("This invitation link is no longer valid. Ask for a new one.".into())
    })?;
    let password = form.get("password").unwrap_or("");
    let again = form.get("password_again").unwrap_or("");
    let error = if password != again {
        Some("The two passwords differ.".to_owned())
    } else {
        match invitations::accept(&state.db, &invitee, password).await {
            Ok(()) => None,
            Err(AppError::Validation(e)) => Some(format!(
                "The password {}.",
                e.for_field("password").unwrap_or("is not acceptable")
            )),
            Err(e) => return Err(e.into()),
        }
    };
    if let Some(error) = error {
        let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or("").to_owned();
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&InvitePage {
                name: invitee.name,
                email: invitee.email,
                action: format!("/invite/{token}"),
                csrf,
                error: Some(error),
            }),
        )
            .into_response());
    }
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or("").to_owned();
    Ok(page(&LoginPage {
        csrf,
        email: invitee.email,
        error: None,
        notice: Some("Your password is set. Log in with it now.".into()),
    }))
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// An API token as listed on the profile page.
struct TokenView {
    id: i64,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "auth/templates/profile.html")]
struct ProfilePage {
    shell: Shell,
    name: String,
    email: String,
    is_admin: bool,
    tokens: Vec<TokenView>,
    two_factor: two_factor::TwoFactorView,
    csrf: String,
}

async fn profile_page(State(state): State<AppState>, staff: Staff) -> PageResult {
    let tokens = state
        .db
        .fetch_all::<TokenRow>(
            "SELECT id, name, created_at, last_used_at FROM api_tokens
             WHERE employee_id = $1 AND revoked_at IS NULL ORDER BY id DESC",
            args![staff.user.id],
        )
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            created: show_time(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".into(), show_time),
        })
        .collect();
    let account = two_factor::Account::from(&Principal::Employee(staff.user.clone()));
    Ok(page(&ProfilePage {
        two_factor: two_factor::view_of(&state, &account).await?,
        csrf: staff.csrf.clone(),
        shell: Shell::new(&state, &staff, "profile").await?,
        name: staff.user.name.clone(),
        email: staff.user.email.clone(),
        is_admin: staff.user.is_admin,
        tokens,
    }))
}

/// Creates an API token for an employee and returns it (the only time it is readable).
pub async fn create_api_token(db: &Db, employee_id: i64, name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let name = if name.is_empty() { "API token" } else { name };
    accord_domain::text::check_plain_text(name, 100)
        .map_err(|m| accord_domain::FieldErrors::single("name", m))?;
    let token = format!("acc_{}", random_token());
    db.execute(
        "INSERT INTO api_tokens (employee_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        args![employee_id, name, hash_token(&token), now()],
    )
    .await?;
    Ok(token)
}

async fn create_token_submit(
    State(state): State<AppState>,
    staff: Staff,
    form: FormPairs,
) -> PageResult {
    let token = create_api_token(&state.db, staff.user.id, form.get("name").unwrap_or("")).await?;
    set_flash(
        &state.db,
        &staff.session_hash,
        Flash {
            message: "API token created. Copy it now: it is not shown again.".into(),
            secret: Some(token),
        },
    )
    .await?;
    Ok(Redirect::to("/profile").into_response())
}

async fn revoke_token_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    let changed = state
        .db
        .execute(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND employee_id = $3 AND revoked_at IS NULL",
            args![now(), id, staff.user.id],
        )
        .await?;
    if changed == 0 {
        return Err(AppError::NotFound.into());
    }
    flash_notice(&state.db, &staff.session_hash, "API token revoked.").await?;
    Ok(Redirect::to("/profile").into_response())
}

/// Issues a fresh invitation link for an employee or a portal contact.
async fn reinvite(
    state: &AppState,
    actor: &crate::kernel::auth::EmployeeUser,
    kind: &str,
    id: i64,
) -> Result<String, AppError> {
    if kind == invitations::EMPLOYEE && !actor.is_admin {
        return Err(AppError::Forbidden(
            "Only administrators can invite employees.".into(),
        ));
    }
    let (table, object_type) = if kind == invitations::EMPLOYEE {
        ("employees", Employees::PATH)
    } else {
        ("contacts", Contacts::PATH)
    };
    let extra = if kind == invitations::CONTACT {
        " AND portal_access"
    } else {
        ""
    };
    let mut tx = state.db.begin().await?;
    let found = tx
        .fetch_i64(
            &format!("SELECT id FROM {table} WHERE id = $1 AND archived_at IS NULL{extra}"),
            args![id],
        )
        .await?;
    if found.is_none() {
        let exists = tx
            .fetch_i64(&format!("SELECT id FROM {table} WHERE id = $1"), args![id])
            .await?;
        return Err(match exists {
            None => AppError::NotFound,
            Some(_) if kind == invitations::CONTACT => AppError::Conflict(
                "Turn on portal access (and un-archive) before inviting this contact.".into(),
            ),
            Some(_) => AppError::Conflict("Restore this employee before inviting them.".into()),
        });
    }
    let url = invitations::issue(&mut tx, &state.config, kind, id).await?;
    audit::record(
        &mut tx,
        object_type,
        id,
        "invitation issued",
        serde_json::Map::new(),
        Some(actor),
    )
    .await?;
    tx.commit().await?;
    Ok(url)
}

async fn invitation_page(
    state: AppState,
    staff: Staff,
    kind: &str,
    path: &str,
    id: i64,
) -> PageResult {
    let url = reinvite(&state, &staff.user, kind, id).await?;
    set_flash(
        &state.db,
        &staff.session_hash,
        Flash {
            message: "New invitation link made; older links no longer work.".into(),
            secret: Some(format!(
                "Invitation link (shown once; send it to them): {url}"
            )),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/{path}/{id}")).into_response())
}

async fn contact_invitation_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    invitation_page(state, staff, invitations::CONTACT, Contacts::PATH, id).await
}

async fn employee_invitation_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    invitation_page(state, staff, invitations::EMPLOYEE, Employees::PATH, id).await
}

async fn contact_invitation_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    let url = reinvite(&state, &staff.user, invitations::CONTACT, id).await?;
    Ok(Json(json!({"invitation_url": url})))
}

async fn employee_invitation_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    let url = reinvite(&state, &staff.user, invitations::EMPLOYEE, id).await?;
    Ok(Json(json!({"invitation_url": url})))
}

async fn me_api(staff: ApiStaff) -> Json<Value> {
    Json(json!({
        "id": staff.user.id,
        "name": staff.user.name,
        "email": staff.user.email,
        "is_admin": staff.user.is_admin,
        "kind": "employee",
    }))
}
