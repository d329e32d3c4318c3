//! Products: name, SKU, unit cost (optional) and unit price.

use crate::args;
use crate::kernel::db::Tx;
use crate::kernel::error::AppError;
use crate::kernel::resource::{Column, FieldKind, FieldSpec, ObjectType, Resource};
use crate::kernel::web::into_map;
use accord_domain::FieldErrors;
use accord_domain::money::Money;
use accord_domain::products::ProductDraft;
use serde_json::{Map, Value, json};

/// The product object type.
pub struct Products;

impl ObjectType for Products {
    const PATH: &'static str = "products";
    const TABLE: &'static str = "products";
    const SINGULAR: &'static str = "Product";
}

#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub sku: Option<String>,
    /// Minor units.
    pub unit_cost: Option<i64>,
    pub unit_price: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

crate::object_row!(ProductRow);

impl Resource for Products {
    const PLURAL: &'static str = "Products";
    const NAV: &'static str = "products";
    const FROM: &'static str = "products t";
    const SELECT: &'static str =
        "t.id, t.name, t.sku, t.unit_cost, t.unit_price, t.created_at, t.updated_at, t.archived_at";
    const SEARCH: &'static str =
        "(LOWER(t.name) LIKE $1 ESCAPE '\\' OR LOWER(t.sku) LIKE $1 ESCAPE '\\')";
    const DEFAULT_SORT: &'static str = "name";
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec {
            name: "name",
            label: "Name",
            kind: FieldKind::Text,
            required: true,
            help: "",
        },
        FieldSpec {
            name: "sku",
            label: "SKU",
            kind: FieldKind::Text,
            required: false,
            help: "Stock-keeping unit; unique.",
        },
        FieldSpec {
            name: "unit_cost",
            label: "Unit cost",
            kind: FieldKind::Money,
            required: false,
            help: "What it costs you. With a cost, quotes can price it by markup or margin.",
        },
        FieldSpec {
            name: "unit_price",
            label: "Unit price",
            kind: FieldKind::Money,
            required: true,
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
            label: "SKU",
            key: "sku",
            sort: Some("t.sku"),
        },
        Column {
            label: "Unit cost",
            key: "unit_cost",
            sort: Some("t.unit_cost"),
        },
        Column {
            label: "Unit price",
            key: "unit_price",
            sort: Some("t.unit_price"),
        },
    ];

    type Row = ProductRow;
    type Draft = ProductDraft;

    fn parse(input: &Map<String, Value>) -> Result<ProductDraft, FieldErrors> {
        ProductDraft::parse(input)
    }
    fn to_json(row: &ProductRow) -> Map<String, Value> {
        into_map(json!({
            "name": row.name,
            "sku": row.sku,
            "unit_cost": row.unit_cost.map(|c| Money(c).to_string()),
            "unit_price": Money(row.unit_price).to_string(),
        }))
    }

    async fn check(tx: &mut Tx, id: Option<i64>, d: &ProductDraft) -> Result<(), AppError> {
        if let Some(sku) = &d.sku {
            let taken = tx
                .fetch_i64(
                    "SELECT id FROM products WHERE sku = $1 AND id <> $2",
                    args![sku, id.unwrap_or(0)],
                )
                .await?;
            if taken.is_some() {
                return Err(
                    FieldErrors::single("sku", "Another product already has this SKU").into(),
                );
            }
        }
        Ok(())
    }

    async fn insert(tx: &mut Tx, d: &ProductDraft, at: i64) -> Result<i64, AppError> {
        tx.fetch_i64(
            "INSERT INTO products (name, sku, unit_cost, unit_price, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            args![
                d.name.as_str(),
                d.sku.clone(),
                d.unit_cost.map(Money::minor_units),
                d.unit_price.minor_units(),
                at
            ],
        )
        .await?
        .ok_or_else(|| AppError::Internal("insert returned no id".into()))
    }

    async fn update(tx: &mut Tx, id: i64, d: &ProductDraft, at: i64) -> Result<(), AppError> {
        tx.execute(
            "UPDATE products SET name = $1, sku = $2, unit_cost = $3, unit_price = $4, updated_at = $5 WHERE id = $6",
            args![d.name.as_str(), d.sku.clone(), d.unit_cost.map(Money::minor_units), d.unit_price.minor_units(), at, id],
        )
        .await?;
        Ok(())
    }
}
