//! Dropping the future of an in-flight update leaves the old identity or
//! the new one, never a mix.

use std::time::Duration;

use identity_core::{Error, IdentityStore, TenantId};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

/// An identity with `n` addresses, all derived from `tag`.
fn wide(id: Uuid, tag: &str, n: usize) -> identity_core::Identity {
    let mut identity = person(id, &format!("{tag}-0@example.com"));
    let emails: Vec<String> = (0..n).map(|k| format!("{tag}-{k}@example.com")).collect();
    identity.traits["emails"] = json!(emails);
    let template_v = identity.verifiable_addresses[0].clone();
    let template_r = identity.recovery_addresses[0].clone();
    identity.verifiable_addresses = emails
        .iter()
        .map(|e| identity_core::VerifiableAddress {
            id: Uuid::new_v4(),
            value: e.clone(),
            ..template_v.clone()
        })
        .collect();
    identity.recovery_addresses = emails
        .iter()
        .map(|e| identity_core::RecoveryAddress {
            id: Uuid::new_v4(),
            value: e.clone(),
            ..template_r.clone()
        })
        .collect();
    if let Some(c) = identity
        .credentials
        .get_mut(&identity_core::CredentialType::Code)
    {
        c.identifiers = emails;
    }
    identity
}

/// In a task: a write from a task runs on the blocking pool, so its future
/// can be dropped while the write is under way (a caller that is no task
/// writes on its own thread, and its write is done when the future first
/// returns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_update_is_all_or_nothing() {
    tokio::spawn(dropped_updates())
        .await
        .expect("the test task");
}

async fn dropped_updates() {
    let (store, _dir, _) = file_store();
    let id = Uuid::new_v4();
    let mut current = wide(id, "gen0", 150);
    store.create(T, &valid(&current)).await.expect("create");
    current.version = 1;
    let mut rng = Rng::new(seed());
    let (mut cut, mut applied) = (0, 0);
    for round in 1..=30 {
        let mut next = wide(id, &format!("gen{round}"), 150);
        next.version = current.version + 1;
        let write = valid(&next);
        let mut update = Box::pin(store.update(T, &write, Some(current.version)));
        let finished = if round % 2 == 0 {
            // Polled once (the write is under way), then dropped.
            tokio::select! {
                biased;
                result = &mut update => result.is_ok(),
                () = std::future::ready(()) => false,
            }
        } else {
            let budget = Duration::from_micros(rng.below(4_000));
            tokio::time::timeout(budget, &mut update).await.is_ok()
        };
        drop(update);
        if !finished {
            cut += 1;
        }
        // A write queues behind the writer, so once a probe write returns,
        // a dropped update that already held the writer has finished. One
        // whose blocking task had not yet reached the writer may still
        // commit after the probe: settle until two probed reads agree.
        let mut stored = get(&store, id).await;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let probe = store.delete(T, Uuid::new_v4(), None).await;
            assert!(matches!(probe, Err(Error::NotFound)));
            let again = get(&store, id).await;
            if again == stored {
                break;
            }
            stored = again;
        }
        if stored == next {
            applied += 1;
            current = next;
        } else {
            assert_eq!(stored, current, "round {round}: neither old nor new");
            assert!(!finished, "round {round}: a finished update was lost");
        }
    }
    eprintln!("{cut} of 30 update futures dropped in flight; {applied} updates applied");
    assert!(
        cut >= 15,
        "every even round drops its future after one poll"
    );
}
