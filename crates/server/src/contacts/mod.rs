//! Contacts: people at a customer. Turning on *portal access* issues an invitation link
//! where the contact sets a password for the customer portal.

use crate::args;
use crate::auth::invitations;

use crate::kernel::db::Tx;
use crate::kernel::error::AppError;
use crate::kernel::resource::{
    Column, FieldKind, FieldSpec, Filter, FilterKind, ObjectType, RefSpec, Resource, WriteContext,
    check_ref,
};
use crate::kernel::web::into_map;
use accord_domain::FieldErrors;
use accord_domain::contacts::ContactDraft;
use serde_json::{Map, Value, json};

/// The contact object type.
pub struct Contacts;

impl ObjectType for Contacts {
    const PATH: &'static str = "contacts";
    const TABLE: &'static str = "contacts";
    const SINGULAR: &'static str = "Contact";
}

#[derive(Debug, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub portal_access: bool,
    pub has_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(ContactRow);

impl Resource for Contacts {
    const PLURAL: &'static str = "Contacts";
    const NAV: &'static str = "contacts";
    const FROM: &'static str = "contacts t JOIN customers c ON c.id = t.customer_id";
    const SELECT: &'static str =
        "t.id, t.customer_id, c.name AS customer_name, t.name, t.email, t.phone,
        t.portal_access, (t.password_hash IS NOT NULL) AS has_password,
        t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str =
        "(t.name_lower LIKE $1 ESCAPE '\\' OR t.email LIKE $1 ESCAPE '\\')";
    const SQLITE_SEARCH: Option<&'static str> =
        Some("t.id IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH $1)");
    const COUNTED: bool = true;
    const DEFAULT_SORT: &'static str = "name";
    const FILTERS: &'static [Filter] = &[Filter {
        param: "customer_id",
        column: "t.customer_id",
        kind: FilterKind::Id,
    }];
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "customer_id",
            label: "Customer",
            kind: FieldKind::Ref(RefSpec {
                path: "customers",
                table: "customers",
                name_key: "customer_name",
                scope: None,
            }),
            required: true,
            help: "",
        },
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
            required: false,
            help: "",
        },
        FieldSpec {
            name: "phone",
            label: "Phone",
            kind: FieldKind::Phone,
            required: false,
            help: "",
        },
        FieldSpec {
            name: "portal_access",
            label: "Portal access",
            kind: FieldKind::Bool,
            required: false,
            help: "Lets this contact log into the customer portal. You get an invitation link to send them.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("t.name_lower"),
        },
        Column {
            label: "Customer",
            key: "customer_name",
            sort: Some("c.name_lower"),
        },
        Column {
            label: "E-mail",
            key: "email",
            sort: Some("t.email"),
        },
        Column {
            label: "Phone",
            key: "phone",
            sort: None,
        },
        Column {
            label: "Portal access",
            key: "portal_access",
            sort: None,
        },
    ];
    const ACTIONS: &'static [(&'static str, &'static str)] = &[
        ("New invitation link", "invitation"),
        ("Reset 2FA", "2fa/reset"),
    ];

    type Row = ContactRow;
    type Draft = ContactDraft;

    fn parse(input: &Map<String, Value>) -> Result<ContactDraft, FieldErrors> {
        ContactDraft::parse(input)
    }
    fn to_json(row: &ContactRow) -> Map<String, Value> {
        into_map(json!({
            "customer_id": row.customer_id,
            "customer_name": row.customer_name,
            "name": row.name,
            "email": row.email,
            "phone": row.phone,
            "portal_access": row.portal_access,
            "has_password": row.has_password,
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, draft: &ContactDraft) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        check_ref(
            tx,
            &mut errors,
            "customer_id",
            "customers",
            Some(draft.customer_id),
            "customer",
        )
        .await?;
        if let Some(id) = id {
            // Moving a contact away from the customer it is the invoice contact of would
            // leave that customer's invoices addressed to a stranger.
            let invoice_of_other = tx
                .fetch_i64(
                    "SELECT id FROM customers WHERE invoice_contact_id = $1 AND id <> $2",
                    args![id, draft.customer_id],
                )
                .await?;
            if invoice_of_other.is_some() {
                errors.add(
                    "customer_id",
                    "This contact is the invoice contact of their customer; choose another invoice contact first",
                );
            }
        }
        if let (true, Some(email)) = (draft.portal_access, &draft.email)
            && invitations::login_email_taken(tx, email.as_str(), invitations::CONTACT, id).await?
        {
            errors.add(
                "email",
                "Another portal user or an employee already logs in with this e-mail",
            );
        }
        errors.into_result(())?;
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &ContactDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO contacts (customer_id, name, name_lower, email, phone, portal_access, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            args![
                d.customer_id,
                d.name.as_str(),
                d.name.as_str().to_lowercase(),
                d.email.as_ref().map(|e| e.as_str()),
                d.phone.as_ref().map(|p| p.as_str()),
                d.portal_access,
                at
            ],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &ContactDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE contacts SET customer_id = $1, name = $2, name_lower = $3, email = $4, phone = $5,
             portal_access = $6, updated_at = $7 WHERE id = $8",
            args![
                d.customer_id,
                d.name.as_str(),
                d.name.as_str().to_lowercase(),
                d.email.as_ref().map(|e| e.as_str()),
                d.phone.as_ref().map(|p| p.as_str()),
                d.portal_access,
                at,
                id
            ],
        )
        .await?;
        Ok(())
    }

    async fn after_write(
        tx: &mut Tx,
        ctx: &mut WriteContext<'_>,
        id: i64,
        before: Option<&Map<String, Value>>,
        after: &Map<String, Value>,
    ) -> Result<Option<String>, AppError> {
        let was = before
            .and_then(|b| b.get("portal_access"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let now = after
            .get("portal_access")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match (was, now) {
            (false, true) => Ok(Some(
                invitations::issue(tx, ctx.config, invitations::CONTACT, id).await?,
            )),
            (true, false) => {
                // Access withdrawn: end their sessions and void any open invitation.
                invitations::revoke_access(tx, invitations::CONTACT, id).await?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}
