//! Schema migration through a manager over the store: a schema change that
//! breaks some identities, reported by a dry run that writes nothing, and
//! applied page by page with conditional writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use identity_core::{
    AddressVia, ChangeCursor, ChangeKind, ChangePage, Collision, ConflictField, CreateIdentityBody,
    CredentialType, DynIdentityStore, Error, ErrorKind, ExternalId, Identity, IdentityManager,
    IdentityStore, ListPage, ListQuery, MigrationEntry, MigrationOutcome, MigrationPage, PageSize,
    PruneChanges, SchemaMigration, SchemaRegistry, SequentialIds, TenantId, ValidIdentity,
    Violation,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{OTHER_TENANT, TENANT};
use crate::support::{expect_kind, get, size};

/// `v1`: the email is the login identifier and a verification and
/// recovery address; `username`, `name` and `backup` are plain strings.
/// `v2`: the username (now required) is the login identifier instead, the
/// email stays an address, and `backup` becomes a recovery address.
fn schemas() -> SchemaRegistry {
    let email = |identifier: bool| {
        let mut ext = json!({"verification": {"via": "email"}, "recovery": {"via": "email"}});
        if identifier {
            ext["credentials"] = json!({"password": {"identifier": true}});
        }
        json!({"type": "string", "format": "email", "ory.sh/kratos": ext})
    };
    let mut registry = SchemaRegistry::new();
    registry
        .register(
            "v1",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": email(true),
                "username": {"type": "string"},
                "name": {"type": "string"},
                "backup": {"type": "string"},
            }, "required": ["email"]}}}),
        )
        .unwrap_or_else(|e| panic!("the suite's schema v1: {e}"));
    registry
        .register(
            "v2",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": email(false),
                "username": {"type": "string", "minLength": 1,
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "name": {"type": "string"},
                "backup": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"recovery": {"via": "email"}}},
            }, "required": ["email", "username"]}}}),
        )
        .unwrap_or_else(|e| panic!("the suite's schema v2: {e}"));
    registry
}

/// A manager over `store` with the two schemas and sequential ids, so
/// that identities sort in the order they are created.
fn manager(store: DynIdentityStore) -> IdentityManager {
    IdentityManager::builder(store, Arc::new(schemas()))
        .ids(Arc::new(SequentialIds::new()))
        .build()
}

async fn create(
    manager: &IdentityManager,
    tenant: TenantId,
    schema: &str,
    traits: Value,
) -> Identity {
    let body = CreateIdentityBody::from_json(json!({ "schema_id": schema, "traits": traits }))
        .unwrap_or_else(|e| panic!("body: {e}"));
    manager
        .create(tenant, body)
        .await
        .map(Arc::unwrap_or_clone)
        .unwrap_or_else(|e| panic!("create {traits}: {e:?}"))
}

/// The identities of the checks, each created through the manager, in id
/// order.
struct World {
    /// v1, valid under v2: gains the identifier `ada`, loses
    /// `ada@example.com`; its email address is verified.
    ada: Identity,
    /// v1 without a username: invalid under v2.
    bob: Identity,
    /// v1 with the username `dee`, which `dee` holds: colliding.
    cy: Identity,
    /// Already on v2, with the username `dee`.
    dee: Identity,
    /// v1, valid under v2: gains `twin`.
    twin1: Identity,
    /// v1 with the username `Twin` (`twin` once normalised): collides with
    /// `twin1` once `twin1` moves (a dry run sees it in the same page).
    twin2: Identity,
    /// v1, valid, but its `backup` becomes a recovery address `dee` holds.
    eve: Identity,
    /// v1 in the other tenant: never touched.
    other: Identity,
}

impl World {
    /// The v1 identities of the tenant, in id order.
    fn v1(&self) -> [&Identity; 6] {
        [
            &self.ada,
            &self.bob,
            &self.cy,
            &self.twin1,
            &self.twin2,
            &self.eve,
        ]
    }
}

