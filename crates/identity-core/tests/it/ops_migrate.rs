//! `IdentityManager::migrate_schema` beyond the store conformance checks:
//! a schema migrated to itself, what a dry run counts within its page, and
//! the outcomes of concurrent writers (gone, another schema, contended).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use identity_core::{
    ChangeCursor, ChangePage, ConflictField, CreateIdentityBody, CredentialType, DynIdentityStore,
    Error, ErrorKind, ExternalId, Identity, IdentityManager, IdentityStore, ListPage, ListQuery,
    MIGRATION_RETRIES, MigrationOutcome, MigrationPage, PageSize, PruneChanges, SchemaMigration,
    SchemaRegistry, SequentialIds, TenantId, ValidIdentity,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};
use uuid::Uuid;

const TENANT: TenantId = TenantId::DEFAULT;

/// `v1`: the email logs in; `v2`: the username does (required).
fn registry() -> SchemaRegistry {
    let mut r = SchemaRegistry::new();
    r.register(
        "v1",
        json!({"properties": {"traits": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                "credentials": {"password": {"identifier": true}}}},
            "username": {"type": "string"}
        }, "required": ["email"]}}}),
    )
    .expect("v1");
    r.register(
        "v2",
        json!({"properties": {"traits": {"type": "object", "properties": {
            "email": {"type": "string"},
            "username": {"type": "string", "ory.sh/kratos": {
                "credentials": {"password": {"identifier": true}}}}
        }, "required": ["email", "username"]}}}),
    )
    .expect("v2");
    r
}

fn manager(store: DynIdentityStore) -> IdentityManager {
    IdentityManager::builder(store, Arc::new(registry()))
        .ids(Arc::new(SequentialIds::new()))
        .build()
}

async fn create(manager: &IdentityManager, schema: &str, traits: Value) -> Identity {
    let body = CreateIdentityBody::from_json(json!({"schema_id": schema, "traits": traits}))
        .expect("body");
    Arc::unwrap_or_clone(manager.create(TENANT, body).await.expect("create"))
}

async fn run(manager: &IdentityManager, from: &str, to: &str, apply: bool) -> MigrationPage {
    manager
        .migrate_schema(TENANT, SchemaMigration::new(from, to).with_apply(apply))
        .await
        .expect("migrate")
}

async fn feed_len(manager: &IdentityManager) -> usize {
    manager
        .changes(TENANT, None, PageSize::MAX)
        .await
        .expect("feed")
        .changes
        .len()
}

/// A schema migrated to itself revalidates: identities that still pass
/// and derive what they hold are `Unchanged` and nothing is written, even
/// when applied.
#[tokio::test]
async fn a_schema_migrated_to_itself_writes_nothing_for_what_still_holds() {
    let manager = manager(Arc::new(MemoryStore::new()));
    let ada = create(&manager, "v1", json!({"email": "ada@example.com"})).await;
    let feed = feed_len(&manager).await;
    for apply in [false, true] {
        let page = run(&manager, "v1", "v1", apply).await;
        assert_eq!(page.entries.len(), 1);
        assert!(matches!(
            page.entries[0].outcome,
            MigrationOutcome::Unchanged
        ));
        assert_eq!(
            (page.counts.valid, page.counts.moved, page.on_from_schema),
            (1, 0, 1)
        );
        assert!(page.entries[0].added.is_empty() && page.entries[0].removed.is_empty());
    }
    assert_eq!(feed_len(&manager).await, feed);
    assert_eq!(manager.get(TENANT, ada.id).await.expect("ada").version, 1);
}

/// A dry run counts what its page's earlier identities free: `x` gives up
/// the identifier `x@example.com` (v2 logs in by username) and `y`, later
/// on the page, takes it as its username: valid, as the apply confirms by
/// moving both. On a page of one, the dry run cannot know and reports the
/// collision with `x`, which holds it now.
#[tokio::test]
async fn a_dry_run_counts_what_earlier_identities_of_its_page_free() {
    let manager = manager(Arc::new(MemoryStore::new()));
    let x = create(
        &manager,
        "v1",
        json!({"email": "x@example.com", "username": "x"}),
    )
    .await;
    let y = create(
        &manager,
        "v1",
        json!({"email": "y@example.com", "username": "X@example.com"}),
    )
    .await;
    let page = run(&manager, "v1", "v2", false).await;
    let outcomes: Vec<_> = page
        .entries
        .iter()
        .map(|e| (e.id, matches!(e.outcome, MigrationOutcome::Valid)))
        .collect();
    assert_eq!(outcomes, [(x.id, true), (y.id, true)]);
    let taken =
        ConflictField::CredentialIdentifier(CredentialType::Password, "x@example.com".into());
    assert_eq!(page.entries[0].removed, std::slice::from_ref(&taken));
    assert_eq!(page.entries[1].added, std::slice::from_ref(&taken));

    let one = manager
        .migrate_schema(
            TENANT,
            SchemaMigration::new("v1", "v2")
                .with_after(Some(x.id))
                .with_page_size(PageSize::new(1).expect("1")),
        )
        .await
        .expect("page of one");
    match &one.entries[0].outcome {
        MigrationOutcome::Colliding(c) => {
            assert_eq!(
                c.iter().map(|c| (&c.field, c.holder)).collect::<Vec<_>>(),
                [(&taken, Some(x.id))]
            );
        }
        other => panic!("y alone collides with x: {other:?}"),
    }

    let applied = run(&manager, "v1", "v2", true).await;
    assert_eq!((applied.counts.moved, applied.on_from_schema), (2, 0));
    let found = manager
        .find_by_identifier(TENANT, CredentialType::Password, "x@example.com")
        .await
        .expect("y logs in by its username");
    assert_eq!(found.id, y.id);
}

