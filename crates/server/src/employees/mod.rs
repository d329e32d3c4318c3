//! Employees (*Resources → Employees*): name, e-mail (the login), administrator or not,
//! line manager. A new employee gets an invitation link to set their password.

use crate::args;
use crate::auth::invitations;

use crate::kernel::auth::hash_password;
use crate::kernel::auth::{EmployeeUser, Staff};
use crate::kernel::db::Tx;
use crate::kernel::error::AppError;
use crate::kernel::resource::{
    Column, FieldKind, FieldSpec, ObjectType, RefSpec, Resource, check_ref,
};
use crate::kernel::resource::{WriteContext, create};
use crate::kernel::web::{AppState, into_map};
use accord_domain::FieldErrors;
use accord_domain::employees::{EmployeeDraft, creates_management_loop};
use accord_domain::two_factor::{TwoFactorMode, effective_mode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Active administrators other than `id`: Accord must keep at least one.
async fn other_active_admins(tx: &mut Tx, id: i64) -> Result<i64, AppError> {
    Ok(tx
        .fetch_i64(
            "SELECT COUNT(*) FROM employees WHERE is_admin AND archived_at IS NULL AND id <> $1",
            args![id],
        )
        .await?
        .unwrap_or(0))
}

/// Adds an employee through the same validation as the UI, with a password (checked first,
/// so a weak one creates nothing): for the command line and demo data.
pub async fn add_with_password(
    state: &AppState,
    email: &str,
    name: &str,
    admin: bool,
    password: &str,
) -> Result<i64, AppError> {
    let hash = hash_password(password).await?;
    let input = into_map(json!({"email": email, "name": name, "is_admin": admin}));
    let written = create::<Employees>(state, None, &input).await?;
    invitations::set_password_hash(&state.db, invitations::EMPLOYEE, written.id, &hash).await?;
    Ok(written.id)
}

/// The employee object type.
pub struct Employees;

impl ObjectType for Employees {
    const PATH: &'static str = "employees";
    const TABLE: &'static str = "employees";
    const SINGULAR: &'static str = "Employee";
}

#[derive(Debug, sqlx::FromRow)]
pub struct EmployeeRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub line_manager_id: Option<i64>,
    pub line_manager_name: Option<String>,
    pub has_password: bool,
    pub two_factor_mode: Option<String>,
    pub two_factor_enrolled: bool,
    pub admins_need_2fa: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(EmployeeRow);

impl Resource for Employees {
    const PLURAL: &'static str = "Employees";
    const NAV: &'static str = "employees";
    const FROM: &'static str = "employees t LEFT JOIN employees m ON m.id = t.line_manager_id
        LEFT JOIN two_factor f ON f.principal_kind = 'employee' AND f.principal_id = t.id";
    const SELECT: &'static str = "t.id, t.name, t.email, t.is_admin, t.line_manager_id,
        m.name AS line_manager_name, (t.password_hash IS NOT NULL) AS has_password,
        f.mode AS two_factor_mode, (f.secret IS NOT NULL) AS two_factor_enrolled,
        (SELECT value FROM settings WHERE key = 'require_2fa_for_administrators') AS admins_need_2fa,
        t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str =
        "(LOWER(t.name) LIKE $1 ESCAPE '\\' OR t.email LIKE $1 ESCAPE '\\')";
    const DEFAULT_SORT: &'static str = "name";
    const ADMIN_WRITES: bool = true;
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "name",
            label: "Name",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "email",
            label: "E-mail",
            kind: FieldKind::Email,
            required: true,
            help: "They log in with this address.",
        },
        FieldSpec {
            name: "is_admin",
            label: "Administrator",
            kind: FieldKind::Bool,
            required: false,
            help: "Administrators manage employees, legal entities and system settings.",
        },
        FieldSpec {
            name: "line_manager_id",
            label: "Line manager",
            kind: FieldKind::Ref(RefSpec {
                path: "employees",
                table: "employees",
                name_key: "line_manager_name",
                scope: None,
            }),
            required: false,
            help: "",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("LOWER(t.name)"),
        },
        Column {
            label: "E-mail",
            key: "email",
            sort: Some("t.email"),
        },
        Column {
            label: "Administrator",
            key: "is_admin",
            sort: None,
        },
        Column {
            label: "Line manager",
            key: "line_manager_name",
            sort: None,
        },
        Column {
            label: "2FA",
            key: "two_factor",
            sort: None,
        },
    ];
    const ACTIONS: &'static [(&'static str, &'static str)] =
        &[("New invitation link", "invitation")];
    const BULK_ACTIONS: &'static [(&'static str, &'static str)] = &[
        ("Enable 2FA", "bulk/2fa/enabled"),
        ("Requires 2FA", "bulk/2fa/required"),
        ("Turn off 2FA", "bulk/2fa/off"),
        ("Reset 2FA", "bulk/2fa/reset"),
    ];

    type Row = EmployeeRow;
    type Draft = EmployeeDraft;

    fn parse(input: &Map<String, Value>) -> Result<EmployeeDraft, FieldErrors> {
        EmployeeDraft::parse(input)
    }
    fn to_json(row: &EmployeeRow) -> Map<String, Value> {
        let own = row
            .two_factor_mode
            .as_deref()
            .and_then(TwoFactorMode::parse)
            .unwrap_or(TwoFactorMode::Off);
        let mode = effective_mode(
            own,
            row.is_admin,
            row.admins_need_2fa.as_deref() == Some("true"),
        );
        into_map(json!({
            "name": row.name,
            "email": row.email,
            "is_admin": row.is_admin,
            "line_manager_id": row.line_manager_id,
            "line_manager_name": row.line_manager_name,
            "has_password": row.has_password,
            "two_factor_mode": mode.as_str(),
            "two_factor_enrolled": row.two_factor_enrolled,
            "two_factor": crate::two_factor::summary(mode, row.two_factor_enrolled),
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, d: &EmployeeDraft) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        if invitations::login_email_taken(tx, d.email.as_str(), invitations::EMPLOYEE, id).await? {
            errors.add(
                "email",
                "Another employee or a portal user already logs in with this e-mail",
            );
        }
        check_ref(
            tx,
            &mut errors,
            "line_manager_id",
            "employees",
            d.line_manager_id,
            "employee",
        )
        .await?;
        if let (Some(id), Some(manager)) = (id, d.line_manager_id) {
            #[derive(sqlx::FromRow)]
            struct Link {
                id: i64,
                line_manager_id: Option<i64>,
            }
            let links: HashMap<i64, Option<i64>> = tx
                .fetch_all::<Link>("SELECT id, line_manager_id FROM employees", vec![])
                .await?
                .into_iter()
                .map(|l| (l.id, l.line_manager_id))
                .collect();
            if creates_management_loop(id, manager, |e| links.get(&e).copied().flatten()) {
                errors.add(
                    "line_manager_id",
                    "would make a loop: someone would manage their own manager",
                );
            }
        }
        if let (Some(id), false) = (id, d.is_admin)
            && other_active_admins(tx, id).await? == 0
        {
            errors.add("is_admin", "Accord needs at least one administrator");
        }
        errors.into_result(())?;
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &EmployeeDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO employees (name, email, is_admin, line_manager_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            args![
                d.name.as_str(),
                d.email.as_str(),
                d.is_admin,
                d.line_manager_id,
                at
            ],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &EmployeeDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE employees SET name = $1, email = $2, is_admin = $3, line_manager_id = $4, updated_at = $5
             WHERE id = $6",
            args![d.name.as_str(), d.email.as_str(), d.is_admin, d.line_manager_id, at, id],
        )
        .await?;
        Ok(())
    }

    async fn check_archive(tx: &mut Tx, id: i64, actor: &EmployeeUser) -> Result<(), AppError> {
        if id == actor.id {
            return Err(AppError::Conflict("You cannot archive yourself.".into()));
        }
        let is_admin = tx
            .fetch_i64(
                "SELECT id FROM employees WHERE id = $1 AND is_admin",
                args![id],
            )
            .await?
            .is_some();
        if is_admin && other_active_admins(tx, id).await? == 0 {
            return Err(AppError::Conflict(
                "Accord needs at least one administrator.".into(),
            ));
        }
        Ok(())
    }

    async fn detail_sections(
        state: &AppState,
        id: i64,
        viewer: &Staff,
    ) -> Result<Vec<String>, AppError> {
        Ok(vec![
            crate::two_factor::employee_section(state, id, viewer).await?,
        ])
    }

    async fn after_write(
        tx: &mut Tx,
        ctx: &mut WriteContext<'_>,
        id: i64,
        before: Option<&Map<String, Value>>,
        _after: &Map<String, Value>,
    ) -> Result<Option<String>, AppError> {
        if before.is_none() {
            return Ok(Some(
                invitations::issue(tx, ctx.config, invitations::EMPLOYEE, id).await?,
            ));
        }
        Ok(None)
    }
}