async fn world(manager: &IdentityManager) -> World {
    let ada = create(
        manager,
        TENANT,
        "v1",
        json!({"email": "ada@example.com", "username": "ada", "name": "Ada"}),
    )
    .await;
    // An address verified before the move keeps its status after it.
    let ada = manager
        .patch(
            TENANT,
            ada.id,
            json!([{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true}]),
            Some(1),
        )
        .await
        .map(Arc::unwrap_or_clone)
        .unwrap_or_else(|e| panic!("verify ada: {e:?}"));
    assert!(
        ada.verifiable_addresses[0].verified,
        "ada's email is verified"
    );
    let bob = create(manager, TENANT, "v1", json!({"email": "bob@example.com"})).await;
    let cy = create(
        manager,
        TENANT,
        "v1",
        json!({"email": "cy@example.com", "username": "dee"}),
    )
    .await;
    let dee = create(
        manager,
        TENANT,
        "v2",
        json!({"email": "dee@example.com", "username": "dee"}),
    )
    .await;
    let twin1 = create(
        manager,
        TENANT,
        "v1",
        json!({"email": "twin1@example.com", "username": "twin"}),
    )
    .await;
    let twin2 = create(
        manager,
        TENANT,
        "v1",
        json!({"email": "twin2@example.com", "username": "Twin"}),
    )
    .await;
    let eve = create(
        manager,
        TENANT,
        "v1",
        json!({"email": "eve@example.com", "username": "eve", "backup": "dee@example.com"}),
    )
    .await;
    let other = create(
        manager,
        OTHER_TENANT,
        "v1",
        json!({"email": "ada@example.com", "username": "ada"}),
    )
    .await;
    let ids = [ada.id, bob.id, cy.id, dee.id, twin1.id, twin2.id, eve.id];
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    World {
        ada,
        bob,
        cy,
        dee,
        twin1,
        twin2,
        eve,
        other,
    }
}

fn password(value: &str) -> ConflictField {
    ConflictField::CredentialIdentifier(CredentialType::Password, value.to_owned())
}

async fn migrate(
    manager: &IdentityManager,
    apply: bool,
    after: Option<Uuid>,
    page: usize,
) -> MigrationPage {
    let request = SchemaMigration::new("v1", "v2")
        .with_apply(apply)
        .with_after(after)
        .with_page_size(size(page));
    manager
        .migrate_schema(TENANT, request)
        .await
        .unwrap_or_else(|e| panic!("migrate (apply {apply}, after {after:?}): {e:?}"))
}

/// The violations a create of `traits` under v2 gets: what the migration
/// must report for an identity with these traits.
async fn create_violations(manager: &IdentityManager, traits: &Value) -> Vec<Violation> {
    let body = CreateIdentityBody::from_json(json!({ "schema_id": "v2", "traits": traits }))
        .unwrap_or_else(|e| panic!("body: {e}"));
    match manager.create_dry_run(TENANT, body).await {
        Err(Error::Validation(violations)) => violations,
        other => {
            panic!("a create of {traits} under v2: expected a validation error, got {other:?}")
        }
    }
}

/// (id, outcome in words) of each entry, for one readable assertion.
fn summary(page: &MigrationPage) -> Vec<(Uuid, String)> {
    page.entries
        .iter()
        .map(|e| {
            let outcome = match &e.outcome {
                MigrationOutcome::Valid => "valid".to_owned(),
                MigrationOutcome::Moved { version } => format!("moved to v{version}"),
                MigrationOutcome::Unchanged => "unchanged".to_owned(),
                MigrationOutcome::Invalid(error) => format!("invalid ({:?})", error.kind()),
                MigrationOutcome::Colliding(c) => format!("colliding {c:?}"),
                MigrationOutcome::Gone => "gone".to_owned(),
                MigrationOutcome::LeftSchema { schema_id } => format!("left for {schema_id}"),
                MigrationOutcome::Contended => "contended".to_owned(),
            };
            (e.id, outcome)
        })
        .collect()
}

fn entry(page: &MigrationPage, id: Uuid) -> &MigrationEntry {
    page.entries
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no entry for {id} in {:?}", summary(page)))
}

/// Every change of the tenant, from the start.
async fn feed(store: &DynIdentityStore, tenant: TenantId) -> Vec<(Uuid, ChangeKind, u64)> {
    let page = store
        .changes(tenant, None, PageSize::MAX)
        .await
        .expect("read the feed");
    page.changes
        .iter()
        .map(|c| (c.identity_id, c.kind, c.version))
        .collect()
}

