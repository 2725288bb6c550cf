use serde_json::{json, Value};

use super::*;

/// The known-answer vector of the Standard Webhooks specification and libraries' READMEs.
/// Checked independently before being trusted here: the PyPI package `standardwebhooks`
/// 1.1.0, `Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign("msg_p5jXN8AQM9LWM0D4loKWxJek",
/// datetime.fromtimestamp(1614265330, tz=timezone.utc), '{"test": 2432232314}')`, printed the
/// same `v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=`.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: i64 = 1_614_265_330;
const SPEC_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("test JSON parses")
}

#[test]
fn standard_signature_matches_the_spec_vector() {
    assert_eq!(
        standard_signature(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD),
        SPEC_SIGNATURE
    );
    assert_eq!(
        verify_standard(
            &[SPEC_SECRET],
            SPEC_MSG_ID,
            "1614265330",
            SPEC_SIGNATURE,
            SPEC_PAYLOAD,
            SPEC_TIMESTAMP + 10,
            DEFAULT_TOLERANCE_SECS,
        ),
        Ok(())
    );
}

#[test]
fn legacy_signature_matches_an_independent_hmac() {
    // Computed with OpenSSL 3 and cross-checked with Python's hmac module:
    //   printf '%s' '{"type":"payment.succeeded","amount":"100800"}' \
    //     | openssl dgst -sha256 -hmac 'whsec_legacy-test-secret'
    //   python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_legacy-test-secret',
    //     b'{\"type\":\"payment.succeeded\",\"amount\":\"100800\"}', hashlib.sha256).hexdigest())"
    let body = br#"{"type":"payment.succeeded","amount":"100800"}"#;
    let expected = "09477b0ca7b52a491f67f167c0d0ff4ebf65ee7e60087dc5163f7f7391299c3f";
    assert_eq!(legacy_signature("whsec_legacy-test-secret", body), expected);
    assert!(verify_legacy("whsec_legacy-test-secret", expected, body));
    assert!(verify_legacy(
        "whsec_legacy-test-secret",
        &expected.to_ascii_uppercase(),
        body
    ));
    assert!(!verify_legacy("whsec_other", expected, body));
    assert!(!verify_legacy(
        "whsec_legacy-test-secret",
        expected,
        br#"{"type":"payment.succeeded","amount":"100801"}"#
    ));
    assert!(!verify_legacy("whsec_legacy-test-secret", "not hex", body));
    assert!(!verify_legacy(
        "whsec_legacy-test-secret",
        &expected[..62],
        body
    ));
    assert!(!verify_legacy("whsec_legacy-test-secret", "", body));
}

#[test]
fn generated_secrets_are_prefixed_base64_of_32_random_bytes() {
    let a = generate_secret();
    let b = generate_secret();
    assert_ne!(a, b);
    for secret in [&a, &b] {
        let encoded = secret.strip_prefix("whsec_").expect("prefixed");
        assert_eq!(STANDARD.decode(encoded).expect("base64").len(), 32);
        assert_eq!(standard_key(secret).len(), 32);
    }
}

#[test]
fn standard_key_decodes_only_prefixed_base64() {
    assert_eq!(
        standard_key("whsec_AAECAw=="),
        vec![0u8, 1, 2, 3],
        "padded base64"
    );
    assert_eq!(standard_key("whsec_AAECAw"), vec![0u8, 1, 2, 3], "unpadded");
    // Without the prefix, or not base64, or empty: the secret's own bytes.
    assert_eq!(standard_key("AAECAw=="), b"AAECAw==".to_vec());
    assert_eq!(
        standard_key("whsec_not base64!"),
        b"whsec_not base64!".to_vec()
    );
    assert_eq!(standard_key("whsec_"), b"whsec_".to_vec());
}

#[test]
fn js_compact_orders_integer_like_keys_first() {
    // Expected outputs printed by Node 20: JSON.stringify(JSON.parse(text)).
    let value = parse(
        r#"{"b":1,"10":"x","2":"y","01":"z","a":2,"4294967295":"big","4294967294":"max","1":"one","-1":"neg","1.5":"f","":"empty","0":"zero"}"#,
    );
    assert_eq!(
        js_compact(&value),
        r#"{"0":"zero","1":"one","2":"y","10":"x","4294967294":"max","b":1,"01":"z","a":2,"4294967295":"big","-1":"neg","1.5":"f","":"empty"}"#
    );
}

