//! Customers: name, e-mail domains (to match incoming mail), legal entity, invoice contact.

use crate::args;
use crate::kernel::db::{Db, Tx};
use crate::kernel::error::AppError;
use crate::kernel::resource::{
    Column, FieldKind, FieldSpec, ObjectType, RefSpec, Related, Resource, check_ref,
};
use crate::kernel::web::into_map;
use accord_domain::FieldErrors;
use accord_domain::customers::CustomerDraft;
use serde_json::{Map, Value, json};

/// The customer object type.
pub struct Customers;

impl ObjectType for Customers {
    const PATH: &'static str = "customers";
    const TABLE: &'static str = "customers";
    const SINGULAR: &'static str = "Customer";
}

#[derive(Debug, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: i64,
    pub name: String,
    /// Space-separated, sorted.
    pub email_domains: String,
    pub legal_entity_id: Option<i64>,
    pub legal_entity_name: Option<String>,
    pub invoice_contact_id: Option<i64>,
    pub invoice_contact_name: Option<String>,
    pub contact_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(CustomerRow);

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        label: "Name",
        kind: FieldKind::Text,
        required: true,
        help: "",
    },
    FieldSpec {
        name: "email_domains",
        label: "E-mail domains",
        kind: FieldKind::DomainList,
        required: false,
        help: "One per line, e.g. acme.example. Mail from these domains is matched to this customer.",
    },
    FieldSpec {
        name: "legal_entity_id",
        label: "Legal entity",
        kind: FieldKind::Ref(RefSpec {
            path: "legal-entities",
            table: "legal_entities",
            name_key: "legal_entity_name",
            scope: None,
        }),
        required: false,
        help: "Which of your companies sells to and invoices this customer.",
    },
    FieldSpec {
        name: "invoice_contact_id",
        label: "Invoice contact",
        kind: FieldKind::Ref(RefSpec {
            path: "contacts",
            table: "contacts",
            name_key: "invoice_contact_name",
            scope: Some("customer_id"),
        }),
        required: false,
        help: "Who receives invoices: one of this customer's contacts (add contacts first).",
    },
];

fn domains_of(draft: &CustomerDraft) -> Vec<String> {
    draft
        .email_domains
        .iter()
        .map(|d| d.as_str().to_owned())
        .collect()
}

async fn write_domains(tx: &mut Tx, id: i64, draft: &CustomerDraft) -> Result<(), AppError> {
    tx.execute(
        "DELETE FROM customer_domains WHERE customer_id = $1",
        args![id],
    )
    .await?;
    for domain in domains_of(draft) {
        tx.execute(
            "INSERT INTO customer_domains (domain, customer_id) VALUES ($1, $2)",
            args![domain, id],
        )
        .await?;
    }
    Ok(())
}

