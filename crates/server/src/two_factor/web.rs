//! 2FA pages and API: the code step of a login, enrolment, recovery codes, disabling, and
//! the administrators' changes on *Resources → Employees* (one employee or the ticked ones).

use super::{Account, AdminChange, Proof, Status};
use crate::auth::home_of;
use crate::kernel::auth::{ApiStaff, Auth, MaybeAuth, Staff, Stage, Via, complete_session};
use crate::kernel::error::{ApiResult, AppError, PageResult};
use crate::kernel::resource::api::ApiId;
use crate::kernel::resource::pages::PageId;
use crate::kernel::web::{
    AppState, FormPairs, JsonObject, flash_notice, only_text_field, page, render, show_time,
};
use accord_domain::two_factor::TwoFactorMode;
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/2fa", get(code_page).post(code_submit))
        .route("/2fa/enrol", get(enrol_page).post(enrol_submit))
        .route("/2fa/recovery-codes", post(regenerate_submit))
        .route("/2fa/disable", post(disable_submit))
        .route("/employees/{id}/2fa/{change}", post(employee_change_submit))
        .route("/employees/bulk/2fa/{change}", post(bulk_change_submit))
        .route("/contacts/{id}/2fa/reset", post(contact_reset_submit))
        .route("/api/v1/contacts/{id}/2fa/reset", post(contact_reset_api))
        .route("/api/v1/auth/totp", post(totp_api))
        .route("/api/v1/me/2fa", get(status_api))
        .route("/api/v1/me/2fa/enrol", post(enrol_api))
        .route("/api/v1/me/2fa/confirm", post(confirm_api))
        .route("/api/v1/me/2fa/disable", post(disable_api))
        .route("/api/v1/me/2fa/recovery-codes", post(regenerate_api))
        .route(
            "/api/v1/employees/{id}/2fa",
            get(employee_status_api).post(employee_mode_api),
        )
        .route("/api/v1/employees/{id}/2fa/reset", post(employee_reset_api))
}

/// The caller of a 2FA step, if their session (or token) is at one of `stages`.
fn caller_at(auth: Option<Auth>, stages: &[Stage]) -> Result<(Account, Auth), AppError> {
    match auth {
        Some(auth) if stages.contains(&auth.stage) => Ok((Account::from(&auth.principal), auth)),
        Some(auth) if auth.stage != Stage::Full => Err(AppError::SecondStepPending(auth.stage)),
        Some(_) => Err(AppError::Conflict("You are already logged in.".into())),
        None => Err(AppError::Unauthorized),
    }
}

fn session_hash(auth: &Auth) -> Option<&str> {
    match &auth.via {
        Via::Session { token_hash, .. } => Some(token_hash),
        Via::Token => None,
    }
}

/// The page a user manages their own 2FA on.
fn profile_of(auth: &Auth) -> &'static str {
    match home_of(&auth.principal) {
        "/portal" => "/portal",
        _ => "/profile",
    }
}

fn client_ip(client: SocketAddr) -> String {
    client.ip().to_string()
}

// ---- pages ----

/// What the profile page (employees) and the portal (contacts) show about the user's 2FA.
pub struct TwoFactorView {
    pub enrolled: bool,
    pub since: String,
    pub recovery_codes_left: i64,
    pub required: bool,
    /// An administrator asked for it and it is not set up yet.
    pub asked: bool,
    pub can_disable: bool,
}

impl From<&Status> for TwoFactorView {
    fn from(s: &Status) -> Self {
        TwoFactorView {
            enrolled: s.enrolled(),
            since: s.enrolled_at.map(show_time).unwrap_or_default(),
            recovery_codes_left: s.recovery_codes_left,
            required: s.mode == TwoFactorMode::Required,
            asked: !s.enrolled() && s.mode != TwoFactorMode::Off,
            can_disable: s.can_disable(),
        }
    }
}

