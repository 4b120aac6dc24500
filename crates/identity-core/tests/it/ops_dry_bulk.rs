//! Dry runs of create and batch create; bulk delete and bulk set state.

use identity_core::{
    BatchEntry, BatchOutcome, BulkEntry, BulkOutcome, BulkResult, ChangeKind, ConflictField,
    CreateIdentityBody, CredentialType, Error, ErrorKind, ListParams, State, WriteOp,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ops_support::{Env, T0, T1, TENANT, env, id, ts};

fn entry(v: Value) -> Option<BatchEntry> {
    Some(serde_json::from_value(v).expect("entry"))
}

fn body(v: Value) -> CreateIdentityBody {
    CreateIdentityBody::from_json(v).expect("body")
}

/// An error as the tests compare it: its kind, its conflict (if any) and
/// its message.
fn error_summary(e: &Error) -> (ErrorKind, Option<(ConflictField, WriteOp)>, String) {
    (
        e.kind(),
        e.conflict().map(|(f, op)| (f.clone(), op)),
        e.to_string(),
    )
}

type EntrySummary = (
    &'static str,
    Option<Uuid>,
    Option<u64>,
    Option<Uuid>,
    Option<(ErrorKind, Option<(ConflictField, WriteOp)>, String)>,
);

fn batch_summary(outcomes: &[BatchOutcome]) -> Vec<EntrySummary> {
    outcomes
        .iter()
        .map(|o| match o {
            BatchOutcome::Created {
                id,
                version,
                patch_id,
            } => ("create", Some(*id), Some(*version), *patch_id, None),
            BatchOutcome::Failed { error, patch_id } => {
                ("error", None, None, *patch_id, Some(error_summary(error)))
            }
            BatchOutcome::Skipped => ("skipped", None, None, None, None),
        })
        .collect()
}

/// Two stores in the same state: one identity holding `taken@x.example`
/// and external id `ext-taken`.
async fn seeded() -> Env {
    let env = env();
    env.create(json!({"traits": {"email": "taken@x.example"}, "external_id": "ext-taken"}))
        .await
        .expect("seed");
    env
}

async fn identity_count(env: &Env) -> usize {
    env.manager
        .list(TENANT, ListParams::default())
        .await
        .expect("list")
        .identities
        .len()
}

#[tokio::test]
async fn create_dry_run_answers_what_create_does_and_writes_nothing() {
    let (dry, real) = (seeded().await, seeded().await);
    let input = json!({
        "traits": {"email": "new@x.example"},
        "state": "inactive",
        "external_id": "ext-new",
        "metadata_admin": {"a": 1},
        "credentials": {"password": {"config": {"password": "s3cret!"}}},
    });
    let would = dry
        .manager
        .create_dry_run(TENANT, body(input.clone()))
        .await
        .expect("dry run");
    assert_eq!(dry.changes().await.len(), 1, "no change appended");
    assert_eq!(identity_count(&dry).await, 1, "no identity stored");
    assert_eq!(
        dry.manager
            .get(TENANT, would.id)
            .await
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    let made = real.create(input).await.expect("real create");
    // The same identity, ids and timestamps included (the same clock and
    // id sequence), credentials but their hash.
    assert_eq!(would.version, 1);
    assert_eq!(dry.json(&would), real.json(&made));
    let password = |i: &identity_core::Identity| {
        let c = &i.credentials[&CredentialType::Password];
        (c.identifiers.clone(), c.version, c.created_at)
    };
    assert_eq!(password(&would), password(&made));
    let hash = |i: &identity_core::Identity| {
        i.credentials[&CredentialType::Password].config.expose()["hashed_password"]
            .as_str()
            .expect("a hash")
            .to_owned()
    };
    assert_eq!(hash(&would).len(), hash(&made).len(), "a stand-in as long");
    assert!(hash(&would).starts_with("$argon2id$v=19$m=64,t=1,p=1$AAAA"));
    assert_eq!(would.created_at, ts(T0));
}

#[tokio::test]
async fn create_dry_run_refuses_what_create_refuses() {
    let cases = [
        json!({"traits": {"email": "TAKEN@x.example"}}),
        json!({"traits": {"email": "free@x.example"}, "external_id": "ext-taken"}),
        json!({"traits": {"email": "not an email"}}),
        json!({"traits": {"email": "free@x.example"}, "state": "asleep"}),
        json!({"schema_id": "nope", "traits": {}}),
        json!({"traits": {"email": "free@x.example"}, "region": "mars"}),
        json!({"traits": {"email": "free@x.example"},
               "credentials": {"password": {"config": {"hashed_password": "$md5$nothing"}}}}),
    ];
    for input in cases {
        let (dry, real) = (seeded().await, seeded().await);
        let d = dry
            .manager
            .create_dry_run(TENANT, body(input.clone()))
            .await
            .expect_err("dry run refuses");
        let r = real
            .create(input.clone())
            .await
            .expect_err("create refuses");
        assert_eq!(error_summary(&d), error_summary(&r), "{input}");
        assert_eq!(dry.changes().await.len(), 1, "{input}: no change");
    }
    let env = seeded().await;
    let e = env
        .manager
        .create_dry_run(
            TENANT,
            body(json!({"traits": {"email": "TAKEN@x.example"}})),
        )
        .await
        .expect_err("conflict");
    assert_eq!(
        e.conflict(),
        Some((
            &ConflictField::CredentialIdentifier(
                CredentialType::Password,
                "taken@x.example".to_owned()
            ),
            WriteOp::Create
        ))
    );
}

fn batch_input() -> Vec<Option<BatchEntry>> {
    let p = |n: u128| Uuid::from_u128(0xff00 + n);
    vec![
        entry(json!({"create": {"traits": {"email": "one@x.example"}}, "patch_id": p(1)})),
        entry(json!({"create": {"traits": {"email": "bad"}}, "patch_id": p(2)})),
        None,
        // Takes entry 1's address (which the store does not hold): the
        // first wins.
        entry(json!({"create": {"traits": {"email": "ONE@x.example"}}})),
        entry(json!({"create": {"traits": {"email": "taken@x.example"}}, "patch_id": p(5)})),
        // Its external id is taken in the store, its address by entry 1:
        // the external id comes first in a create's order.
        entry(
            json!({"create": {"traits": {"email": "one@x.example"}, "external_id": "ext-taken"}}),
        ),
        entry(json!({"create": {"traits": {"email": "two@x.example"},
            "credentials": {"password": {"config": {"password": "pw-two"}}}}})),
        // Same external id as the next-but-one entry's; this one fails on
        // validation, so the later one is created.
        entry(json!({"create": {"traits": {"email": 7}, "external_id": "ext-x"}})),
        entry(json!({"create": {"traits": {"email": "three@x.example"}, "external_id": "ext-x"}})),
        entry(json!({"create": {"traits": {"email": "four@x.example"}, "external_id": "ext-x"}})),
    ]
}

#[tokio::test]
async fn batch_dry_run_answers_what_the_batch_does_and_writes_nothing() {
    let (dry, real) = (seeded().await, seeded().await);
    let would = dry
        .manager
        .batch_create_dry_run(TENANT, batch_input())
        .await
        .expect("dry run");
    assert_eq!(dry.changes().await.len(), 1, "no change appended");
    assert_eq!(identity_count(&dry).await, 1, "no identity stored");
    let did = real
        .manager
        .batch_create(TENANT, batch_input())
        .await
        .expect("batch");
    assert_eq!(batch_summary(&would), batch_summary(&did));
    let statuses: Vec<_> = batch_summary(&would)
        .into_iter()
        .map(|(s, _, v, _, e)| (s, v, e.and_then(|e| e.1).map(|c| c.0)))
        .collect();
    let conflict = |f: ConflictField| ("error", None, Some(f));
    let email =
        |e: &str| ConflictField::CredentialIdentifier(CredentialType::Password, e.to_owned());
    assert_eq!(
        statuses,
        [
            ("create", Some(1), None),
            ("error", None, None),
            ("skipped", None, None),
            conflict(email("one@x.example")),
            conflict(email("taken@x.example")),
            conflict(ConflictField::ExternalId("ext-taken".to_owned())),
            ("create", Some(1), None),
            ("error", None, None),
            ("create", Some(1), None),
            conflict(ConflictField::ExternalId("ext-x".to_owned())),
        ]
    );
    // And the dry run left room for the real batch in its own store.
    let then = dry
        .manager
        .batch_create(TENANT, batch_input())
        .await
        .expect("batch after the dry run");
    let kinds = |s: Vec<EntrySummary>| -> Vec<_> {
        s.into_iter().map(|(s, _, v, p, e)| (s, v, p, e)).collect()
    };
    assert_eq!(kinds(batch_summary(&then)), kinds(batch_summary(&did)));
}

#[tokio::test]
async fn batch_dry_run_refuses_the_whole_request_as_the_batch_does() {
    let env = seeded().await;
    let many: Vec<_> = (0..1001).map(|_| None).collect();
    let e = env
        .manager
        .batch_create_dry_run(TENANT, many)
        .await
        .expect_err("too many");
    assert_eq!(
        e.to_string(),
        "The maximum number of identities per request that can be created or deleted at once is 1000."
    );
    let plain: Vec<_> = (0..201)
        .map(|n| {
            entry(
                json!({"create": {"traits": {"email": format!("p{n}@x.example")},
                "credentials": {"password": {"config": {"password": "pw"}}}}}),
            )
        })
        .collect();
    let e = env
        .manager
        .batch_create_dry_run(TENANT, plain)
        .await
        .expect_err("too many plaintexts");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(env.changes().await.len(), 1);
}

fn bulk_summary(results: &[BulkResult]) -> Vec<(Uuid, String)> {
    results
        .iter()
        .map(|r| {
            let outcome = match &r.outcome {
                BulkOutcome::Deleted => "deleted".to_owned(),
                BulkOutcome::Updated { version } => format!("updated v{version}"),
                BulkOutcome::Unchanged { version } => format!("unchanged v{version}"),
                BulkOutcome::NotFound => "not found".to_owned(),
                BulkOutcome::VersionMismatch { expected, actual } => {
                    format!("mismatch {expected}/{actual}")
                }
                BulkOutcome::Failed(e) => format!("failed {:?}", e.kind()),
            };
            (r.id, outcome)
        })
        .collect()
}

/// Three identities, ids `a`, `b`, `c`, at version 1.
async fn three(env: &Env) -> [Uuid; 3] {
    let mut ids = [Uuid::nil(); 3];
    for (n, slot) in ids.iter_mut().enumerate() {
        *slot = env
            .create(json!({"traits": {"email": format!("u{n}@x.example")}}))
            .await
            .expect("create")
            .id;
    }
    ids
}

#[tokio::test]
async fn bulk_delete_gives_one_outcome_per_entry_in_order() {
    let env = env();
    let [a, b, c] = three(&env).await;
    let missing = id(0xdead);
    let results = env
        .manager
        .bulk_delete(
            TENANT,
            vec![
                BulkEntry::new(a),
                BulkEntry::at_version(b, 2),
                BulkEntry::new(missing),
                BulkEntry::at_version(c, 1),
                BulkEntry::new(a),
            ],
        )
        .await
        .expect("bulk delete");
    assert_eq!(
        bulk_summary(&results),
        [
            (a, "deleted".to_owned()),
            (b, "mismatch 2/1".to_owned()),
            (missing, "not found".to_owned()),
            (c, "deleted".to_owned()),
            (a, "not found".to_owned()),
        ]
    );
    let remaining: Vec<Uuid> = env
        .manager
        .list(TENANT, ListParams::default())
        .await
        .expect("list")
        .identities
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(remaining, [b]);
    let deletes: Vec<_> = env
        .changes()
        .await
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Deleted)
        .map(|c| (c.identity_id, c.version))
        .collect();
    assert_eq!(deletes, [(a, 2), (c, 2)]);
}

#[tokio::test]
async fn bulk_set_state_updates_through_the_update_path() {
    let env = env();
    let [a, b, c] = three(&env).await;
    env.manager
        .bulk_set_state(TENANT, State::Inactive, vec![BulkEntry::new(b)])
        .await
        .expect("b inactive");
    let before = env.changes().await.len();
    env.clock.set(ts(T1));
    let missing = id(0xdead);
    let results = env
        .manager
        .bulk_set_state(
            TENANT,
            State::Inactive,
            vec![
                BulkEntry::at_version(a, 1),
                BulkEntry::new(b),
                BulkEntry::at_version(c, 5),
                BulkEntry::new(missing),
                BulkEntry::at_version(a, 2),
            ],
        )
        .await
        .expect("bulk set state");
    assert_eq!(
        bulk_summary(&results),
        [
            (a, "updated v2".to_owned()),
            (b, "unchanged v2".to_owned()),
            (c, "mismatch 5/1".to_owned()),
            (missing, "not found".to_owned()),
            (a, "unchanged v2".to_owned()),
        ]
    );
    let a_now = env.manager.get(TENANT, a).await.expect("a");
    assert_eq!(
        (
            a_now.state,
            a_now.state_changed_at,
            a_now.updated_at,
            a_now.version
        ),
        (State::Inactive, Some(ts(T1)), ts(T1), 2)
    );
    let b_now = env.manager.get(TENANT, b).await.expect("b");
    assert_eq!(
        (
            b_now.state,
            b_now.state_changed_at,
            b_now.updated_at,
            b_now.version
        ),
        (State::Inactive, Some(ts(T0)), ts(T0), 2),
        "an unchanged identity is not written"
    );
    let c_now = env.manager.get(TENANT, c).await.expect("c");
    assert_eq!((c_now.state, c_now.version), (State::Active, 1));
    let changes = env.changes().await;
    let new: Vec<_> = changes[before..]
        .iter()
        .map(|c| (c.identity_id, c.kind, c.version, c.fields.to_list()))
        .collect();
    assert_eq!(new, [(a, ChangeKind::Updated, 2, "state".to_owned())]);
    // Back to active, any version.
    let results = env
        .manager
        .bulk_set_state(TENANT, State::Active, vec![BulkEntry::new(a)])
        .await
        .expect("active again");
    assert_eq!(bulk_summary(&results), [(a, "updated v3".to_owned())]);
}

#[tokio::test]
async fn bulk_operations_refuse_more_than_the_batch_limit() {
    let env = env();
    let [a, ..] = three(&env).await;
    let many = vec![BulkEntry::new(a); 1001];
    let message = "The maximum number of identities per request that can be deleted or updated at once is 1000.";
    let e = env
        .manager
        .bulk_delete(TENANT, many.clone())
        .await
        .expect_err("too many");
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::InvalidInput, message.to_owned())
    );
    let e = env
        .manager
        .bulk_set_state(TENANT, State::Inactive, many)
        .await
        .expect_err("too many");
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::InvalidInput, message.to_owned())
    );
    assert_eq!(env.manager.get(TENANT, a).await.expect("a").version, 1);
    let none = env
        .manager
        .bulk_delete(TENANT, Vec::new())
        .await
        .expect("an empty list");
    assert!(none.is_empty());
}