/// The dry run of the whole schema in one page: one entry per v1 identity
/// of the tenant, in id order, each with its outcome: `ada` and `twin1`
/// valid, with what they gain and lose; `bob` invalid with the violations
/// a create under v2 reports; `cy` colliding with `dee` on the identifier
/// (holder named); `twin2` colliding with `twin1`, which the same page
/// would move first; `eve` colliding on a recovery address (no holder: the
/// store has no lookup by address). The counts add up; nothing was
/// written: every identity reads back as it was and the feed of both
/// tenants is unchanged. Unknown schemas are refused with the create
/// path's error.
pub async fn check_migrate_dry_run_reports_and_writes_nothing(store: DynIdentityStore) {
    let manager = manager(store.clone());
    let w = world(&manager).await;
    let feed_before = (feed(&store, TENANT).await, feed(&store, OTHER_TENANT).await);
    let page = migrate(&manager, false, None, 500).await;
    assert!(!page.applied, "a dry run");
    assert_eq!((page.from.as_str(), page.to.as_str()), ("v1", "v2"));
    let ids: Vec<Uuid> = page.entries.iter().map(|e| e.id).collect();
    let v1_ids: Vec<Uuid> = w.v1().iter().map(|i| i.id).collect();
    assert_eq!(
        ids, v1_ids,
        "one entry per v1 identity of the tenant, in id order"
    );
    let expected_summary = vec![
        (w.ada.id, "valid".to_owned()),
        (w.bob.id, "invalid (Validation)".to_owned()),
        (
            w.cy.id,
            format!(
                "colliding {:?}",
                [Collision {
                    field: password("dee"),
                    holder: Some(w.dee.id)
                }]
            ),
        ),
        (w.twin1.id, "valid".to_owned()),
        (
            w.twin2.id,
            format!(
                "colliding {:?}",
                [Collision {
                    field: password("twin"),
                    holder: Some(w.twin1.id)
                }]
            ),
        ),
        (
            w.eve.id,
            format!(
                "colliding {:?}",
                [Collision {
                    field: ConflictField::RecoveryAddress(
                        AddressVia::Email,
                        "dee@example.com".to_owned()
                    ),
                    holder: None
                }]
            ),
        ),
    ];
    assert_eq!(summary(&page), expected_summary);

    let ada = entry(&page, w.ada.id);
    assert_eq!(ada.version, 2, "the version evaluated");
    assert_eq!(ada.added, [password("ada")]);
    assert_eq!(ada.removed, [password("ada@example.com")]);
    assert_eq!(ada.rechecked, 0);
    let eve = entry(&page, w.eve.id);
    assert_eq!(
        eve.added,
        [
            password("eve"),
            ConflictField::RecoveryAddress(AddressVia::Email, "dee@example.com".to_owned())
        ]
    );
    assert_eq!(eve.removed, [password("eve@example.com")]);
    let bob = entry(&page, w.bob.id);
    let MigrationOutcome::Invalid(error) = &bob.outcome else {
        panic!("bob is invalid: {:?}", bob.outcome);
    };
    let expected = create_violations(&manager, &w.bob.traits).await;
    assert_eq!(
        error.violations(),
        expected.as_slice(),
        "the create path's violations"
    );
    assert_eq!(
        error
            .violations()
            .iter()
            .map(|v| (v.instance_path(), v.schema_path()))
            .collect::<Vec<_>>(),
        [("/traits", "/properties/traits/required")],
        "{expected:?}"
    );
    assert_eq!(
        (bob.added.len(), bob.removed.len()),
        (0, 0),
        "nothing derived for an invalid identity"
    );

    let counts = page.counts;
    assert_eq!(
        (
            counts.scanned,
            counts.valid,
            counts.invalid,
            counts.colliding,
            counts.moved,
            counts.skipped,
            counts.rechecked
        ),
        (6, 2, 1, 3, 0, 0, 0)
    );
    assert_eq!(page.next, None, "one page held them all");
    assert_eq!(page.on_from_schema, 6, "a dry run moves nothing");

    for before in w.v1().into_iter().chain([&w.dee]) {
        assert_eq!(
            &get(&store, TENANT, before.id).await,
            before,
            "a dry run leaves {} as it was",
            before.id
        );
    }
    assert_eq!(get(&store, OTHER_TENANT, w.other.id).await, w.other);
    assert_eq!(
        (feed(&store, TENANT).await, feed(&store, OTHER_TENANT).await),
        feed_before,
        "a dry run records nothing in the feed"
    );

    for (from, to, unknown) in [("v1", "nope", "nope"), ("gone", "v2", "gone")] {
        let error = expect_kind(
            manager
                .migrate_schema(TENANT, SchemaMigration::new(from, to))
                .await,
            ErrorKind::InvalidInput,
            "an unknown schema",
        );
        assert_eq!(
            error.reason(),
            Some(format!("Unable to find JSON Schema ID: {unknown}").as_str())
        );
    }
}

