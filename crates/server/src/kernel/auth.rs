//! Who is asking: sessions (cookie), API tokens (bearer), passwords and CSRF.
//!
//! A middleware resolves the caller once per request into an [`Auth`] in the request's
//! extensions and enforces CSRF on every state-changing browser request; handlers ask for
//! the kind of caller they serve with the extractors [`Staff`], [`ApiStaff`] and [`PortalUser`].

use super::db::{Db, now};
use super::error::AppError;
use super::web::AppState;
use crate::args;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "accord_session";
/// Name of the CSRF cookie used before login (double-submit).
pub const CSRF_COOKIE: &str = "accord_csrf";
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 14;
/// Largest form body read when checking CSRF.
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// A logged-in employee.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmployeeUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

/// A logged-in customer contact (portal).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactUser {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub email: String,
}

/// Who is making the request.
#[derive(Debug, Clone)]
pub enum Principal {
    Employee(EmployeeUser),
    Contact(ContactUser),
}

impl Principal {
    /// `"employee"` or `"contact"`, as stored in sessions and 2FA rows.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Employee(_) => "employee",
            Principal::Contact(_) => "contact",
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            Principal::Employee(u) => u.id,
            Principal::Contact(c) => c.id,
        }
    }

    pub fn email(&self) -> &str {
        match self {
            Principal::Employee(u) => &u.email,
            Principal::Contact(c) => &c.email,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Employee(u) if u.is_admin)
    }
}

/// How far a session's login got. Only [`Stage::Full`] sessions reach pages and the API;
/// the others reach just the step they stopped at (and log out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Full,
    /// The password was right; a 2FA code (or recovery code) is next.
    Code,
    /// The password was right; the user must set up 2FA first.
    Enrolment,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Full => "full",
            Stage::Code => "code",
            Stage::Enrolment => "enrol",
        }
    }

    fn parse(text: &str) -> Stage {
        match text {
            "full" => Stage::Full,
            "enrol" => Stage::Enrolment,
            // Anything unexpected is treated as unfinished, never as logged in.
            _ => Stage::Code,
        }
    }

    /// The page where this step is done.
    pub fn page(self) -> &'static str {
        match self {
            Stage::Full => "/",
            Stage::Code => "/login/2fa",
            Stage::Enrolment => "/2fa/enrol",
        }
    }

    /// What a person is told when they try to go elsewhere first.
    pub fn message(self) -> &'static str {
        match self {
            Stage::Full => "You are logged in.",
            Stage::Code => {
                "Finish logging in first: enter the code from your authenticator app (POST /api/v1/auth/totp)."
            }
            Stage::Enrolment => {
                "Finish logging in first: set up two-factor authentication (POST /api/v1/me/2fa/enrol, then /api/v1/me/2fa/confirm)."
            }
        }
    }

    /// Whether a session at this stage may make this request.
    fn allows(self, method: &Method, path: &str) -> bool {
        // Logging in again (as someone else) is always possible.
        const ALWAYS: &[&str] = &[
            "/logout",
            "/healthz",
            "/static/app.css",
            "/api/v1/auth/login",
        ];
        if self == Stage::Full || ALWAYS.contains(&path) {
            return true;
        }
        let own: &[&str] = match self {
            Stage::Code => &["/login/2fa", "/api/v1/auth/totp"],
            Stage::Enrolment => &[
                "/2fa/enrol",
                "/api/v1/me/2fa",
                "/api/v1/me/2fa/enrol",
                "/api/v1/me/2fa/confirm",
            ],
            Stage::Full => &[],
        };
        own.contains(&path) && matches!(*method, Method::GET | Method::POST | Method::HEAD)
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        token_hash: String,
        csrf_token: String,
        /// A message left for this request by the previous one (read with the session).
        flash: Option<String>,
    },
    Token,
}

/// The resolved caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    pub via: Via,
    /// Always [`Stage::Full`] for bearer tokens: 2FA does not apply to them.
    pub stage: Stage,
}

