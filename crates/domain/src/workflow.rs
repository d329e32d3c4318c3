//! Ticket workflows (SPEC C6, F3): a set of statuses with one start status and some closed
//! ones, the transitions allowed between them, and rules on a transition that must hold
//! before a ticket may take it.
//!
//! A workflow is written as lines, the same in forms and in the API:
//! statuses one per line, and transitions like `In Progress -> Resolved: checklists complete`
//! (rules after the colon, separated by commas). New rule kinds are new [`TransitionRule`]
//! variants with their text, their check against [`TicketFacts`] and a test.

use crate::input::Input;
use crate::text::Name;
use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// What must hold before a ticket may take a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionRule {
    /// Every item of every checklist on the ticket is ticked.
    ChecklistsComplete,
    /// The ticket has an assignee.
    AssigneeSet,
}

impl TransitionRule {
    pub const ALL: [TransitionRule; 2] = [Self::ChecklistsComplete, Self::AssigneeSet];

    /// How the rule is written after the colon of a transition.
    pub fn text(self) -> &'static str {
        match self {
            Self::ChecklistsComplete => "checklists complete",
            Self::AssigneeSet => "assignee set",
        }
    }

    /// The code in the API's structured view.
    pub fn code(self) -> &'static str {
        match self {
            Self::ChecklistsComplete => "checklists_complete",
            Self::AssigneeSet => "assignee_set",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_lowercase().replace('_', " ");
        Self::ALL.into_iter().find(|r| r.text() == t)
    }

    /// Why the rule does not hold for this ticket, if it does not.
    pub fn unmet(self, facts: &TicketFacts) -> Option<String> {
        match self {
            Self::ChecklistsComplete if !facts.open_checklist_items.is_empty() => Some(format!(
                "every checklist item must be ticked first; still open: {}",
                facts.open_checklist_items.join("; ")
            )),
            Self::AssigneeSet if !facts.has_assignee => {
                Some("the ticket must be assigned to someone first".into())
            }
            _ => None,
        }
    }
}

/// What the rules look at on a ticket.
#[derive(Debug, Clone, Default)]
pub struct TicketFacts {
    /// Open items as "Checklist › Item".
    pub open_checklist_items: Vec<String>,
    pub has_assignee: bool,
}

/// An allowed move between two statuses and the rules on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub rules: Vec<TransitionRule>,
}

impl Transition {
    /// `From -> To: rule, rule`.
    pub fn text(&self) -> String {
        let mut s = format!("{} -> {}", self.from, self.to);
        if !self.rules.is_empty() {
            let rules: Vec<&str> = self.rules.iter().map(|r| r.text()).collect();
            s.push_str(": ");
            s.push_str(&rules.join(", "));
        }
        s
    }
}

/// A valid workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub statuses: Vec<String>,
    pub start_status: String,
    pub closed_statuses: Vec<String>,
    pub transitions: Vec<Transition>,
}

/// Why a ticket cannot move to a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefused {
    /// The workflow has no such status.
    UnknownStatus { allowed: Vec<String> },
    /// There is no transition from the current status to that one.
    NotAllowed { from: String, allowed: Vec<String> },
    /// The transition exists but its rules do not hold.
    RulesUnmet { reasons: Vec<String> },
}

impl MoveRefused {
    /// A sentence a person understands.
    pub fn message(&self, to: &str) -> String {
        match self {
            Self::UnknownStatus { allowed } => format!(
                "“{to}” is not a status of this ticket's workflow (its statuses: {})",
                allowed.join(", ")
            ),
            Self::NotAllowed { from, allowed } if allowed.is_empty() => {
                format!("A ticket cannot leave “{from}” in this workflow")
            }
            Self::NotAllowed { from, allowed } => format!(
                "A ticket cannot move from “{from}” to “{to}”; from “{from}” it can move to: {}",
                allowed.join(", ")
            ),
            Self::RulesUnmet { reasons } => {
                format!("Cannot move to “{to}”: {}", reasons.join("; "))
            }
        }
    }
}

impl Workflow {
    pub fn is_closed(&self, status: &str) -> bool {
        self.closed_statuses.iter().any(|s| s == status)
    }

