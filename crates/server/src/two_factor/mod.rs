//! Two-factor authentication (SPEC F1) for employees and portal contacts alike: enrolment
//! with an authenticator app, the code step of a login, recovery codes, throttling, and the
//! administrators' *Enable 2FA* / *Requires 2FA* / *Reset 2FA* on *Resources → Employees*.
//!
//! The arithmetic (TOTP, base32, the otpauth URI, which step a login needs) is pure and lives
//! in `accord_domain::two_factor`; this room stores and checks. Secrets are encrypted with the
//! server key; recovery codes are stored hashed.

mod web;

pub use web::{TwoFactorView, employee_section, routes, view_of};

use crate::args;
use crate::contacts::Contacts;
use crate::employees::Employees;
use crate::kernel::audit;
use crate::kernel::auth::{EmployeeUser, Principal, Stage, hash_token};
use crate::kernel::db::{Db, Tx, now};
use crate::kernel::error::AppError;
use crate::kernel::resource::ObjectType;
use crate::kernel::web::{AppState, api_time_opt};
use accord_domain::FieldErrors;
use accord_domain::two_factor::{
    self as rules, CodeRefused, RECOVERY_CODES, SECRET_BYTES, SecondStep, TwoFactorMode,
};
use rand::RngCore;
use serde_json::{Map, Value, json};

/// Wrong codes for one account within [`WINDOW_MINUTES`] before it is locked for the rest
/// of the window (about 10 guesses in a million: far from a brute force).
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
/// Wrong codes from one client address within the window before it is locked.
pub const MAX_FAILURES_PER_CLIENT: i64 = 30;
pub const WINDOW_MINUTES: i64 = 15;
const WINDOW_MICROS: i64 = WINDOW_MINUTES * 60_000_000;

/// Why a 2FA step was refused; mapped once to HTTP by `From<TwoFactorError> for AppError`.
#[derive(Debug)]
pub enum TwoFactorError {
    /// Not a current code (or recovery code) of this account.
    WrongCode {
        recovery_allowed: bool,
    },
    /// A code that was already used once.
    CodeAlreadyUsed,
    /// Too many wrong codes; try again after the wait.
    LockedOut {
        retry_after_secs: u64,
    },
    AlreadyEnrolled,
    NotEnrolled,
    /// Confirming before an enrolment was started (or after it was reset).
    NoEnrolmentStarted,
    /// The user may not turn off 2FA that an administrator (or the system default) requires.
    Required,
}

impl From<TwoFactorError> for AppError {
    fn from(e: TwoFactorError) -> Self {
        let code_error = |m: &str| AppError::Validation(FieldErrors::single("code", m));
        match e {
            TwoFactorError::WrongCode {
                recovery_allowed: true,
            } => code_error(
                "is not a current code from your authenticator app or an unused recovery code",
            ),
            TwoFactorError::WrongCode {
                recovery_allowed: false,
            } => code_error("is not the current code from your authenticator app"),
            TwoFactorError::CodeAlreadyUsed => {
                code_error("was used already; wait for the next code in your authenticator app")
            }
            TwoFactorError::LockedOut { retry_after_secs } => {
                AppError::TooManyRequests { retry_after_secs }
            }
            TwoFactorError::AlreadyEnrolled => AppError::Conflict(
                "Two-factor authentication is already set up. Disable it first to set it up again."
                    .into(),
            ),
            TwoFactorError::NotEnrolled => {
                AppError::Conflict("Two-factor authentication is not set up.".into())
            }
            TwoFactorError::NoEnrolmentStarted => {
                AppError::Conflict("Start the set-up first: it shows the QR code to scan.".into())
            }
            TwoFactorError::Required => AppError::Conflict(
                "Two-factor authentication is required for you, so it cannot be disabled.".into(),
            ),
        }
    }
}

/// An account 2FA applies to: an employee or a portal contact.
#[derive(Debug, Clone)]
pub struct Account {
    pub kind: &'static str,
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
}

