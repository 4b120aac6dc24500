//! Identifiers that only look different: the core folds them to one value,
//! and every store must then refuse the second holder.

use std::sync::Arc;

use identity_core::{
    ConflictField, CreateIdentityBody, CredentialType, DynIdentityStore, Error, IdentityManager,
    SchemaRegistry, WriteOp,
};
use serde_json::{Value, json};

use crate::fixtures::TENANT;

/// Spellings of `alice` a person cannot tell from it: invisible and
/// ignorable code points (combining grapheme joiner, variation selectors,
/// zero-width space, Hangul fillers, braille blank, tag characters) and
/// fullwidth letters.
pub const ALICE_LOOK_ALIKES: [&str; 11] = [
    "alice\u{034f}",
    "ali\u{fe0f}ce",
    "alice\u{e0100}",
    "\u{3164}alice",
    "alice\u{115f}",
    "alice\u{ffa0}",
    "alice\u{2800}",
    "al\u{200b}ice",
    "alice\u{e0041}",
    "\u{ff41}lice",
    " ALICE ",
];

fn manager(store: DynIdentityStore) -> IdentityManager {
    let mut schemas = SchemaRegistry::new();
    schemas
        .register(
            "default",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "username": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "login": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
            }}}}),
        )
        .unwrap_or_else(|e| panic!("the suite's schema: {e}"));
    IdentityManager::builder(store, Arc::new(schemas)).build()
}

async fn create(
    manager: &IdentityManager,
    traits: Value,
) -> Result<identity_core::Identity, Error> {
    let body = CreateIdentityBody::from_json(json!({ "traits": traits }))
        .unwrap_or_else(|e| panic!("body: {e}"));
    manager.create(TENANT, body).await.map(Arc::unwrap_or_clone)
}

#[track_caller]
fn expect_identifier_conflict<T: std::fmt::Debug>(
    result: Result<T, Error>,
    value: &str,
    what: &str,
) {
    match result {
        Err(Error::Conflict { field, op }) => {
            assert_eq!(
                (field, op),
                (
                    ConflictField::CredentialIdentifier(CredentialType::Password, value.to_owned()),
                    WriteOp::Create
                ),
                "{what}"
            );
        }
        other => panic!("{what}: expected a conflict on {value:?}, got {other:?}"),
    }
}

/// Through a manager over the store: every look-alike of a username, a
/// fullwidth phone number and an email-like login with an invisible or
/// fullwidth character each
/// conflict with the identity holding the plain spelling, and a lookup by a
/// look-alike finds that identity.
pub async fn check_look_alike_identifiers_conflict(store: DynIdentityStore) {
    let manager = manager(store);
    let alice = create(&manager, json!({"username": "alice"}))
        .await
        .unwrap_or_else(|e| panic!("alice: {e}"));
    for look_alike in ALICE_LOOK_ALIKES {
        expect_identifier_conflict(
            create(&manager, json!({ "username": look_alike })).await,
            "alice",
            &format!("a second identity as {look_alike:?}"),
        );
        let found = manager
            .find_by_identifier(TENANT, CredentialType::Password, look_alike)
            .await
            .unwrap_or_else(|e| panic!("lookup by {look_alike:?}: {e}"));
        assert_eq!(found.id, alice.id, "lookup by {look_alike:?}");
    }
    create(&manager, json!({"username": "+1 650 253 0000"}))
        .await
        .unwrap_or_else(|e| panic!("phone: {e}"));
    for look_alike in [
        "\u{ff0b}1 650 253 0000",
        "\u{ff0b}\u{ff11}\u{ff16}\u{ff15}\u{ff10}\u{ff12}\u{ff15}\u{ff13}\u{ff10}\u{ff10}\u{ff10}\u{ff10}",
        "+1 (650) 253-0000\u{200b}",
    ] {
        expect_identifier_conflict(
            create(&manager, json!({ "username": look_alike })).await,
            "+16502530000",
            &format!("a second identity as {look_alike:?}"),
        );
    }
    create(&manager, json!({"login": "bob@example.com"}))
        .await
        .unwrap_or_else(|e| panic!("bob: {e}"));
    for look_alike in [
        "bob\u{034f}@example.com",
        "BOB@EXAMPLE.COM\u{2800}",
        "\u{ff42}ob@example.com",
    ] {
        expect_identifier_conflict(
            create(&manager, json!({ "login": look_alike })).await,
            "bob@example.com",
            &format!("a second login as {look_alike:?}"),
        );
    }
}
