//! `IdentityManager::to_import_json`: an identity as the create body that
//! imports it again.

use identity_core::{CreateIdentityBody, CredentialInclude, CredentialType};
use serde_json::json;

use crate::ops_support::{TENANT, env};

/// Every importable credential type, a verified address, metadata, an
/// organization and an external id: the export is the import body, each
/// secret as its import spells it; importing it into another store and
/// exporting again gives the same JSON, byte for byte.
#[tokio::test]
async fn an_exported_identity_imports_to_the_same_export() {
    let source = env();
    let hash = "$2a$04$zo9pKfHdhrTnUa4mqoCL0uZf8o4gFTRm8XfyjmNqNpn4wXuVKYUBe";
    let created = source
        .create(json!({
            "schema_id": "default",
            "state": "inactive",
            "traits": {"email": "Ada@Example.com", "name": {"first": "Ada"}},
            "credentials": {
                "password": {"config": {"hashed_password": hash}},
                "oidc": {"config": {"providers": [{"provider": "google", "subject": "s1", "use_auto_link": true}]}},
                "saml": {"config": {"providers": [{"provider": "okta", "subject": "u1", "organization": "org1"}]}},
                "totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}},
                "lookup_secret": {"config": {"codes": [{"code": "aaaa"}, {"code": "bbbb", "used_at": "2026-01-01T00:00:00Z"}]}},
                "webauthn": {"config": {"credentials": [{"id": "k1", "is_passwordless": true}], "user_handle": "aGFuZGxl"}},
                "passkey": {"config": {"credentials": [{"id": "p1"}], "user_handle": "dXNlcg"}}
            },
            "verifiable_addresses": [{"value": "ada@example.com", "via": "email", "verified": true,
                                      "verified_at": "2025-05-05T05:05:05Z"}],
            "metadata_public": {"plan": "pro"},
            "metadata_admin": {"note": "vip"},
            "organization_id": "11111111-2222-4333-8444-555555555555",
            "external_id": "crm-1"
        }))
        .await
        .expect("created");
    assert!(created.credentials.contains_key(&CredentialType::Code));
    let exported = source
        .manager
        .to_import_json(&created, CredentialInclude::All);
    let expected = json!({
        "schema_id": "default",
        "state": "inactive",
        "traits": {"email": "Ada@Example.com", "name": {"first": "Ada"}},
        "credentials": {
            "password": {"config": {"hashed_password": hash}},
            "oidc": {"config": {"providers": [{"provider": "google", "subject": "s1", "use_auto_link": true}]}},
            "saml": {"config": {"providers": [{"provider": "okta", "subject": "u1", "organization": "org1"}]}},
            "totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}},
            "lookup_secret": {"config": {"codes": [{"code": "aaaa"}, {"code": "bbbb", "used_at": "2026-01-01T00:00:00.000000Z"}]}},
            "webauthn": {"config": {"credentials": [{"id": "k1", "is_passwordless": true}], "user_handle": "aGFuZGxl"}},
            "passkey": {"config": {"credentials": [{"id": "p1"}], "user_handle": "dXNlcg"}}
        },
        "verifiable_addresses": [{"value": "ada@example.com", "via": "email", "verified": true,
                                  "status": "completed", "verified_at": "2025-05-05T05:05:05.000000Z"}],
        "metadata_public": {"plan": "pro"},
        "metadata_admin": {"note": "vip"},
        "organization_id": "11111111-2222-4333-8444-555555555555",
        "external_id": "crm-1"
    });
    assert_eq!(exported, expected);
    // Key order is part of the contract: the same bytes every time.
    assert_eq!(exported.to_string(), expected.to_string());

    let target = env();
    let imported = target
        .manager
        .create(
            TENANT,
            CreateIdentityBody::from_json(exported.clone()).expect("an import body"),
        )
        .await
        .expect("imported");
    let again = target
        .manager
        .to_import_json(&imported, CredentialInclude::All);
    assert_eq!(again.to_string(), exported.to_string());
    assert_eq!(
        target.admin_json(&imported)["credentials"],
        source.admin_json(&created)["credentials"]
    );
}

/// Without credentials, no config is written; an identity with only what
/// the traits derive exports to its schema, state and traits.
#[tokio::test]
async fn without_credentials_no_secret_is_exported() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "p@example.com"},
                       "credentials": {"password": {"config": {"password": "correct horse battery staple"}},
                                       "totp": {"config": {"totp_url": "otpauth://totp/x?secret=S"}}}}))
        .await
        .expect("created");
    assert_eq!(
        env.manager
            .to_import_json(&created, CredentialInclude::None)
            .to_string(),
        r#"{"schema_id":"default","state":"active","traits":{"email":"p@example.com"},"verifiable_addresses":[{"value":"p@example.com","via":"email","verified":false,"status":"pending"}]}"#
    );
    let only_totp: CredentialInclude = [CredentialType::Totp].into_iter().collect();
    assert_eq!(
        env.manager.to_import_json(&created, only_totp)["credentials"],
        json!({"totp": {"config": {"totp_url": "otpauth://totp/x?secret=S"}}})
    );
    let bare = env
        .create(json!({"schema_id": "default", "traits": {"email": "q@example.com"}}))
        .await
        .expect("created");
    assert_eq!(
        env.manager.to_import_json(&bare, CredentialInclude::All)["credentials"],
        json!(null),
        "a derived password credential holds no secret"
    );
}

/// `has_plaintext_password` counts as a batch counts: a non-empty
/// plaintext (which wins over a hash) is one; a hash, an empty password, a
/// body without credentials or with credentials that do not parse are
/// none.
#[test]
fn plaintext_passwords_are_told_apart() {
    let has = |body: serde_json::Value| {
        CreateIdentityBody::from_json(body)
            .expect("a create body")
            .has_plaintext_password()
    };
    let config =
        |c: serde_json::Value| json!({"traits": {}, "credentials": {"password": {"config": c}}});
    assert!(has(config(json!({"password": "secret"}))));
    assert!(has(config(
        json!({"password": "secret", "hashed_password": "$2a$04$zo9pKfHdhrTnUa4mqoCL0uZf8o4gFTRm8XfyjmNqNpn4wXuVKYUBe"})
    )));
    assert!(!has(config(
        json!({"hashed_password": "$2a$04$zo9pKfHdhrTnUa4mqoCL0uZf8o4gFTRm8XfyjmNqNpn4wXuVKYUBe"})
    )));
    assert!(!has(config(json!({"password": ""}))));
    assert!(!has(config(json!({"password": "secret", "extra": 1}))));
    assert!(!has(json!({"traits": {}})));
}
