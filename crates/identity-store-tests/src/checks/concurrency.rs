//! Concurrent writers.

use std::sync::Arc;

use identity_core::{DynIdentityStore, Error, ErrorKind, WriteOp};
use serde_json::json;

use crate::fixtures::{TENANT, email, id, identity, valid, with_version};
use crate::support::{all, create_ok, get};

const TASKS: u64 = 8;
const INCREMENTS: u64 = 50;
const CREATORS: u64 = 16;

/// `TASKS` tasks each add 1 to a counter in `metadata_admin` `INCREMENTS`
/// times with read-modify-write updates at the version they read, retrying
/// on VersionMismatch: no increment is lost (8 × 50 = 400) and the version
/// counts every successful write (401).
pub async fn check_concurrent_increments(store: DynIdentityStore) {
    let start = identity(1, &email(1));
    create_ok(&store, TENANT, &start).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut retries = 0u64;
                for _ in 0..INCREMENTS {
                    loop {
                        let mut current =
                            Arc::unwrap_or_clone(store.get(TENANT, id(1)).await.expect("read"));
                        let version = current.version;
                        let counter = current
                            .metadata_admin
                            .as_ref()
                            .and_then(|m| m["counter"].as_u64())
                            .expect("a counter");
                        current.metadata_admin = Some(json!({ "counter": counter + 1 }));
                        match store.update(TENANT, &valid(current), Some(version)).await {
                            Ok(new) => {
                                assert!(new > version, "the version grows");
                                break;
                            }
                            Err(Error::VersionMismatch { expected, actual }) => {
                                assert_eq!(expected, version);
                                assert!(actual > version, "a mismatch means a newer version");
                                retries += 1;
                            }
                            Err(e) => panic!("update failed: {e:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("an incrementing task");
    }
    let end = get(&store, TENANT, id(1)).await;
    assert_eq!(
        end.metadata_admin,
        Some(json!({ "counter": TASKS * INCREMENTS }))
    );
    assert_eq!(end.version, TASKS * INCREMENTS + 1);
    let mut expected = with_version(&start, TASKS * INCREMENTS + 1);
    expected.metadata_admin = Some(json!({ "counter": TASKS * INCREMENTS }));
    assert_eq!(end, expected, "nothing else changed");
}

/// `CREATORS` concurrent creates of distinct identities claiming one email
/// (identifier and addresses): exactly one succeeds, every other fails with
/// a Create conflict, and the store holds only the winner.
pub async fn check_concurrent_creates_one_email(store: DynIdentityStore) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CREATORS as usize));
    let tasks: Vec<_> = (1..=CREATORS)
        .map(|seed| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let candidate = identity(seed, "race@example.com");
                barrier.wait().await;
                (seed, store.create(TENANT, &valid(candidate)).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for task in tasks {
        let (seed, result) = task.await.expect("a creating task");
        match result {
            Ok(version) => {
                assert_eq!(version, 1);
                winners.push(seed);
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "a loser's error: {e:?}");
                assert!(matches!(
                    e,
                    Error::Conflict {
                        op: WriteOp::Create,
                        ..
                    }
                ));
                losers += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    assert_eq!(losers, CREATORS - 1);
    let winner = winners[0];
    let everyone = all(&store, TENANT).await;
    assert_eq!(
        everyone,
        vec![with_version(&identity(winner, "race@example.com"), 1)]
    );
    let found = store
        .find_by_identifier(
            TENANT,
            identity_core::CredentialType::Password,
            "race@example.com",
        )
        .await
        .expect("the winner by its email");
    assert_eq!(found.id, id(winner));
}
