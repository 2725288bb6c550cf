use nexpay_domain::{FieldError, Metadata};
use serde_json::{json, Map, Value};

fn errors(v: Value) -> Vec<FieldError> {
    Metadata::parse(v).unwrap_err()
}

fn fields(v: Value) -> Vec<String> {
    errors(v).into_iter().map(|e| e.field).collect()
}

#[test]
fn null_is_empty_and_objects_pass() {
    let m = Metadata::parse(Value::Null).unwrap();
    assert_eq!(m, Metadata::empty());
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());

    let v = json!({"order_id": "A-42", "count": 3, "gift": true, "note": null, "neg": -7});
    let m = Metadata::parse(v.clone()).unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(m.as_map()["order_id"], "A-42");
    assert_eq!(m.into_value(), v);
}

#[test]
fn non_objects_are_refused() {
    for v in [json!([]), json!("x"), json!(1), json!(true)] {
        assert_eq!(
            errors(v),
            vec![FieldError::new("metadata", "must be a JSON object")]
        );
    }
}

#[test]
fn key_count_limit() {
    let map: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
    assert!(Metadata::parse(Value::Object(map.clone())).is_ok());
    let mut map = map;
    map.insert("one_more".into(), json!(1));
    assert_eq!(fields(Value::Object(map)), vec!["metadata"]);
}

#[test]
fn key_length_limits() {
    let k40 = "k".repeat(40);
    assert!(Metadata::parse(json!({ k40.clone(): 1 })).is_ok());
    let e = errors(json!({ format!("{k40}x"): 1 }));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, "metadata");
    assert!(e[0].message.contains("1 to 40"), "{}", e[0].message);
    assert_eq!(fields(json!({"": 1})), vec!["metadata"]);
    // Characters, not bytes: 40 accented letters are fine.
    assert!(Metadata::parse(json!({ "é".repeat(40): 1 })).is_ok());
}

#[test]
fn string_length_limit() {
    assert!(Metadata::parse(json!({"s": "x".repeat(500)})).is_ok());
    assert!(Metadata::parse(json!({"s": "é".repeat(500)})).is_ok());
    assert_eq!(fields(json!({"s": "x".repeat(501)})), vec!["metadata.s"]);
}

#[test]
fn numbers_must_be_safe_integers() {
    let max = (1_i64 << 53) - 1;
    assert!(Metadata::parse(json!({"n": max, "m": -max, "z": 0})).is_ok());
    assert_eq!(fields(json!({"n": max + 1})), vec!["metadata.n"]);
    assert_eq!(fields(json!({"n": -max - 1})), vec!["metadata.n"]);
    assert_eq!(fields(json!({"n": u64::MAX})), vec!["metadata.n"]);
    assert_eq!(fields(json!({"n": 1.5})), vec!["metadata.n"]);
    assert_eq!(fields(json!({"n": 1.0})), vec!["metadata.n"]);
    let parsed: Value = serde_json::from_str(r#"{"n": 1e3}"#).unwrap();
    assert_eq!(fields(parsed), vec!["metadata.n"]);
}

#[test]
fn nesting_is_limited_to_two_levels() {
    assert!(Metadata::parse(json!({"a": {"b": {"c": 1}}})).is_ok());
    assert!(Metadata::parse(json!({"a": [[1, 2], [3]]})).is_ok());
    assert!(Metadata::parse(json!({"a": [{"b": "x"}]})).is_ok());
    assert_eq!(
        fields(json!({"a": {"b": {"c": {}}}})),
        vec!["metadata.a.b.c"]
    );
    assert_eq!(fields(json!({"a": [[[1]]]})), vec!["metadata.a[0][0]"]);
    assert_eq!(fields(json!({"a": {"b": [[]]}})), vec!["metadata.a.b[0]"]);
}

#[test]
fn nested_values_are_checked_with_paths() {
    let v = json!({"items": [{"sku": "x".repeat(501)}, {"qty": 0.5}], "ok": 1});
    assert_eq!(
        fields(v),
        vec!["metadata.items[0].sku", "metadata.items[1].qty"]
    );
}

#[test]
fn every_error_is_reported() {
    let v = json!({"a": 1.5, "b": "x".repeat(501), "": 1});
    assert_eq!(errors(v).len(), 3);
}

#[test]
fn serialised_size_limit() {
    // 20 keys x 450 chars is about 9.3 KiB even though each value is valid.
    let map: Map<String, Value> = (0..20)
        .map(|i| (format!("k{i:02}"), json!("x".repeat(450))))
        .collect();
    let e = errors(Value::Object(map));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, "metadata");
    assert!(e[0].message.contains("8192"), "{}", e[0].message);

    let map: Map<String, Value> = (0..16)
        .map(|i| (format!("k{i:02}"), json!("x".repeat(490))))
        .collect();
    assert!(Metadata::parse(Value::Object(map)).is_ok());
}

#[test]
fn serde_validates() {
    let m: Metadata = serde_json::from_str(r#"{"order_id":"A-42"}"#).unwrap();
    assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"order_id":"A-42"}"#);
    let m: Metadata = serde_json::from_str("null").unwrap();
    assert!(m.is_empty());
    let err = serde_json::from_str::<Metadata>(r#"{"n":1.5}"#).unwrap_err();
    assert!(err.to_string().contains("metadata.n"), "{err}");
    assert!(serde_json::from_str::<Metadata>("[1]").is_err());
}