#[test]
fn js_compact_reorders_nested_objects_in_arrays() {
    let value = parse(
        r#"[{"z":1,"3":[{"1":true,"0":null,"x":{"20":"t","b":"u","7":"s"}}]},[],{},[[{"9":9,"8":8}]]]"#,
    );
    assert_eq!(
        js_compact(&value),
        r#"[{"3":[{"0":null,"1":true,"x":{"7":"s","20":"t","b":"u"}}],"z":1},[],{},[[{"8":8,"9":9}]]]"#
    );
}

#[test]
fn js_compact_escapes_like_json_stringify() {
    let value = parse(
        r#"{"s":"quote \" backslash \\ bs \b ff \f nl \n cr \r tab \t soh \u0001 us \u001f del \u007f nul \u0000 esc \u001b"}"#,
    );
    assert_eq!(
        js_compact(&value),
        "{\"s\":\"quote \\\" backslash \\\\ bs \\b ff \\f nl \\n cr \\r tab \\t soh \\u0001 \
         us \\u001f del \u{7f} nul \\u0000 esc \\u001b\"}"
    );
}

#[test]
fn js_compact_writes_non_ascii_slashes_and_separators_literally() {
    let value = parse(
        r#"{"name":"Aïssatou Ndiaye","alt":"Séverine 🎉","ar":"محمد عبد الله","url":"https://shop.example.com/orders/123?x=1&y=<b>\/c","ls":"a\u2028b\u2029c","bmp":"\u00e9\u4e2d"}"#,
    );
    assert_eq!(
        js_compact(&value),
        "{\"name\":\"Aïssatou Ndiaye\",\"alt\":\"Séverine 🎉\",\"ar\":\"محمد عبد الله\",\
         \"url\":\"https://shop.example.com/orders/123?x=1&y=<b>/c\",\
         \"ls\":\"a\u{2028}b\u{2029}c\",\"bmp\":\"é中\"}"
    );
}

#[test]
fn js_compact_prints_numbers_like_javascript() {
    let value = parse(
        "[0,-5,9007199254740992,9007199254740993,-9007199254740993,1.5,1e21,1e20,1e-7,0.000001,\
         -0.0,2432232314,12345678901234567890,-9223372036854775808,\
         18446744073709551615,0.1,1.0,100.0,5e-324,1.7976931348623157e308,-1.25e-10,123.456]",
    );
    assert_eq!(
        js_compact(&value),
        "[0,-5,9007199254740992,9007199254740992,-9007199254740992,1.5,1e+21,\
         100000000000000000000,1e-7,0.000001,0,2432232314,\
         12345678901234567000,-9223372036854776000,18446744073709552000,0.1,1,100,5e-324,\
         1.7976931348623157e+308,-1.25e-10,123.456]"
    );
    // Built from a Rust literal (correctly rounded): serde_json's default parser may land one
    // unit in the last place away on such long literals, see `js_compact`'s documentation.
    assert_eq!(
        js_compact(&json!([1.2345678901234568e20_f64])),
        "[123456789012345680000]"
    );
}

#[test]
fn js_compact_keeps_a_merchant_body_as_built() {
    let body = json!({
        "type": "payment.succeeded",
        "data": {
            "amount": "100800",
            "status": "SUCCEEDED",
            "metadata": {"order_id": "ORDER-123"},
            "late": false,
            "note": null,
        },
        "id": "evt_1",
    });
    assert_eq!(
        js_compact(&body),
        r#"{"type":"payment.succeeded","data":{"amount":"100800","status":"SUCCEEDED","metadata":{"order_id":"ORDER-123"},"late":false,"note":null},"id":"evt_1"}"#
    );
    // Always valid JSON that parses back to the same value.
    assert_eq!(parse(&js_compact(&body)), body);
}

#[test]
fn array_index_bounds() {
    assert_eq!(array_index("0"), Some(0));
    assert_eq!(array_index("4294967294"), Some(4_294_967_294));
    for not_index in [
        "",
        "00",
        "01",
        "-1",
        "+1",
        "1.0",
        " 1",
        "4294967295",
        "99999999999",
        "1e3",
        "١",
    ] {
        assert_eq!(array_index(not_index), None, "{not_index:?}");
    }
}