/// The signed-in user's own 2FA, for their profile page.
pub async fn view_of(
    state: &AppState,
    auth_principal: &Account,
) -> Result<TwoFactorView, AppError> {
    Ok(TwoFactorView::from(
        &super::status(&state.db, auth_principal).await?,
    ))
}

#[derive(Template)]
#[template(path = "two_factor/templates/code.html")]
struct CodePage {
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "two_factor/templates/enrol.html")]
struct EnrolPage {
    csrf: String,
    /// The login is waiting for this enrolment (rather than a user opting in).
    at_login: bool,
    required: bool,
    qr_svg: String,
    secret: String,
    otpauth_uri: String,
    back: &'static str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "two_factor/templates/codes.html")]
struct CodesPage {
    title: &'static str,
    codes: Vec<String>,
    download: String,
    next: &'static str,
}

#[derive(Template)]
#[template(path = "two_factor/templates/notice.html")]
struct NoticePage {
    title: &'static str,
    message: String,
    next: &'static str,
    status: u16,
}

fn notice(
    status: StatusCode,
    title: &'static str,
    message: String,
    next: &'static str,
) -> Response {
    (
        status,
        page(&NoticePage {
            title,
            message,
            next,
            status: status.as_u16(),
        }),
    )
        .into_response()
}

/// A refused code as a message next to the field; other errors go to the error page.
fn code_error(err: AppError) -> Result<(StatusCode, String), AppError> {
    match err {
        AppError::Validation(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "The code {}.",
                errors.for_field("code").unwrap_or("is not right")
            ),
        )),
        AppError::TooManyRequests { retry_after_secs } => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong codes. Wait {} minutes and try again.",
                retry_after_secs.div_ceil(60)
            ),
        )),
        other => Err(other),
    }
}

async fn code_page(MaybeAuth(auth): MaybeAuth) -> PageResult {
    let (_, auth) = caller_at(auth, &[Stage::Code])?;
    Ok(page(&CodePage {
        csrf: auth.csrf_token().to_owned(),
        error: None,
    }))
}

async fn code_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    form: FormPairs,
) -> PageResult {
    let (account, auth) = caller_at(auth, &[Stage::Code])?;
    let typed = form.get("code").unwrap_or("");
    match super::prove(&state, &account, typed, &client_ip(client), true).await {
        Ok(proof) => {
            let hash = session_hash(&auth).unwrap_or_default();
            complete_session(&state.db, hash).await?;
            if let Proof::RecoveryCode { left } = proof
                && account.kind == "employee"
            {
                flash_notice(&state.db, hash, format!(
                            "You logged in with a recovery code; {left} are left. Make new ones on your profile if you are running out."
                        ))
                .await?;
            }
            Ok(Redirect::to(home_of(&auth.principal)).into_response())
        }
        Err(err) => {
            let (status, message) = code_error(err)?;
            Ok((
                status,
                page(&CodePage {
                    csrf: auth.csrf_token().to_owned(),
                    error: Some(message),
                }),
            )
                .into_response())
        }
    }
}

/// The QR code of an enrolment URI as inline SVG.
fn qr_svg(uri: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Inline in HTML: drop the XML declaration.
    Ok(svg
        .find("<svg")
        .map_or(svg.clone(), |i| svg[i..].to_owned()))
}

async fn enrol_view(
    state: &AppState,
    account: &Account,
    auth: &Auth,
    error: Option<String>,
) -> Result<EnrolPage, AppError> {
    let enrolment = super::begin_enrolment(state, account).await?;
    let status = super::status(&state.db, account).await?;
    Ok(EnrolPage {
        csrf: auth.csrf_token().to_owned(),
        at_login: auth.stage == Stage::Enrolment,
        required: status.mode == TwoFactorMode::Required,
        qr_svg: qr_svg(&enrolment.otpauth_uri)?,
        secret: enrolment
            .secret_base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        otpauth_uri: enrolment.otpauth_uri,
        back: profile_of(auth),
        error,
    })
}

