//! Tickets (SPEC C6), their types and checklists (F3): what a valid one is when submitted.

use crate::input::Input;
use crate::text::{Name, check_plain_text};
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// How urgent a ticket is; each priority has its own SLA targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

/// (code, label) of every priority, lowest first, for choice fields.
pub const PRIORITIES: &[(&str, &str)] = &[
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
    ("urgent", "Urgent"),
];

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Medium, Self::High, Self::Urgent];

    pub fn code(self) -> &'static str {
        PRIORITIES[self as usize].0
    }

    pub fn label(self) -> &'static str {
        PRIORITIES[self as usize].1
    }

    pub fn parse(code: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// Longest checklist item text.
pub const MAX_ITEM_CHARS: usize = 300;
/// Most items on one checklist.
pub const MAX_ITEMS: usize = 100;

/// A checklist item's text as typed.
pub fn parse_item(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    check_plain_text(text, MAX_ITEM_CHARS)?;
    Ok(text.to_owned())
}

/// Parses a list of checklist items (`field` names where errors go).
fn parse_items(input: &mut Input, field: &str, required: bool) -> Vec<String> {
    let raw = input.text_list(field);
    if raw.len() > MAX_ITEMS {
        input
            .errors
            .add(field, format!("A checklist has at most {MAX_ITEMS} items"));
        return Vec::new();
    }
    let mut items = Vec::with_capacity(raw.len());
    for item in raw {
        match parse_item(&item) {
            Ok(i) => items.push(i),
            Err(e) => input.errors.add(field, format!("“{item}” {e}")),
        }
    }
    if required && items.is_empty() && input.errors.for_field(field).is_none() {
        input
            .errors
            .add(field, "List at least one item, one per line");
    }
    items
}

/// A global checklist template (*Setup → Tickets → Checklist Templates*).
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistTemplateDraft {
    pub name: Name,
    pub items: Vec<String>,
}

impl ChecklistTemplateDraft {
    pub const FIELDS: &'static [&'static str] = &["name", "items"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let items = parse_items(&mut input, "items", true);
        let errors = input.errors;
        match name {
            Some(name) => errors.into_result(Self { name, items }),
            None => Err(errors),
        }
    }
}

/// A checklist added to a ticket: from a template, or ad hoc with a name and items.
#[derive(Debug, Clone, PartialEq)]
pub enum NewChecklist {
    FromTemplate(i64),
    AdHoc { name: Name, items: Vec<String> },
}

impl NewChecklist {
    pub const FIELDS: &'static [&'static str] = &["template_id", "name", "items"];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let template = input.id("template_id");
        let name = input.text("name");
        let has_items = map.get("items").is_some_and(|v| !v.is_null());
        if template.is_some() {
            if name.is_some() || has_items {
                input.errors.add(
                    "template_id",
                    "Give either a template or a name with items, not both",
                );
            }
            let errors = input.errors;
            return errors.into_result(NewChecklist::FromTemplate(template.unwrap_or_default()));
        }
        let name = match name.as_deref().map(Name::parse) {
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                input.errors.add("name", e);
                None
            }
            None => {
                if input.errors.for_field("template_id").is_none() {
                    input
                        .errors
                        .add("name", "Name the checklist, or choose a template");
                }
                None
            }
        };
        let items = parse_items(&mut input, "items", false);
        let errors = input.errors;
        match name {
            Some(name) => errors.into_result(NewChecklist::AdHoc { name, items }),
            None => Err(errors),
        }
    }
}

/// A ticket type (*Setup → Tickets → Ticket Types*).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketTypeDraft {
    pub name: Name,
    pub default_priority: Priority,
    pub workflow_id: i64,
    /// Checklist templates added to every new ticket of this type.
    pub default_checklist_template_ids: Vec<i64>,
}

impl TicketTypeDraft {
    pub const FIELDS: &'static [&'static str] = &[
        "name",
        "default_priority",
        "workflow_id",
        "default_checklist_template_ids",
    ];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let default_priority = match input.text("default_priority") {
            None => {
                if input.errors.for_field("default_priority").is_none() {
                    input
                        .errors
                        .add("default_priority", "Default priority is required");
                }
                Priority::Medium
            }
            Some(code) => Priority::parse(&code).unwrap_or_else(|| {
                input.errors.add(
                    "default_priority",
                    "must be one of: low, medium, high, urgent",
                );
                Priority::Medium
            }),
        };
        let workflow_id = input.id("workflow_id");
        if workflow_id.is_none() && input.errors.for_field("workflow_id").is_none() {
            input.errors.add("workflow_id", "Workflow is required");
        }
        let ids = input.id_list("default_checklist_template_ids");
        let errors = input.errors;
        match (name, workflow_id) {
            (Some(name), Some(workflow_id)) => errors.into_result(Self {
                name,
                default_priority,
                workflow_id,
                default_checklist_template_ids: ids,
            }),
            _ => Err(errors),
        }
    }
}

