//! The Kratos admin JSON of an identity.

use identity_core::CredentialConfig;
use identity_core::{CredentialInclude, CredentialType, Identity};
use serde_json::json;

use crate::support::{read_json, shared_data};

#[test]
fn the_example_identity_round_trips_exactly() {
    let original = read_json(&shared_data().join("identity-example.json"));
    let identity: Identity = serde_json::from_value(original.clone()).expect("reads");
    assert_eq!(identity.version, 0);
    let written = identity.to_value("http://127.0.0.1:4434", CredentialInclude::None);
    assert_eq!(written, original);
    // A trailing slash on the base URL changes nothing.
    let written = identity.to_value("http://127.0.0.1:4434/", CredentialInclude::None);
    assert_eq!(written["schema_url"], original["schema_url"]);
}

fn with_secret() -> Identity {
    let mut identity: Identity =
        serde_json::from_value(read_json(&shared_data().join("identity-example.json")))
            .expect("reads");
    let password = identity
        .credentials
        .get_mut(&CredentialType::Password)
        .expect("password");
    password.config = CredentialConfig::new(json!({"hashed_password": "$argon2id$secret-hash"}));
    identity
}

#[test]
fn configs_are_written_only_for_included_types() {
    let identity = with_secret();
    let none = identity.to_value("http://x", CredentialInclude::None);
    assert_eq!(none["credentials"]["password"].get("config"), None);
    assert!(!none.to_string().contains("secret-hash"));

    let only_oidc: CredentialInclude = [CredentialType::Oidc].into_iter().collect();
    let some = identity.to_value("http://x", only_oidc);
    assert_eq!(some["credentials"]["password"].get("config"), None);
    assert_eq!(some["credentials"]["oidc"]["config"], json!({}));

    let all = identity.to_value("http://x", CredentialInclude::All);
    assert_eq!(
        all["credentials"]["password"]["config"],
        json!({"hashed_password": "$argon2id$secret-hash"})
    );
    // And the admin JSON reads back with its configs.
    let back: Identity = serde_json::from_value(all).expect("reads");
    assert_eq!(back, identity);
}

#[test]
fn debug_never_shows_a_secret() {
    let identity = with_secret();
    let debug = format!("{identity:?}");
    assert!(!debug.contains("secret-hash"), "{debug}");
    assert!(debug.contains("CredentialConfig(<redacted>)"));
}

#[test]
fn empty_collections_and_unset_fields_are_omitted_or_null_as_kratos_does() {
    let identity: Identity = serde_json::from_value(json!({
        "id": "9f425a8d-7efc-4768-8f23-7647a74fdf13",
        "schema_id": "default",
        "traits": {},
        "created_at": "2026-11-20T09:14:03.512345Z",
        "updated_at": "2026-11-20T09:14:03.512345Z"
    }))
    .expect("reads");
    let written = identity.to_value("http://h", CredentialInclude::None);
    assert_eq!(
        written,
        json!({
            "id": "9f425a8d-7efc-4768-8f23-7647a74fdf13",
            "schema_id": "default",
            "schema_url": "http://h/schemas/ZGVmYXVsdA",
            "state": "active",
            "traits": {},
            "metadata_public": null,
            "metadata_admin": null,
            "organization_id": null,
            "created_at": "2026-11-20T09:14:03.512345Z",
            "updated_at": "2026-11-20T09:14:03.512345Z"
        })
    );
}

/// Numbers that are hard to round correctly: serde_json's default
/// (best-effort) float parser has been reported to read the first a unit
/// in the last place low. The workspace asks for serde_json's
/// `float_roundtrip` parser (which `jsonschema` turns on as well), so that
/// stores keeping JSON give back exactly the number they were given.
const HARD_FLOATS: [&str; 6] = [
    "130.65331632653061",
    "97.45365320034685",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "5e-324",
    "0.30000000000000004",
];

#[test]
fn floats_parse_to_the_nearest_double() {
    for text in HARD_FLOATS {
        // Rust's own parser rounds correctly: the independent answer.
        let nearest: f64 = text.parse().expect("a float");
        let parsed: f64 = serde_json::from_str(text).expect("json");
        assert_eq!(parsed.to_bits(), nearest.to_bits(), "{text}");
        let written = serde_json::to_string(&parsed).expect("json");
        let again: f64 = serde_json::from_str(&written).expect("json");
        assert_eq!(again.to_bits(), nearest.to_bits(), "{text} via {written}");
    }
}

#[tokio::test]
async fn floats_in_traits_come_back_from_the_store_bit_for_bit() {
    let env = crate::ops_support::env();
    for (n, text) in HARD_FLOATS.iter().enumerate() {
        let nearest: f64 = text.parse().expect("a float");
        let body: serde_json::Value = serde_json::from_str(&format!(
            r#"{{"schema_id": "two-emails", "traits": {{"primary": "f{n}@example.com", "score": {text}}}}}"#
        ))
        .expect("json");
        let created = env.create(body).await.expect("created");
        let stored = env
            .manager
            .get(crate::ops_support::TENANT, created.id)
            .await
            .expect("read back");
        let score = stored.traits["score"].as_f64().expect("a number");
        assert_eq!(score.to_bits(), nearest.to_bits(), "{text}");
    }
}