async fn enrol_page(State(state): State<AppState>, MaybeAuth(auth): MaybeAuth) -> PageResult {
    let (account, auth) = caller_at(auth, &[Stage::Full, Stage::Enrolment])?;
    if matches!(auth.via, Via::Token) {
        return Err(AppError::Unauthorized.into());
    }
    match enrol_view(&state, &account, &auth, None).await {
        Ok(view) => Ok(page(&view)),
        Err(AppError::Conflict(message)) => Ok(notice(
            StatusCode::CONFLICT,
            "Two-factor authentication",
            message,
            profile_of(&auth),
        )),
        Err(e) => Err(e.into()),
    }
}

fn codes_page(title: &'static str, codes: Vec<String>, next: &'static str) -> Response {
    let text = format!(
        "Accord recovery codes\n\nEach code logs you in once if you cannot use your authenticator app.\nKeep them somewhere safe.\n\n{}\n",
        codes.join("\n")
    );
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    );
    page(&CodesPage {
        title,
        codes,
        download,
        next,
    })
}

async fn enrol_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    form: FormPairs,
) -> PageResult {
    let (account, auth) = caller_at(auth, &[Stage::Full, Stage::Enrolment])?;
    let typed = form.get("code").unwrap_or("");
    match super::confirm_enrolment(&state, &account, typed, &client_ip(client)).await {
        Ok(codes) => {
            if auth.stage == Stage::Enrolment
                && let Some(hash) = session_hash(&auth)
            {
                complete_session(&state.db, hash).await?;
            }
            Ok(codes_page(
                "Two-factor authentication is on",
                codes,
                home_of(&auth.principal),
            ))
        }
        Err(AppError::Conflict(message)) => Ok(notice(
            StatusCode::CONFLICT,
            "Two-factor authentication",
            message,
            profile_of(&auth),
        )),
        Err(err) => {
            let (status, message) = code_error(err)?;
            let view = enrol_view(&state, &account, &auth, Some(message)).await?;
            Ok((status, page(&view)).into_response())
        }
    }
}

/// A self-service change that needs a current code; a refused code is explained on a page
/// that leads back to where the user came from.
async fn with_code<T>(
    auth: &Auth,
    outcome: Result<T, AppError>,
) -> Result<Result<T, Response>, AppError> {
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(AppError::Conflict(message)) => Ok(Err(notice(
            StatusCode::CONFLICT,
            "Two-factor authentication",
            message,
            profile_of(auth),
        ))),
        Err(err) => {
            let (status, message) = code_error(err)?;
            Ok(Err(notice(
                status,
                "Two-factor authentication",
                format!("{message} Nothing was changed."),
                profile_of(auth),
            )))
        }
    }
}

async fn regenerate_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    form: FormPairs,
) -> PageResult {
    let (account, auth) = caller_at(auth, &[Stage::Full])?;
    let typed = form.get("code").unwrap_or("");
    let outcome =
        super::regenerate_recovery_codes(&state, &account, typed, &client_ip(client)).await;
    Ok(match with_code(&auth, outcome).await? {
        Ok(codes) => codes_page("New recovery codes", codes, profile_of(&auth)),
        Err(response) => response,
    })
}

async fn disable_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    form: FormPairs,
) -> PageResult {
    let (account, auth) = caller_at(auth, &[Stage::Full])?;
    let typed = form.get("code").unwrap_or("");
    let outcome = super::disable(&state, &account, typed, &client_ip(client)).await;
    Ok(match with_code(&auth, outcome).await? {
        Ok(()) => notice(
            StatusCode::OK,
            "Two-factor authentication is off",
            "Your next login asks only for your password. Your recovery codes no longer work."
                .into(),
            profile_of(&auth),
        ),
        Err(response) => response,
    })
}

