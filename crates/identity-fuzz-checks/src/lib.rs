//! The invariants each fuzz target asserts. The fuzz targets in `fuzz/`
//! call these; `tests/replay.rs` replays every committed corpus and crash
//! input through them under `cargo test`.
//!
//! Each check panics (which the fuzzer reports as a crash) only when an
//! invariant breaks: a panic inside the library, an untyped or internal
//! error for bad input, or a valid result that does not validate again.

use std::sync::{Arc, OnceLock};

use identity_core::password::{self, PasswordHasher};
pub mod structured;

use identity_core::{
    CreateIdentityBody, CredentialInclude, CredentialType, ErrorKind, FixedClock, IdentityManager,
    IdentitySchema, Limits, SchemaRegistry, SequentialIds, TenantId, Timestamp, UpdateIdentityBody,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};

/// The shared schemas, embedded so fuzz binaries need no files at run time.
pub const SCHEMAS: [(&str, &str); 4] = [
    (
        "default",
        include_str!("../../../../shared/data/schemas/default.schema.json"),
    ),
    (
        "employee",
        include_str!("../../../../shared/data/schemas/employee.schema.json"),
    ),
    (
        "profile",
        include_str!("../../../../shared/data/schemas/profile.schema.json"),
    ),
    (
        "username-phone",
        include_str!("../../../../shared/data/schemas/username-phone.schema.json"),
    ),
];

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = SchemaRegistry::new();
        for (id, text) in SCHEMAS {
            let value = serde_json::from_str(text).expect("shared schema is JSON");
            r.register(id, value).expect("shared schema registers");
        }
        r
    })
}

fn assert_typed(e: &identity_core::Error, allowed: &[ErrorKind], what: &str) {
    assert!(
        allowed.contains(&e.kind()),
        "{what}: unexpected error kind {:?}: {e}",
        e.kind()
    );
}

/// Validating arbitrary JSON against every shared schema never panics; a
/// failure is a validation error; a success validates again to the same
/// derivation and leaves the traits untouched.
pub fn check_validate(data: &[u8]) {
    let Ok(traits) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let limits = Limits::default();
    for schema in registry().iter() {
        let mut doc = traits.clone();
        match schema.validate(&mut doc, &limits) {
            Ok(derived) => {
                assert_eq!(doc, traits, "validation changed the traits");
                let again = schema
                    .validate(&mut doc, &limits)
                    .expect("a valid document stays valid");
                assert_eq!(again, derived, "derivation is deterministic");
                for kind in CredentialType::ALL {
                    assert!(
                        derived.identifiers_of(kind).all(|i| !i.is_empty()),
                        "an empty identifier was derived"
                    );
                }
            }
            Err(e) => {
                assert_typed(&e, &[ErrorKind::Validation], "validate");
                assert!(
                    !e.violations().is_empty(),
                    "a validation error without violations"
                );
            }
        }
    }
}

/// Registering arbitrary JSON as a schema never panics; a schema that
/// registers can validate a few documents without panicking.
pub fn check_register(data: &[u8]) {
    let Ok(raw) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check_register_value(raw);
}

/// [`check_register`] on a schema built from the bytes as choices: a
/// `$ref` graph with long chains, shared subschemas and cycles (see
/// [`structured::schema`]). Refusals must be schema errors.
pub fn check_register_refs(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    if let Ok(raw) = structured::schema(&mut u) {
        check_register_value(raw);
    }
}