impl Resource for Customers {
    const PLURAL: &'static str = "Customers";
    const NAV: &'static str = "customers";
    const FROM: &'static str = "customers t
        LEFT JOIN legal_entities le ON le.id = t.legal_entity_id
        LEFT JOIN contacts ic ON ic.id = t.invoice_contact_id";
    const SELECT: &'static str = "t.id, t.name, t.email_domains, t.legal_entity_id,
        le.name AS legal_entity_name, t.invoice_contact_id, ic.name AS invoice_contact_name,
        (SELECT COUNT(*) FROM contacts cc WHERE cc.customer_id = t.id AND cc.archived_at IS NULL) AS contact_count,
        t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str =
        "(t.name_lower LIKE $1 ESCAPE '\\' OR t.email_domains LIKE $1 ESCAPE '\\')";
    const SQLITE_SEARCH: Option<&'static str> =
        Some("t.id IN (SELECT rowid FROM customers_search WHERE customers_search MATCH $1)");
    const COUNTED: bool = true;
    const DEFAULT_SORT: &'static str = "name";
    const FIELDS: &'static [FieldSpec] = FIELDS;
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("t.name_lower"),
        },
        Column {
            label: "E-mail domains",
            key: "email_domains",
            sort: None,
        },
        Column {
            label: "Legal entity",
            key: "legal_entity_name",
            sort: None,
        },
        Column {
            label: "Invoice contact",
            key: "invoice_contact_name",
            sort: None,
        },
        Column {
            label: "Contacts",
            key: "contact_count",
            sort: None,
        },
    ];

    type Row = CustomerRow;
    type Draft = CustomerDraft;

    fn parse(input: &Map<String, Value>) -> Result<CustomerDraft, FieldErrors> {
        CustomerDraft::parse(input)
    }
    fn to_json(row: &CustomerRow) -> Map<String, Value> {
        let domains: Vec<&str> = row.email_domains.split_whitespace().collect();
        into_map(json!({
            "name": row.name,
            "email_domains": domains,
            "legal_entity_id": row.legal_entity_id,
            "legal_entity_name": row.legal_entity_name,
            "invoice_contact_id": row.invoice_contact_id,
            "invoice_contact_name": row.invoice_contact_name,
            "contact_count": row.contact_count,
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, draft: &CustomerDraft) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        check_ref(
            tx,
            &mut errors,
            "legal_entity_id",
            "legal_entities",
            draft.legal_entity_id,
            "legal entity",
        )
        .await?;
        if let Some(contact_id) = draft.invoice_contact_id {
            let owner = tx
                .fetch_i64(
                    "SELECT customer_id FROM contacts WHERE id = $1 AND archived_at IS NULL",
                    args![contact_id],
                )
                .await?;
            if owner.is_none() || owner != id {
                errors.add(
                    "invoice_contact_id",
                    "must be one of this customer's contacts",
                );
            }
        }
        for domain in domains_of(draft) {
            #[derive(sqlx::FromRow)]
            struct Owner {
                id: i64,
                name: String,
            }
            let owner = tx
                .fetch_optional::<Owner>(
                    "SELECT c.id, c.name FROM customer_domains d JOIN customers c ON c.id = d.customer_id
                     WHERE d.domain = $1",
                    args![domain.clone()],
                )
                .await?;
            if let Some(owner) = owner.filter(|o| Some(o.id) != id) {
                errors.add(
                    "email_domains",
                    format!("{domain} already belongs to {}", owner.name),
                );
            }
        }
        errors.into_result(())?;
        Ok(())
    }

    async fn insert(tx: &mut Tx, draft: &CustomerDraft, at: i64) -> Result<i64, AppError> {
        let id = tx
            .fetch_i64(
                "INSERT INTO customers (name, name_lower, email_domains, legal_entity_id, invoice_contact_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                args![
                    draft.name.as_str(),
                    draft.name.as_str().to_lowercase(),
                    domains_of(draft).join(" "),
                    draft.legal_entity_id,
                    draft.invoice_contact_id,
                    at
                ],
            )
            .await?
            .ok_or_else(|| AppError::Internal("insert returned no id".into()))?;
        write_domains(tx, id, draft).await?;
        Ok(id)
    }

    async fn update(tx: &mut Tx, id: i64, draft: &CustomerDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE customers SET name = $1, name_lower = $2, email_domains = $3, legal_entity_id = $4,
             invoice_contact_id = $5, updated_at = $6 WHERE id = $7",
            args![
                draft.name.as_str(),
                draft.name.as_str().to_lowercase(),
                domains_of(draft).join(" "),
                draft.legal_entity_id,
                draft.invoice_contact_id,
                at,
                id
            ],
        )
        .await?;
        write_domains(tx, id, draft).await
    }

    async fn related(db: &Db, id: i64) -> Result<Vec<Related>, AppError> {
        #[derive(sqlx::FromRow)]
        struct ContactLine {
            id: i64,
            name: String,
            email: Option<String>,
            phone: Option<String>,
            portal_access: bool,
        }
        let contacts = db
            .fetch_all::<ContactLine>(
                "SELECT id, name, email, phone, portal_access FROM contacts
                 WHERE customer_id = $1 AND archived_at IS NULL ORDER BY name_lower LIMIT 200",
                args![id],
            )
            .await?;
        Ok(vec![Related {
            title: "Contacts".into(),
            columns: vec!["Name", "E-mail", "Phone", "Portal access"],
            rows: contacts
                .into_iter()
                .map(|c| {
                    (
                        format!("/contacts/{}", c.id),
                        vec![
                            c.name,
                            c.email.unwrap_or_else(|| "—".into()),
                            c.phone.unwrap_or_else(|| "—".into()),
                            if c.portal_access { "Yes" } else { "No" }.into(),
                        ],
                    )
                })
                .collect(),
            add_link: Some((
                "Add contact".into(),
                format!("/contacts/new?customer_id={id}"),
            )),
        }])
    }
}
