//! `GET /admin/identities/changes`: the change feed over HTTP.

use std::sync::Arc;

use axum::http::Method;
use identity_core::{IdentityStore as _, PruneChanges, TenantId};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};

use crate::common::{create, get, manager, send};

fn summary(body: &Value) -> Vec<(String, String, String, u64, Vec<String>)> {
    body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["cursor"].as_str().expect("cursor").to_owned(),
                c["identity_id"].as_str().expect("id").to_owned(),
                c["kind"].as_str().expect("kind").to_owned(),
                c["version"].as_u64().expect("version"),
                c["fields"]
                    .as_array()
                    .expect("fields")
                    .iter()
                    .map(|f| f.as_str().expect("a name").to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// Writes over HTTP appear in the feed with the wire shape of the issue,
/// paged by `page_size`, followed by `next`, both under `/admin` and
/// without it; an empty page repeats the cursor.
#[tokio::test]
async fn writes_appear_in_the_feed_in_order() {
    let store = MemoryStore::new();
    let app = identity_http::router(manager(Arc::new(store.clone())));
    let empty = get(&app, "/admin/identities/changes").await;
    assert_eq!(empty.status.as_u16(), 200, "{}", empty.text);
    assert_eq!(empty.body, json!({"changes": [], "next": "0"}));

    let a = create(&app, "a@example.com", json!({})).await;
    let id = a["id"].as_str().expect("id").to_owned();
    let put = send(
        &app,
        Method::PUT,
        &format!("/admin/identities/{id}"),
        &[],
        Some(&json!({"schema_id": "default", "traits": {"email": "b@example.com"}, "state": "inactive"})),
    )
    .await;
    assert_eq!(put.status.as_u16(), 200, "{}", put.text);
    let deleted = send(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.status.as_u16(), 204, "{}", deleted.text);

    let first = get(&app, "/admin/identities/changes?page_size=2").await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.text);
    let created_fields: Vec<String> = [
        "schema_id",
        "state",
        "traits",
        "credentials",
        "verifiable_addresses",
        "recovery_addresses",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        summary(&first.body),
        [
            ("1".into(), id.clone(), "created".into(), 1, created_fields),
            (
                "2".into(),
                id.clone(),
                "updated".into(),
                2,
                [
                    "state",
                    "traits",
                    "credentials",
                    "verifiable_addresses",
                    "recovery_addresses"
                ]
                .map(String::from)
                .to_vec()
            ),
        ]
    );
    assert_eq!(first.body["next"], "2");
    let change = &first.body["changes"][0];
    let mut keys: Vec<&str> = change
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["at", "cursor", "fields", "identity_id", "kind", "version"]
    );
    let at = identity_core::Timestamp::parse(change["at"].as_str().expect("at")).expect("RFC 3339");
    let created = identity_core::Timestamp::parse(a["created_at"].as_str().expect("created_at"))
        .expect("RFC 3339");
    assert!(
        at >= created,
        "committed ({at}) after it was made ({created})"
    );

    let second = get(&app, "/identities/changes?after=2&page_size=2").await;
    assert_eq!(
        summary(&second.body),
        [("3".into(), id.clone(), "deleted".into(), 3, vec![])]
    );
    assert_eq!(second.body["next"], "3");
    let idle = get(&app, "/admin/identities/changes?after=3").await;
    assert_eq!(idle.body, json!({"changes": [], "next": "3"}));
    let past = get(&app, "/admin/identities/changes?after=99&page_size=0").await;
    assert_eq!(past.body, json!({"changes": [], "next": "99"}));
}

/// A cursor before the retained changes is 410 Gone in Kratos' envelope,
/// with the cursor to go on from; malformed parameters are 400.
#[tokio::test]
async fn pruned_and_malformed_cursors_are_refused() {
    let store = MemoryStore::new();
    let app = identity_http::router(manager(Arc::new(store.clone())));
    for n in 0..3 {
        create(&app, &format!("p{n}@example.com"), json!({})).await;
    }
    store
        .prune_changes(TenantId::DEFAULT, &PruneChanges::new(None, Some(1)))
        .await
        .expect("prune");
    let gone = get(&app, "/admin/identities/changes?after=1").await;
    let error = gone.envelope(410);
    assert_eq!(error["status"], "Gone");
    assert_eq!(
        error["details"],
        json!({"after": "1", "pruned_through": "2"})
    );
    assert!(
        error["reason"]
            .as_str()
            .is_some_and(|r| r.contains("pruned")),
        "{}",
        gone.text
    );
    let from_oldest = get(&app, "/admin/identities/changes").await;
    assert_eq!(from_oldest.body["changes"][0]["cursor"], "3");
    assert_eq!(from_oldest.body["next"], "3");
    for bad in ["after=-1", "after=abc", "after=%201", "page_size=x"] {
        let reply = get(&app, &format!("/admin/identities/changes?{bad}")).await;
        reply.envelope(400);
    }
    let put = send(
        &app,
        Method::PUT,
        "/admin/identities/changes",
        &[],
        Some(&json!({})),
    )
    .await;
    assert_eq!(put.status.as_u16(), 405, "{}", put.text);
}
