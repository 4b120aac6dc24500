//! `--changes-log`: the change feed delivered at least once to a JSON lines
//! file, surviving a SIGKILL of the server between commit and delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::Server;

/// The changes in the log, one JSON object per line (a line torn by a kill
/// mid-write would fail to parse: the sink syncs whole pages, and the
/// file is append-only).
fn read_log(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a torn line {l:?}: {e}")))
        .collect()
}

async fn create(http: &reqwest::Client, base: &str, n: usize) -> Option<String> {
    let body = json!({"schema_id": "default", "traits": {"email": format!("feed{n}@example.com")}});
    let reply = http
        .post(format!("{base}/admin/identities"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if reply.status().as_u16() != 201 {
        return None;
    }
    let created: Value = reply.json().await.ok()?;
    created["id"].as_str().map(str::to_owned)
}

/// Every change the store holds, read through the restarted server.
async fn feed(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page: Value = http
            .get(format!(
                "{base}/admin/identities/changes?page_size=500&after={after}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let changes = page["changes"].as_array().unwrap().clone();
        after = page["next"].as_str().unwrap().to_owned();
        if changes.is_empty() {
            return out;
        }
        out.extend(changes);
    }
}

/// Rounds of: start the server on one SQLite file, create identities over
/// HTTP, SIGKILL it (with delivery lagging, so committed changes are not
/// yet in the log). Then one last start that is left to catch up: the log
/// holds every change of the store's feed (each acknowledged create among
/// them), in cursor order once duplicates are dropped, each line the wire
/// form of the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_change_is_delivered_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("feed.db").display());
    let log = dir.path().join("changes.jsonl");
    let log_flag = log.display().to_string();
    let http = reqwest::Client::new();
    let mut acknowledged = BTreeSet::new();
    let mut n = 0;
    // Delivery every 0.01 s, 0.3 s and 5 s: killed in the middle of a
    // delivery or between two, and (the last round) with all of its
    // changes committed and none delivered.
    for poll in ["0.01", "0.3", "5"] {
        let mut server = Server::start_with(
            &database,
            &["--changes-log", &log_flag, "--changes-poll", poll],
        );
        server.wait_ready().await;
        for _ in 0..15 {
            n += 1;
            let id = create(&http, &server.base, n).await.expect("a create");
            acknowledged.insert(id);
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    let before_restart = read_log(&log).len();

    let mut server = Server::start_with(
        &database,
        &["--changes-log", &log_flag, "--changes-poll", "0.01"],
    );
    server.wait_ready().await;
    let stored = feed(&http, &server.base).await;
    assert_eq!(stored.len(), 45, "one change per acknowledged create");
    let stored_ids: BTreeSet<String> = stored
        .iter()
        .map(|c| c["identity_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored_ids, acknowledged);
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let delivered = read_log(&log);
        let cursors: BTreeSet<&str> = delivered
            .iter()
            .map(|c| c["cursor"].as_str().unwrap())
            .collect();
        if cursors.len() == stored.len() {
            break delivered;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} changes delivered:\n{}",
            cursors.len(),
            stored.len(),
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        before_restart < stored.len(),
        "the kills left changes undelivered ({before_restart} of {} in the log)",
        stored.len()
    );
    // Drop the duplicates of at-least-once: what is left is the feed.
    let mut unique: BTreeMap<u64, &Value> = BTreeMap::new();
    for change in &delivered {
        let cursor: u64 = change["cursor"].as_str().unwrap().parse().unwrap();
        if let Some(earlier) = unique.insert(cursor, change) {
            assert_eq!(
                earlier, change,
                "a change delivered twice is the same change"
            );
        }
    }
    let unique: Vec<Value> = unique.into_values().cloned().collect();
    assert_eq!(unique, stored, "the log holds exactly the store's feed");
    eprintln!(
        "{} changes, {} lines delivered ({} duplicates), {before_restart} delivered before the last restart",
        stored.len(),
        delivered.len(),
        delivered.len() - stored.len()
    );
    assert_eq!(server.terminate().code(), Some(0));
}
