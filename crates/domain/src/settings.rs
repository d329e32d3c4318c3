//! *Setup → Control → Defaults*: the typed catalogue of system settings.
//!
//! Each setting has a key, a label as users know it, a type and a default. Stored values are
//! canonical strings; a setting without a stored value has its default. Later features add
//! their settings to [`CATALOGUE`].

use serde_json::Value;

/// What values a setting takes.
#[derive(Debug, Clone, Copy)]
pub enum SettingKind {
    Bool,
    /// One of a fixed list of (code, label).
    Choice(&'static [(&'static str, &'static str)]),
    Text {
        max_chars: usize,
    },
    /// Text with its own rule (a time zone, working hours ...).
    Checked {
        max_chars: usize,
        check: fn(&str) -> Result<(), String>,
    },
    Integer {
        min: i64,
        max: i64,
    },
}

impl SettingKind {
    /// The name used in the API (`"bool"`, `"choice"`, `"text"`, `"integer"`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Choice(_) => "choice",
            Self::Text { .. } | Self::Checked { .. } => "text",
            Self::Integer { .. } => "integer",
        }
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: SettingKind,
    /// Canonical string form of the default.
    pub default: &'static str,
}

/// *Quick Create Invoice By* choices (F7).
pub const QUICK_CREATE_INVOICE_BY: &[(&str, &str)] = &[
    ("per_sales_order", "Per Sales Order"),
    ("per_contract", "Per Contract"),
    ("per_invoice_contact", "Per Invoice Contact"),
];

/// SLA targets: whole working minutes, up to about a year of working days.
const SLA_MINUTES: SettingKind = SettingKind::Integer {
    min: 0,
    max: 150_000,
};
/// *Nightly Run Time* choices: the whole hours of the day.
pub const NIGHTLY_RUN_TIMES: &[(&str, &str)] = &[
    ("00:00", "00:00"),
    ("01:00", "01:00"),
    ("02:00", "02:00"),
    ("03:00", "03:00"),
    ("04:00", "04:00"),
    ("05:00", "05:00"),
    ("06:00", "06:00"),
    ("07:00", "07:00"),
    ("08:00", "08:00"),
    ("09:00", "09:00"),
    ("10:00", "10:00"),
    ("11:00", "11:00"),
    ("12:00", "12:00"),
    ("13:00", "13:00"),
    ("14:00", "14:00"),
    ("15:00", "15:00"),
    ("16:00", "16:00"),
    ("17:00", "17:00"),
    ("18:00", "18:00"),
    ("19:00", "19:00"),
    ("20:00", "20:00"),
    ("21:00", "21:00"),
    ("22:00", "22:00"),
    ("23:00", "23:00"),
];

/// *SMTP Security* choices.
pub const SMTP_SECURITY: &[(&str, &str)] = &[
    ("none", "None (plain, local relays only)"),
    ("starttls", "STARTTLS"),
    ("tls", "TLS"),
];

