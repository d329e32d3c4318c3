//! Employees (agents): who works in Accord, who administers it, who manages whom.

use crate::input::Input;
use crate::text::{EmailAddress, Name};
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A valid employee as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct EmployeeDraft {
    pub name: Name,
    /// The login; unique among employees.
    pub email: EmailAddress,
    pub is_admin: bool,
    pub line_manager_id: Option<i64>,
}

impl EmployeeDraft {
    pub const FIELDS: &'static [&'static str] = &["name", "email", "is_admin", "line_manager_id"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let email = input.parse_required("email", "E-mail", EmailAddress::parse);
        let is_admin = input.boolean("is_admin", false);
        let line_manager_id = input.id("line_manager_id");
        let errors = input.errors;
        match (name, email) {
            (Some(name), Some(email)) => errors.into_result(Self {
                name,
                email,
                is_admin,
                line_manager_id,
            }),
            _ => Err(errors),
        }
    }
}

/// Would making `manager` the line manager of `employee` close a loop?
///
/// `manager_of` gives each employee's current line manager. A loop would leave a chain
/// of managers with no top, which approvals (time is approved by line manager) cannot follow.
pub fn creates_management_loop(
    employee: i64,
    manager: i64,
    manager_of: impl Fn(i64) -> Option<i64>,
) -> bool {
    let mut current = Some(manager);
    // Bounded walk: a corrupt chain must not hang the request.
    for _ in 0..10_000 {
        match current {
            None => return false,
            Some(id) if id == employee => return true,
            Some(id) => current = manager_of(id),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_chain_may_not_loop_back() {
        // 2 reports to 1, 3 reports to 2.
        let manager_of = |id| match id {
            2 => Some(1),
            3 => Some(2),
            _ => None,
        };
        assert!(creates_management_loop(1, 3, manager_of));
        assert!(creates_management_loop(1, 1, manager_of));
        assert!(!creates_management_loop(3, 1, manager_of));
    }
}
