//! Property tests: normalisation, JSON round trips, PUT idempotence, PATCH
//! safety.

use std::collections::BTreeMap;

use identity_core::CredentialConfig;
use identity_core::{
    AddressVia, Credential, CredentialInclude, CredentialType, Identity, RecoveryAddress, State,
    Timestamp, UpdateIdentityBody, VerifiableAddress, VerificationStatus, normalize,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ops_support::{TENANT, env};

const INVISIBLE: [char; 7] = [
    '\u{200b}', '\u{00ad}', '\u{feff}', '\u{2060}', '\u{200e}', '\u{202a}', '\u{2066}',
];

/// A spelling of `ascii` that normalises to its lowercase: random case,
/// full-width letters, invisible characters and surrounding spaces.
fn spelling(ascii: String) -> impl Strategy<Value = String> {
    let n = ascii.chars().count();
    (
        proptest::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                proptest::option::of(0..INVISIBLE.len()),
            ),
            n,
        ),
        0..3usize,
        0..3usize,
    )
        .prop_map(move |(marks, lead, trail)| {
            let mut out = " ".repeat(lead);
            for (c, (upper, wide, invisible)) in ascii.chars().zip(marks) {
                let c = if upper { c.to_ascii_uppercase() } else { c };
                let c = if wide && c.is_ascii_graphic() {
                    char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
                } else {
                    c
                };
                out.push(c);
                if let Some(i) = invisible {
                    out.push(INVISIBLE[i]);
                }
            }
            out.push_str(&" ".repeat(trail));
            out
        })
}

fn base_email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9]{0,8}",
        "[a-z]{1,8}",
        prop::sample::select(vec!["com", "org", "example"]),
    )
        .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        "\\PC{0,6}".prop_map(Value::String),
        "[\"\\\\\n\t\u{1}\u{8}\u{c}\u{1f}a]{0,6}".prop_map(Value::String),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..4_102_444_800_000_000).prop_map(|m| Timestamp::from_unix_micros(m).expect("in range"))
}

fn credential() -> impl Strategy<Value = Credential> {
    (
        prop::sample::select(CredentialType::ALL.to_vec()),
        proptest::collection::vec("\\PC{1,12}", 0..3),
        json_value(),
        0i64..3,
        timestamp(),
        timestamp(),
    )
        .prop_map(
            |(kind, identifiers, config, version, created_at, updated_at)| Credential {
                kind,
                identifiers,
                config: CredentialConfig::new(config),
                version,
                created_at,
                updated_at,
            },
        )
}