impl From<&Principal> for Account {
    fn from(p: &Principal) -> Self {
        let name = match p {
            Principal::Employee(u) => u.name.clone(),
            Principal::Contact(c) => c.name.clone(),
        };
        Account {
            kind: p.kind(),
            id: p.id(),
            email: p.email().to_owned(),
            name,
            is_admin: p.is_admin(),
        }
    }
}

impl Account {
    /// The object whose Audit Log records this account's 2FA events.
    fn object_type(&self) -> &'static str {
        if self.kind == "contact" {
            Contacts::PATH
        } else {
            Employees::PATH
        }
    }

    /// Binds an encrypted secret to its account.
    fn secret_context(&self) -> String {
        format!("totp:{}:{}", self.kind, self.id)
    }

    /// Writes an Audit Log entry on this account's object, by the account itself.
    async fn audit(
        &self,
        tx: &mut Tx,
        action: &str,
        changes: Map<String, Value>,
    ) -> Result<(), AppError> {
        audit::record_by(
            tx,
            self.object_type(),
            self.id,
            action,
            changes,
            self.kind,
            self.id,
            &self.name,
        )
        .await
    }
}

#[derive(Debug, Default, sqlx::FromRow)]
struct TwoFactorRow {
    mode: String,
    secret: Option<String>,
    pending_secret: Option<String>,
    enrolled_at: Option<i64>,
    last_used_step: Option<i64>,
}

async fn row_of(tx: &mut Tx, kind: &str, id: i64) -> Result<TwoFactorRow, AppError> {
    Ok(tx
        .fetch_optional::<TwoFactorRow>(
            "SELECT mode, secret, pending_secret, enrolled_at, last_used_step FROM two_factor
             WHERE principal_kind = $1 AND principal_id = $2",
            args![kind, id],
        )
        .await?
        .unwrap_or_default())
}

/// Makes sure the account has a `two_factor` row to update.
async fn ensure_row(tx: &mut Tx, kind: &str, id: i64) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO two_factor (principal_kind, principal_id, mode, updated_at) VALUES ($1, $2, 'off', $3)
         ON CONFLICT (principal_kind, principal_id) DO NOTHING",
        args![kind, id, now()],
    )
    .await?;
    Ok(())
}

/// Whether the system default requires 2FA for every administrator.
async fn required_for_administrators(db: &Db) -> Result<bool, AppError> {
    Ok(crate::settings::value_of(db, "require_2fa_for_administrators").await? == "true")
}

/// An account's 2FA state as shown on profile pages, employee pages and in the API.
#[derive(Debug, Clone)]
pub struct Status {
    /// What an administrator set (or the user, by enrolling or disabling).
    pub own_mode: TwoFactorMode,
    /// What applies, with the system default for administrators.
    pub mode: TwoFactorMode,
    pub enrolled_at: Option<i64>,
    pub recovery_codes_left: i64,
}

impl Status {
    pub fn enrolled(&self) -> bool {
        self.enrolled_at.is_some()
    }

    /// Whether the user may turn it off themselves.
    pub fn can_disable(&self) -> bool {
        self.enrolled() && self.mode != TwoFactorMode::Required
    }

    /// One line for lists: "Required · set up", "Enabled · not set up", "Off".
    pub fn summary(&self) -> String {
        summary(self.mode, self.enrolled())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "mode": self.mode.as_str(),
            "own_mode": self.own_mode.as_str(),
            "enrolled": self.enrolled(),
            "enrolled_at": api_time_opt(self.enrolled_at),
            "recovery_codes_left": self.recovery_codes_left,
            "can_disable": self.can_disable(),
        })
    }
}

/// "Required · set up", "Enabled · not set up", "Off" (also used by the employee list).
pub fn summary(mode: TwoFactorMode, enrolled: bool) -> String {
    match (mode, enrolled) {
        (TwoFactorMode::Off, false) => "Off".into(),
        (mode, true) => format!("{} · set up", mode.label()),
        (mode, false) => format!("{} · not set up", mode.label()),
    }
}

