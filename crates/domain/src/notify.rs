//! Notifications and their System Email Templates: the event kinds, the built-in templates,
//! the `{{placeholder}}` renderer, and the retry back-off of mails and jobs.

use std::collections::BTreeMap;

/// Notification categories, as the bell groups them.
pub const CATEGORIES: &[&str] = &[
    "Events",
    "Approvals",
    "SLA breaches",
    "Tickets",
    "Invoices",
    "Mentions",
];

/// Events that mark a notification read by themselves (*Mark As Read Events*).
pub const MARK_READ_EVENTS: &[(&str, &str)] = &[
    ("opened", "Opened"),
    ("replied", "Replied"),
    ("status_changed", "Status changed"),
];

/// One event kind with its built-in template.
#[derive(Debug, Clone, Copy)]
pub struct EventKind {
    pub code: &'static str,
    pub label: &'static str,
    pub category: &'static str,
    pub subject: &'static str,
    pub body: &'static str,
}

/// Placeholders every template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "object.name",
    "object.type",
    "object.id",
    "actor.name",
    "recipient.name",
    "link",
    "company.name",
    "text",
];

/// Every event kind, in the order *System Email Templates* lists them.
pub const EVENT_KINDS: &[EventKind] = &[
    EventKind {
        code: "ticket_assigned",
        label: "Ticket assigned",
        category: "Tickets",
        subject: "Ticket assigned to you: {{object.name}}",
        body: "Hello {{recipient.name}},\n\n{{actor.name}} assigned the ticket {{object.name}} to you.\n\n{{link}}",
    },
    EventKind {
        code: "ticket_updated_by_customer",
        label: "Ticket updated by customer",
        category: "Tickets",
        subject: "Customer update on {{object.name}}",
        body: "Hello {{recipient.name}},\n\nThe customer updated the ticket {{object.name}}.\n\n{{link}}",
    },
    EventKind {
        code: "mentioned_in_post",
        label: "Mentioned in a post",
        category: "Mentions",
        subject: "{{actor.name}} mentioned you on {{object.name}}",
        body: "Hello {{recipient.name}},\n\n{{actor.name}} mentioned you in a post on {{object.type}} {{object.name}}:\n\n{{text}}\n\n{{link}}",
    },
    EventKind {
        code: "sla_breached",
        label: "SLA breached",
        category: "SLA breaches",
        subject: "SLA breached: {{object.name}}",
        body: "Hello {{recipient.name}},\n\nThe SLA of {{object.name}} has been breached.\n\n{{link}}",
    },
    EventKind {
        code: "approval_requested",
        label: "Approval requested",
        category: "Approvals",
        subject: "Approval requested: {{object.name}}",
        body: "Hello {{recipient.name}},\n\n{{actor.name}} asks for your approval of {{object.name}}.\n\n{{link}}",
    },
    EventKind {
        code: "approval_decided",
        label: "Approval decided",
        category: "Approvals",
        subject: "Approval decided: {{object.name}}",
        body: "Hello {{recipient.name}},\n\n{{actor.name}} decided on {{object.name}}.\n\n{{link}}",
    },
    EventKind {
        code: "invoice_released",
        label: "Invoice released",
        category: "Invoices",
        subject: "Invoice released: {{object.name}}",
        body: "Hello {{recipient.name}},\n\n{{actor.name}} released the invoice {{object.name}}.\n\n{{link}}",
    },
];

/// Looks an event kind up by code.
pub fn event_kind(code: &str) -> Option<&'static EventKind> {
    EVENT_KINDS.iter().find(|k| k.code == code)
}

/// Values for the placeholders of one rendering.
pub type Values = BTreeMap<&'static str, String>;

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Unknown(String),
    Unclosed,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(name) => write!(
                f,
                "{{{{{name}}}}} is not a placeholder; use one of {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{{{p}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Unclosed => write!(f, "a placeholder opened with {{{{ is not closed with }}}}"),
        }
    }
}

/// Checks that a template uses only known placeholders and closes each one.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    render(template, &Values::new(), true).map(|_| ())
}

/// Fills `{{name}}` placeholders (spaces inside the braces are allowed). Unknown names and
/// unclosed braces are errors, so a typo is caught when the template is saved.
pub fn render_template(template: &str, values: &Values) -> Result<String, TemplateError> {
    render(template, values, false)
}

fn render(template: &str, values: &Values, check_only: bool) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = after[..end].trim();
        let known = PLACEHOLDERS
            .iter()
            .find(|p| **p == name)
            .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
        if !check_only {
            out.push_str(values.get(known).map_or("", String::as_str));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses the *Mark As Read Events* codes, refusing unknown ones; returns them sorted,
/// comma-separated as stored.
pub fn parse_mark_read_events(codes: &[&str]) -> Result<String, String> {
    let mut known: Vec<&str> = Vec::new();
    for code in codes {
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        match MARK_READ_EVENTS.iter().find(|(c, _)| *c == code) {
            Some((c, _)) => known.push(c),
            None => {
                return Err(format!(
                    "{code:?} is not one of opened, replied, status_changed"
                ));
            }
        }
    }
    known.sort_unstable();
    known.dedup();
    Ok(known.join(","))
}

/// Seconds to wait before attempt `attempt + 1` after `attempt` failures: 30 s doubling
/// to at most 6 hours.
pub fn backoff_secs(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 20) - 1;
    (30_i64 << exp).min(6 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        let mut v = Values::new();
        v.insert("object.name", "Acme".into());
        v.insert("link", "https://psa.example/customers/1".into());
        v
    }

    #[test]
    fn fills_known_placeholders() {
        let out = render_template("{{object.name}}: {{ link }} {{actor.name}}.", &values());
        assert_eq!(
            out.as_deref(),
            Ok("Acme: https://psa.example/customers/1 .")
        );
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        assert_eq!(
            check_template("Hi {{object.nmae}}"),
            Err(TemplateError::Unknown("object.nmae".into()))
        );
        assert_eq!(check_template("Hi {{link"), Err(TemplateError::Unclosed));
        assert!(check_template("no placeholders, a } and a {").is_ok());
    }

    #[test]
    fn builtin_templates_are_valid() {
        for kind in EVENT_KINDS {
            assert!(check_template(kind.subject).is_ok(), "{}", kind.code);
            assert!(check_template(kind.body).is_ok(), "{}", kind.code);
            assert!(CATEGORIES.contains(&kind.category), "{}", kind.code);
        }
    }

    #[test]
    fn mark_read_events_are_checked_and_sorted() {
        assert_eq!(
            parse_mark_read_events(&["replied", "opened", "opened"]),
            Ok("opened,replied".into())
        );
        assert!(parse_mark_read_events(&["deleted"]).is_err());
        assert_eq!(parse_mark_read_events(&[]), Ok(String::new()));
    }

    #[test]
    fn backoff_doubles_up_to_six_hours() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 60);
        assert_eq!(backoff_secs(5), 480);
        assert_eq!(backoff_secs(100), 6 * 3600);
        assert_eq!(backoff_secs(0), 30);
    }
}
