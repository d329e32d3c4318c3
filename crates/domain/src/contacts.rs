//! Contacts: the people at a customer; some may log into the customer portal.

use crate::input::Input;
use crate::text::{EmailAddress, Name, Phone};
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A valid contact as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDraft {
    pub customer_id: i64,
    pub name: Name,
    pub email: Option<EmailAddress>,
    pub phone: Option<Phone>,
    /// May this contact log into the customer portal? Needs an e-mail address to log in with.
    pub portal_access: bool,
}

impl ContactDraft {
    pub const FIELDS: &'static [&'static str] =
        &["customer_id", "name", "email", "phone", "portal_access"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let customer_id = input.id("customer_id");
        if customer_id.is_none() && input.errors.for_field("customer_id").is_none() {
            input.errors.add("customer_id", "Customer is required");
        }
        let name = input.parse_required("name", "Name", Name::parse);
        let email = input.parse_text("email", EmailAddress::parse);
        let phone = input.parse_text("phone", Phone::parse);
        let portal_access = input.boolean("portal_access", false);
        if portal_access && email.is_none() && input.errors.for_field("email").is_none() {
            input
                .errors
                .add("email", "An e-mail address is needed for portal access");
        }
        let errors = input.errors;
        match (customer_id, name) {
            (Some(customer_id), Some(name)) => errors.into_result(Self {
                customer_id,
                name,
                email,
                phone,
                portal_access,
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
    fn portal_access_needs_an_email() {
        let m = json!({"customer_id": 1, "name": "Jane", "portal_access": true});
        let errors = ContactDraft::parse(m.as_object().expect("object")).expect_err("invalid");
        assert_eq!(
            errors.for_field("email"),
            Some("An e-mail address is needed for portal access")
        );
    }

    #[test]
    fn a_contact_belongs_to_a_customer() {
        let m = json!({"name": "Jane"});
        let errors = ContactDraft::parse(m.as_object().expect("object")).expect_err("invalid");
        assert_eq!(
            errors.for_field("customer_id"),
            Some("Customer is required")
        );
    }
}
