//! A writer process killed with SIGKILL at random points loses nothing it
//! acknowledged and leaves no torn identity behind.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use identity_core::{IdentityStore, TenantId};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;
const TEST: &str = "crash::sigkill_at_random_points_loses_no_acknowledged_write";
const KILLS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_no_acknowledged_write() {
    if let Some(mode) = child_mode() {
        return write_until_killed(&mode).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("crash.db");
    drop(store_at(&path));
    let seed = seed();
    eprintln!("crash test seed {seed}");
    let mut rng = Rng::new(seed);
    // id -> the highest version acknowledged for it.
    let mut acknowledged: HashMap<Uuid, u64> = HashMap::new();
    for run in 0..KILLS {
        let kill_after = 1 + rng.below(40);
        let mut child = spawn_child(TEST, &format!("{}:{run}", path.display()));
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut acks = 0;
        let mut killed = false;
        while let Some(Ok(line)) = lines.next() {
            if let Some((id, version)) = parse_ack(&line) {
                let v = acknowledged.entry(id).or_insert(0);
                *v = (*v).max(version);
                acks += 1;
            }
            if acks >= kill_after && !killed {
                // Land the kill a little after an acknowledgement, while
                // the next write is in flight.
                std::thread::sleep(std::time::Duration::from_micros(rng.below(3_000)));
                child.kill().expect("SIGKILL");
                killed = true;
            }
        }
        let status = child.wait().expect("reap child");
        assert!(
            killed,
            "run {run}: the child ended before it was killed: {status:?}"
        );
        verify(&path, &acknowledged).await;
    }
    eprintln!(
        "{} identities acknowledged over {KILLS} kills",
        acknowledged.len()
    );
    assert!(acknowledged.len() >= KILLS);
}

fn parse_ack(line: &str) -> Option<(Uuid, u64)> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let id = parts.next()?.parse().ok()?;
    let version = parts.next()?.parse().ok()?;
    Some((id, version))
}

async fn verify(path: &Path, acknowledged: &HashMap<Uuid, u64>) {
    assert_file_sound(path);
    let store = store_at(path);
    for (id, version) in acknowledged {
        let stored = store
            .get(T, *id)
            .await
            .expect("acknowledged identity present");
        assert!(
            stored.version >= *version,
            "{id}: version {} < acknowledged {version}",
            stored.version
        );
    }
    for identity in all(&store).await {
        assert_whole(&identity);
    }
}

/// The child: creates, batch-creates and updates identities until killed,
/// reporting `ACK <id> <version>` after each write returns.
async fn write_until_killed(mode: &str) {
    let (path, run) = mode.rsplit_once(':').expect("mode");
    let store = store_at(Path::new(path));
    let mut mine = Vec::new();
    for n in 0u64.. {
        let email = |k: u64| format!("r{run}-n{n}-{k}@example.com");
        match n % 4 {
            0 | 1 => {
                let p = person(Uuid::new_v4(), &email(0));
                let version = store.create(T, &valid(&p)).await.expect("create");
                report(&format!("ACK {} {version}", p.id));
                mine.push(p);
            }
            2 => {
                let batch: Vec<_> = (0..5).map(|k| person(Uuid::new_v4(), &email(k))).collect();
                let results = store
                    .batch_create(T, &batch.iter().map(valid).collect::<Vec<_>>())
                    .await
                    .expect("batch");
                for (p, r) in batch.iter().zip(results) {
                    report(&format!("ACK {} {}", p.id, r.expect("entry")));
                }
                mine.extend(batch);
            }
            _ => {
                let k = (n as usize * 7) % mine.len();
                let current = store.get(T, mine[k].id).await.expect("get");
                let next = moved(&current, &email(9), T1);
                let version = store
                    .update(T, &valid(&next), Some(current.version))
                    .await
                    .expect("update");
                report(&format!("ACK {} {version}", next.id));
            }
        }
    }
}