/// Applying the whole schema in one page moves exactly the valid
/// identities, each once, conditionally, with one `updated` change each:
/// `ada` gets v2, its new identifier replaces the email (a login by the
/// username finds it, by the email nothing), and its verified address
/// keeps its id and verification; the invalid and colliding ones (`twin2`
/// now collides with the moved `twin1` in the store) read back untouched,
/// as do the other tenant and the identity already on v2. A second run
/// from the start scans only what is left, and moves nothing.
pub async fn check_migrate_apply_moves_exactly_the_valid_ones(store: DynIdentityStore) {
    let manager = manager(store.clone());
    let w = world(&manager).await;
    let feed_before = feed(&store, TENANT).await;
    let other_feed = feed(&store, OTHER_TENANT).await;
    let page = migrate(&manager, true, None, 500).await;
    assert!(page.applied);
    let collision = |field, holder| format!("colliding {:?}", [Collision { field, holder }]);
    assert_eq!(
        summary(&page),
        vec![
            (w.ada.id, "moved to v3".to_owned()),
            (w.bob.id, "invalid (Validation)".to_owned()),
            (w.cy.id, collision(password("dee"), Some(w.dee.id))),
            (w.twin1.id, "moved to v2".to_owned()),
            (w.twin2.id, collision(password("twin"), Some(w.twin1.id))),
            (
                w.eve.id,
                collision(
                    ConflictField::RecoveryAddress(AddressVia::Email, "dee@example.com".to_owned()),
                    None
                )
            ),
        ]
    );
    let c = page.counts;
    assert_eq!(
        (
            c.scanned,
            c.valid,
            c.invalid,
            c.colliding,
            c.moved,
            c.skipped
        ),
        (6, 2, 1, 3, 2, 0)
    );
    assert_eq!(page.next, None);
    assert_eq!(page.on_from_schema, 4, "bob, cy, twin2 and eve stay on v1");

    let ada = get(&store, TENANT, w.ada.id).await;
    assert_eq!((ada.schema_id.as_str(), ada.version), ("v2", 3));
    assert_eq!(ada.traits, w.ada.traits, "traits are kept as they are");
    assert_eq!(ada.identifiers(CredentialType::Password), ["ada"]);
    assert_eq!(
        ada.verifiable_addresses, w.ada.verifiable_addresses,
        "a surviving address keeps its id, verification and timestamps"
    );
    assert!(ada.verifiable_addresses[0].verified);
    assert_eq!(ada.recovery_addresses, w.ada.recovery_addresses);
    assert_eq!(
        (ada.state, ada.created_at, &ada.metadata_admin),
        (w.ada.state, w.ada.created_at, &w.ada.metadata_admin)
    );
    let found = manager
        .find_by_identifier(TENANT, CredentialType::Password, "ADA")
        .await
        .unwrap_or_else(|e| panic!("login by the new identifier: {e:?}"));
    assert_eq!(found.id, w.ada.id);
    expect_kind(
        manager
            .find_by_identifier(TENANT, CredentialType::Password, "ada@example.com")
            .await,
        ErrorKind::NotFound,
        "the old identifier is gone",
    );
    let twin1 = get(&store, TENANT, w.twin1.id).await;
    assert_eq!((twin1.schema_id.as_str(), twin1.version), ("v2", 2));
    for untouched in [&w.bob, &w.cy, &w.twin2, &w.eve, &w.dee] {
        assert_eq!(
            &get(&store, TENANT, untouched.id).await,
            untouched,
            "{} is left untouched",
            untouched.id
        );
    }
    assert_eq!(get(&store, OTHER_TENANT, w.other.id).await, w.other);

    let after = feed(&store, TENANT).await;
    assert_eq!(
        &after[..feed_before.len()],
        feed_before.as_slice(),
        "the feed only grows"
    );
    assert_eq!(
        &after[feed_before.len()..],
        [
            (w.ada.id, ChangeKind::Updated, 3),
            (w.twin1.id, ChangeKind::Updated, 2)
        ],
        "one change per moved identity"
    );
    assert_eq!(feed(&store, OTHER_TENANT).await, other_feed);

    let again = migrate(&manager, true, None, 500).await;
    let ids: Vec<Uuid> = again.entries.iter().map(|e| e.id).collect();
    assert_eq!(ids, [w.bob.id, w.cy.id, w.twin2.id, w.eve.id]);
    assert_eq!((again.counts.moved, again.counts.valid), (0, 0));
    assert_eq!(feed(&store, TENANT).await, after, "nothing more written");
}

