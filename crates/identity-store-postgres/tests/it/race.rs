//! Two identity managers in one process, each on its own store and pool,
//! racing on the same emails and on the same identity's versions.

use std::sync::Arc;

use identity_core::{CreateIdentityBody, IdentityManager};
use identity_core::{
    CredentialType, DynIdentityStore, Error, ErrorKind, IdentityStore, SchemaRegistry, TenantId,
};
use serde_json::json;

use crate::support::{Schema, url};

const TENANT: TenantId = TenantId::DEFAULT;
const HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";

fn schemas() -> Arc<SchemaRegistry> {
    let mut registry = SchemaRegistry::new();
    registry
        .register(
            "default",
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"traits": {"type": "object", "properties": {
                    "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}},
                        "verification": {"via": "email"},
                        "recovery": {"via": "email"}}}
                }, "required": ["email"]}}
            }),
        )
        .expect("schema");
    Arc::new(registry)
}

async fn managers(schema: &Schema) -> [IdentityManager; 2] {
    let registry = schemas();
    let one: DynIdentityStore = Arc::new(schema.store().await);
    let two: DynIdentityStore = Arc::new(schema.store().await);
    [
        IdentityManager::builder(one, Arc::clone(&registry)).build(),
        IdentityManager::builder(two, registry).build(),
    ]
}

fn body(email: &str, worker: usize) -> CreateIdentityBody {
    serde_json::from_value(json!({
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"hashed_password": HASH}}},
        "metadata_admin": {"worker": worker, "counter": 0}
    }))
    .expect("body")
}

/// Both managers create identities with the same 12 emails at the same
/// time (4 tasks each): every email is won exactly once, every loser gets a
/// create conflict, and the stored owner of each email is its winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn contested_emails_are_won_once() {
    let url = url();
    let schema = Schema::new(&url);
    let managers = managers(&schema).await;
    const EMAILS: usize = 12;
    const TASKS_PER_MANAGER: usize = 4;
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * TASKS_PER_MANAGER));
    let mut tasks = Vec::new();
    for (m, manager) in managers.iter().enumerate() {
        for t in 0..TASKS_PER_MANAGER {
            let manager = manager.clone();
            let barrier = Arc::clone(&barrier);
            let worker = m * TASKS_PER_MANAGER + t;
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut won = Vec::new();
                for e in 0..EMAILS {
                    let email = format!("race{e}@example.com");
                    match manager.create(TENANT, body(&email, worker)).await {
                        Ok(identity) => won.push((email, identity.id)),
                        Err(Error::Conflict { .. }) => {}
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
                won
            }));
        }
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.expect("task"));
    }
    winners.sort();
    let emails: Vec<&str> = winners.iter().map(|(e, _)| e.as_str()).collect();
    let mut expected: Vec<String> = (0..EMAILS)
        .map(|e| format!("race{e}@example.com"))
        .collect();
    expected.sort();
    assert_eq!(emails, expected, "each email won exactly once");
    for (email, id) in &winners {
        let owner = managers[0]
            .store()
            .find_by_identifier(TENANT, CredentialType::Password, email)
            .await
            .expect("the owner");
        assert_eq!(owner.id, *id, "{email} belongs to its winner");
        assert_eq!(owner.verifiable_addresses.len(), 1);
        assert_eq!(owner.recovery_addresses.len(), 1);
    }
    let all = identity_core::IdentityStoreExt::list_all(
        managers[1].store(),
        TENANT,
        identity_core::ListFilter::All,
    )
    .await
    .expect("list");
    assert_eq!(all.len(), EMAILS, "no loser left anything behind");
}

/// Both managers patch one identity's counter with read-modify-write at
/// the version they read (3 tasks each, 15 increments per task), retrying
/// on a version mismatch: no increment is lost and the version counts
/// every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn contested_versions_lose_no_update() {
    let url = url();
    let schema = Schema::new(&url);
    let managers = managers(&schema).await;
    const TASKS_PER_MANAGER: u64 = 3;
    const INCREMENTS: u64 = 15;
    let created = managers[0]
        .create(TENANT, body("counter@example.com", 0))
        .await
        .expect("create");
    let id = created.id;
    let mut tasks = Vec::new();
    for manager in &managers {
        for _ in 0..TASKS_PER_MANAGER {
            let manager = manager.clone();
            tasks.push(tokio::spawn(async move {
                let mut mismatches = 0u64;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = manager.get(TENANT, id).await.expect("read");
                        let counter = current.metadata_admin.as_ref().expect("metadata")
                            ["counter"]
                            .as_u64()
                            .expect("counter");
                        let patch = json!([
                            {"op": "replace", "path": "/metadata_admin/counter", "value": counter + 1}
                        ]);
                        match manager.patch(TENANT, id, patch, Some(current.version)).await {
                            Ok(_) => break,
                            Err(e) if e.kind() == ErrorKind::VersionMismatch => mismatches += 1,
                            Err(e) => panic!("patch failed: {e:?}"),
                        }
                    }
                }
                mismatches
            }));
        }
    }
    let mut mismatches = 0;
    for task in tasks {
        mismatches += task.await.expect("task");
    }
    let total = 2 * TASKS_PER_MANAGER * INCREMENTS;
    let end = managers[1].get(TENANT, id).await.expect("final read");
    assert_eq!(
        end.metadata_admin.as_ref().expect("metadata")["counter"],
        json!(total)
    );
    assert_eq!(end.version, total + 1, "one version per successful write");
    eprintln!("{total} increments, {mismatches} version mismatches retried");
}