/// Every system setting, in the order *Defaults* shows them.
pub const CATALOGUE: &[SettingDef] = &[
    SettingDef {
        key: "company_name",
        label: "Company Name",
        help: "Shown in the top bar, in e-mails and on documents.",
        kind: SettingKind::Text { max_chars: 200 },
        default: "Accord",
    },
    SettingDef {
        key: "quick_create_invoice_by",
        label: "Quick Create Invoice By",
        help: "How Quick Invoice All groups un-assigned lines into invoices.",
        kind: SettingKind::Choice(QUICK_CREATE_INVOICE_BY),
        default: "per_contract",
    },
    SettingDef {
        key: "auto_generate_invoices_from_schedules",
        label: "Auto Generate Invoices From Schedules When Overnight Processing",
        help: "Recurring schedule contracts turn their due lines into invoices overnight.",
        kind: SettingKind::Bool,
        default: "false",
    },
    SettingDef {
        key: "email_auto_generated_invoices_from_schedules",
        label: "Email Auto Generated Invoices from Schedules When Overnight Processing",
        help: "Invoices made overnight are released and e-mailed to the invoice contact.",
        kind: SettingKind::Bool,
        default: "false",
    },
    SettingDef {
        key: "default_page_size",
        label: "Default Page Size",
        help: "Rows per page in lists when the user has not chosen.",
        kind: SettingKind::Integer { min: 10, max: 200 },
        default: "50",
    },
    SettingDef {
        key: "sla_working_days",
        label: "SLA Working Days",
        help: "Days SLA targets count, e.g. mon-fri or sun-thu.",
        kind: SettingKind::Checked {
            max_chars: 60,
            check: |s| crate::sla::parse_days(s).map(|_| ()),
        },
        default: "mon-fri",
    },
    SettingDef {
        key: "sla_working_hours",
        label: "SLA Working Hours",
        help: "Hours of a working day SLA targets count, e.g. 09:00-17:30.",
        kind: SettingKind::Checked {
            max_chars: 20,
            check: |s| crate::sla::parse_hours(s).map(|_| ()),
        },
        default: "09:00-17:00",
    },
    SettingDef {
        key: "sla_time_zone",
        label: "SLA Time Zone",
        help: "The time zone of the working hours, e.g. Europe/London.",
        kind: SettingKind::Checked {
            max_chars: 60,
            check: |s| crate::sla::parse_time_zone(s).map(|_| ()),
        },
        default: "Europe/London",
    },
    SettingDef {
        key: "sla_low_response_minutes",
        label: "SLA Low Priority Response (working minutes)",
        help: "First response due within this much working time.",
        kind: SLA_MINUTES,
        default: "480",
    },
    SettingDef {
        key: "sla_low_resolution_minutes",
        label: "SLA Low Priority Resolution (working minutes)",
        help: "Resolution due within this much working time.",
        kind: SLA_MINUTES,
        default: "2400",
    },
    SettingDef {
        key: "sla_medium_response_minutes",
        label: "SLA Medium Priority Response (working minutes)",
        help: "First response due within this much working time.",
        kind: SLA_MINUTES,
        default: "240",
    },
    SettingDef {
        key: "sla_medium_resolution_minutes",
        label: "SLA Medium Priority Resolution (working minutes)",
        help: "Resolution due within this much working time.",
        kind: SLA_MINUTES,
        default: "1440",
    },
    SettingDef {
        key: "sla_high_response_minutes",
        label: "SLA High Priority Response (working minutes)",
        help: "First response due within this much working time.",
        kind: SLA_MINUTES,
        default: "60",
    },
    SettingDef {
        key: "sla_high_resolution_minutes",
        label: "SLA High Priority Resolution (working minutes)",
        help: "Resolution due within this much working time.",
        kind: SLA_MINUTES,
        default: "480",
    },
    SettingDef {
        key: "sla_urgent_response_minutes",
        label: "SLA Urgent Priority Response (working minutes)",
        help: "First response due within this much working time.",
        kind: SLA_MINUTES,
        default: "15",
    },
    SettingDef {
        key: "sla_urgent_resolution_minutes",
        label: "SLA Urgent Priority Resolution (working minutes)",
        help: "Resolution due within this much working time.",
        kind: SLA_MINUTES,
        default: "240",
    },
    SettingDef {
        key: "require_2fa_for_administrators",
        label: "Require 2FA For Administrators",
        help: "Every administrator must set up two-factor authentication before doing anything else, and cannot disable it.",
        kind: SettingKind::Bool,
        default: "false",
    },
    SettingDef {
        key: "nightly_run_time",
        label: "Nightly Run Time",
        help: "Local time at which overnight processing runs; a missed night is caught up.",
        kind: SettingKind::Choice(NIGHTLY_RUN_TIMES),
        default: "02:00",
    },
    SettingDef {
        key: "nightly_time_zone",
        label: "Nightly Run Time Zone",
        help: "IANA time zone of the Nightly Run Time, e.g. Europe/London or UTC.",
        kind: SettingKind::Checked {
            max_chars: 64,
            check: |s| crate::sla::parse_time_zone(s).map(|_| ()),
        },
        default: "UTC",
    },
    SettingDef {
        key: "smtp_host",
        label: "SMTP Host",
        help: "Mail server for outgoing e-mail; empty keeps mails in the Outbox. ACCORD_SMTP_HOST overrides it.",
        kind: SettingKind::Text { max_chars: 253 },
        default: "",
    },
    SettingDef {
        key: "smtp_port",
        label: "SMTP Port",
        help: "Usually 587 for STARTTLS, 465 for TLS, 25 for a local relay.",
        kind: SettingKind::Integer { min: 1, max: 65535 },
        default: "587",
    },
    SettingDef {
        key: "smtp_security",
        label: "SMTP Security",
        help: "How the connection to the mail server is encrypted.",
        kind: SettingKind::Choice(SMTP_SECURITY),
        default: "starttls",
    },
    SettingDef {
        key: "smtp_username",
        label: "SMTP User",
        help: "Login at the mail server, if it needs one. The password is set in ACCORD_SMTP_PASSWORD.",
        kind: SettingKind::Text { max_chars: 254 },
        default: "",
    },
    SettingDef {
        key: "smtp_from",
        label: "SMTP From Address",
        help: "Sender of every mail, e.g. Accord <psa@example.com>.",
        kind: SettingKind::Text { max_chars: 254 },
        default: "accord@localhost",
    },
];

