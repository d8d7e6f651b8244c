//! JSON text as bitcoin-cli writes it (UniValue's `write`).
//!
//! serde_json's pretty printer differs from UniValue in two visible ways:
//! an empty array or object is written over two lines (`[` newline, then
//! the closing bracket at the parent's indent), and DEL (0x7f) is escaped.
//! Numbers are written exactly as the server sent them (the workspace
//! enables serde_json's `arbitrary_precision`), so `0.00001000` stays
//! `0.00001000`.

use serde_json::Value;

/// `value` with two-space indentation, as `bitcoin-cli` prints a result.
#[must_use]
pub fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 1, &mut out);
    out
}

/// Appends `s` as a quoted JSON string with UniValue's escapes.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level * 2 {
        out.push(' ');
    }
}

/// Writes `value` whose members sit at indent `level` (closing bracket at
/// `level - 1`).
fn write_value(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(level, out);
                write_value(item, level + 1, out);
                if i + 1 != items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(level - 1, out);
            out.push(']');
        }
        Value::Object(members) => {
            out.push_str("{\n");
            for (i, (key, item)) in members.iter().enumerate() {
                indent(level, out);
                write_string(key, out);
                out.push_str(": ");
                write_value(item, level + 1, out);
                if i + 1 != members.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(level - 1, out);
            out.push('}');
        }
    }
}

/// The text `getValStr()` gives for a scalar: a string's contents, a
/// number's digits, `true`/`false`; empty for null, arrays and objects.
#[must_use]
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_like_univalue() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":[],"c":{},"d":[1,{"e":"x"}],"f":0.00001000}"#).unwrap();
        assert_eq!(
            pretty(&v),
            "{\n  \"a\": 1,\n  \"b\": [\n  ],\n  \"c\": {\n  },\n  \"d\": [\n    1,\n    {\n      \"e\": \"x\"\n    }\n  ],\n  \"f\": 0.00001000\n}"
        );
        assert_eq!(pretty(&json!([])), "[\n]");
        assert_eq!(pretty(&json!(true)), "true");
    }

    #[test]
    fn escapes_like_univalue() {
        let mut s = String::new();
        write_string("a\"\\\n\u{1}\u{7f}é", &mut s);
        assert_eq!(s, r#""a\"\\\n\u0001\u007fé""#);
    }
}