/// A plaintext password is checked as hashing checks it: with bcrypt, one
/// over 72 bytes is refused by the dry run in the create's words; a
/// shorter one passes and leaves a bcrypt-shaped stand-in.
#[tokio::test]
async fn dry_run_passwords_are_checked_as_the_configured_hasher_checks_them() {
    use std::sync::Arc;

    use identity_core::password::{BcryptParams, HasherConfig, PasswordHasher};
    use identity_core::{IdentityManager, SequentialIds};
    use identity_store_memory::MemoryStore;

    let manager = || {
        let hasher =
            PasswordHasher::insecure_with_config_for_tests(HasherConfig::Bcrypt(BcryptParams {
                cost: 4,
            }))
            .expect("bcrypt");
        IdentityManager::builder(
            Arc::new(MemoryStore::new()),
            Arc::new(crate::ops_support::registry()),
        )
        .hasher(hasher)
        .ids(Arc::new(SequentialIds::new()))
        .build()
    };
    let with_password = |password: &str| {
        body(json!({"traits": {"email": "pw@x.example"},
            "credentials": {"password": {"config": {"password": password}}}}))
    };
    let long = "x".repeat(73);
    let dry = manager()
        .create_dry_run(TENANT, with_password(&long))
        .await
        .expect_err("too long for bcrypt");
    let real = manager()
        .create(TENANT, with_password(&long))
        .await
        .expect_err("too long for bcrypt");
    assert_eq!(error_summary(&dry), error_summary(&real));
    assert_eq!(dry.kind(), ErrorKind::InvalidInput);
    let fine = manager()
        .create_dry_run(TENANT, with_password(&"x".repeat(72)))
        .await
        .expect("72 bytes");
    let hash = fine.credentials[&CredentialType::Password].config.expose()["hashed_password"]
        .as_str()
        .expect("a stand-in")
        .to_owned();
    assert_eq!(hash, format!("$2b$04${}", ".".repeat(53)));
}