/// The 2FA state of an account.
pub async fn status(db: &Db, account: &Account) -> Result<Status, AppError> {
    let mut tx = db.begin().await?;
    let row = row_of(&mut tx, account.kind, account.id).await?;
    let left = tx
        .fetch_i64(
            "SELECT COUNT(*) FROM recovery_codes WHERE principal_kind = $1 AND principal_id = $2 AND used_at IS NULL",
            args![account.kind, account.id],
        )
        .await?
        .unwrap_or(0);
    tx.commit().await?;
    let own_mode = TwoFactorMode::parse(&row.mode).unwrap_or(TwoFactorMode::Off);
    Ok(Status {
        own_mode,
        mode: rules::effective_mode(
            own_mode,
            account.is_admin,
            required_for_administrators(db).await?,
        ),
        enrolled_at: row.secret.as_ref().and(row.enrolled_at),
        recovery_codes_left: left,
    })
}

/// What a login needs after a correct password.
pub async fn stage_after_password(db: &Db, account: &Account) -> Result<Stage, AppError> {
    let status = status(db, account).await?;
    Ok(match rules::second_step(status.mode, status.enrolled()) {
        SecondStep::None => Stage::Full,
        SecondStep::Code => Stage::Code,
        SecondStep::Enrolment => Stage::Enrolment,
    })
}

