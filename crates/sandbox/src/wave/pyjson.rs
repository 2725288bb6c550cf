//! JSON text identical to Python's `json.dumps(obj)` with default arguments:
//! `", "` / `": "` separators and `ensure_ascii=True`. Wave emits webhook bodies in
//! this style, and receivers must verify signatures on these exact bytes.

use serde_json::Value;

/// Serializes `value` like `json.dumps(value)` (keys kept in insertion order).
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(key, out);
                out.push_str(": ");
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_defaults() {
        // Expected strings produced by CPython 3 `json.dumps`.
        let v = json!({"a": [1, 2, {}], "b": null, "c": true, "d": "x\"y\\z\n", "e": []});
        assert_eq!(
            to_python_json(&v),
            r#"{"a": [1, 2, {}], "b": null, "c": true, "d": "x\"y\\z\n", "e": []}"#
        );
        assert_eq!(
            to_python_json(&json!("Sénégal € 😀 \u{7f}\u{1}")),
            r#""S\u00e9n\u00e9gal \u20ac \ud83d\ude00 \u007f\u0001""#
        );
    }
}
