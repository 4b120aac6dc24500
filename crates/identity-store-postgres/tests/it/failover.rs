//! The failover drill: writers through the store over a synchronous
//! primary/standby pair, the primary's postmaster SIGKILLed, the standby
//! promoted. `.ci/pg-failover-drill` stands the pair up on loopback ports
//! other than 5432, runs this test and tears the pair down; run alone, the
//! test fails and says so.
//!
//! What it asserts: every acknowledged write (create or update) is on the
//! new primary; every write refused as unavailable is not (a refusal is
//! never a write in disguise); writes started after the kill succeed again
//! within [`RESUME_BOUND`]; writes whose outcome is unknown are counted
//! apart, never as successes; the change feed read on the new primary
//! holds every acknowledged write's change exactly once, in version order
//! per identity, with cursors 1, 2, 3, … and nothing that was refused. It
//! prints one `DRILL` line of figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use identity_core::{Error, ErrorKind, IdentityStore};
use identity_store_postgres::{PostgresOptions, PostgresStore};
use identity_store_tests::fixtures::{TENANT, all_changes, at, email, identity, valid};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::support::raw;

/// Writers running at once.
const WRITERS: usize = 4;
/// Writing before the kill.
const BEFORE_KILL: Duration = Duration::from_millis(1500);
/// Between the kill and the promotion (an operator noticing).
const BEFORE_PROMOTION: Duration = Duration::from_millis(500);
/// How soon after the kill a write started after it must succeed.
const RESUME_BOUND: Duration = Duration::from_secs(10);
/// Writing after the first write that succeeded after the kill.
const AFTER_RESUME: Duration = Duration::from_millis(1000);

/// What the drill needs, from the environment the script sets.
struct Pair {
    primary_port: u16,
    standby_port: u16,
    /// The old primary's `postmaster.pid`.
    primary_pid_file: String,
}

fn pair() -> Pair {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: the failover drill needs a primary/standby pair; \
                 run it with .ci/pg-failover-drill"
            )
        })
    };
    assert_eq!(
        var("IDENTITY_TEST_PG_FAILOVER"),
        "1",
        "IDENTITY_TEST_PG_FAILOVER"
    );
    let port = |name: &str| -> u16 {
        let port = var(name).parse().expect("a port number");
        assert_ne!(port, 5432, "the drill never touches the cluster on 5432");
        port
    };
    Pair {
        primary_port: port("IDENTITY_DRILL_PRIMARY_PORT"),
        standby_port: port("IDENTITY_DRILL_STANDBY_PORT"),
        primary_pid_file: var("IDENTITY_DRILL_PRIMARY_PID_FILE"),
    }
}