/// An enrolment waiting for its first code: the secret to show and the URI for the QR code.
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// Starts (or shows again) an enrolment: a new secret is kept aside, encrypted, until the
/// user confirms it with a code; until then nothing changes for their next login.
pub async fn begin_enrolment(state: &AppState, account: &Account) -> Result<Enrolment, AppError> {
    let mut tx = state.db.begin().await?;
    ensure_row(&mut tx, account.kind, account.id).await?;
    let row = row_of(&mut tx, account.kind, account.id).await?;
    if row.secret.is_some() {
        return Err(TwoFactorError::AlreadyEnrolled.into());
    }
    let secret = match &row.pending_secret {
        // Reloading the page shows the same secret, so a scan already made still works.
        Some(stored) => state
            .server_key
            .decrypt(stored, &account.secret_context())?,
        None => {
            let mut secret = vec![0u8; SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let sealed = state
                .server_key
                .encrypt(&secret, &account.secret_context())?;
            tx.execute(
                "UPDATE two_factor SET pending_secret = $1, updated_at = $2
                 WHERE principal_kind = $3 AND principal_id = $4",
                args![sealed, now(), account.kind, account.id],
            )
            .await?;
            secret
        }
    };
    tx.commit().await?;
    Ok(Enrolment {
        secret_base32: rules::base32_encode(&secret),
        otpauth_uri: rules::otpauth_uri(&secret, &account.email),
    })
}

/// Failed second factors of this account or client within the window, and when the oldest
/// of them leaves it.
async fn recent_failures(
    db: &Db,
    column: &str,
    value: &str,
) -> Result<(i64, Option<i64>), AppError> {
    #[derive(sqlx::FromRow)]
    struct Failures {
        n: i64,
        oldest: Option<i64>,
    }
    let f = db
        .fetch_one::<Failures>(
            &format!(
                "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_attempts
                 WHERE {column} = $1 AND factor = 'code' AND NOT succeeded AND at > $2"
            ),
            args![value, now() - WINDOW_MICROS],
        )
        .await?;
    Ok((f.n, f.oldest))
}

/// Takes a place for one code attempt: it is recorded as a failure *before* the code is
/// checked, so attempts sent in parallel all count (none can slip in between a count and its
/// record). While the account or the client address has reached its limit the attempt is
/// refused and its place given back, so a lock-out is not stretched by further tries.
async fn reserve_attempt(db: &Db, account: &Account, client_ip: &str) -> Result<i64, AppError> {
    let attempt = db
        .fetch_i64(
            "INSERT INTO login_attempts (email, client_ip, succeeded, at, factor)
             VALUES ($1, $2, FALSE, $3, 'code') RETURNING id",
            args![account.email.clone(), client_ip, now()],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
    let (by_account, oldest_a) = recent_failures(db, "email", &account.email).await?;
    let (by_client, oldest_c) = recent_failures(db, "client_ip", client_ip).await?;
    let oldest = if by_account > MAX_FAILURES_PER_ACCOUNT {
        oldest_a
    } else if by_client > MAX_FAILURES_PER_CLIENT {
        oldest_c
    } else {
        return Ok(attempt);
    };
    db.execute("DELETE FROM login_attempts WHERE id = $1", args![attempt])
        .await?;
    let wait_micros = oldest.map_or(WINDOW_MICROS, |o| o + WINDOW_MICROS - now());
    tracing::warn!(email = %account.email, %client_ip, "2FA code refused: locked out");
    Err(TwoFactorError::LockedOut {
        retry_after_secs: (wait_micros.max(0) / 1_000_000 + 1) as u64,
    }
    .into())
}

/// Settles a reserved attempt with the outcome of the check: a right code turns it into a
/// success; a wrong one stays a failure (the one that reaches the limit is written to the
/// account's Audit Log); anything else (not enrolled ...) was no guess and is given back.
async fn settle_attempt<T>(
    state: &AppState,
    account: &Account,
    client_ip: &str,
    attempt: i64,
    outcome: &Result<T, AppError>,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    match outcome {
        Ok(_) => {
            tx.execute(
                "UPDATE login_attempts SET succeeded = TRUE WHERE id = $1",
                args![attempt],
            )
            .await?;
        }
        Err(AppError::Validation(_)) => {
            let failures = tx
                .fetch_i64(
                    "SELECT COUNT(*) FROM login_attempts
                     WHERE email = $1 AND factor = 'code' AND NOT succeeded AND at > $2",
                    args![account.email.clone(), now() - WINDOW_MICROS],
                )
                .await?
                .unwrap_or(0);
            tracing::warn!(email = %account.email, %client_ip, failures, "wrong 2FA code");
            if failures == MAX_FAILURES_PER_ACCOUNT {
                let action = format!(
                    "2FA locked for {WINDOW_MINUTES} minutes after {failures} wrong codes (last from {client_ip})"
                );
                account.audit(&mut tx, &action, Map::new()).await?;
            }
        }
        Err(_) => {
            tx.execute("DELETE FROM login_attempts WHERE id = $1", args![attempt])
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// How a second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Code,
    /// A recovery code, now used up; `left` remain.
    RecoveryCode {
        left: i64,
    },
}

/// Checks a typed code (or, where allowed, a recovery code) for an enrolled account, with
/// throttling. A code is accepted once: the step it belongs to is stored atomically, so two
/// requests racing with one code cannot both pass.
pub async fn prove(
    state: &AppState,
    account: &Account,
    typed: &str,
    client_ip: &str,
    recovery_allowed: bool,
) -> Result<Proof, AppError> {
    let attempt = reserve_attempt(&state.db, account, client_ip).await?;
    let outcome = check_factor(state, account, typed, recovery_allowed).await;
    settle_attempt(state, account, client_ip, attempt, &outcome).await?;
    outcome
}

async fn check_factor(
    state: &AppState,
    account: &Account,
    typed: &str,
    recovery_allowed: bool,
) -> Result<Proof, AppError> {
    let mut tx = state.db.begin().await?;
    let row = row_of(&mut tx, account.kind, account.id).await?;
    let Some(stored) = row.secret else {
        return Err(TwoFactorError::NotEnrolled.into());
    };
    let wrong = TwoFactorError::WrongCode { recovery_allowed };
    if let Some(code) = rules::parse_code(typed) {
        let secret = state
            .server_key
            .decrypt(&stored, &account.secret_context())?;
        let step = rules::check_code(&secret, code, now() / 1_000_000, row.last_used_step)
            .map_err(|refused| match refused {
                CodeRefused::Wrong => wrong,
                CodeRefused::AlreadyUsed => TwoFactorError::CodeAlreadyUsed,
            })?;
        let claimed = tx
            .execute(
                "UPDATE two_factor SET last_used_step = $1
                 WHERE principal_kind = $2 AND principal_id = $3
                   AND (last_used_step IS NULL OR last_used_step < $1)",
                args![step, account.kind, account.id],
            )
            .await?;
        if claimed == 0 {
            return Err(TwoFactorError::CodeAlreadyUsed.into());
        }
        tx.commit().await?;
        return Ok(Proof::Code);
    }
    let Some(recovery) = rules::normalise_recovery_code(typed).filter(|_| recovery_allowed) else {
        return Err(wrong.into());
    };
    let used = tx
        .execute(
            "UPDATE recovery_codes SET used_at = $1
             WHERE principal_kind = $2 AND principal_id = $3 AND code_hash = $4 AND used_at IS NULL",
            args![now(), account.kind, account.id, hash_token(&recovery)],
        )
        .await?;
    if used == 0 {
        return Err(wrong.into());
    }
    let left = tx
        .fetch_i64(
            "SELECT COUNT(*) FROM recovery_codes WHERE principal_kind = $1 AND principal_id = $2 AND used_at IS NULL",
            args![account.kind, account.id],
        )
        .await?
        .unwrap_or(0);
    let action = format!("2FA recovery code used ({left} left)");
    account.audit(&mut tx, &action, Map::new()).await?;
    tx.commit().await?;
    Ok(Proof::RecoveryCode { left })
}

/// Replaces the account's recovery codes with new ones and returns them (shown once).
async fn new_recovery_codes(tx: &mut Tx, account: &Account) -> Result<Vec<String>, AppError> {
    tx.execute(
        "DELETE FROM recovery_codes WHERE principal_kind = $1 AND principal_id = $2",
        args![account.kind, account.id],
    )
    .await?;
    let at = now();
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut random = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let code = rules::recovery_code_from(random);
        let stored = rules::normalise_recovery_code(&code)
            .ok_or_else(|| AppError::Internal("made an invalid recovery code".into()))?;
        tx.execute(
            "INSERT INTO recovery_codes (principal_kind, principal_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
            args![account.kind, account.id, hash_token(&stored), at],
        )
        .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// Confirms an enrolment with a current code: the secret becomes the account's, 2FA is on
/// from the next login, and the recovery codes are returned (the only time they are readable).
pub async fn confirm_enrolment(
    state: &AppState,
    account: &Account,
    typed: &str,
    client_ip: &str,
) -> Result<Vec<String>, AppError> {
    let attempt = reserve_attempt(&state.db, account, client_ip).await?;
    let outcome = confirm(state, account, typed).await;
    settle_attempt(state, account, client_ip, attempt, &outcome).await?;
    outcome
}

async fn confirm(
    state: &AppState,
    account: &Account,
    typed: &str,
) -> Result<Vec<String>, AppError> {
    let mut tx = state.db.begin().await?;
    let row = row_of(&mut tx, account.kind, account.id).await?;
    if row.secret.is_some() {
        return Err(TwoFactorError::AlreadyEnrolled.into());
    }
    let Some(pending) = row.pending_secret else {
        return Err(TwoFactorError::NoEnrolmentStarted.into());
    };
    let secret = state
        .server_key
        .decrypt(&pending, &account.secret_context())?;
    let wrong = TwoFactorError::WrongCode {
        recovery_allowed: false,
    };
    let code = rules::parse_code(typed).ok_or(wrong)?;
    let step = rules::check_code(&secret, code, now() / 1_000_000, None).map_err(|_| {
        TwoFactorError::WrongCode {
            recovery_allowed: false,
        }
    })?;
    let at = now();
    // Opting in turns the mode on, so the next login asks for a code and "Disable" turns it
    // back off; a mode an administrator set stays.
    let confirmed = tx.execute(
        "UPDATE two_factor SET secret = pending_secret, pending_secret = NULL, enrolled_at = $1,
             last_used_step = $2, mode = CASE WHEN mode = 'off' THEN 'enabled' ELSE mode END, updated_at = $1
         WHERE principal_kind = $3 AND principal_id = $4 AND pending_secret IS NOT NULL AND secret IS NULL",
        args![at, step, account.kind, account.id],
    )
    .await?;
    if confirmed == 0 {
        // Another request confirmed (or an administrator reset) in the meantime.
        return Err(TwoFactorError::AlreadyEnrolled.into());
    }
    let codes = new_recovery_codes(&mut tx, account).await?;
    account.audit(&mut tx, "2FA set up", Map::new()).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns 2FA off for the account itself (needs a current code; refused where required).
pub async fn disable(
    state: &AppState,
    account: &Account,
    typed: &str,
    client_ip: &str,
) -> Result<(), AppError> {
    let current = status(&state.db, account).await?;
    if !current.enrolled() {
        return Err(TwoFactorError::NotEnrolled.into());
    }
    if current.mode == TwoFactorMode::Required {
        return Err(TwoFactorError::Required.into());
    }
    prove(state, account, typed, client_ip, false).await?;
    let mut tx = state.db.begin().await?;
    clear(&mut tx, account.kind, account.id, Some(TwoFactorMode::Off)).await?;
    account.audit(&mut tx, "2FA disabled", Map::new()).await?;
    tx.commit().await?;
    Ok(())
}

/// New recovery codes for the account itself (needs a current code); the old ones stop working.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    account: &Account,
    typed: &str,
    client_ip: &str,
) -> Result<Vec<String>, AppError> {
    prove(state, account, typed, client_ip, false).await?;
    let mut tx = state.db.begin().await?;
    let codes = new_recovery_codes(&mut tx, account).await?;
    account
        .audit(&mut tx, "2FA recovery codes regenerated", Map::new())
        .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Forgets the secret, any pending enrolment and the recovery codes; `mode` if given.
async fn clear(
    tx: &mut Tx,
    kind: &str,
    id: i64,
    mode: Option<TwoFactorMode>,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE two_factor SET secret = NULL, pending_secret = NULL, enrolled_at = NULL,
             last_used_step = NULL, mode = COALESCE($1, mode), updated_at = $2
         WHERE principal_kind = $3 AND principal_id = $4",
        args![mode.map(TwoFactorMode::as_str), now(), kind, id],
    )
    .await?;
    tx.execute(
        "DELETE FROM recovery_codes WHERE principal_kind = $1 AND principal_id = $2",
        args![kind, id],
    )
    .await?;
    Ok(())
}

/// What an administrator does to an employee's 2FA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminChange {
    /// *Enable 2FA*, *Requires 2FA* or turning it off.
    Mode(TwoFactorMode),
    /// *Reset 2FA* (a lost phone): the secret and recovery codes are forgotten and the user
    /// enrols again at their next login.
    Reset,
}

impl AdminChange {
    /// From the path segment of the pages' and API's bulk actions.
    pub fn parse(text: &str) -> Option<AdminChange> {
        match text {
            "reset" => Some(AdminChange::Reset),
            other => TwoFactorMode::parse(other).map(AdminChange::Mode),
        }
    }
}

/// Opens the transaction of an administrator's change to someone's 2FA: only
/// administrators, only existing people (archived too); returns their 2FA row.
async fn begin_admin_change(
    state: &AppState,
    actor: &EmployeeUser,
    table: &str,
    kind: &str,
    id: i64,
) -> Result<(Tx, TwoFactorRow), AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden(
            "Only administrators can change someone else's two-factor authentication.".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    if tx
        .fetch_i64(&format!("SELECT id FROM {table} WHERE id = $1"), args![id])
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    ensure_row(&mut tx, kind, id).await?;
    let row = row_of(&mut tx, kind, id).await?;
    Ok((tx, row))
}

/// Applies an administrator's change to one employee, with an Audit Log entry. Returns
/// whether anything changed.
pub async fn apply_admin_change(
    state: &AppState,
    actor: &EmployeeUser,
    employee_id: i64,
    change: AdminChange,
) -> Result<bool, AppError> {
    let (mut tx, row) =
        begin_admin_change(state, actor, "employees", "employee", employee_id).await?;
    let changed = match change {
        AdminChange::Mode(mode) => {
            if row.mode == mode.as_str() {
                false
            } else {
                if mode == TwoFactorMode::Off {
                    // Turning it off also forgets the secret, so no code is asked any more.
                    clear(&mut tx, "employee", employee_id, Some(TwoFactorMode::Off)).await?;
                } else {
                    tx.execute(
                        "UPDATE two_factor SET mode = $1, updated_at = $2 WHERE principal_kind = 'employee' AND principal_id = $3",
                        args![mode.as_str(), now(), employee_id],
                    )
                    .await?;
                }
                let mut changes = Map::new();
                changes.insert(
                    "two_factor".into(),
                    json!({"from": label_of(&row.mode), "to": mode.label()}),
                );
                audit::record(
                    &mut tx,
                    Employees::PATH,
                    employee_id,
                    "2FA mode changed",
                    changes,
                    Some(actor),
                )
                .await?;
                true
            }
        }
        AdminChange::Reset => {
            reset_in(
                &mut tx,
                "employee",
                Employees::PATH,
                employee_id,
                &row,
                actor,
            )
            .await?;
            true
        }
    };
    tx.commit().await?;
    Ok(changed)
}

/// *Reset 2FA* (a lost phone): forgets the secret and recovery codes and asks for a new
/// enrolment at the next login, so the mode is at least "Enabled".
async fn reset_in(
    tx: &mut Tx,
    kind: &str,
    object_type: &str,
    id: i64,
    row: &TwoFactorRow,
    actor: &EmployeeUser,
) -> Result<(), AppError> {
    let mode = match TwoFactorMode::parse(&row.mode) {
        Some(TwoFactorMode::Required) => TwoFactorMode::Required,
        _ => TwoFactorMode::Enabled,
    };
    clear(tx, kind, id, Some(mode)).await?;
    audit::record(tx, object_type, id, "2FA reset", Map::new(), Some(actor)).await
}

/// An administrator resets a portal contact's 2FA (a contact who lost their phone and their
/// recovery codes); they set it up again at their next login.
pub async fn reset_contact(
    state: &AppState,
    actor: &EmployeeUser,
    contact_id: i64,
) -> Result<(), AppError> {
    let (mut tx, row) = begin_admin_change(state, actor, "contacts", "contact", contact_id).await?;
    reset_in(&mut tx, "contact", Contacts::PATH, contact_id, &row, actor).await?;
    tx.commit().await?;
    Ok(())
}

fn label_of(stored: &str) -> &'static str {
    TwoFactorMode::parse(stored).map_or("Off", TwoFactorMode::label)
}

/// An employee's 2FA state, for their page and the API.
pub async fn employee_status(db: &Db, employee_id: i64) -> Result<Status, AppError> {
    // Archived employees too: their page still shows what was set.
    let employee = db
        .fetch_optional::<EmployeeUser>(
            "SELECT id, name, email, is_admin FROM employees WHERE id = $1",
            args![employee_id],
        )
        .await?
        .ok_or(AppError::NotFound)?;
    status(db, &Account::from(&Principal::Employee(employee))).await
}