/// The `{change}` of an administrator's path: `off`, `enabled`, `required` or `reset`.
fn change_of(path: &HashMap<String, String>) -> Result<AdminChange, AppError> {
    path.get("change")
        .and_then(|c| AdminChange::parse(c))
        .ok_or(AppError::NotFound)
}

fn change_done(change: AdminChange) -> &'static str {
    match change {
        AdminChange::Mode(TwoFactorMode::Off) => "2FA is off",
        AdminChange::Mode(TwoFactorMode::Enabled) => {
            "2FA is enabled: set-up is asked at the next login"
        }
        AdminChange::Mode(TwoFactorMode::Required) => {
            "2FA is required: set-up comes before anything else"
        }
        AdminChange::Reset => "2FA was reset: set-up is asked again at the next login",
    }
}

async fn employee_change_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
    Path(path): Path<HashMap<String, String>>,
) -> PageResult {
    let change = change_of(&path)?;
    let changed = super::apply_admin_change(&state, &staff.user, id, change).await?;
    let message = if changed {
        format!("{}.", change_done(change))
    } else {
        "Nothing changed: that was already the setting.".into()
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to(&format!("/employees/{id}")).into_response())
}

async fn contact_reset_submit(
    State(state): State<AppState>,
    staff: Staff,
    PageId(id): PageId,
) -> PageResult {
    super::reset_contact(&state, &staff.user, id).await?;
    let message = "2FA was reset: the contact sets it up again at their next portal login.";
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to(&format!("/contacts/{id}")).into_response())
}

async fn contact_reset_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    super::reset_contact(&state, &staff.user, id).await?;
    Ok(Json(json!({"id": id, "reset": true})))
}