/// What the writers saw.
#[derive(Default)]
struct Tally {
    /// Acknowledged: (identity id, version).
    acked: Vec<(Uuid, u64)>,
    /// Outcome unknown: the identity id.
    in_doubt: Vec<Uuid>,
    /// Refused (unavailable): (identity id, version the write would have
    /// given: 1 for a create).
    refused: Vec<(Uuid, u64)>,
    /// Other errors, by kind (none expected).
    other: Vec<ErrorKind>,
    /// When each acknowledged write started and ended.
    acks: Vec<(Instant, Instant)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a failover drill: needs a primary/standby pair; run by .ci/pg-failover-drill"]
async fn failover_drill() {
    let pair = pair();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        pair.primary_port, pair.standby_port
    );
    let options = PostgresOptions::default()
        .with_schema(format!("drill_{}", Uuid::new_v4().simple()))
        .with_max_connections(8)
        .with_connect_timeout(Duration::from_secs(1))
        .with_statement_timeout(Duration::from_secs(2))
        .with_commit_timeout(Duration::from_secs(2))
        .with_reconnect_window(Duration::from_secs(15));
    let store = PostgresStore::connect(&url, options.clone())
        .await
        .expect("connect to the pair");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, stop, tally) = (store.clone(), Arc::clone(&stop), Arc::clone(&tally));
        writers.push(tokio::spawn(async move {
            write_until(w as u64, &store, &stop, &tally).await
        }));
    }

    tokio::time::sleep(BEFORE_KILL).await;
    let acked_before = tally.lock().await.acked.len();
    assert!(acked_before > 0, "writes succeed before the kill");
    let pid = std::fs::read_to_string(&pair.primary_pid_file).expect("postmaster.pid");
    let pid = pid.lines().next().expect("the pid line").trim().to_owned();
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(status.success(), "SIGKILL the primary's postmaster {pid}");

    tokio::time::sleep(BEFORE_PROMOTION).await;
    let standby = raw(
        &format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            pair.standby_port
        ),
        None,
    )
    .await;
    let promoted: bool = standby
        .query_one("SELECT pg_promote(true, 60)", &[])
        .await
        .expect("promote the standby")
        .get(0);
    assert!(promoted, "the standby was promoted");
    let promoted_after = killed.elapsed();

    // Writes resume: the first acknowledged write started after the kill.
    let deadline = killed + RESUME_BOUND + Duration::from_secs(5);
    let resumed = loop {
        let first = tally
            .lock()
            .await
            .acks
            .iter()
            .filter(|(started, _)| *started >= killed)
            .map(|(_, ended)| *ended)
            .min();
        if let Some(ended) = first {
            break ended.duration_since(killed);
        }
        assert!(
            Instant::now() < deadline,
            "no write started after the kill succeeded within {:?}",
            deadline - killed
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(AFTER_RESUME).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }

    // Every acknowledged write is on the new primary; no refused one is.
    let new_primary = PostgresStore::connect(
        &format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            pair.standby_port
        ),
        options,
    )
    .await
    .expect("connect to the new primary");
    let tally = tally.lock().await;
    let mut lost = Vec::new();
    for (id, version) in &tally.acked {
        match new_primary.get(TENANT, *id).await {
            Ok(found) if found.version >= *version => {}
            other => lost.push((*id, *version, other.map(|i| i.version).ok())),
        }
    }
    let mut refused_but_written = Vec::new();
    for (id, version) in &tally.refused {
        if let Ok(found) = new_primary.get(TENANT, *id).await
            && found.version >= *version
        {
            refused_but_written.push((*id, *version));
        }
    }
    let mut doubt_written = 0;
    for id in &tally.in_doubt {
        if new_primary.get(TENANT, *id).await.is_ok() {
            doubt_written += 1;
        }
    }
    // Acknowledged writes that were in flight when the primary died: the
    // store re-ran them, or settled a lost commit, on the new primary.
    let spanning = tally
        .acks
        .iter()
        .filter(|(started, ended)| *started < killed && *ended > killed)
        .count();
    // The outage: the longest time without an acknowledgement, from the
    // last one before the kill (the old primary's backends may still
    // commit for a moment after their postmaster died).
    let mut ends: Vec<Instant> = tally.acks.iter().map(|(_, ended)| *ended).collect();
    ends.sort();
    let outage = ends
        .windows(2)
        .filter(|w| w[1] > killed)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    // The change feed, read (and so numbered) on the new primary.
    let feed = all_changes(&new_primary, TENANT).await;
    let mut recorded: HashMap<(Uuid, u64), usize> = HashMap::new();
    let mut last_version: HashMap<Uuid, u64> = HashMap::new();
    for change in &feed {
        *recorded
            .entry((change.identity_id, change.version))
            .or_default() += 1;
        let last = last_version.insert(change.identity_id, change.version);
        assert!(
            last.is_none_or(|v| v < change.version),
            "{change:?} after version {last:?} of the same identity"
        );
    }
    assert!(
        feed.iter()
            .map(|c| c.cursor.get())
            .eq(1..=feed.len() as u64),
        "the feed's cursors have a gap or a repeat"
    );
    let twice: Vec<_> = recorded.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(twice, Vec::<_>::new(), "changes recorded more than once");
    let unrecorded: Vec<_> = tally
        .acked
        .iter()
        .filter(|a| !recorded.contains_key(a))
        .collect();
    assert_eq!(
        unrecorded,
        Vec::<&(Uuid, u64)>::new(),
        "acknowledged writes missing from the feed"
    );
    let refused_in_feed: Vec<_> = tally
        .refused
        .iter()
        .filter(|r| recorded.contains_key(r))
        .collect();
    assert_eq!(
        refused_in_feed,
        Vec::<&(Uuid, u64)>::new(),
        "refused writes in the feed"
    );
    println!(
        "DRILL acknowledged={} acknowledged_before_kill={} acknowledged_across_kill={} \
         in_doubt={} in_doubt_found_written={} refused={} lost={} \
         first_write_after_kill_ms={} outage_ms={} promoted_after_ms={} feed_changes={}",
        tally.acked.len(),
        acked_before,
        spanning,
        tally.in_doubt.len(),
        doubt_written,
        tally.refused.len(),
        lost.len(),
        resumed.as_millis(),
        outage.as_millis(),
        promoted_after.as_millis(),
        feed.len(),
    );
    assert_eq!(lost, [], "acknowledged writes missing on the new primary");
    assert_eq!(
        refused_but_written,
        [],
        "writes refused as unavailable that were written"
    );
    assert_eq!(tally.other, [], "errors other than unavailable or unknown");
    assert!(
        resumed <= RESUME_BOUND,
        "writes resumed {resumed:?} after the kill, over {RESUME_BOUND:?}"
    );
}

/// One writer: creates an identity, then updates it (the version it
/// expects given) until an update fails, then creates the next one.
async fn write_until(w: u64, store: &PostgresStore, stop: &AtomicBool, tally: &Mutex<Tally>) {
    let mut n = 0u64;
    let mut current: Option<(identity_core::Identity, u64)> = None;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let started = Instant::now();
        let (id, version, result) = match current.take() {
            None => {
                let seed = (w << 32) | n;
                let mut next = identity(seed, &format!("w{w}-{}", email(n)));
                next.id = Uuid::new_v4();
                let result = store.create(TENANT, &valid(next.clone())).await;
                if result.is_ok() {
                    current = Some((next.clone(), 1));
                }
                (next.id, 1, result)
            }
            Some((mut next, version)) => {
                next.metadata_admin = Some(serde_json::json!({ "counter": n }));
                next.updated_at = at(i64::try_from(n).unwrap_or(0) * 1000);
                next.version = version + 1;
                let result = store
                    .update(TENANT, &valid(next.clone()), Some(version))
                    .await;
                if let Ok(v) = result {
                    current = Some((next.clone(), v));
                }
                (next.id, version + 1, result)
            }
        };
        let ended = Instant::now();
        let mut tally = tally.lock().await;
        match result {
            Ok(v) => {
                assert_eq!(v, version, "the version a write gives");
                tally.acked.push((id, v));
                tally.acks.push((started, ended));
            }
            Err(e @ Error::OutcomeUnknown { .. }) => {
                assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
                tally.in_doubt.push(id);
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => tally.refused.push((id, version)),
            Err(e) => tally.other.push(e.kind()),
        }
    }
}
