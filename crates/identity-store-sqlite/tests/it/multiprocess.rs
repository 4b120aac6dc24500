//! Two processes writing one file at once: no corruption, and a contested
//! email is won by exactly one of them.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use identity_core::{CredentialType, Error, IdentityStore, TenantId};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;
const TEST: &str = "multiprocess::two_processes_share_a_file_and_never_both_win_an_email";
const CONTESTED: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_file_and_never_both_win_an_email() {
    if let Some(mode) = child_mode() {
        return contest(&mode).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shared.db");
    drop(store_at(&path));
    let go = dir.path().join("go");
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| spawn_child(TEST, &format!("{}:{}:{name}", path.display(), go.display())))
        .collect();
    std::fs::write(&go, b"go").expect("start signal");
    // (k -> winners) and every private identity each process wrote.
    let mut winners: HashMap<usize, Vec<Uuid>> = HashMap::new();
    let mut private = Vec::new();
    let mut losses = 0;
    for mut child in children {
        let stdout = child.stdout.take().expect("stdout");
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["WIN", k, id] => winners
                    .entry(k.parse().expect("k"))
                    .or_default()
                    .push(id.parse().expect("id")),
                ["LOSE", _] => losses += 1,
                ["MINE", id] => private.push(id.parse::<Uuid>().expect("id")),
                _ => {}
            }
        }
        assert!(child.wait().expect("wait").success(), "a writer failed");
    }
    assert_file_sound(&path);
    assert_eq!(losses, CONTESTED);
    let store = store_at(&path);
    for k in 0..CONTESTED {
        let won = winners.get(&k).cloned().unwrap_or_default();
        assert_eq!(won.len(), 1, "email {k} won by {won:?}");
        let holder = store
            .find_by_identifier(
                T,
                CredentialType::Password,
                &format!("contested-{k}@example.com"),
            )
            .await
            .expect("holder");
        assert_eq!(holder.id, won[0]);
        assert_whole(&holder);
    }
    assert_eq!(private.len(), 2 * CONTESTED);
    for id in private {
        assert_whole(&get(&store, id).await);
    }
}

/// The child: waits for the start signal, then for each k creates one
/// identity claiming `contested-k` and one private identity.
async fn contest(mode: &str) {
    let mut parts = mode.split(':');
    let (path, go, name) = (
        parts.next().expect("path"),
        parts.next().expect("go"),
        parts.next().expect("name"),
    );
    let store = store_at(Path::new(path));
    while !Path::new(go).exists() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for k in 0..CONTESTED {
        let p = person(Uuid::new_v4(), &format!("contested-{k}@example.com"));
        match store.create(T, &valid(&p)).await {
            Ok(_) => report(&format!("WIN {k} {}", p.id)),
            Err(Error::Conflict { .. }) => report(&format!("LOSE {k}")),
            Err(e) => panic!("contested create failed: {e:?}"),
        }
        let mine = person(Uuid::new_v4(), &format!("{name}-{k}@example.com"));
        store
            .create(T, &valid(&mine))
            .await
            .expect("private create");
        report(&format!("MINE {}", mine.id));
    }
}