/// Longest ticket details.
pub const MAX_DETAILS_CHARS: usize = 20_000;

/// A ticket as submitted (the status moves through the workflow, so it is checked against
/// the ticket's workflow by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketDraft {
    pub summary: Name,
    pub details: Option<String>,
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    pub ticket_type_id: i64,
    /// `None`: the ticket type's default priority.
    pub priority: Option<Priority>,
    /// `None`: the workflow's start status (new tickets) or unchanged.
    pub status: Option<String>,
    pub assignee_id: Option<i64>,
}

impl TicketDraft {
    pub const FIELDS: &'static [&'static str] = &[
        "summary",
        "details",
        "customer_id",
        "contact_id",
        "ticket_type_id",
        "priority",
        "status",
        "assignee_id",
    ];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let summary = input.parse_required("summary", "Summary", Name::parse);
        let details = input.parse_text("details", |s| {
            check_plain_text_multiline(s, MAX_DETAILS_CHARS).map(|()| s.to_owned())
        });
        let customer_id = input.id("customer_id");
        if customer_id.is_none() && input.errors.for_field("customer_id").is_none() {
            input.errors.add("customer_id", "Customer is required");
        }
        let contact_id = input.id("contact_id");
        let ticket_type_id = input.id("ticket_type_id");
        if ticket_type_id.is_none() && input.errors.for_field("ticket_type_id").is_none() {
            input
                .errors
                .add("ticket_type_id", "Ticket type is required");
        }
        let priority = input
            .text("priority")
            .map(|code| match Priority::parse(&code) {
                Some(p) => Some(p),
                None => {
                    input
                        .errors
                        .add("priority", "must be one of: low, medium, high, urgent");
                    None
                }
            })
            .unwrap_or(None);
        let status = input.parse_text("status", |s| Name::parse(s).map(|n| n.as_str().to_owned()));
        let assignee_id = input.id("assignee_id");
        let errors = input.errors;
        match (summary, customer_id, ticket_type_id) {
            (Some(summary), Some(customer_id), Some(ticket_type_id)) => errors.into_result(Self {
                summary,
                details,
                customer_id,
                contact_id,
                ticket_type_id,
                priority,
                status,
                assignee_id,
            }),
            _ => Err(errors),
        }
    }
}

/// Multi-line text: like [`check_plain_text`] but newlines and tabs are allowed.
pub fn check_plain_text_multiline(s: &str, max_chars: usize) -> Result<(), String> {
    if s.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Checklist progress as shown on a ticket and in the list: "3/5".
pub fn progress(done: i64, total: i64) -> String {
    if total == 0 {
        String::new()
    } else {
        format!("{done}/{total}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn a_ticket_needs_a_summary_customer_and_type() {
        let e = TicketDraft::parse(&map(json!({"priority": "soon"}))).expect_err("invalid");
        assert_eq!(e.for_field("summary"), Some("Summary is required"));
        assert_eq!(e.for_field("customer_id"), Some("Customer is required"));
        assert_eq!(
            e.for_field("ticket_type_id"),
            Some("Ticket type is required")
        );
        assert!(e.for_field("priority").is_some());
        let ok = TicketDraft::parse(&map(json!({
            "summary": "Printer on fire", "details": "Second floor.\nSmoke.",
            "customer_id": 1, "ticket_type_id": 2, "priority": "urgent"
        })))
        .expect("valid");
        assert_eq!(ok.priority, Some(Priority::Urgent));
        assert_eq!(ok.details.as_deref(), Some("Second floor.\nSmoke."));
    }

    #[test]
    fn checklists_come_from_a_template_or_a_name_with_items() {
        assert_eq!(
            NewChecklist::parse(&map(json!({"template_id": 4}))),
            Ok(NewChecklist::FromTemplate(4))
        );
        let adhoc = NewChecklist::parse(&map(
            json!({"name": "Before go-live", "items": ["Backup", " Test restore "]}),
        ))
        .expect("valid");
        assert_eq!(
            adhoc,
            NewChecklist::AdHoc {
                name: Name::parse("Before go-live").expect("name"),
                items: vec!["Backup".into(), "Test restore".into()]
            }
        );
        assert!(NewChecklist::parse(&map(json!({"template_id": 4, "name": "x"}))).is_err());
        assert!(NewChecklist::parse(&map(json!({"items": ["a"]}))).is_err());
        let e =
            ChecklistTemplateDraft::parse(&map(json!({"name": "Empty"}))).expect_err("no items");
        assert_eq!(
            e.for_field("items"),
            Some("List at least one item, one per line")
        );
    }

    #[test]
    fn priorities_have_codes_labels_and_order() {
        assert_eq!(Priority::parse("high"), Some(Priority::High));
        assert_eq!(Priority::Urgent.label(), "Urgent");
        assert!(Priority::Urgent > Priority::Low);
        assert_eq!(progress(3, 5), "3/5");
        assert_eq!(progress(0, 0), "");
    }
}