/// Pages of two: each page's `next` resumes after its last identity and
/// the last page's is `None`; the dry-run pages together report what one
/// page does. An apply stopped after its first page and resumed from that
/// page's cursor ends as one whole apply does; an apply started again from
/// the beginning scans only the identities still on v1.
pub async fn check_migrate_resumes_from_a_cursor(store: DynIdentityStore) {
    let manager = manager(store.clone());
    let w = world(&manager).await;
    let mut walked = Vec::new();
    let mut after = None;
    let mut cursors = Vec::new();
    loop {
        let page = migrate(&manager, false, after, 2).await;
        assert!(page.entries.len() <= 2);
        walked.extend(page.entries.iter().map(|e| e.id));
        cursors.push(page.next);
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.entries.last().map(|e| e.id));
                after = Some(next);
            }
            None => break,
        }
    }
    let v1: Vec<Uuid> = w.v1().iter().map(|i| i.id).collect();
    assert_eq!(walked, v1, "the pages together scan every v1 identity once");
    assert_eq!(
        cursors,
        [Some(w.bob.id), Some(w.twin1.id), None],
        "each page's cursor"
    );

    let first = migrate(&manager, true, None, 2).await;
    assert_eq!(
        summary(&first),
        [
            (w.ada.id, "moved to v3".to_owned()),
            (w.bob.id, "invalid (Validation)".to_owned())
        ]
    );
    assert_eq!(first.next, Some(w.bob.id));
    assert_eq!(first.on_from_schema, 5);
    // Started again from the beginning: ada is no longer on v1.
    let restart = migrate(&manager, false, None, 2).await;
    assert_eq!(
        restart.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [w.bob.id, w.cy.id]
    );
    // Resumed from the cursor.
    let second = migrate(&manager, true, first.next, 2).await;
    assert_eq!(
        second.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [w.cy.id, w.twin1.id]
    );
    assert!(matches!(
        entry(&second, w.twin1.id).outcome,
        MigrationOutcome::Moved { version: 2 }
    ));
    let third = migrate(&manager, true, second.next, 2).await;
    assert_eq!(
        third.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [w.twin2.id, w.eve.id]
    );
    assert_eq!(third.next, None);
    let mut total = first.counts;
    total += second.counts;
    total += third.counts;
    assert_eq!(
        (
            total.scanned,
            total.valid,
            total.invalid,
            total.colliding,
            total.moved
        ),
        (6, 2, 1, 3, 2)
    );
    let moved: Vec<Uuid> = {
        let mut moved = Vec::new();
        for i in w.v1() {
            if get(&store, TENANT, i.id).await.schema_id == "v2" {
                moved.push(i.id);
            }
        }
        moved
    };
    assert_eq!(
        moved,
        [w.ada.id, w.twin1.id],
        "exactly the valid ones moved"
    );
}