async fn bulk_change_submit(
    State(state): State<AppState>,
    staff: Staff,
    Path(path): Path<HashMap<String, String>>,
    form: FormPairs,
) -> PageResult {
    let change = change_of(&path)?;
    let ids: Vec<i64> = form
        .all("ids")
        .into_iter()
        .map(|id| id.parse::<i64>().ok().filter(|id| *id > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| AppError::BadRequest("The ticked rows are not employees.".into()))?;
    let message = if ids.is_empty() {
        "Tick one or more employees first.".to_owned()
    } else {
        let mut changed = 0;
        for id in &ids {
            if super::apply_admin_change(&state, &staff.user, *id, change).await? {
                changed += 1;
            }
        }
        let label = match change {
            AdminChange::Mode(TwoFactorMode::Off) => "Turn off 2FA",
            AdminChange::Mode(TwoFactorMode::Enabled) => "Enable 2FA",
            AdminChange::Mode(TwoFactorMode::Required) => "Requires 2FA",
            AdminChange::Reset => "Reset 2FA",
        };
        format!(
            "{label}: changed {changed} of {} ticked employees (the others had it already).",
            ids.len()
        )
    };
    flash_notice(&state.db, &staff.session_hash, message).await?;
    Ok(Redirect::to("/employees").into_response())
}

#[derive(Template)]
#[template(path = "two_factor/templates/employee_section.html")]
struct EmployeeSection {
    id: i64,
    csrf: String,
    summary: String,
    since: String,
    recovery_codes_left: i64,
    own_mode: &'static str,
    by_default: bool,
    can_change: bool,
}

/// The "Two-factor authentication" section of an employee's page.
pub async fn employee_section(
    state: &AppState,
    id: i64,
    viewer: &Staff,
) -> Result<String, AppError> {
    let status = super::employee_status(&state.db, id).await?;
    Ok(render(&EmployeeSection {
        id,
        csrf: viewer.csrf.clone(),
        summary: status.summary(),
        since: status.enrolled_at.map(show_time).unwrap_or_default(),
        recovery_codes_left: status.recovery_codes_left,
        own_mode: status.own_mode.as_str(),
        by_default: status.own_mode != status.mode,
        can_change: viewer.user.is_admin,
    }))
}

// ---- API ----

fn codes_json(codes: Vec<String>) -> Json<Value> {
    Json(json!({"recovery_codes": codes}))
}

/// The `code` field of a JSON body (other fields are refused).
fn code_field(body: &Map<String, Value>) -> Result<String, AppError> {
    let code = only_text_field(body, "code", "this request")?;
    if code.trim().is_empty() {
        return Err(accord_domain::FieldErrors::single("code", "is required").into());
    }
    Ok(code)
}

async fn totp_api(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (account, auth) = caller_at(auth, &[Stage::Code])?;
    let code = code_field(&body)?;
    let proof = super::prove(&state, &account, &code, &client_ip(client), true).await?;
    complete_session(&state.db, session_hash(&auth).unwrap_or_default()).await?;
    let mut out = json!({"status": "ok"});
    if let Proof::RecoveryCode { left } = proof {
        out["recovery_codes_left"] = json!(left);
    }
    Ok(Json(out))
}

async fn status_api(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
) -> ApiResult<Json<Value>> {
    let (account, _) = caller_at(auth, &[Stage::Full, Stage::Enrolment])?;
    Ok(Json(super::status(&state.db, &account).await?.to_json()))
}

async fn enrol_api(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
) -> ApiResult<Json<Value>> {
    let (account, _) = caller_at(auth, &[Stage::Full, Stage::Enrolment])?;
    let enrolment = super::begin_enrolment(&state, &account).await?;
    Ok(Json(json!({
        "secret": enrolment.secret_base32,
        "otpauth_uri": enrolment.otpauth_uri,
    })))
}

async fn confirm_api(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (account, auth) = caller_at(auth, &[Stage::Full, Stage::Enrolment])?;
    let code = code_field(&body)?;
    let codes = super::confirm_enrolment(&state, &account, &code, &client_ip(client)).await?;
    if auth.stage == Stage::Enrolment
        && let Some(hash) = session_hash(&auth)
    {
        complete_session(&state.db, hash).await?;
    }
    Ok(codes_json(codes))
}

async fn disable_api(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (account, _) = caller_at(auth, &[Stage::Full])?;
    let code = code_field(&body)?;
    super::disable(&state, &account, &code, &client_ip(client)).await?;
    Ok(Json(super::status(&state.db, &account).await?.to_json()))
}

async fn regenerate_api(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    MaybeAuth(auth): MaybeAuth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (account, _) = caller_at(auth, &[Stage::Full])?;
    let code = code_field(&body)?;
    let codes =
        super::regenerate_recovery_codes(&state, &account, &code, &client_ip(client)).await?;
    Ok(codes_json(codes))
}

async fn employee_status_api(
    State(state): State<AppState>,
    _staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    Ok(Json(super::employee_status(&state.db, id).await?.to_json()))
}

async fn employee_mode_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let mut errors = accord_domain::FieldErrors::new();
    for key in body.keys().filter(|k| k.as_str() != "mode") {
        errors.add(key, "is not a field here");
    }
    let mode = match body.get("mode") {
        Some(Value::String(s)) => TwoFactorMode::parse(s),
        _ => None,
    };
    if mode.is_none() {
        errors.add("mode", "must be one of: off, enabled, required");
    }
    errors.into_result(())?;
    let mode = mode.ok_or_else(|| AppError::Internal("mode checked above".into()))?;
    super::apply_admin_change(&state, &staff.user, id, AdminChange::Mode(mode)).await?;
    Ok(Json(super::employee_status(&state.db, id).await?.to_json()))
}

async fn employee_reset_api(
    State(state): State<AppState>,
    staff: ApiStaff,
    ApiId(id): ApiId,
) -> ApiResult<Json<Value>> {
    super::apply_admin_change(&state, &staff.user, id, AdminChange::Reset).await?;
    Ok(Json(super::employee_status(&state.db, id).await?.to_json()))
}
