//! Create (SPEC §4), credential import (§6) and imported addresses (§3).

use identity_core::UNKNOWN_HASH_FORMAT;
use identity_core::{CredentialType, Error, ErrorKind, WriteOp};
use serde_json::json;

use crate::ops_support::{T0, TENANT, env, id};

#[tokio::test]
async fn create_derives_everything_and_writes_kratos_json() {
    let env = env();
    let created = env
        .create(
            json!({"traits": {"email": "Ada.Lovelace@Example.COM", "newsletter": true},
                       "metadata_public": {"plan": "pro"}, "external_id": "crm-1"}),
        )
        .await
        .expect("created");
    assert_eq!(created.version, 1);
    let email = "ada.lovelace@example.com";
    let cred = |t: &str, v: i64| json!({"type": t, "identifiers": [email], "version": v, "created_at": T0, "updated_at": T0});
    assert_eq!(
        env.json(&created),
        json!({
            "id": id(1).to_string(),
            "schema_id": "default",
            "schema_url": "http://127.0.0.1:4434/schemas/ZGVmYXVsdA",
            "state": "active",
            "state_changed_at": T0,
            "traits": {"email": "Ada.Lovelace@Example.COM", "newsletter": true},
            // Versions as Kratos reports them (its readers upgrade these three to 1).
            "credentials": {"password": cred("password", 1), "webauthn": cred("webauthn", 1), "code": cred("code", 1)},
            "verifiable_addresses": [{"id": id(2).to_string(), "value": email, "verified": false,
                "via": "email", "status": "pending", "created_at": T0, "updated_at": T0}],
            "recovery_addresses": [{"id": id(3).to_string(), "value": email, "via": "email",
                "created_at": T0, "updated_at": T0}],
            "metadata_public": {"plan": "pro"},
            "metadata_admin": null,
            "organization_id": null,
            "external_id": "crm-1",
            "created_at": T0,
            "updated_at": T0
        })
    );
    let admin = env.admin_json(&created);
    assert_eq!(admin["credentials"]["password"]["config"], json!({}));
    assert_eq!(
        admin["credentials"]["code"]["config"],
        json!({"addresses": [{"channel": "email", "address": email}]})
    );
    let stored = env.manager.get(TENANT, created.id).await.expect("stored");
    assert_eq!(stored, std::sync::Arc::new(created.clone()));
    let found = env
        .manager
        .find_by_identifier(
            TENANT,
            CredentialType::Password,
            " ADA.lovelace@example.com",
        )
        .await
        .expect("found");
    assert_eq!(found.id, created.id);
}

#[tokio::test]
async fn schema_state_and_body_errors() {
    let env = env();
    let e = env
        .create(json!({"schema_id": "nope", "traits": {}}))
        .await
        .expect_err("schema");
    assert_eq!(
        (e.kind(), e.to_string()),
        (
            ErrorKind::InvalidInput,
            "Unable to find JSON Schema ID: nope".into()
        )
    );
    let e = env
        .create(json!({"traits": {"email": "a@b.example"}, "state": "banned"}))
        .await
        .expect_err("state");
    assert_eq!(e.to_string(), "identity state is not valid");
    for field in ["id", "schema_url", "created_at", "bogus"] {
        let e = env
            .create(json!({"traits": {"email": "a@b.example"}, field: "x"}))
            .await
            .expect_err(field);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{field}");
        // Kratos' strict decoder's words.
        assert_eq!(e.to_string(), format!("json: unknown field \"{field}\""));
    }
    let e = env
        .create(json!({"traits": {"email": "a@b.example"}, "external_id": "x".repeat(65)}))
        .await
        .expect_err("long external id");
    assert_eq!(e.to_string(), "external_id must be at most 64 characters");
    // Nothing of the failures was stored.
    let page = env
        .manager
        .list(TENANT, Default::default())
        .await
        .expect("list");
    assert!(page.identities.is_empty());
    // Absent traits are `{}`, which the default schema rejects (email required).
    let e = env.create(json!({})).await.expect_err("no traits");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.violations()[0].instance_path(), "/traits");
    // An empty schema id is the default; an empty external id is unset.
    let ok = env
        .create(json!({"schema_id": "", "traits": {"email": "a@b.example"}, "external_id": ""}))
        .await
        .expect("created");
    assert_eq!(
        (
            ok.schema_id.as_str(),
            ok.external_id.as_ref().map(|e| e.as_str())
        ),
        ("default", None)
    );
    let ok = env
        .create(json!({"schema_id": "cHJvZmlsZQ", "traits": {}, "state": "inactive"}))
        .await
        .expect("base64url schema id");
    assert_eq!(ok.schema_id, "profile");
    assert_eq!(ok.state, identity_core::State::Inactive);
}

