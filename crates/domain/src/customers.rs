//! Customers: the organisations the firm serves.

use crate::input::Input;
use crate::text::{EmailDomain, Name};
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A customer may have at most this many e-mail domains.
pub const MAX_EMAIL_DOMAINS: usize = 20;

/// A valid customer as submitted (create, or the whole object after a change).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDraft {
    pub name: Name,
    /// Used to match incoming mail to this customer; unique across customers, sorted.
    pub email_domains: Vec<EmailDomain>,
    pub legal_entity_id: Option<i64>,
    pub invoice_contact_id: Option<i64>,
}

impl CustomerDraft {
    pub const FIELDS: &'static [&'static str] = &[
        "name",
        "email_domains",
        "legal_entity_id",
        "invoice_contact_id",
    ];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let mut email_domains = Vec::new();
        for raw in input.text_list("email_domains") {
            match EmailDomain::parse(&raw) {
                Ok(d) if !email_domains.contains(&d) => email_domains.push(d),
                Ok(_) => {}
                Err(message) => input.errors.add("email_domains", message),
            }
        }
        if email_domains.len() > MAX_EMAIL_DOMAINS {
            input.errors.add(
                "email_domains",
                format!("at most {MAX_EMAIL_DOMAINS} domains"),
            );
        }
        email_domains.sort();
        let legal_entity_id = input.id("legal_entity_id");
        let invoice_contact_id = input.id("invoice_contact_id");
        let errors = input.errors;
        match name {
            Some(name) => errors.into_result(Self {
                name,
                email_domains,
                legal_entity_id,
                invoice_contact_id,
            }),
            None => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domains_are_normalised_deduplicated_and_sorted() {
        let m = json!({"name": "Acme", "email_domains": ["Acme.example", "@acme.co.uk", "acme.example"]});
        let c = CustomerDraft::parse(m.as_object().expect("object")).expect("valid");
        let domains: Vec<&str> = c.email_domains.iter().map(|d| d.as_str()).collect();
        assert_eq!(domains, ["acme.co.uk", "acme.example"]);
    }

    #[test]
    fn every_problem_is_reported() {
        let m = json!({"name": "", "email_domains": ["not a domain"], "legal_entity_id": "x"});
        let errors = CustomerDraft::parse(m.as_object().expect("object")).expect_err("invalid");
        assert!(errors.for_field("name").is_some());
        assert!(errors.for_field("email_domains").is_some());
        assert!(errors.for_field("legal_entity_id").is_some());
    }
}
