//! What changed between two versions of an object, for the Audit Log.

use serde_json::{Map, Value, json};

/// The fields whose values differ, as `{field: {"from": old, "to": new}}`.
pub fn changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (field, new) in after {
        let old = before.get(field).unwrap_or(&Value::Null);
        if old != new {
            out.insert(field.clone(), json!({"from": old, "to": new}));
        }
    }
    out
}

/// The record of a newly created object: every field set, each with `from: null`.
pub fn created(after: &Map<String, Value>) -> Map<String, Value> {
    changes(&Map::new(), after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_fields_are_listed() {
        let a = json!({"name": "Acme", "tax": "20.00"});
        let b = json!({"name": "Acme Ltd", "tax": "20.00"});
        let c = changes(a.as_object().expect("o"), b.as_object().expect("o"));
        assert_eq!(
            Value::Object(c),
            json!({"name": {"from": "Acme", "to": "Acme Ltd"}})
        );
    }
}