#[tokio::test]
async fn metadata_limits_are_validation_errors() {
    let env = env();
    let e = env
        .create(json!({"traits": {"email": "a@b.example"}, "metadata_admin": {"x": "y".repeat(70_000)}}))
        .await
        .expect_err("too big");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.violations()[0].instance_path(), "/metadata_admin");
}

#[tokio::test]
async fn conflicts_write_nothing() {
    let env = env();
    env.create(json!({"traits": {"email": "a@b.example"}, "external_id": "e1"}))
        .await
        .expect("first");
    let e = env
        .create(json!({"traits": {"email": "A@B.example"}}))
        .await
        .expect_err("same email");
    assert!(
        matches!(
            &e,
            Error::Conflict {
                op: WriteOp::Create,
                ..
            }
        ),
        "{e:?}"
    );
    let e = env
        .create(json!({"traits": {"email": "c@d.example"}, "external_id": "e1"}))
        .await
        .expect_err("same external id");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let page = env
        .manager
        .list(TENANT, Default::default())
        .await
        .expect("list");
    assert_eq!(page.identities.len(), 1);
}

#[tokio::test]
async fn password_imports() {
    let env = env();
    let plain = env
        .create(json!({"traits": {"email": "p@x.example"},
            "credentials": {"password": {"config": {"password": "s3cret!", "hashed_password": "$md5$ignored"}}}}))
        .await
        .expect("plaintext");
    let config = env.admin_json(&plain)["credentials"]["password"]["config"].clone();
    let hash = config["hashed_password"].as_str().expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(identity_core::password::verify("s3cret!", hash).expect("verifies"));
    assert!(!env.json(&plain).to_string().contains("argon2id"));
    assert!(!format!("{plain:?}").contains("argon2id"));

    // Python bcrypt's hash of "correct horse battery staple" (from the
    // password crate's independent vectors).
    let bcrypt = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";
    let hashed = env
        .create(json!({"traits": {"email": "h@x.example"},
            "credentials": {"password": {"config": {"hashed_password": bcrypt}}}}))
        .await;
    match hashed {
        Ok(h) => assert_eq!(
            env.admin_json(&h)["credentials"]["password"]["config"],
            json!({"hashed_password": bcrypt})
        ),
        Err(e) => panic!("bcrypt import failed: {e}"),
    }

    let hook = env
        .create(json!({"traits": {"email": "m@x.example"},
            "credentials": {"password": {"config": {"use_password_migration_hook": true}}}}))
        .await
        .expect("hook");
    assert_eq!(
        env.admin_json(&hook)["credentials"]["password"]["config"],
        json!({"use_password_migration_hook": true})
    );
    for config in [
        json!({"hashed_password": "plaintext-not-a-hash"}),
        json!({}),
    ] {
        let e = env
            .create(json!({"traits": {"email": "z@x.example"}, "credentials": {"password": {"config": config}}}))
            .await
            .expect_err("bad hash");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().starts_with(UNKNOWN_HASH_FORMAT), "{e}");
    }
    // Identifiers come from the traits, never from the body.
    assert_eq!(plain.identifiers(CredentialType::Password), ["p@x.example"]);
}

