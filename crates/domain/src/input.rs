//! Reading a submitted object (a JSON body, or a form turned into JSON) field by field.
//!
//! [`Input`] collects every problem instead of stopping at the first, so a form can show
//! all its messages at once and the API can list them in one problem document.

use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A submitted object being parsed; errors accumulate in [`Input::errors`].
pub struct Input<'a> {
    map: &'a Map<String, Value>,
    pub errors: FieldErrors,
}

impl<'a> Input<'a> {
    /// Starts parsing `map`, refusing any field not in `known`.
    pub fn new(map: &'a Map<String, Value>, known: &[&str]) -> Self {
        let mut errors = FieldErrors::new();
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                errors.add(key, "is not a field of this object");
            }
        }
        Self { map, errors }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A text field, trimmed; empty counts as absent.
    pub fn text(&mut self, field: &str) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                (!s.is_empty()).then(|| s.to_owned())
            }
            Some(_) => {
                self.errors.add(field, "must be a text string");
                None
            }
        }
    }

    /// A text field that must be present.
    pub fn required_text(&mut self, field: &str, label: &str) -> Option<String> {
        let value = self.text(field);
        if value.is_none() && self.errors.for_field(field).is_none() {
            self.errors.add(field, format!("{label} is required"));
        }
        value
    }

    /// A true/false field; absent means `default`.
    pub fn boolean(&mut self, field: &str, default: bool) -> bool {
        match self.get(field) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.errors.add(field, "must be true or false");
                default
            }
        }
    }

    /// A reference to another object by its numeric id.
    pub fn id(&mut self, field: &str) -> Option<i64> {
        match self.get(field) {
            None => None,
            Some(Value::Number(n)) => match whole_number(n) {
                Some(id) if id > 0 => Some(id),
                _ => {
                    self.errors.add(field, "must be a positive whole number");
                    None
                }
            },
            Some(_) => {
                self.errors
                    .add(field, "must be the numeric id of an existing object");
                None
            }
        }
    }

    /// A list of references by numeric id; repeated ids count once.
    pub fn id_list(&mut self, field: &str) -> Vec<i64> {
        match self.get(field) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item.as_number().and_then(whole_number) {
                        Some(id) if id > 0 => {
                            if !out.contains(&id) {
                                out.push(id);
                            }
                        }
                        _ => {
                            self.errors
                                .add(field, "must be a list of positive whole numbers (ids)");
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(_) => {
                self.errors
                    .add(field, "must be a list of positive whole numbers (ids)");
                Vec::new()
            }
        }
    }

    /// A list of text strings.
    pub fn text_list(&mut self, field: &str) -> Vec<String> {
        match self.get(field) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        Value::String(_) => {}
                        _ => {
                            self.errors.add(field, "must be a list of text strings");
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(_) => {
                self.errors.add(field, "must be a list of text strings");
                Vec::new()
            }
        }
    }

    /// Runs a parser over an optional text field, recording its error.
    pub fn parse_text<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.text(field)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.add(field, message);
                None
            }
        }
    }

    /// Runs a parser over a required text field.
    pub fn parse_required<T>(
        &mut self,
        field: &str,
        label: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.required_text(field, label)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.add(field, message);
                None
            }
        }
    }
}

/// Largest id or whole number accepted from clients: the largest integer a JSON number
/// (an IEEE double) holds exactly.
pub const MAX_ID: i64 = 9_007_199_254_740_991;

/// A JSON number that is a whole number (`3` or `3.0`, as JSON Schema counts integers),
/// within the range JSON numbers hold exactly.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    const MAX_EXACT: i64 = MAX_ID;
    let v = match n.as_i64() {
        Some(i) => i,
        None => {
            let f = n.as_f64()?;
            if f.fract() != 0.0 || f.abs() > MAX_EXACT as f64 {
                return None;
            }
            f as i64
        }
    };
    (v.abs() <= MAX_EXACT).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_all_reported() {
        let m = map(json!({"name": 5, "colour": "red", "is_admin": "yes"}));
        let mut input = Input::new(&m, &["name", "is_admin"]);
        assert_eq!(input.text("name"), None);
        assert!(!input.boolean("is_admin", false));
        assert_eq!(input.errors.iter().count(), 3);
        assert_eq!(
            input.errors.for_field("colour"),
            Some("is not a field of this object")
        );
    }

    #[test]
    fn blank_required_text_is_reported_with_its_label() {
        let m = map(json!({"name": "   "}));
        let mut input = Input::new(&m, &["name"]);
        assert_eq!(input.required_text("name", "Name"), None);
        assert_eq!(input.errors.for_field("name"), Some("Name is required"));
    }

    #[test]
    fn ids_must_be_positive_numbers() {
        let m = map(json!({"a": 3, "b": -1, "c": "3", "d": 4.0, "e": 4.5, "f": 1e300}));
        let mut input = Input::new(&m, &["a", "b", "c", "d", "e", "f"]);
        assert_eq!(input.id("a"), Some(3));
        assert_eq!(input.id("b"), None);
        assert_eq!(input.id("c"), None);
        assert_eq!(input.id("d"), Some(4));
        assert_eq!(input.id("e"), None);
        assert_eq!(input.id("f"), None);
        assert_eq!(input.errors.iter().count(), 4);
    }
}