/// Looks a setting up by key.
pub fn find(key: &str) -> Option<&'static SettingDef> {
    CATALOGUE.iter().find(|d| d.key == key)
}

impl SettingDef {
    /// Turns a submitted JSON value into the canonical stored string.
    pub fn parse_value(&self, value: &Value) -> Result<String, String> {
        match (self.kind, value) {
            (SettingKind::Bool, Value::Bool(b)) => Ok(b.to_string()),
            (SettingKind::Bool, _) => Err("must be true or false".into()),
            (SettingKind::Choice(options), Value::String(s)) => options
                .iter()
                .find(|(code, _)| code == s)
                .map(|(code, _)| (*code).to_owned())
                .ok_or_else(|| {
                    let codes: Vec<&str> = options.iter().map(|(c, _)| *c).collect();
                    format!("must be one of: {}", codes.join(", "))
                }),
            (SettingKind::Choice(_), _) => Err("must be a text string".into()),
            (SettingKind::Text { max_chars }, Value::String(s)) => {
                crate::text::check_plain_text(s.trim(), max_chars)?;
                Ok(s.trim().to_owned())
            }
            (SettingKind::Text { .. }, _) => Err("must be a text string".into()),
            (SettingKind::Checked { max_chars, check }, Value::String(s)) => {
                crate::text::check_plain_text(s.trim(), max_chars)?;
                check(s.trim())?;
                Ok(s.trim().to_owned())
            }
            (SettingKind::Checked { .. }, _) => Err("must be a text string".into()),
            (SettingKind::Integer { min, max }, Value::Number(n)) => {
                match crate::input::whole_number(n) {
                    Some(i) if (min..=max).contains(&i) => Ok(i.to_string()),
                    _ => Err(format!("must be a whole number from {min} to {max}")),
                }
            }
            (SettingKind::Integer { .. }, _) => Err("must be a whole number".into()),
        }
    }

    /// The JSON form of a canonical stored string.
    pub fn to_json(&self, stored: &str) -> Value {
        match self.kind {
            SettingKind::Bool => Value::Bool(stored == "true"),
            SettingKind::Integer { .. } => stored
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::Null),
            _ => Value::String(stored.to_owned()),
        }
    }

    /// The form of a value a person reads.
    pub fn display(&self, stored: &str) -> String {
        match self.kind {
            SettingKind::Bool => if stored == "true" { "Yes" } else { "No" }.to_owned(),
            SettingKind::Choice(options) => options
                .iter()
                .find(|(code, _)| *code == stored)
                .map_or(stored, |(_, label)| label)
                .to_owned(),
            _ => stored.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catalogue_keys_are_unique_and_defaults_valid() {
        for (i, def) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[i + 1..].iter().all(|d| d.key != def.key),
                "{}",
                def.key
            );
            let parsed = def.parse_value(&def.to_json(def.default));
            assert_eq!(parsed.as_deref(), Ok(def.default), "{}", def.key);
        }
    }

    #[test]
    fn values_are_type_checked() {
        let by = find("quick_create_invoice_by").expect("exists");
        assert_eq!(
            by.parse_value(&json!("per_sales_order")),
            Ok("per_sales_order".into())
        );
        assert!(by.parse_value(&json!("per_customer")).is_err());
        let size = find("default_page_size").expect("exists");
        assert!(size.parse_value(&json!(500)).is_err());
        assert!(size.parse_value(&json!("50")).is_err());
        let zone = find("nightly_time_zone").expect("exists");
        assert_eq!(
            zone.parse_value(&json!("Europe/Berlin")),
            Ok("Europe/Berlin".into())
        );
        assert!(zone.parse_value(&json!("Mars/Base")).is_err());
    }
}
