//! Legal entities: the companies of the firm that sell and invoice, each in one currency.

use crate::input::Input;
use crate::money::Percent;
use crate::text::Name;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// *Calculate Sale Price Using*: how a quotation line's price follows from its unit cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalculateSalePriceUsing {
    /// price = cost × (1 + markup)
    Markup,
    /// price = cost ÷ (1 − margin)
    GrossMargin,
}

impl CalculateSalePriceUsing {
    pub const ALL: [Self; 2] = [Self::Markup, Self::GrossMargin];

    /// The stored and JSON form.
    pub fn code(self) -> &'static str {
        match self {
            Self::Markup => "markup",
            Self::GrossMargin => "gross_margin",
        }
    }

    /// What the UI shows, as the release notes name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Markup => "Markup",
            Self::GrossMargin => "Gross margin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.code() == raw)
            .ok_or_else(|| "must be \"markup\" or \"gross_margin\"".to_string())
    }
}

/// An ISO 4217 currency code such as `GBP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_uppercase();
        if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(s))
        } else {
            Err("must be a three-letter currency code such as GBP, EUR or USD".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid legal entity as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct LegalEntityDraft {
    pub name: Name,
    pub currency: Currency,
    pub tax_rate: Percent,
    pub calculate_sale_price_using: CalculateSalePriceUsing,
}

impl LegalEntityDraft {
    pub const FIELDS: &'static [&'static str] =
        &["name", "currency", "tax_rate", "calculate_sale_price_using"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let currency = input.parse_required("currency", "Currency", Currency::parse);
        let tax_rate = input
            .parse_text("tax_rate", Percent::parse_rate)
            .unwrap_or_default();
        let method = input
            .parse_text("calculate_sale_price_using", CalculateSalePriceUsing::parse)
            .unwrap_or(CalculateSalePriceUsing::Markup);
        let errors = input.errors;
        match (name, currency) {
            (Some(name), Some(currency)) => errors.into_result(Self {
                name,
                currency,
                tax_rate,
                calculate_sale_price_using: method,
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
    fn parses_with_defaults_for_optional_fields() {
        let m = json!({"name": "Accord Ltd", "currency": "gbp"});
        let e = LegalEntityDraft::parse(m.as_object().expect("object")).expect("valid");
        assert_eq!(e.currency.as_str(), "GBP");
        assert_eq!(e.tax_rate, Percent(0));
        assert_eq!(
            e.calculate_sale_price_using,
            CalculateSalePriceUsing::Markup
        );
    }

    #[test]
    fn refuses_unknown_pricing_method_and_bad_currency() {
        let m = json!({"name": "X", "currency": "pounds", "calculate_sale_price_using": "margin"});
        let errors = LegalEntityDraft::parse(m.as_object().expect("object")).expect_err("bad");
        assert!(errors.for_field("currency").is_some());
        assert!(errors.for_field("calculate_sale_price_using").is_some());
    }
}