    /// The statuses a ticket may move to from `from`, with their rules.
    pub fn moves_from<'a>(&'a self, from: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions.iter().filter(move |t| t.from == from)
    }

    /// May a ticket in `from` move to `to`, given its facts?
    pub fn check_move(&self, from: &str, to: &str, facts: &TicketFacts) -> Result<(), MoveRefused> {
        if !self.statuses.iter().any(|s| s == to) {
            return Err(MoveRefused::UnknownStatus {
                allowed: self.statuses.clone(),
            });
        }
        if from == to {
            return Ok(());
        }
        let Some(transition) = self.moves_from(from).find(|t| t.to == to) else {
            return Err(MoveRefused::NotAllowed {
                from: from.to_owned(),
                allowed: self.moves_from(from).map(|t| t.to.clone()).collect(),
            });
        };
        let reasons: Vec<String> = transition
            .rules
            .iter()
            .filter_map(|r| r.unmet(facts))
            .collect();
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(MoveRefused::RulesUnmet { reasons })
        }
    }

    /// Parses the stored or submitted lines.
    pub fn from_lines(
        statuses: &[String],
        start_status: &str,
        closed_statuses: &[String],
        transitions: &[String],
    ) -> Result<Workflow, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut names: Vec<String> = Vec::new();
        for s in statuses {
            match Name::parse(s) {
                Ok(n) if names.iter().any(|m| m.eq_ignore_ascii_case(n.as_str())) => {
                    errors.add("statuses", format!("“{}” is listed twice", n.as_str()));
                }
                Ok(n) => names.push(n.as_str().to_owned()),
                Err(e) => errors.add("statuses", format!("“{s}”: {e}")),
            }
        }
        if names.is_empty() {
            errors.add("statuses", "List at least one status, one per line");
        }
        if names.len() > 50 {
            errors.add("statuses", "A workflow has at most 50 statuses");
        }
        let known = |field: &str, s: &str, errors: &mut FieldErrors| -> Option<String> {
            let found = names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(s.trim()))
                .cloned();
            if found.is_none() {
                errors.add(field, format!("“{}” is not one of the statuses", s.trim()));
            }
            found
        };
        let start = if start_status.trim().is_empty() {
            errors.add("start_status", "Start status is required");
            None
        } else {
            known("start_status", start_status, &mut errors)
        };
        let closed: Vec<String> = closed_statuses
            .iter()
            .filter_map(|s| known("closed_statuses", s, &mut errors))
            .collect();
        if start.as_ref().is_some_and(|s| closed.contains(s)) {
            errors.add(
                "closed_statuses",
                "The start status cannot be a closed status",
            );
        }
        let mut moves: Vec<Transition> = Vec::new();
        for line in transitions {
            let (pair, rules) = match line.split_once(':') {
                Some((pair, rules)) => (pair, rules),
                None => (line.as_str(), ""),
            };
            let Some((from, to)) = pair.split_once("->") else {
                errors.add(
                    "transitions",
                    format!(
                        "“{}” must look like “From -> To” or “From -> To: checklists complete”",
                        line.trim()
                    ),
                );
                continue;
            };
            let (Some(from), Some(to)) = (
                known("transitions", from, &mut errors),
                known("transitions", to, &mut errors),
            ) else {
                continue;
            };
            if from == to {
                errors.add("transitions", format!("“{}” goes nowhere", line.trim()));
                continue;
            }
            let mut parsed = Vec::new();
            for r in rules.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                match TransitionRule::parse(r) {
                    Some(rule) if !parsed.contains(&rule) => parsed.push(rule),
                    Some(_) => {}
                    None => {
                        let known: Vec<&str> =
                            TransitionRule::ALL.iter().map(|r| r.text()).collect();
                        errors.add(
                            "transitions",
                            format!("“{r}” is not a rule (rules: {})", known.join(", ")),
                        );
                    }
                }
            }
            if moves.iter().any(|t| t.from == from && t.to == to) {
                errors.add("transitions", format!("“{from} -> {to}” is listed twice"));
                continue;
            }
            moves.push(Transition {
                from,
                to,
                rules: parsed,
            });
        }
        match start {
            Some(start_status) => errors.into_result(Workflow {
                statuses: names,
                start_status,
                closed_statuses: closed,
                transitions: moves,
            }),
            None => Err(errors),
        }
    }

    /// The structured view for the API.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "statuses": self.statuses.iter().map(|s| serde_json::json!({
                "name": s,
                "start": *s == self.start_status,
                "closed": self.is_closed(s),
            })).collect::<Vec<_>>(),
            "transitions": self.transitions.iter().map(|t| serde_json::json!({
                "from": t.from,
                "to": t.to,
                "rules": t.rules.iter().map(|r| r.code()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A workflow as submitted: its name and lines.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDraft {
    pub name: Name,
    pub workflow: Workflow,
}

impl WorkflowDraft {
    pub const FIELDS: &'static [&'static str] = &[
        "name",
        "statuses",
        "start_status",
        "closed_statuses",
        "transitions",
    ];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut input = Input::new(map, Self::FIELDS);
        let name = input.parse_required("name", "Name", Name::parse);
        let statuses = input.text_list("statuses");
        let start = input.text("start_status").unwrap_or_default();
        let closed = input.text_list("closed_statuses");
        let transitions = input.text_list("transitions");
        let mut errors = input.errors;
        let workflow = if errors.is_empty() || errors.iter().all(|e| e.field == "name") {
            match Workflow::from_lines(&statuses, &start, &closed, &transitions) {
                Ok(w) => Some(w),
                Err(e) => {
                    for fe in e.iter() {
                        errors.add(&fe.field, fe.message.clone());
                    }
                    None
                }
            }
        } else {
            None
        };
        match (name, workflow) {
            (Some(name), Some(workflow)) => errors.into_result(WorkflowDraft { name, workflow }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    fn service_desk() -> Workflow {
        Workflow::from_lines(
            &lines(&["New", "In Progress", "Resolved", "Closed"]),
            "new",
            &lines(&["Resolved", "Closed"]),
            &lines(&[
                "New -> In Progress",
                "In Progress -> Resolved: checklists complete",
                "Resolved -> Closed: assignee set",
                "Resolved -> In Progress",
            ]),
        )
        .expect("valid workflow")
    }

    #[test]
    fn moves_follow_the_transitions() {
        let w = service_desk();
        assert_eq!(w.start_status, "New");
        let facts = TicketFacts::default();
        assert_eq!(w.check_move("New", "In Progress", &facts), Ok(()));
        let refused = w
            .check_move("New", "Closed", &facts)
            .expect_err("no shortcut");
        assert_eq!(
            refused,
            MoveRefused::NotAllowed {
                from: "New".into(),
                allowed: vec!["In Progress".into()]
            }
        );
        assert!(
            refused
                .message("Closed")
                .contains("it can move to: In Progress")
        );
        assert!(matches!(
            w.check_move("New", "Done", &facts),
            Err(MoveRefused::UnknownStatus { .. })
        ));
        assert_eq!(
            w.check_move("New", "New", &facts),
            Ok(()),
            "staying is no move"
        );
    }

    #[test]
    fn open_checklist_items_block_the_move_and_are_named() {
        let w = service_desk();
        let facts = TicketFacts {
            open_checklist_items: vec!["Onboarding › Create mailbox".into()],
            has_assignee: true,
        };
        let refused = w
            .check_move("In Progress", "Resolved", &facts)
            .expect_err("open items");
        assert!(
            refused
                .message("Resolved")
                .contains("Onboarding › Create mailbox")
        );
        let done = TicketFacts {
            open_checklist_items: vec![],
            has_assignee: false,
        };
        assert_eq!(w.check_move("In Progress", "Resolved", &done), Ok(()));
        assert!(matches!(
            w.check_move("Resolved", "Closed", &done),
            Err(MoveRefused::RulesUnmet { .. })
        ));
    }

    #[test]
    fn bad_workflows_are_refused_with_reasons() {
        let e = Workflow::from_lines(
            &lines(&["New", "new"]),
            "Open",
            &lines(&["New"]),
            &lines(&[
                "New to Done",
                "New -> Gone",
                "New -> New: checklists complete",
                "New -> new: be nice",
            ]),
        )
        .expect_err("invalid");
        let messages: Vec<String> = e
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let all = messages.join("\n");
        assert!(all.contains("statuses: “new” is listed twice"), "{all}");
        assert!(
            all.contains("start_status: “Open” is not one of the statuses"),
            "{all}"
        );
        assert!(all.contains("must look like “From -> To”"), "{all}");
        assert!(all.contains("“Gone” is not one of the statuses"), "{all}");
    }

    #[test]
    fn transitions_round_trip_through_their_text() {
        let w = service_desk();
        let texts: Vec<String> = w.transitions.iter().map(Transition::text).collect();
        let again = Workflow::from_lines(&w.statuses, &w.start_status, &w.closed_statuses, &texts)
            .expect("same workflow");
        assert_eq!(again, w);
        assert_eq!(
            w.to_json()["transitions"][1]["rules"][0],
            "checklists_complete"
        );
    }
}
