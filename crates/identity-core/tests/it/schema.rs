//! The schema registry and trait validation rules of SPEC §2.

use base64::Engine as _;
use identity_core::{CredentialType, ErrorKind, Limits, Violation};
use identity_core::{SchemaRegistry, is_valid_email};
use serde_json::{Value, json};

fn traits_schema(properties: Value) -> Value {
    json!({"properties": {"traits": {"type": "object", "properties": properties}}})
}

fn registry_with(schema: Value) -> SchemaRegistry {
    let mut r = SchemaRegistry::new();
    r.register("default", schema).expect("registers");
    r
}

fn violations(registry: &SchemaRegistry, mut traits: Value) -> Vec<Violation> {
    let err = registry
        .resolve("")
        .expect("schema")
        .validate(&mut traits, &Limits::default())
        .expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Validation);
    err.violations().to_vec()
}

fn is_valid(registry: &SchemaRegistry, mut traits: Value) -> bool {
    registry
        .resolve("")
        .expect("schema")
        .validate(&mut traits, &Limits::default())
        .is_ok()
}

#[test]
fn lookup_by_id_by_base64url_and_default() {
    let mut r = SchemaRegistry::new();
    r.register("customer", traits_schema(json!({})))
        .expect("ok");
    r.set_default_id("customer");
    assert_eq!(r.resolve("").expect("default").id(), "customer");
    assert_eq!(r.resolve("customer").expect("id").id(), "customer");
    assert_eq!(r.resolve("Y3VzdG9tZXI").expect("b64").id(), "customer");
    let err = r.resolve("nope").expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "Unable to find JSON Schema ID: nope");
}