/// What a concurrent writer does to the identity, right before each of the
/// migration's writes.
#[derive(Debug, Clone, Copy)]
enum Interference {
    /// Bump it (a new `metadata_admin`), every time.
    Bump,
    /// Delete it.
    Delete,
    /// Move it to another schema.
    Reschema,
}

#[derive(Debug)]
struct Racing {
    inner: MemoryStore,
    what: Interference,
    writes: AtomicU32,
}

impl Racing {
    async fn interfere(&self, tenant: TenantId, id: Uuid) -> Result<(), Error> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let other = manager(Arc::new(self.inner.clone()));
        match self.what {
            Interference::Delete => other.delete(tenant, id, None).await,
            Interference::Bump => {
                let n = self.writes.load(Ordering::SeqCst);
                let ops = json!([{"op": "add", "path": "/metadata_admin/n", "value": n}]);
                other.patch(tenant, id, ops, None).await.map(drop)
            }
            Interference::Reschema => {
                let ops = json!([{"op": "replace", "path": "/schema_id", "value": "v2"},
                                 {"op": "add", "path": "/traits/username", "value": "elsewhere"}]);
                other.patch(tenant, id, ops, None).await.map(drop)
            }
        }
    }
}

#[async_trait::async_trait]
impl IdentityStore for Racing {
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
        self.interfere(t, i.identity().id).await?;
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

/// An apply whose every write loses a race: re-read and re-checked
/// `MIGRATION_RETRIES` times, then `Contended`, left as the other writer
/// left it; deleted in between: `Gone` (the conditional write finds no
/// row); moved to another schema in
/// between: `LeftSchema`, with that write standing. None of them counts as
/// moved.
#[tokio::test]
async fn concurrent_writers_end_in_contended_gone_or_left_schema() {
    for what in [
        Interference::Bump,
        Interference::Delete,
        Interference::Reschema,
    ] {
        let inner = MemoryStore::new();
        let plain = manager(Arc::new(inner.clone()));
        let ada = create(
            &plain,
            "v1",
            json!({"email": "ada@example.com", "username": "ada"}),
        )
        .await;
        let racing = Arc::new(Racing {
            inner: inner.clone(),
            what,
            writes: AtomicU32::new(0),
        });
        let page = run(&manager(racing.clone()), "v1", "v2", true).await;
        let entry = &page.entries[0];
        let stored = plain.get(TENANT, ada.id).await;
        match what {
            Interference::Bump => {
                assert!(
                    matches!(entry.outcome, MigrationOutcome::Contended),
                    "{:?}",
                    entry.outcome
                );
                assert_eq!(entry.rechecked, MIGRATION_RETRIES);
                let writes = racing.writes.load(Ordering::SeqCst);
                assert_eq!(writes, MIGRATION_RETRIES + 1, "one try and three re-tries");
                let stored = stored.expect("still there");
                assert_eq!(
                    (stored.schema_id.as_str(), stored.version, entry.version),
                    ("v1", u64::from(writes) + 1, u64::from(writes) + 1)
                );
                assert_eq!(stored.metadata_admin, Some(json!({"n": writes})));
            }
            Interference::Delete => {
                assert!(
                    matches!(entry.outcome, MigrationOutcome::Gone),
                    "{:?}",
                    entry.outcome
                );
                assert_eq!(entry.rechecked, 0, "the write itself found it gone");
                assert_eq!(
                    stored.map(|_| ()).map_err(|e| e.kind()),
                    Err(ErrorKind::NotFound)
                );
            }
            Interference::Reschema => {
                match &entry.outcome {
                    MigrationOutcome::LeftSchema { schema_id } => assert_eq!(schema_id, "v2"),
                    other => panic!("left for v2: {other:?}"),
                }
                assert_eq!((entry.rechecked, entry.version), (1, 2));
                let stored = stored.expect("still there");
                assert_eq!(
                    stored.traits["username"], "elsewhere",
                    "the other write stands"
                );
            }
        }
        let rechecked = u64::from(!matches!(what, Interference::Delete));
        assert_eq!(
            (
                page.counts.moved,
                page.counts.skipped,
                page.counts.rechecked
            ),
            (0, 1, rechecked)
        );
    }
}
