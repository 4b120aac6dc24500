//! `?dry_run=true` on the create routes, and `POST /admin/identities/bulk`.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use identity_core::password::PasswordHasher;
use identity_core::{
    FixedClock, IdentityManager, IdentityStore as _, ManagerConfig, PageSize, SequentialIds,
    TenantId, Timestamp,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};

use crate::common::{BASE_URL, Reply, post, schemas, send};

/// A router over a fresh memory store with a fixed clock and sequential
/// ids, so that two of them answer the same requests alike; and the store.
fn twin() -> (Router, MemoryStore) {
    let store = MemoryStore::new();
    let manager = IdentityManager::builder(Arc::new(store.clone()), Arc::new(schemas()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .config(ManagerConfig::default().with_base_url(BASE_URL))
        .clock(Arc::new(FixedClock::new(
            Timestamp::parse("2026-12-04T10:00:00Z").unwrap(),
        )))
        .ids(Arc::new(SequentialIds::new()))
        .build();
    (identity_http::router(manager), store)
}

/// Two twins holding one identity (`taken@example.com`, external id
/// `ext-taken`).
async fn seeded() -> [(Router, MemoryStore); 2] {
    let twins = [twin(), twin()];
    for (app, _) in &twins {
        let reply = post(
            app,
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {"email": "taken@example.com"},
                    "external_id": "ext-taken"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    twins
}

async fn feed_len(store: &MemoryStore) -> usize {
    store
        .changes(TenantId::DEFAULT, None, PageSize::MAX)
        .await
        .unwrap()
        .changes
        .len()
}

async fn count(store: &MemoryStore) -> u64 {
    store.count(TenantId::DEFAULT).await.unwrap()
}

/// Status, body and the headers a client reads of a reply.
fn answer(reply: &Reply) -> (StatusCode, Value, Option<&str>, Option<&str>) {
    (
        reply.status,
        reply.body.clone(),
        reply.header("location"),
        reply.header("etag"),
    )
}

#[tokio::test]
async fn a_dry_run_create_answers_what_the_create_does_and_writes_nothing() {
    let inputs = [
        json!({"schema_id": "default", "traits": {"email": "new@example.com"},
               "state": "inactive", "region": "eu-central",
               "credentials": {"password": {"config": {"password": "s3cret-password"}}}}),
        json!({"schema_id": "default", "traits": {"email": "TAKEN@example.com"}}),
        json!({"schema_id": "default", "traits": {"email": "free@example.com"},
               "external_id": "ext-taken"}),
        json!({"schema_id": "default", "traits": {"email": "not an email"}}),
        json!({"schema_id": "default", "traits": {"email": "free@example.com"}, "bogus": 1}),
        json!({"schema_id": "default", "traits": {"email": "free@example.com"},
               "credentials": {"password": {"config": {"hashed_password": "$2b$04$tooshort"}}}}),
    ];
    let expected_status = [201, 409, 409, 400, 400, 400];
    for (input, status) in inputs.iter().zip(expected_status) {
        let [(dry_app, dry_store), (real_app, real_store)] = seeded().await;
        let dry = post(&dry_app, "/admin/identities?dry_run=true", input).await;
        assert_eq!(dry.header("x-dry-run"), Some("true"), "{input}");
        assert_eq!(count(&dry_store).await, 1, "{input}: nothing stored");
        assert_eq!(feed_len(&dry_store).await, 1, "{input}: no change");
        let real = post(&real_app, "/admin/identities", input).await;
        assert_eq!(real.header("x-dry-run"), None, "{input}");
        assert_eq!(dry.status.as_u16(), status, "{input}: {}", dry.text);
        assert_eq!(answer(&dry), answer(&real), "{input}");
        let stored = if status == 201 { 2 } else { 1 };
        assert_eq!(count(&real_store).await, stored, "{input}");
    }
}

#[tokio::test]
async fn dry_run_false_is_a_real_run_and_other_values_are_refused() {
    let [(app, store), _] = seeded().await;
    let body = json!({"schema_id": "default", "traits": {"email": "new@example.com"}});
    for query in [
        "dry_run=yes",
        "dry_run=1",
        "dry_run=",
        "dry_run=true&dry_run=false",
    ] {
        for (method, path) in [
            (Method::POST, "/admin/identities"),
            (Method::PATCH, "/admin/identities"),
        ] {
            let reply = send(
                &app,
                method.clone(),
                &format!("{path}?{query}"),
                &[],
                Some(&body),
            )
            .await;
            assert_eq!(reply.envelope(400)["code"], 400, "{method} {query}");
            assert_eq!(reply.header("x-dry-run"), None);
        }
    }
    assert_eq!((count(&store).await, feed_len(&store).await), (1, 1));
    let reply = post(&app, "/admin/identities?dry_run=false", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("x-dry-run"), None);
    assert_eq!((count(&store).await, feed_len(&store).await), (2, 2));
}

#[tokio::test]
async fn a_dry_run_batch_answers_what_the_batch_does_and_writes_nothing() {
    let entry = |email: &str, extra: Value| {
        let mut create = json!({"schema_id": "default", "traits": {"email": email}});
        create
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"create": create})
    };
    let body = json!({"identities": [
        entry("one@example.com", json!({})),
        Value::Null,
        entry("ONE@example.com", json!({})),
        entry("taken@example.com", json!({})),
        entry("bad", json!({})),
        entry("two@example.com", json!({"external_id": "ext-taken"})),
        {"create": {"traits": {"email": "x@example.com"}}, "nonsense": true},
        entry("three@example.com", json!({"credentials": {"password": {"config": {"password": "pw-three-long"}}}})),
    ]});
    let [(dry_app, dry_store), (real_app, real_store)] = seeded().await;
    let dry = send(
        &dry_app,
        Method::PATCH,
        "/admin/identities?dry_run=true",
        &[],
        Some(&body),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    assert_eq!(dry.header("x-dry-run"), Some("true"));
    assert_eq!(
        (count(&dry_store).await, feed_len(&dry_store).await),
        (1, 1)
    );
    let real = send(
        &real_app,
        Method::PATCH,
        "/admin/identities",
        &[],
        Some(&body),
    )
    .await;
    assert_eq!(real.header("x-dry-run"), None);
    assert_eq!(dry.body, real.body);
    let actions: Vec<Value> = dry.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.get("action").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        actions,
        [
            json!("create"),
            Value::Null,
            json!("error"),
            json!("error"),
            json!("error"),
            json!("error"),
            json!("error"),
            json!("create")
        ]
    );
    assert_eq!(dry.body["identities"][2]["error"]["code"], 409);
    assert_eq!(dry.body["identities"][5]["error"]["code"], 409);
    assert_eq!(count(&real_store).await, 3);
    // The whole request's refusal is the same too, and marked.
    let many = json!({"identities": vec![Value::Null; 1001]});
    let dry = send(
        &dry_app,
        Method::PATCH,
        "/admin/identities?dry_run=true",
        &[],
        Some(&many),
    )
    .await;
    let real = send(
        &real_app,
        Method::PATCH,
        "/admin/identities",
        &[],
        Some(&many),
    )
    .await;
    assert_eq!((dry.status, &dry.body), (real.status, &real.body));
    assert_eq!(dry.envelope(400)["message"], real.body["error"]["message"]);
    assert_eq!(dry.header("x-dry-run"), Some("true"));
}

/// Three identities over HTTP: their ids.
async fn three(app: &Router) -> [String; 3] {
    let mut ids: [String; 3] = Default::default();
    for (n, slot) in ids.iter_mut().enumerate() {
        let reply = post(
            app,
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {"email": format!("u{n}@example.com")}}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        *slot = reply.body["id"].as_str().unwrap().to_owned();
    }
    ids
}

#[tokio::test]
async fn bulk_delete_answers_per_entry() {
    let (app, store) = twin();
    let [a, b, c] = three(&app).await;
    let missing = "00000000-0000-4000-8000-00000000dead";
    let reply = post(
        &app,
        "/admin/identities/bulk",
        &json!({"action": "delete", "identities": [
            {"id": a}, {"id": b, "expected_version": 2}, {"id": missing},
            {"id": c, "expected_version": 1}, {"id": a},
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"identities": [
            {"id": a, "status": "deleted"},
            {"id": b, "status": "version_mismatch", "expected_version": 2, "actual_version": 1},
            {"id": missing, "status": "not_found"},
            {"id": c, "status": "deleted"},
            {"id": a, "status": "not_found"},
        ]})
    );
    assert_eq!(count(&store).await, 1);
    assert_eq!(feed_len(&store).await, 5, "three creates, two deletes");
    // Without the /admin prefix too.
    let reply = post(
        &app,
        "/identities/bulk",
        &json!({"action": "delete", "identities": [{"id": b}]}),
    )
    .await;
    assert_eq!(
        reply.body,
        json!({"identities": [{"id": b, "status": "deleted"}]})
    );
}

#[tokio::test]
async fn bulk_set_state_answers_per_entry_and_records_changes() {
    let (app, store) = twin();
    let [a, b, c] = three(&app).await;
    let set = |state: &str, identities: Value| json!({"action": "set_state", "state": state, "identities": identities});
    let reply = post(
        &app,
        "/admin/identities/bulk",
        &set("inactive", json!([{"id": b}])),
    )
    .await;
    assert_eq!(
        reply.body,
        json!({"identities": [{"id": b, "status": "updated", "version": 2}]})
    );
    let reply = post(
        &app,
        "/admin/identities/bulk",
        &set(
            "inactive",
            json!([
                {"id": a, "expected_version": 1}, {"id": b}, {"id": c, "expected_version": 7},
            ]),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"identities": [
            {"id": a, "status": "updated", "version": 2},
            {"id": b, "status": "unchanged", "version": 2},
            {"id": c, "status": "version_mismatch", "expected_version": 7, "actual_version": 1},
        ]})
    );
    let got = crate::common::get(&app, &format!("/admin/identities/{a}")).await;
    assert_eq!(got.body["state"], "inactive");
    assert_eq!(feed_len(&store).await, 5, "three creates, two updates");
    let feed = crate::common::get(&app, "/admin/identities/changes").await;
    let last = &feed.body["changes"][4];
    assert_eq!(
        (&last["identity_id"], &last["kind"], &last["version"]),
        (&json!(a), &json!("updated"), &json!(2))
    );
}

#[tokio::test]
async fn bulk_refuses_a_bad_request_whole_and_writes_nothing() {
    let (app, store) = twin();
    let [a, ..] = three(&app).await;
    let many: Vec<Value> = (0..1001).map(|_| json!({"id": a})).collect();
    let cases = [
        (
            json!({"action": "delete", "identities": many}),
            "The maximum number of identities per request that can be deleted or updated at once is 1000.",
        ),
        (
            json!({"action": "purge", "identities": [{"id": a}]}),
            "Unknown action `purge`: expected `delete` or `set_state`.",
        ),
        (
            json!({"action": "set_state", "identities": [{"id": a}]}),
            "The action `set_state` needs a `state`.",
        ),
        (
            json!({"action": "set_state", "state": "asleep", "identities": [{"id": a}]}),
            "The supplied state ('asleep') was not valid. Valid states are ('active', 'inactive').",
        ),
        (
            json!({"action": "delete", "state": "inactive", "identities": [{"id": a}]}),
            "`state` is only for the action `set_state`.",
        ),
        (
            json!({"action": "delete", "identities": [{"id": a}], "extra": 1}),
            "invalid bulk body: unknown field `extra`",
        ),
        (
            json!({"action": "delete", "identities": [{"id": "nope"}]}),
            "",
        ),
        (
            json!({"action": "delete", "identities": [{"id": a, "version": 1}]}),
            "",
        ),
        (
            json!({"action": "delete"}),
            "invalid bulk body: `identities` must be an array",
        ),
        (
            json!([]),
            "the body must be an object with an action and an identities array",
        ),
    ];
    for (n, (body, reason)) in cases.into_iter().enumerate() {
        let reply = post(&app, "/admin/identities/bulk", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "case {n}");
        let error = &reply.body["error"];
        if !reason.is_empty() {
            assert_eq!(error["reason"], reason, "case {n}");
        }
    }
    assert_eq!((count(&store).await, feed_len(&store).await), (3, 3));
}

/// A store that fails: a dry run answers the real run's 503, marked; a
/// bulk operation reports each entry as failed, with the envelope's error.
#[tokio::test]
async fn store_failures_are_answered_as_the_real_run_would() {
    use crate::common::{Failure, failing_app};
    let app = failing_app(Failure::Unavailable);
    let body = json!({"schema_id": "default", "traits": {"email": "new@example.com"}});
    let dry = post(&app, "/admin/identities?dry_run=true", &body).await;
    let real = post(&app, "/admin/identities", &body).await;
    assert_eq!(dry.envelope(503), real.envelope(503));
    assert_eq!(dry.header("x-dry-run"), Some("true"));
    let id = "00000000-0000-4000-8000-000000000001";
    let reply = post(
        &app,
        "/admin/identities/bulk",
        &json!({"action": "set_state", "state": "inactive", "identities": [{"id": id}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let result = &reply.body["identities"][0];
    assert_eq!(
        (&result["id"], &result["status"]),
        (&json!(id), &json!("failed"))
    );
    assert_eq!(result["error"]["code"], 503);
}
