//! Products: what the firm sells, with a unit cost (optional) and a unit price.

use crate::input::Input;
use crate::money::Money;
use crate::text::{Name, check_plain_text};
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A valid product as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductDraft {
    pub name: Name,
    /// Stock-keeping unit; unique when given.
    pub sku: Option<String>,
    /// What the product costs the firm; without it, quotes keep a plain price.
    pub unit_cost: Option<Money>,
    pub unit_price: Money,
}

fn parse_sku(raw: &str) -> Result<String, String> {
    check_plain_text(raw, 64)?;
    Ok(raw.to_owned())
}

fn parse_amount(raw: &str) -> Result<Money, String> {
    let m = Money::parse(raw)?;
    if m.0 < 0 {
        return Err("must not be negative".into());
    }
    Ok(m)
}

impl ProductDraft {
    pub const FIELDS: &'static [&'static str] = &["name", "sku", "unit_cost", "unit_price"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let sku = input.parse_text("sku", parse_sku);
        let unit_cost = input.parse_text("unit_cost", parse_amount);
        let unit_price = input.parse_required("unit_price", "Unit price", parse_amount);
        let errors = input.errors;
        match (name, unit_price) {
            (Some(name), Some(unit_price)) => errors.into_result(Self {
                name,
                sku,
                unit_cost,
                unit_price,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_comes_as_decimal_strings() {
        let m = json!({"name": "Laptop", "unit_cost": "800", "unit_price": "1099.99"});
        let p = ProductDraft::parse(m.as_object().expect("object")).expect("valid");
        assert_eq!(p.unit_cost, Some(Money(80000)));
        assert_eq!(p.unit_price, Money(109999));
    }

    #[test]
    fn floats_and_negative_prices_are_refused() {
        let m = json!({"name": "Laptop", "unit_price": 12.5, "unit_cost": "-1"});
        let errors = ProductDraft::parse(m.as_object().expect("object")).expect_err("bad");
        assert_eq!(
            errors.for_field("unit_price"),
            Some("must be a text string")
        );
        assert_eq!(errors.for_field("unit_cost"), Some("must not be negative"));
    }
}