fn check_register_value(raw: Value) {
    match IdentitySchema::compile("fuzz", raw) {
        Ok(schema) => {
            for doc in [
                json!({}),
                json!({"email": "a@b.example"}),
                json!({"a": [1, "x", null]}),
            ] {
                let mut doc = doc;
                if let Err(e) = schema.validate(&mut doc, &Limits::default()) {
                    assert_typed(
                        &e,
                        &[ErrorKind::Validation],
                        "validate against a fuzzed schema",
                    );
                }
            }
        }
        Err(e) => assert_typed(&e, &[ErrorKind::Schema], "register"),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn manager() -> IdentityManager {
    IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry().clone()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .clock(Arc::new(FixedClock::new(Timestamp::UNIX_EPOCH)))
        .ids(Arc::new(SequentialIds::new()))
        .build()
}

const BAD_INPUT: [ErrorKind; 3] = [
    ErrorKind::Validation,
    ErrorKind::InvalidInput,
    ErrorKind::Conflict,
];

/// Decoding arbitrary JSON as a create body and creating it never panics
/// and fails only with a typed bad-input error; a created identity reads
/// back equal. The same JSON as a PUT body on it behaves likewise, and a
/// failed PUT changes nothing.
pub fn check_bodies(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let m = manager();
    let tenant = TenantId::DEFAULT;
    runtime().block_on(async {
        let created = match CreateIdentityBody::from_json(value.clone()) {
            Ok(body) => match m.create(tenant, body).await {
                Ok(c) => {
                    assert_eq!(m.get(tenant, c.id).await.expect("created reads back"), c);
                    Some(c)
                }
                Err(e) => {
                    assert_typed(&e, &BAD_INPUT, "create");
                    None
                }
            },
            Err(e) => {
                assert_typed(&e, &[ErrorKind::InvalidInput], "create body");
                None
            }
        };
        let target = match created {
            Some(c) => c,
            None => m
                .create(
                    tenant,
                    CreateIdentityBody::from_json(json!({"traits": {"email": "fuzz@x.example"}}))
                        .expect("body"),
                )
                .await
                .expect("seed identity"),
        };
        match UpdateIdentityBody::from_json(value) {
            Ok(body) => match m.update(tenant, target.id, body, None).await {
                Ok(u) => assert_eq!(m.get(tenant, u.id).await.expect("reads back"), u),
                Err(e) => {
                    assert_typed(&e, &BAD_INPUT, "update");
                    assert_eq!(m.get(tenant, target.id).await.expect("still there"), target);
                }
            },
            Err(e) => assert_typed(&e, &[ErrorKind::InvalidInput], "update body"),
        }
    });
}

/// Applying an arbitrary JSON Patch to a stored identity never panics; a
/// rejected patch changes nothing; an accepted one reads back equal, its
/// traits validate again, its OIDC links are untouched, and no secret of
/// the seed (its password hash, its TOTP secret) reaches the default JSON.
pub fn check_patch(data: &[u8]) {
    let Ok(patch) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check_patch_value(patch);
}

/// [`check_patch`] on a patch built from the bytes as choices: operations
/// with long paths into every member of an identity, deep and wide values,
/// runs of self-copies (see [`structured::patch`]).
pub fn check_patch_ops(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    if let Ok(patch) = structured::patch(&mut u) {
        check_patch_value(patch);
    }
}

const SEED_HASH: &str = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";
const SEED_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

fn check_patch_value(patch: Value) {
    let m = manager();
    let tenant = TenantId::DEFAULT;
    runtime().block_on(async {
        let seed = m
            .create(
                tenant,
                CreateIdentityBody::from_json(json!({
                    "traits": {"email": "patch@x.example", "name": {"first": "A"}},
                    "metadata_public": {"a": [1, 2]},
                    "credentials": {"oidc": {"config": {"providers": [{"provider": "g", "subject": "1"}]}},
                                    "password": {"config": {"hashed_password": SEED_HASH}},
                                    "totp": {"config": {"totp_url": format!("otpauth://totp/x?secret={SEED_TOTP_SECRET}")}}}
                }))
                .expect("body"),
            )
            .await
            .expect("seed");
        match m.patch(tenant, seed.id, patch, None).await {
            Ok(p) => {
                let stored = m.get(tenant, p.id).await.expect("reads back");
                assert_eq!(stored, p);
                let schema = registry().resolve(&p.schema_id).expect("schema");
                let mut traits = p.traits.clone();
                schema.validate(&mut traits, &Limits::default()).expect("patched traits stay valid");
                assert_eq!(p.credentials.get(&identity_core::CredentialType::Oidc), seed.credentials.get(&identity_core::CredentialType::Oidc));
                let public = m.to_json(&p, CredentialInclude::None).to_string();
                assert!(!public.contains(SEED_HASH), "the password hash left its config");
                assert!(!public.contains(SEED_TOTP_SECRET), "the TOTP secret left its config");
                if let Some(c) = p.credentials.get(&identity_core::CredentialType::Password) {
                    assert!(c.config.expose().get("password").is_none(), "a plaintext password rests in the config");
                }
            }
            Err(e) => {
                assert_typed(&e, &BAD_INPUT, "patch");
                assert_eq!(m.get(tenant, seed.id).await.expect("still there"), seed);
            }
        }
    });
}

/// `verify` and `check_import` on arbitrary strings never panic and agree:
/// a hash `check_import` accepts is supported and verifies to a boolean.
pub fn check_password(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let imported = password::check_import(text);
    let verified = password::verify("correct horse battery staple", text);
    if imported.is_ok() {
        assert!(
            password::is_supported(text),
            "check_import accepted an unsupported hash"
        );
        assert!(
            verified.is_ok(),
            "check_import accepted a hash verify rejects: {verified:?}"
        );
    }
    if let Err(e) = verified {
        // Messages are fixed texts naming a format and a reason; a hash-like
        // input (one with a `$` or `{`, as every supported layout has) must
        // never be echoed. (A plain phrase may coincide with the fixed text:
        // the fuzzer found "ash is not in a supported format".)
        let shown = e.to_string();
        let hash_like = text.contains(['$', '{']) && text.len() >= 8;
        assert!(
            !hash_like || !shown.contains(text),
            "an error message contains the hash"
        );
    }
}