#[test]
fn registers_from_base64_and_file_urls_and_refuses_the_network() {
    let schema = traits_schema(json!({"a": {"type": "string"}}));
    let encoded = base64::engine::general_purpose::STANDARD.encode(schema.to_string());
    let mut r = SchemaRegistry::new();
    r.register_url("b64", &format!("base64://{encoded}"))
        .expect("base64");
    assert_eq!(r.get("b64").expect("registered").raw(), &schema);

    let dir = std::env::temp_dir().join(format!("identity-core-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("s.json");
    std::fs::write(&file, schema.to_string()).expect("write");
    r.register_url("file", &format!("file://{}", file.display()))
        .expect("file");
    r.register_file("path", &file).expect("path");
    assert_eq!(r.len(), 3);

    let err = r
        .register_url("net", "https://example.com/s.json")
        .expect_err("network");
    assert_eq!(err.kind(), ErrorKind::Schema);
    let err = r
        .register_url("bad", "base64://!!!")
        .expect_err("bad base64");
    assert!(err.to_string().contains("not valid base64"), "{err}");
    let err = r
        .register_file("missing", dir.join("none.json"))
        .expect_err("missing file");
    assert!(err.to_string().contains("cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn invalid_schemas_are_rejected_at_registration() {
    let mut r = SchemaRegistry::new();
    let cases = [
        (json!("not an object"), "must be a JSON object"),
        (json!({"properties": {}}), "no `properties.traits`"),
        (
            json!({"properties": {"traits": {"type": "string"}}}),
            "must be an object schema",
        ),
        (
            json!({"properties": {"traits": true}}),
            "must be an object schema",
        ),
        (
            traits_schema(json!({"a": {"type": "strin"}})),
            "invalid identity schema",
        ),
        (
            traits_schema(json!({"a": {"type": "string", "pattern": "(unclosed"}})),
            "invalid identity schema",
        ),
        (
            traits_schema(json!({"a": {"minLength": -1}})),
            "invalid identity schema",
        ),
        (
            traits_schema(json!({"a": {"$ref": "https://example.com/remote.json"}})),
            "invalid identity schema",
        ),
    ];
    for (schema, needle) in cases {
        let err = r
            .register("x", schema.clone())
            .expect_err(&schema.to_string());
        assert_eq!(err.kind(), ErrorKind::Schema);
        let text = err.to_string();
        assert!(text.contains(needle), "{schema}: {text}");
        assert!(text.starts_with("invalid identity schema \"x\""), "{text}");
    }
    assert!(r.is_empty());
}

#[test]
fn linear_time_regex_engine_is_used() {
    // A classic catastrophic-backtracking pattern: with a backtracking engine
    // this document would take exponential time; here it is instant.
    let r = registry_with(traits_schema(
        json!({"a": {"type": "string", "pattern": "^(a+)+$"}}),
    ));
    let long = format!("{}!", "a".repeat(5_000));
    assert!(!is_valid(&r, json!({"a": long})));
    assert!(is_valid(&r, json!({"a": "aaaa"})));
    // Backreferences (backtracking-only) are refused at registration.
    let mut r2 = SchemaRegistry::new();
    assert!(
        r2.register("x", traits_schema(json!({"a": {"pattern": "(a)\\1"}})))
            .is_err()
    );
}

#[test]
fn formats_are_asserted() {
    let r = registry_with(traits_schema(json!({
        "email": {"format": "email"}, "tel": {"format": "tel"},
        "date": {"format": "date"}, "time": {"format": "time"},
        "dt": {"format": "date-time"}, "uri": {"format": "uri"},
        "uuid": {"format": "uuid"}, "free": {"format": "no-validate"}
    })));
    let good = json!({
        "email": "a@example.com", "tel": "+16502530000", "date": "2026-11-27",
        "time": "10:11:12Z", "dt": "2026-11-27T10:11:12Z", "uri": "https://x.example/p",
        "uuid": "9f425a8d-7efc-4768-8f23-7647a74fdf13", "free": "anything at all"
    });
    assert!(is_valid(&r, good));
    let bad = json!({
        "email": "a@", "tel": "12345", "date": "2026-13-01", "time": "25:00:00Z",
        "dt": "yesterday", "uri": "not a uri", "uuid": "123", "free": ""
    });
    let got: Vec<String> = violations(&r, bad)
        .into_iter()
        .map(|v| v.reason_line())
        .collect();
    assert_eq!(
        got,
        [
            r#"I[#/traits/email] S[#/properties/traits/properties/email/format] "a@" is not valid "email""#,
            r#"I[#/traits/tel] S[#/properties/traits/properties/tel/format] "12345" is not valid "tel""#,
            r#"I[#/traits/date] S[#/properties/traits/properties/date/format] "2026-13-01" is not valid "date""#,
            r#"I[#/traits/time] S[#/properties/traits/properties/time/format] "25:00:00Z" is not valid "time""#,
            r#"I[#/traits/dt] S[#/properties/traits/properties/dt/format] "yesterday" is not valid "date-time""#,
            r#"I[#/traits/uri] S[#/properties/traits/properties/uri/format] "not a uri" is not valid "uri""#,
            r#"I[#/traits/uuid] S[#/properties/traits/properties/uuid/format] "123" is not valid "uuid""#,
        ]
    );
}

#[test]
fn email_rule_adds_kratos_length_limits() {
    let local64 = format!("{}@example.com", "a".repeat(64));
    let local65 = format!("{}@example.com", "a".repeat(65));
    assert!(is_valid_email(&local64));
    assert!(!is_valid_email(&local65));
    let label = "b".repeat(60);
    // 4 labels of 60, 3 dots and ".com": a 247-byte domain.
    let with_local = |n: usize| format!("{}@{label}.{label}.{label}.{label}.com", "a".repeat(n));
    assert_eq!(with_local(6).len(), 254);
    assert!(is_valid_email(&with_local(6)));
    assert_eq!(with_local(7).len(), 255);
    assert!(!is_valid_email(&with_local(7)));
}

#[test]
fn newer_drafts_work_too() {
    for draft in [
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    ] {
        let mut schema = traits_schema(json!({
            "email": {"type": "string", "format": "email",
                      "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
            "tags": {"type": "array", "prefixItems": [{"type": "string"}]}
        }));
        schema["$schema"] = json!(draft);
        let r = registry_with(schema);
        assert!(is_valid(&r, json!({"email": "a@example.com"})), "{draft}");
        // Formats assert under these drafts as well.
        assert!(!is_valid(&r, json!({"email": "nope"})), "{draft}");
    }
}

#[test]
fn every_violation_is_reported() {
    let r = registry_with(json!({"properties": {"traits": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string", "minLength": 3}},
        "required": ["c"],
        "additionalProperties": false
    }}}));
    let got = violations(&r, json!({"a": "x", "b": "y", "z": 1}));
    let lines: Vec<String> = got.iter().map(Violation::reason_line).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let paths: Vec<&str> = got.iter().map(|v| v.instance_path()).collect();
    assert!(paths.contains(&"/traits/a"));
    assert!(paths.contains(&"/traits/b"));
    assert_eq!(paths.iter().filter(|p| **p == "/traits").count(), 2);
    // In the words of Kratos' validator.
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            r#"I[#/traits/a] S[#/properties/traits/properties/a/type] expected integer, but got string"#,
            r#"I[#/traits/b] S[#/properties/traits/properties/b/minLength] length must be >= 3, but got 1"#,
            r#"I[#/traits] S[#/properties/traits/additionalProperties] additionalProperties "z" not allowed"#,
            r#"I[#/traits] S[#/properties/traits/required] missing properties: "c""#,
        ]
    );
}

#[test]
fn identifiers_normalising_to_empty_are_violations() {
    let r = registry_with(traits_schema(json!({"u": {"type": "string",
        "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}})));
    let got = violations(&r, json!({"u": " \u{200b}\u{feff} "}));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].instance_path(), "/traits/u");
}

#[test]
fn verification_via_email_without_format_requires_an_email_and_recovery_via_sms_a_phone() {
    let r = registry_with(traits_schema(json!({
        "e": {"type": "string", "ory.sh/kratos": {"verification": {"via": "email"}}},
        "p": {"type": "string", "format": "no-validate", "ory.sh/kratos": {"recovery": {"via": "sms"}}}
    })));
    let got = violations(&r, json!({"e": "nope", "p": "12"}));
    let lines: Vec<String> = got.iter().map(Violation::reason_line).collect();
    assert_eq!(
        lines,
        [
            // At the value's format, as Kratos reports them.
            r#"I[#/traits/e] S[#/properties/traits/properties/e/format] "nope" is not valid "email""#,
            r#"I[#/traits/p] S[#/properties/traits/properties/p/format] "12" is not valid "tel""#
        ]
    );
    let mut ok = json!({"e": "A@B.example", "p": "+1 650 253 0000"});
    let derived = r
        .resolve("")
        .expect("schema")
        .validate(&mut ok, &Limits::default())
        .expect("valid");
    assert_eq!(
        derived.verifiable_addresses().collect::<Vec<_>>()[0].value,
        "a@b.example"
    );
    assert_eq!(
        derived.recovery_addresses().collect::<Vec<_>>()[0].value,
        "+16502530000"
    );
}

#[test]
fn declared_types_are_known_even_without_values() {
    let r = registry_with(traits_schema(
        json!({"email": {"type": "string", "format": "email",
        "ory.sh/kratos": {"credentials": {"password": {"identifier": true}, "webauthn": {"identifier": true}}}}}),
    ));
    let mut traits = json!({});
    let schema = r.resolve("").expect("schema");
    let derived = schema
        .validate(&mut traits, &Limits::default())
        .expect("valid");
    assert!(
        CredentialType::ALL
            .into_iter()
            .all(|kind| derived.identifiers_of(kind).len() == 0)
    );
    assert_eq!(
        schema.declared_types().iter().copied().collect::<Vec<_>>(),
        [CredentialType::Password, CredentialType::Webauthn]
    );
}

#[test]
fn limits_apply_before_validation_and_are_configurable() {
    let r = registry_with(traits_schema(json!({})));
    let schema = r.resolve("").expect("schema");
    let mut big = json!({"x": "a".repeat(70_000)});
    let err = schema
        .validate(&mut big, &Limits::default())
        .expect_err("too big");
    assert_eq!(
        err.violations(),
        [Violation::at(
            "/traits",
            "value is larger than the limit of 65536 bytes of JSON"
        )]
    );
    let roomy = Limits::default()
        .with_max_json_bytes(100_000)
        .with_max_depth(32);
    assert!(schema.validate(&mut big, &roomy).is_ok());
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({"n": deep});
    }
    let err = schema
        .validate(&mut deep, &Limits::default())
        .expect_err("too deep");
    assert_eq!(
        err.violations()[0].message(),
        "value is nested deeper than the limit of 32 levels"
    );
}
