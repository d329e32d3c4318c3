//! One-time links where a new employee or a contact with portal access sets a password.

use crate::args;
use crate::config::Config;
use crate::kernel::auth::{hash_password, hash_token, random_token};
use crate::kernel::db::{Db, Tx, now};
use crate::kernel::error::AppError;

pub const EMPLOYEE: &str = "employee";
pub const CONTACT: &str = "contact";
/// How long an invitation link stays valid.
pub const VALID_DAYS: i64 = 7;

/// Makes a new invitation (voiding older ones for the same person) and returns its URL.
pub async fn issue(tx: &mut Tx, config: &Config, kind: &str, id: i64) -> Result<String, AppError> {
    let token = random_token();
    let at = now();
    tx.execute(
        "UPDATE invitations SET used_at = $1 WHERE principal_kind = $2 AND principal_id = $3 AND used_at IS NULL",
        args![at, kind, id],
    )
    .await?;
    tx.execute(
        "INSERT INTO invitations (principal_kind, principal_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        args![
            kind,
            id,
            hash_token(&token),
            at,
            at + VALID_DAYS * 86_400_000_000
        ],
    )
    .await?;
    Ok(format!(
        "{}/invite/{token}",
        config.public_url.trim_end_matches('/')
    ))
}

/// Ends a person's sessions and voids their open invitations (access withdrawn).
pub async fn revoke_access(tx: &mut Tx, kind: &str, id: i64) -> Result<(), AppError> {
    tx.execute(
        "DELETE FROM sessions WHERE principal_kind = $1 AND principal_id = $2",
        args![kind, id],
    )
    .await?;
    tx.execute(
        "UPDATE invitations SET used_at = $1 WHERE principal_kind = $2 AND principal_id = $3 AND used_at IS NULL",
        args![now(), kind, id],
    )
    .await?;
    Ok(())
}

/// Sets a password (already checked and hashed) without an invitation, voiding open ones:
/// for the command line and demo data.
pub async fn set_password_hash(db: &Db, kind: &str, id: i64, hash: &str) -> Result<(), AppError> {
    let table = if kind == EMPLOYEE {
        "employees"
    } else {
        "contacts"
    };
    let mut tx = db.begin().await?;
    tx.execute(
        &format!("UPDATE {table} SET password_hash = $1 WHERE id = $2"),
        args![hash, id],
    )
    .await?;
    tx.execute(
        "UPDATE invitations SET used_at = $1 WHERE principal_kind = $2 AND principal_id = $3 AND used_at IS NULL",
        args![now(), kind, id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Is `email` the login of anyone but `(kind, id)`? Employees and portal contacts share
/// one login page, so a login e-mail must be unique across both.
pub async fn login_email_taken(
    tx: &mut Tx,
    email: &str,
    kind: &str,
    id: Option<i64>,
) -> Result<bool, AppError> {
    let except = |k: &str| if k == kind { id.unwrap_or(0) } else { 0 };
    let employee = tx
        .fetch_i64(
            "SELECT id FROM employees WHERE email = $1 AND id <> $2",
            args![email, except(EMPLOYEE)],
        )
        .await?;
    let contact = tx
        .fetch_i64(
            "SELECT id FROM contacts WHERE email = $1 AND portal_access AND id <> $2",
            args![email, except(CONTACT)],
        )
        .await?;
    Ok(employee.is_some() || contact.is_some())
}

/// Who an open invitation is for.
#[derive(Debug, sqlx::FromRow)]
pub struct Invitee {
    pub id: i64,
    pub principal_kind: String,
    pub principal_id: i64,
    pub name: String,
    pub email: String,
}

/// Looks up an unused, unexpired invitation.
pub async fn find(db: &Db, token: &str) -> Result<Option<Invitee>, AppError> {
    Ok(db
        .fetch_optional::<Invitee>(
            "SELECT i.id, i.principal_kind, i.principal_id,
                    COALESCE(e.name, c.name) AS name, COALESCE(e.email, c.email) AS email
             FROM invitations i
             LEFT JOIN employees e ON i.principal_kind = 'employee' AND e.id = i.principal_id AND e.archived_at IS NULL
             LEFT JOIN contacts c ON i.principal_kind = 'contact' AND c.id = i.principal_id
                  AND c.archived_at IS NULL AND c.portal_access
             WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2
               AND COALESCE(e.email, c.email) IS NOT NULL",
            args![hash_token(token), now()],
        )
        .await?)
}

/// Sets the password and uses up the invitation, all or nothing.
pub async fn accept(db: &Db, invitee: &Invitee, password: &str) -> Result<(), AppError> {
    let hash = hash_password(password).await?;
    let table = if invitee.principal_kind == EMPLOYEE {
        "employees"
    } else {
        "contacts"
    };
    let mut tx = db.begin().await?;
    let used = tx
        .execute(
            "UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            args![now(), invitee.id],
        )
        .await?;
    if used != 1 {
        return Err(AppError::Conflict(
            "This invitation link has already been used.".into(),
        ));
    }
    tx.execute(
        &format!("UPDATE {table} SET password_hash = $1 WHERE id = $2"),
        args![hash, invitee.principal_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
