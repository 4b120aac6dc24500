//! What text an identity may hold is the core's rule, decided before any
//! store call: no NUL character anywhere, no index key (identifier,
//! address, external id) over `INDEX_KEY_MAX_BYTES` bytes. A store may
//! assume both, so every store answers the same.

use std::sync::Arc;

use identity_core::{
    AddressVia, CreateIdentityBody, CredentialType, DynIdentityStore, Error, ErrorKind,
    INDEX_KEY_MAX_BYTES, Identity, IdentityManager, SchemaRegistry, UpdateIdentityBody,
    ValidIdentity,
};
use serde_json::{Value, json};

use crate::fixtures::{TENANT, email, identity, verifiable_address};

fn manager(store: DynIdentityStore) -> IdentityManager {
    let mut schemas = SchemaRegistry::new();
    schemas
        .register(
            "default",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "username": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "contact": {"type": "string", "format": "no-validate",
                    "ory.sh/kratos": {"verification": {"via": "email"},
                                      "recovery": {"via": "email"}}},
                "note": {"type": "string"}
            }}}}),
        )
        .unwrap_or_else(|e| panic!("the suite's schema: {e}"));
    IdentityManager::builder(store, Arc::new(schemas)).build()
}

async fn create(manager: &IdentityManager, body: Value) -> Result<Identity, Error> {
    let body = CreateIdentityBody::from_json(body).unwrap_or_else(|e| panic!("body: {e}"));
    manager.create(TENANT, body).await.map(Arc::unwrap_or_clone)
}

#[track_caller]
fn expect_invalid<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e:?}"),
        Ok(v) => panic!("{what}: expected invalid input, got {v:?}"),
    }
}

/// Through a manager over the store: NUL characters (in traits, an
/// identifier, an external id, metadata) and an identifier one byte over
/// the bound are invalid input on create and on update, and write nothing;
/// an identifier of exactly the bound is stored and found. The
/// `store-testing` constructor refuses the same text and an identity that
/// claims a unique value twice, so no store is ever handed either.
pub async fn check_text_rule_refused_before_the_store(store: DynIdentityStore) {
    let manager = manager(store.clone());
    let long = "a".repeat(INDEX_KEY_MAX_BYTES + 1);
    let refused = [
        (json!({"traits": {"note": "a\u{0}b"}}), "NUL in a trait"),
        (
            json!({"traits": {"username": "ad\u{0}a"}}),
            "NUL in an identifier",
        ),
        (
            json!({"traits": {"contact": "a\u{0}@example.com"}}),
            "NUL in an address",
        ),
        (
            json!({"traits": {}, "external_id": "x\u{0}y"}),
            "NUL in the external id",
        ),
        (
            json!({"traits": {}, "metadata_public": {"k\u{0}": 1}}),
            "NUL in a metadata key",
        ),
        (
            json!({"traits": {"username": long}}),
            "an over-long identifier",
        ),
        (
            json!({"traits": {"contact": format!("{long}@example.com")}}),
            "an over-long address",
        ),
    ];
    for (body, what) in &refused {
        expect_invalid(create(&manager, body.clone()).await, what);
    }
    assert_eq!(
        store.count(TENANT).await.expect("count"),
        0,
        "a refused create writes nothing"
    );

    let at_bound = "b".repeat(INDEX_KEY_MAX_BYTES);
    let created = create(
        &manager,
        json!({"traits": {"username": at_bound, "contact": "ada@example.com"}}),
    )
    .await
    .unwrap_or_else(|e| panic!("an identifier of exactly {INDEX_KEY_MAX_BYTES} bytes: {e}"));
    let found = store
        .find_by_identifier(TENANT, CredentialType::Password, &at_bound)
        .await
        .unwrap_or_else(|e| panic!("lookup of the longest identifier: {e}"));
    assert_eq!(
        found,
        std::sync::Arc::new(created.clone()),
        "the longest identifier round-trips"
    );

    for (body, what) in &refused {
        let body = UpdateIdentityBody::from_json(body.clone())
            .unwrap_or_else(|e| panic!("update body: {e}"));
        expect_invalid(
            manager.update(TENANT, created.id, body, None).await,
            &format!("update: {what}"),
        );
    }
    assert_eq!(
        store.get(TENANT, created.id).await.expect("get"),
        std::sync::Arc::new(created.clone()),
        "a refused update writes nothing"
    );

    // The constructor stores' test suites use checks the same.
    let mut nul = identity(1, &email(1));
    nul.traits = json!({"email": email(1), "note": "\u{0}"});
    expect_invalid(ValidIdentity::new_for_tests(nul), "NUL, store-testing");
    let mut twice = identity(2, &email(2));
    let address = verifiable_address(uuid::Uuid::from_u128(2), AddressVia::Email, &email(2));
    twice.verifiable_addresses = vec![address.clone(), address];
    expect_invalid(
        ValidIdentity::new_for_tests(twice),
        "a unique value claimed twice, store-testing",
    );
}