#[test]
fn signed_headers_in_order_with_one_signature_per_secret() {
    let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let new = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let body = br#"{"type":"payment.succeeded"}"#;
    let headers = signed_headers(
        "X-Webhook-Secret",
        old,
        &[new, old],
        "msg_1",
        1_700_000_000,
        body,
    );
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-webhook-secret",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature"
        ]
    );
    assert_eq!(headers[0].1, legacy_signature(old, body));
    assert_eq!(headers[1].1, "msg_1");
    assert_eq!(headers[2].1, "1700000000");
    let expected = format!(
        "{} {}",
        standard_signature(new, "msg_1", 1_700_000_000, body),
        standard_signature(old, "msg_1", 1_700_000_000, body)
    );
    assert_eq!(headers[3].1, expected);
    assert_eq!(headers[3].1.split(' ').count(), 2);

    // Either secret alone verifies the rotated header; a third one does not.
    for secret in [old, new] {
        assert_eq!(
            verify_standard(
                &[secret],
                "msg_1",
                &headers[2].1,
                &headers[3].1,
                body,
                1_700_000_060,
                DEFAULT_TOLERANCE_SECS
            ),
            Ok(())
        );
    }
    assert_eq!(
        verify_standard(
            &["whsec_c29tZXRoaW5nIGVsc2U="],
            "msg_1",
            &headers[2].1,
            &headers[3].1,
            body,
            1_700_000_060,
            DEFAULT_TOLERANCE_SECS
        ),
        Err(VerifyError::NoMatch)
    );
}

fn check(signature: &str, body: &[u8], timestamp: &str, now: i64) -> Result<(), VerifyError> {
    verify_standard(
        &[SPEC_SECRET],
        SPEC_MSG_ID,
        timestamp,
        signature,
        body,
        now,
        DEFAULT_TOLERANCE_SECS,
    )
}

#[test]
fn verify_standard_rejections() {
    let t = SPEC_TIMESTAMP;
    let ts = "1614265330";
    // Tampered body (one byte).
    assert_eq!(
        check(SPEC_SIGNATURE, br#"{"test": 2432232315}"#, ts, t),
        Err(VerifyError::NoMatch)
    );
    // Wrong secret.
    assert_eq!(
        verify_standard(
            &["whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="],
            SPEC_MSG_ID,
            ts,
            SPEC_SIGNATURE,
            SPEC_PAYLOAD,
            t,
            DEFAULT_TOLERANCE_SECS
        ),
        Err(VerifyError::NoMatch)
    );
    // No secret at all.
    assert_eq!(
        verify_standard(&[], SPEC_MSG_ID, ts, SPEC_SIGNATURE, SPEC_PAYLOAD, t, 300),
        Err(VerifyError::NoMatch)
    );
    // Another message id, same signature.
    assert_eq!(
        verify_standard(
            &[SPEC_SECRET],
            "msg_other",
            ts,
            SPEC_SIGNATURE,
            SPEC_PAYLOAD,
            t,
            300
        ),
        Err(VerifyError::NoMatch)
    );
    // Timestamp tolerance: exactly at the edge passes, one second beyond fails.
    assert_eq!(check(SPEC_SIGNATURE, SPEC_PAYLOAD, ts, t + 300), Ok(()));
    assert_eq!(check(SPEC_SIGNATURE, SPEC_PAYLOAD, ts, t - 300), Ok(()));
    assert_eq!(
        check(SPEC_SIGNATURE, SPEC_PAYLOAD, ts, t + 301),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        check(SPEC_SIGNATURE, SPEC_PAYLOAD, ts, t - 301),
        Err(VerifyError::TooNew)
    );
    // A stale timestamp re-signed with another time does not match the original signature.
    assert_eq!(
        check(SPEC_SIGNATURE, SPEC_PAYLOAD, "1614265331", t),
        Err(VerifyError::NoMatch)
    );
    // Bad timestamps.
    for bad in [
        "",
        "abc",
        "1614265330.5",
        "0x10",
        "+1614265330",
        "99999999999999999999",
    ] {
        assert_eq!(
            check(SPEC_SIGNATURE, SPEC_PAYLOAD, bad, t),
            Err(VerifyError::BadTimestamp),
            "{bad:?}"
        );
    }
    // Malformed signature headers.
    for bad in [
        "",
        "   ",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,not*base64",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ] {
        assert_eq!(
            check(bad, SPEC_PAYLOAD, ts, t),
            Err(VerifyError::Malformed),
            "{bad:?}"
        );
    }
    // A wrong v1 signature next to an unknown version: a plain mismatch.
    assert_eq!(
        check(
            "v1a,whatever v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            SPEC_PAYLOAD,
            ts,
            t
        ),
        Err(VerifyError::NoMatch)
    );
    // The right one among several passes.
    assert_eq!(
        check(
            &format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SPEC_SIGNATURE}"),
            SPEC_PAYLOAD,
            ts,
            t
        ),
        Ok(())
    );
}

#[test]
fn verify_errors_display() {
    let errors = [
        VerifyError::BadTimestamp,
        VerifyError::TooOld,
        VerifyError::TooNew,
        VerifyError::NoMatch,
        VerifyError::Malformed,
    ];
    for error in errors {
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        assert!(!boxed.to_string().is_empty());
    }
}