#[tokio::test]
async fn other_credential_imports() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "o@x.example"}, "credentials": {
            "oidc": {"config": {"providers": [{"provider": "google", "subject": "Abc123"},
                                              {"provider": "github", "subject": "77", "use_auto_link": true}]}},
            "saml": {"config": {"providers": [{"provider": "okta", "subject": "u1", "organization": "org1"}]}},
            "totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}},
            "lookup_secret": {"config": {"codes": [{"code": "aaaa"}, {"code": "bbbb", "used_at": "2026-01-01T00:00:00Z"}]}},
            "passkey": {"config": {"credentials": [{"id": "k1"}], "user_handle": "dXNlcg"}}
        }}))
        .await
        .expect("created");
    let me = created.id.to_string();
    // Sorted, as Kratos reads identifiers back.
    assert_eq!(
        created.identifiers(CredentialType::Oidc),
        ["github:77", "google:Abc123"]
    );
    assert_eq!(created.identifiers(CredentialType::Saml), ["okta:u1"]);
    assert_eq!(
        created.identifiers(CredentialType::Totp),
        std::slice::from_ref(&me)
    );
    assert_eq!(created.identifiers(CredentialType::LookupSecret), [me]);
    // The user handle decoded: what Kratos' passkey login looks up.
    assert_eq!(created.identifiers(CredentialType::Passkey), ["user"]);
    let admin = env.admin_json(&created);
    assert_eq!(
        admin["credentials"]["lookup_secret"]["config"],
        json!({"recovery_codes": [{"code": "aaaa", "used_at": null}, {"code": "bbbb", "used_at": "2026-01-01T00:00:00.000000Z"}]})
    );
    assert_eq!(
        admin["credentials"]["oidc"]["config"]["providers"][1],
        json!({"provider": "github", "subject": "77", "use_auto_link": true,
               "initial_id_token": "", "initial_access_token": "", "initial_refresh_token": ""})
    );
    // Kratos' words for passkeys.
    for (creds, needle) in [
        (
            json!({"passkey": {"config": {"credentials": [{"id": "k"}]}}}),
            "Passkey credential import requires a non-empty user_handle. It must match the WebAuthn user handle stored on the authenticator.",
        ),
        (
            json!({"passkey": {"config": {"user_handle": "aA=="}}}),
            "Passkey credential import requires at least one entry in credentials.passkey.config.credentials.",
        ),
        (json!({"code": {"config": {}}}), "cannot be imported"),
        (
            json!({"fido": {"config": {}}}),
            "unknown credential type `fido`",
        ),
        (
            json!({"totp": {"config": {"totp_url": 7}}}),
            "`totp_url` must be a string",
        ),
        (
            json!({"oidc": {"config": {"providers": [{"provider": "g"}]}}}),
            "non-empty `provider` and `subject`",
        ),
    ] {
        let e = env
            .create(json!({"traits": {"email": "bad@x.example"}, "credentials": creds}))
            .await
            .expect_err(needle);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[tokio::test]
async fn imported_addresses_survive_only_when_derived_and_keep_verification() {
    let env = env();
    let created = env
        .create(json!({
            "traits": {"email": "TEST@Example.com"},
            "verifiable_addresses": [
                {"value": "TEST@Example.com", "via": "email", "verified": true},
                {"value": "other@example.com", "via": "email", "verified": true, "status": "completed"}
            ],
            "recovery_addresses": [{"value": "test@example.com", "via": "email"}]
        }))
        .await
        .expect("created");
    assert_eq!(created.verifiable_addresses.len(), 1);
    let a = &created.verifiable_addresses[0];
    assert_eq!(a.value, "test@example.com");
    assert!(a.verified);
    assert_eq!(a.status, identity_core::VerificationStatus::Completed);
    assert_eq!(a.verified_at.map(|t| t.to_string()).as_deref(), Some(T0));
    assert_eq!(created.recovery_addresses.len(), 1);
    // The imported recovery address kept its (generated) id: the identity
    // took id 1, the imported verifiable addresses 2 and 3.
    assert_eq!(created.recovery_addresses[0].id, id(4));

    let created = env
        .create(json!({
            "traits": {"email": "v@example.com"},
            "verifiable_addresses": [{"value": "v@example.com", "via": "email", "verified": false,
                                      "verified_at": "2026-01-01T00:00:00Z", "status": "sent"}]
        }))
        .await
        .expect("created");
    let a = &created.verifiable_addresses[0];
    assert_eq!(
        (a.verified, a.status, a.verified_at),
        (false, identity_core::VerificationStatus::Sent, None)
    );
}
