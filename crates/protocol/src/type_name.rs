//! UniValue's names for JSON types, as error messages show them.

use serde_json::Value;

/// Core's name for a JSON value's type (`uvTypeName`).
#[must_use]
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_like_univalue() {
        let names: Vec<_> = [json!(null), json!(true), json!(1.5), json!("s"), json!([]), json!({})]
            .iter()
            .map(json_type_name)
            .collect();
        assert_eq!(names, ["null", "bool", "number", "string", "array", "object"]);
    }
}