/// A write between the dry run and the apply is carried over: the apply
/// evaluates what is stored then, so `ada`'s new name moves with it and
/// `bob`, fixed in between, moves too. A write between the apply's read and
/// its write (injected by a store wrapper, on the store itself) makes the
/// conditional write fail; the identity is re-read and checked again: a
/// change that keeps it valid moves with it (re-checked once, not
/// overwritten), one that breaks it leaves it invalid as that write left
/// it.
pub async fn check_migrate_concurrent_update_is_not_overwritten(store: DynIdentityStore) {
    let manager_a = manager(store.clone());
    let w = world(&manager_a).await;
    let report = migrate(&manager_a, false, None, 500).await;
    assert!(matches!(
        entry(&report, w.ada.id).outcome,
        MigrationOutcome::Valid
    ));
    assert_eq!(entry(&report, w.ada.id).version, 2);
    // Between the report and the apply: a new name for ada, a username for
    // bob (valid now).
    for (who, traits) in [
        (
            &w.ada,
            json!({"email": "ada@example.com", "username": "ada", "name": "Ada L."}),
        ),
        (
            &w.bob,
            json!({"email": "bob@example.com", "username": "bob"}),
        ),
    ] {
        manager_a
            .patch(
                TENANT,
                who.id,
                json!([{"op": "replace", "path": "/traits", "value": traits}]),
                Some(who.version),
            )
            .await
            .unwrap_or_else(|e| panic!("a concurrent patch: {e:?}"));
    }

    // During the apply: twin1 gets a new name after the migration read it
    // and before its write.
    let renamed = Interfering::wrap(store.clone(), w.twin1.id, |mut i| {
        i.traits["name"] = json!("Twin One");
        i
    });
    let manager_b = manager(renamed.clone());
    let applied = migrate(&manager_b, true, None, 500).await;
    let ada = entry(&applied, w.ada.id);
    assert_eq!(
        (ada.version, ada.rechecked),
        (3, 0),
        "the apply evaluates the version stored now"
    );
    assert!(matches!(
        ada.outcome,
        MigrationOutcome::Moved { version: 4 }
    ));
    let stored_ada = get(&store, TENANT, w.ada.id).await;
    assert_eq!(
        stored_ada.traits["name"], "Ada L.",
        "the patch is not overwritten"
    );
    assert_eq!(
        (stored_ada.schema_id.as_str(), stored_ada.version),
        ("v2", 4)
    );
    assert!(matches!(
        entry(&applied, w.bob.id).outcome,
        MigrationOutcome::Moved { version: 3 }
    ));
    let twin1 = entry(&applied, w.twin1.id);
    assert!(renamed.fired(), "the wrapper wrote in between");
    assert_eq!(
        twin1.rechecked, 1,
        "re-read once after the concurrent write"
    );
    assert_eq!(twin1.version, 2, "the version re-read");
    assert!(
        matches!(twin1.outcome, MigrationOutcome::Moved { version: 3 }),
        "{:?}",
        twin1.outcome
    );
    assert_eq!(applied.counts.rechecked, 1);
    let stored_twin1 = get(&store, TENANT, w.twin1.id).await;
    assert_eq!(
        (
            stored_twin1.traits["name"].as_str(),
            stored_twin1.schema_id.as_str()
        ),
        (Some("Twin One"), "v2"),
        "the concurrent rename is carried over, not overwritten"
    );

    // A concurrent write that breaks the identity under v2: re-checked,
    // reported invalid, and left as that write left it.
    let fresh = manager_a.clone();
    let zed = create(
        &fresh,
        TENANT,
        "v1",
        json!({"email": "zed@example.com", "username": "zed"}),
    )
    .await;
    let broken = Interfering::wrap(store.clone(), zed.id, |mut i| {
        i.traits = json!({"email": "zed@example.com", "name": "no username"});
        i
    });
    let page = migrate(&manager(broken.clone()), true, None, 500).await;
    let z = entry(&page, zed.id);
    assert!(broken.fired());
    assert_eq!((z.rechecked, z.version), (1, 2));
    assert!(
        matches!(&z.outcome, MigrationOutcome::Invalid(e) if e.kind() == ErrorKind::Validation),
        "{:?}",
        z.outcome
    );
    let stored_zed = get(&store, TENANT, zed.id).await;
    assert_eq!(
        (
            stored_zed.schema_id.as_str(),
            stored_zed.version,
            &stored_zed.traits["name"]
        ),
        ("v1", 2, &json!("no username")),
        "the concurrent write stands"
    );
}

