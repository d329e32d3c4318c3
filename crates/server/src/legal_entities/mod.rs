//! Legal entities (*Setup → System → Legal Entities*): name, currency, tax rate and
//! *Calculate Sale Price Using* (Markup or Gross margin).

use crate::args;
use crate::kernel::db::Tx;
use crate::kernel::error::AppError;
use crate::kernel::resource::{Column, FieldKind, FieldSpec, ObjectType, Resource};
use crate::kernel::web::into_map;
use accord_domain::FieldErrors;
use accord_domain::legal_entities::LegalEntityDraft;
use accord_domain::money::Percent;
use serde_json::{Map, Value, json};

/// The legal entity object type.
pub struct LegalEntities;

impl ObjectType for LegalEntities {
    const PATH: &'static str = "legal-entities";
    const TABLE: &'static str = "legal_entities";
    const SINGULAR: &'static str = "Legal entity";
}

#[derive(Debug, sqlx::FromRow)]
pub struct LegalEntityRow {
    pub id: i64,
    pub name: String,
    pub currency: String,
    /// Hundredths of a percent.
    pub tax_rate: i64,
    pub calculate_sale_price_using: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(LegalEntityRow);

const METHODS: &[(&str, &str)] = &[("markup", "Markup"), ("gross_margin", "Gross margin")];

impl Resource for LegalEntities {
    const PLURAL: &'static str = "Legal Entities";
    const NAV: &'static str = "legal-entities";
    const FROM: &'static str = "legal_entities t";
    const SELECT: &'static str =
        "t.id, t.name, t.currency, t.tax_rate, t.calculate_sale_price_using,
        t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str = "LOWER(t.name) LIKE $1 ESCAPE '\\'";
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
            name: "currency",
            label: "Currency",
            kind: FieldKind::Currency,
            required: true,
            help: "Three-letter code, e.g. GBP, EUR, USD.",
        },
        FieldSpec {
            name: "tax_rate",
            label: "Tax rate (%)",
            kind: FieldKind::Percent,
            required: false,
            help: "e.g. 20.00",
        },
        FieldSpec {
            name: "calculate_sale_price_using",
            label: "Calculate Sale Price Using",
            kind: FieldKind::Choice(METHODS),
            required: false,
            help: "How quotation prices follow from unit costs: Markup (cost × (1 + m)) or Gross margin (cost ÷ (1 − g)). Markup when not given.",
        },
    ];
    const COLUMNS: &'static [Column] = &[
        Column {
            label: "Name",
            key: "name",
            sort: Some("LOWER(t.name)"),
        },
        Column {
            label: "Currency",
            key: "currency",
            sort: Some("t.currency"),
        },
        Column {
            label: "Tax rate (%)",
            key: "tax_rate",
            sort: Some("t.tax_rate"),
        },
        Column {
            label: "Calculate Sale Price Using",
            key: "calculate_sale_price_using",
            sort: None,
        },
    ];

    type Row = LegalEntityRow;
    type Draft = LegalEntityDraft;

    fn parse(input: &Map<String, Value>) -> Result<LegalEntityDraft, FieldErrors> {
        LegalEntityDraft::parse(input)
    }
    fn to_json(row: &LegalEntityRow) -> Map<String, Value> {
        into_map(json!({
            "name": row.name,
            "currency": row.currency,
            "tax_rate": Percent(row.tax_rate).to_string(),
            "calculate_sale_price_using": row.calculate_sale_price_using,
        }))
    }

    async fn check(_tx: &mut Tx, _id: Option<i64>, _d: &LegalEntityDraft) -> Result<(), AppError> {
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &LegalEntityDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO legal_entities (name, currency, tax_rate, calculate_sale_price_using, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            args![d.name.as_str(), d.currency.as_str(), d.tax_rate.hundredths(), d.calculate_sale_price_using.code(), at],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &LegalEntityDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE legal_entities SET name = $1, currency = $2, tax_rate = $3, calculate_sale_price_using = $4,
             updated_at = $5 WHERE id = $6",
            args![d.name.as_str(), d.currency.as_str(), d.tax_rate.hundredths(), d.calculate_sale_price_using.code(), at, id],
        )
        .await?;
        Ok(())
    }
}