impl Auth {
    pub fn csrf_token(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::Token => "",
        }
    }
}

/// Random, URL-safe secret with 256 bits of entropy.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How secrets (session and API tokens, invitation links) are stored: SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a new password's strength and hashes it with Argon2id.
pub async fn hash_password(password: &str) -> Result<String, AppError> {
    let len = password.chars().count();
    if len < 10 {
        return Err(AppError::Validation(accord_domain::FieldErrors::single(
            "password",
            "must be at least 10 characters",
        )));
    }
    if len > 1024 {
        return Err(AppError::Validation(accord_domain::FieldErrors::single(
            "password",
            "must be at most 1024 characters",
        )));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Verifies `password` against a stored hash. With no hash (unknown user), still spends the
/// same time so response times do not reveal which e-mail addresses exist.
pub async fn verify_password(password: &str, hash: Option<String>) -> bool {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Wv0CpZ8QbeTEnHPOkM4WjQeUNXobBWdn7HRCvqmNnq8";
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let stored = hash.unwrap_or_else(|| DUMMY.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// A session just opened.
pub struct NewSession {
    /// The cookie value (only its hash is stored).
    pub token: String,
    /// What forms and scripts must echo on state-changing requests.
    pub csrf_token: String,
}

/// Opens a session for a principal that got as far as `stage` in logging in.
pub async fn create_session(
    db: &Db,
    kind: &str,
    principal_id: i64,
    stage: Stage,
) -> Result<NewSession, AppError> {
    let token = random_token();
    let csrf_token = random_token();
    let at = now();
    db.execute(
        "INSERT INTO sessions (token_hash, principal_kind, principal_id, csrf_token, created_at, expires_at, stage)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![hash_token(&token), kind, principal_id, csrf_token.clone(), at, at + SESSION_DAYS * 86_400_000_000, stage.as_str()],
    )
    .await?;
    Ok(NewSession { token, csrf_token })
}

/// Marks a session's login as finished (after its second step).
pub async fn complete_session(db: &Db, token_hash: &str) -> Result<(), AppError> {
    db.execute(
        "UPDATE sessions SET stage = 'full' WHERE token_hash = $1",
        args![token_hash],
    )
    .await?;
    Ok(())
}

/// The `Set-Cookie` value for a session token (empty token: delete the cookie).
pub fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = if token.is_empty() {
        0
    } else {
        SESSION_DAYS * 86_400
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Reads one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    principal_kind: String,
    principal_id: i64,
    csrf_token: String,
    flash: Option<String>,
    stage: String,
    two_factor_mode: Option<String>,
    two_factor_enrolled: bool,
    admins_need_2fa: Option<String>,
}

async fn resolve_session(db: &Db, token: &str) -> Result<Option<Auth>, AppError> {
    let token_hash = hash_token(token);
    // The 2FA state comes with the session, so an administrator's "Requires 2FA" (or the
    // system default for administrators) stops an unenrolled user's open sessions at once.
    let Some(row) = db
        .fetch_optional::<SessionRow>(
            "SELECT s.principal_kind, s.principal_id, s.csrf_token, s.flash, s.stage,
                    t.mode AS two_factor_mode, (t.secret IS NOT NULL) AS two_factor_enrolled,
                    (SELECT value FROM settings WHERE key = 'require_2fa_for_administrators') AS admins_need_2fa
             FROM sessions s
             LEFT JOIN two_factor t ON t.principal_kind = s.principal_kind AND t.principal_id = s.principal_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            args![token_hash.clone(), now()],
        )
        .await?
    else {
        return Ok(None);
    };
    let principal = match row.principal_kind.as_str() {
        "employee" => load_employee(db, row.principal_id)
            .await?
            .map(Principal::Employee),
        "contact" => db
            .fetch_optional::<ContactUser>(
                "SELECT id, customer_id, name, email FROM contacts
                 WHERE id = $1 AND archived_at IS NULL AND portal_access AND email IS NOT NULL",
                args![row.principal_id],
            )
            .await?
            .map(Principal::Contact),
        _ => None,
    };
    Ok(principal.map(|principal| {
        use accord_domain::two_factor::{TwoFactorMode, effective_mode};
        let own = row
            .two_factor_mode
            .as_deref()
            .and_then(TwoFactorMode::parse)
            .unwrap_or(TwoFactorMode::Off);
        let mode = effective_mode(
            own,
            principal.is_admin(),
            row.admins_need_2fa.as_deref() == Some("true"),
        );
        let mut stage = Stage::parse(&row.stage);
        if stage == Stage::Full && mode == TwoFactorMode::Required && !row.two_factor_enrolled {
            stage = Stage::Enrolment;
        }
        Auth {
            principal,
            via: Via::Session {
                token_hash,
                csrf_token: row.csrf_token,
                flash: row.flash,
            },
            stage,
        }
    }))
}

/// An active employee by id.
pub async fn load_employee(db: &Db, id: i64) -> Result<Option<EmployeeUser>, AppError> {
    Ok(db
        .fetch_optional::<EmployeeUser>(
            "SELECT id, name, email, is_admin FROM employees WHERE id = $1 AND archived_at IS NULL",
            args![id],
        )
        .await?)
}

async fn resolve_bearer(db: &Db, token: &str) -> Result<Option<Auth>, AppError> {
    #[derive(sqlx::FromRow)]
    struct TokenOwner {
        id: i64,
        name: String,
        email: String,
        is_admin: bool,
        last_used_at: Option<i64>,
    }
    let token_hash = hash_token(token);
    let Some(owner) = db
        .fetch_optional::<TokenOwner>(
            "SELECT e.id, e.name, e.email, e.is_admin, t.last_used_at
             FROM api_tokens t JOIN employees e ON e.id = t.employee_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND e.archived_at IS NULL",
            args![token_hash.clone()],
        )
        .await?
    else {
        return Ok(None);
    };
    // "Last used" to the minute is enough; writing it on every call would make every API
    // read a write.
    let at = now();
    if owner.last_used_at.is_none_or(|last| at - last > 60_000_000) {
        db.execute(
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2",
            args![at, token_hash],
        )
        .await?;
    }
    Ok(Some(Auth {
        principal: Principal::Employee(EmployeeUser {
            id: owner.id,
            name: owner.name,
            email: owner.email,
            is_admin: owner.is_admin,
        }),
        via: Via::Token,
        stage: Stage::Full,
    }))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolves the caller and enforces CSRF, then runs the handler.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match authenticate(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

async fn authenticate(state: &AppState, mut request: Request) -> Result<Request, Response> {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let session = cookie(headers, SESSION_COOKIE).map(str::to_owned);
    let is_api = request.uri().path().starts_with("/api/");

    let auth = match (&bearer, &session) {
        (Some(token), _) => resolve_bearer(&state.db, token).await,
        (None, Some(token)) => resolve_session(&state.db, token).await,
        (None, None) => Ok(None),
    }
    .map_err(|e| super::error::PageError(e).into_response())?;

    if let Some(a) = &auth
        && !a.stage.allows(request.method(), request.uri().path())
    {
        let err = AppError::SecondStepPending(a.stage);
        return Err(if is_api {
            super::error::ApiError(err).into_response()
        } else {
            super::error::PageError(err).into_response()
        });
    }

    if is_unsafe(request.method()) && bearer.is_none() {
        // The token a form or script must echo: the session's, or before login the
        // double-submit cookie's. An API call with neither is refused later as 401.
        let expected = match &auth {
            Some(a) => Some(a.csrf_token().to_owned()),
            None => cookie(request.headers(), CSRF_COOKIE).map(str::to_owned),
        };
        // The JSON login needs no CSRF token even with an old session cookie when it comes as
        // exactly `application/json`, which no cross-site form can send (browsers preflight it).
        let json_login = request.uri().path() == "/api/v1/auth/login"
            && request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
        if !(json_login || is_api && auth.is_none()) {
            let (request2, provided) = csrf_from_request(request).await?;
            request = request2;
            let ok =
                matches!((&expected, &provided), (Some(e), Some(p)) if !e.is_empty() && e == p);
            if !ok {
                tracing::warn!(path = %request.uri().path(), "CSRF check failed");
                let err = AppError::Forbidden(
                    "This form has expired or did not come from Accord. Reload the page and try again."
                        .into(),
                );
                return Err(if is_api {
                    super::error::ApiError(err).into_response()
                } else {
                    super::error::PageError(err).into_response()
                });
            }
        }
    }
    request.extensions_mut().insert(auth);
    Ok(request)
}

/// Finds the CSRF token in the `X-CSRF-Token` header or a form's `_csrf` field, giving the
/// request back with its body intact.
async fn csrf_from_request(request: Request) -> Result<(Request, Option<String>), Response> {
    if let Some(v) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let v = v.to_owned();
        return Ok((request, Some(v)));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        super::error::PageError(AppError::BadRequest("The form is too large.".into()))
            .into_response()
    })?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| v)
        });
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// The caller of a fully logged-in request (a session that stopped before its second step
/// counts as no caller: the middleware lets it reach only that step).
fn auth_of(parts: &Parts) -> Option<&Auth> {
    any_auth_of(parts).filter(|a| a.stage == Stage::Full)
}

fn any_auth_of(parts: &Parts) -> Option<&Auth> {
    parts
        .extensions
        .get::<Option<Auth>>()
        .and_then(Option::as_ref)
}

/// An employee using the web UI (session); others are sent to the login page.
pub struct Staff {
    pub user: EmployeeUser,
    pub csrf: String,
    pub session_hash: String,
    /// The stored flash message, if any (see [`super::web::take_flash`]).
    pub flash: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = super::error::PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match auth_of(parts) {
            Some(Auth {
                principal: Principal::Employee(user),
                via:
                    Via::Session {
                        token_hash,
                        csrf_token,
                        flash,
                    },
                ..
            }) => Ok(Staff {
                user: user.clone(),
                csrf: csrf_token.clone(),
                session_hash: token_hash.clone(),
                flash: flash.clone(),
            }),
            Some(Auth {
                principal: Principal::Contact(_),
                ..
            }) => Err(AppError::Forbidden(
                "This part of Accord is for employees. Your customer portal is at /portal.".into(),
            )
            .into()),
            _ => Err(AppError::Unauthorized.into()),
        }
    }
}

/// An employee calling the REST API (bearer token, or the browser session).
pub struct ApiStaff {
    pub user: EmployeeUser,
}

impl<S: Send + Sync> FromRequestParts<S> for ApiStaff {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match auth_of(parts) {
            Some(Auth {
                principal: Principal::Employee(user),
                ..
            }) => Ok(ApiStaff { user: user.clone() }),
            Some(_) => Err(AppError::Forbidden("The API is for employees.".into()).into()),
            None => Err(AppError::Unauthorized.into()),
        }
    }
}

/// A customer contact using the portal.
pub struct PortalUser {
    pub contact: ContactUser,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for PortalUser {
    type Rejection = super::error::PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match auth_of(parts) {
            Some(Auth {
                principal: Principal::Contact(contact),
                via: Via::Session { csrf_token, .. },
                ..
            }) => Ok(PortalUser {
                contact: contact.clone(),
                csrf: csrf_token.clone(),
            }),
            Some(_) => Err(AppError::Forbidden(
                "The customer portal is for customer contacts.".into(),
            )
            .into()),
            None => Err(AppError::Unauthorized.into()),
        }
    }
}

/// Whoever is calling, if anyone, at whatever stage of logging in (for the login pages, the
/// 2FA steps and logging out).
pub struct MaybeAuth(pub Option<Auth>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuth(any_auth_of(parts).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery", Some(hash)).await);
        assert!(!verify_password("anything at all", None).await);
        assert!(hash_password("short").await.is_err());
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; accord_session=xyz; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