/// A store that, once, right before the first update of one identity,
/// rewrites that identity itself (read, `change`, conditional update) as a
/// concurrent writer would, then forwards the update it was asked for.
struct Interfering {
    inner: DynIdentityStore,
    target: Uuid,
    change: Box<dyn Fn(Identity) -> Identity + Send + Sync>,
    done: AtomicBool,
}

impl std::fmt::Debug for Interfering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interfering")
            .field("inner", &self.inner)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Interfering {
    fn wrap(
        inner: DynIdentityStore,
        target: Uuid,
        change: impl Fn(Identity) -> Identity + Send + Sync + 'static,
    ) -> Arc<Interfering> {
        Arc::new(Interfering {
            inner,
            target,
            change: Box::new(change),
            done: AtomicBool::new(false),
        })
    }

    fn fired(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    async fn interfere(&self, tenant: TenantId) {
        let current = Arc::unwrap_or_clone(
            self.inner
                .get(tenant, self.target)
                .await
                .unwrap_or_else(|e| panic!("the interfering read: {e:?}")),
        );
        let version = current.version;
        let mut next = (self.change)(current);
        next.version = version + 1;
        self.inner
            .update(tenant, &crate::fixtures::valid(next), Some(version))
            .await
            .unwrap_or_else(|e| panic!("the interfering write: {e:?}"));
    }
}

#[async_trait]
impl IdentityStore for Interfering {
    async fn create(&self, t: TenantId, i: &ValidIdentity) -> Result<u64, Error> {
        self.inner.create(t, i).await
    }
    async fn batch_create(
        &self,
        t: TenantId,
        i: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        self.inner.batch_create(t, i).await
    }
    async fn get(&self, t: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        self.inner.get(t, id).await
    }
    async fn get_by_external_id(
        &self,
        t: TenantId,
        e: &ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        self.inner.get_by_external_id(t, e).await
    }
    async fn find_by_identifier(
        &self,
        t: TenantId,
        k: CredentialType,
        i: &str,
    ) -> Result<Arc<Identity>, Error> {
        self.inner.find_by_identifier(t, k, i).await
    }
    async fn find_create_conflict(
        &self,
        t: TenantId,
        i: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        self.inner.find_create_conflict(t, i).await
    }
    async fn update(&self, t: TenantId, i: &ValidIdentity, v: Option<u64>) -> Result<u64, Error> {
        if i.identity().id == self.target && !self.done.swap(true, Ordering::SeqCst) {
            self.interfere(t).await;
        }
        self.inner.update(t, i, v).await
    }
    async fn delete(&self, t: TenantId, id: Uuid, v: Option<u64>) -> Result<(), Error> {
        self.inner.delete(t, id, v).await
    }
    async fn list(&self, t: TenantId, q: &ListQuery) -> Result<ListPage, Error> {
        self.inner.list(t, q).await
    }
    async fn count(&self, t: TenantId) -> Result<u64, Error> {
        self.inner.count(t).await
    }
    async fn count_matching(&self, t: TenantId, q: &ListQuery) -> Result<u64, Error> {
        self.inner.count_matching(t, q).await
    }
    async fn changes(
        &self,
        t: TenantId,
        a: Option<ChangeCursor>,
        l: PageSize,
    ) -> Result<ChangePage, Error> {
        self.inner.changes(t, a, l).await
    }
    async fn prune_changes(&self, t: TenantId, p: &PruneChanges) -> Result<u64, Error> {
        self.inner.prune_changes(t, p).await
    }
    async fn consumer_cursor(&self, t: TenantId, c: &str) -> Result<Option<ChangeCursor>, Error> {
        self.inner.consumer_cursor(t, c).await
    }
    async fn save_consumer_cursor(
        &self,
        t: TenantId,
        c: &str,
        k: ChangeCursor,
    ) -> Result<(), Error> {
        self.inner.save_consumer_cursor(t, c, k).await
    }
}