fn verifiable() -> impl Strategy<Value = VerifiableAddress> {
    (
        any::<u128>(),
        base_email(),
        any::<bool>(),
        proptest::option::of(timestamp()),
        timestamp(),
        timestamp(),
    )
        .prop_map(
            |(id, value, verified, verified_at, created_at, updated_at)| VerifiableAddress {
                id: Uuid::from_u128(id),
                value,
                verified,
                via: AddressVia::Email,
                status: if verified {
                    VerificationStatus::Completed
                } else {
                    VerificationStatus::Sent
                },
                verified_at,
                created_at,
                updated_at,
            },
        )
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        (
            any::<u128>(),
            "[a-z-]{1,12}",
            any::<bool>(),
            proptest::option::of(timestamp()),
            json_value(),
        ),
        proptest::collection::vec(credential(), 0..4),
        proptest::collection::vec(verifiable(), 0..3),
        proptest::collection::vec((any::<u128>(), base_email(), timestamp()), 0..3),
        (
            proptest::option::of(json_value().prop_filter("null means unset", |v| !v.is_null())),
            proptest::option::of(json_value().prop_filter("null means unset", |v| !v.is_null())),
            proptest::option::of(any::<u128>()),
            proptest::option::of("[a-zA-Z0-9-]{1,64}"),
            timestamp(),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (id, schema_id, active, state_changed_at, traits),
                creds,
                verifiable,
                recovery,
                rest,
            )| {
                let (metadata_public, metadata_admin, org, external_id, created_at, updated_at) =
                    rest;
                let credentials: BTreeMap<_, _> = creds.into_iter().map(|c| (c.kind, c)).collect();
                Identity {
                    id: Uuid::from_u128(id),
                    schema_id,
                    state: if active {
                        State::Active
                    } else {
                        State::Inactive
                    },
                    state_changed_at,
                    traits,
                    credentials,
                    verifiable_addresses: verifiable,
                    recovery_addresses: recovery
                        .into_iter()
                        .map(|(id, value, at)| RecoveryAddress {
                            id: Uuid::from_u128(id),
                            value,
                            via: AddressVia::Email,
                            created_at: at,
                            updated_at: at,
                        })
                        .collect(),
                    metadata_public,
                    metadata_admin,
                    organization_id: org.map(Uuid::from_u128),
                    external_id: external_id
                        .map(|e| identity_core::ExternalId::new(e).expect("1 to 64 characters")),
                    created_at,
                    updated_at,
                    version: 0,
                }
            },
        )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalisation_is_idempotent(s in "\\PC{0,24}") {
        let e = normalize::email(&s);
        prop_assert_eq!(normalize::email(&e), e.clone());
        let u = normalize::username(&s);
        prop_assert_eq!(normalize::username(&u), u);
        let i = normalize::identifier_like(&s);
        prop_assert_eq!(normalize::identifier_like(&i), i);
        if let Some(p) = normalize::phone(&s) {
            prop_assert_eq!(normalize::phone(&p), Some(p));
        }
    }

    #[test]
    fn size_limit_counts_exact_json_bytes(v in json_value()) {
        let len = serde_json::to_vec(&v).expect("json").len();
        let exact = identity_core::Limits::default().with_max_json_bytes(len).with_max_depth(64);
        prop_assert_eq!(exact.check(&v, "/x"), Ok(()));
        let under = identity_core::Limits::default().with_max_json_bytes(len - 1).with_max_depth(64);
        prop_assert!(under.check(&v, "/x").is_err());
        // Far from the limit, the quick bounding pass answers alone.
        let roomy = identity_core::Limits::default().with_max_json_bytes(len * 8 + 64).with_max_depth(64);
        prop_assert_eq!(roomy.check(&v, "/x"), Ok(()));
    }

    #[test]
    fn identity_json_round_trips(identity in identity()) {
        let admin = identity.to_value("http://h", CredentialInclude::All);
        let back: Identity = serde_json::from_value(admin).expect("reads back");
        prop_assert_eq!(back, identity);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn lookups_agree_with_storage_for_emails(
        (stored, looked_up) in base_email().prop_flat_map(|e| {
            let upper = e.to_uppercase();
            (prop_oneof![Just(e.clone()), Just(upper)], spelling(e))
        })
    ) {
        let env = env();
        runtime().block_on(async {
            let created = env.create(json!({"traits": {"email": stored}})).await.expect("created");
            for kind in [CredentialType::Password, CredentialType::Webauthn, CredentialType::Code] {
                let found = env.manager.find_by_identifier(TENANT, kind, &looked_up).await.expect("found");
                assert_eq!(found.id, created.id);
            }
        });
    }

    #[test]
    fn lookups_agree_with_storage_for_usernames(
        (stored, looked_up) in "[a-z][a-z0-9_]{3,12}".prop_flat_map(|u| (spelling(u.clone()), spelling(u)))
    ) {
        let env = env();
        runtime().block_on(async {
            let created = env
                .create(json!({"schema_id": "username-phone", "traits": {"username": stored}}))
                .await;
            let created = match created {
                Ok(c) => c,
                // Invisible characters count towards maxLength 32.
                Err(e) => { assert_eq!(e.kind(), identity_core::ErrorKind::Validation); return; }
            };
            let found = env.manager.find_by_identifier(TENANT, CredentialType::Password, &looked_up).await.expect("found");
            assert_eq!(found.id, created.id);
        });
    }

    #[test]
    fn lookups_agree_with_storage_for_phones(line in 0u32..10_000, style in 0usize..4) {
        let spelled = |s: usize| match s {
            0 => format!("+1 650 253 {line:04}"),
            1 => format!("+1 (650) 253-{line:04}"),
            2 => format!("+16502{}", format_args!("53{line:04}")),
            _ => format!("  +1-650-253-{line:04} "),
        };
        let env = env();
        runtime().block_on(async {
            let created = env
                .create(json!({"schema_id": "username-phone", "traits": {"username": "phone_user", "phone": spelled(style)}}))
                .await
                .expect("created");
            for s in 0..4 {
                let found = env.manager.find_by_identifier(TENANT, CredentialType::Code, &spelled(s)).await.expect("found");
                assert_eq!(found.id, created.id);
            }
        });
    }

    #[test]
    fn put_is_idempotent(
        email in base_email(),
        newsletter in proptest::option::of(any::<bool>()),
        meta in proptest::option::of(json_value()),
        inactive in any::<bool>(),
    ) {
        let env = env();
        runtime().block_on(async {
            let created = env.create(json!({"traits": {"email": "first@x.example"},
                "credentials": {"oidc": {"config": {"providers": [{"provider": "g", "subject": "s"}]}}}}))
                .await
                .expect("created");
            let mut traits = json!({"email": email});
            if let Some(n) = newsletter { traits["newsletter"] = json!(n); }
            let body = UpdateIdentityBody::from_json(json!({
                "traits": traits, "metadata_public": meta,
                "state": if inactive { "inactive" } else { "active" }
            })).expect("body");
            let once = env.manager.update(TENANT, created.id, body.clone(), None).await.expect("once");
            env.clock.advance_micros(1_000);
            let twice = env.manager.update(TENANT, created.id, body, None).await.expect("twice");
            let mut expected = (*once).clone();
            expected.updated_at = twice.updated_at;
            expected.version = once.version + 1;
            assert_eq!(*twice, expected);
            assert_eq!(env.admin_json(&twice)["credentials"], env.admin_json(&once)["credentials"]);
        });
    }

    #[test]
    fn patches_of_other_paths_never_touch_credentials_and_rejected_patches_change_nothing(
        ops in proptest::collection::vec(
            (
                prop::sample::select(vec!["add", "replace", "remove", "test", "copy", "move"]),
                prop::sample::select(vec![
                    "/traits/email", "/traits/newsletter", "/traits/name", "/metadata_public",
                    "/metadata_public/x", "/metadata_admin/y/z", "/state", "/external_id", "/id",
                    "/credentials/oidc", "/created_at", "/verifiable_addresses/0/verified",
                ]),
                json_value(),
            ),
            1..4,
        )
    ) {
        let env = env();
        runtime().block_on(async {
            let created = env.create(json!({"traits": {"email": "patch@x.example"},
                "credentials": {"password": {"config": {"hashed_password": "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay"}},
                                "oidc": {"config": {"providers": [{"provider": "g", "subject": "s"}]}}}}))
                .await
                .expect("created");
            let patch: Vec<Value> = ops
                .iter()
                .map(|(op, path, value)| match *op {
                    "remove" => json!({"op": op, "path": path}),
                    "copy" | "move" => json!({"op": op, "from": "/metadata_public", "path": path}),
                    _ => json!({"op": op, "path": path, "value": value}),
                })
                .collect();
            match env.manager.patch(TENANT, created.id, Value::Array(patch), None).await {
                Ok(patched) => {
                    let before = env.admin_json(&created)["credentials"].clone();
                    let after = env.admin_json(&patched)["credentials"].clone();
                    if patched.traits["email"] == created.traits["email"] {
                        assert_eq!(after, before);
                    } else {
                        // Only the schema-driven identifiers may follow the traits.
                        assert_eq!(after["oidc"], before["oidc"]);
                        assert_eq!(after["password"]["config"], before["password"]["config"]);
                    }
                }
                Err(e) => {
                    assert_ne!(e.kind(), identity_core::ErrorKind::Internal, "{e}");
                    let stored = env.manager.get(TENANT, created.id).await.expect("get");
                    assert_eq!(stored, std::sync::Arc::new(created.clone()));
                }
            }
        });
    }
}
