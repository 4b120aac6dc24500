//! `POST /admin/identities/schema-migrations`: one page of a schema
//! migration, dry run or applied.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use identity_core::password::PasswordHasher;
use identity_core::{
    FixedClock, IdentityManager, IdentityStore as _, ManagerConfig, PageSize, SchemaRegistry,
    SequentialIds, TenantId, Timestamp,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};

use crate::common::{BASE_URL, Reply, get, post, send};

const ROUTE: &str = "/admin/identities/schema-migrations";

/// `v1`: the email logs in; `v2`: the username (required) logs in instead,
/// the email stays a verifiable and recovery address.
fn schemas() -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    let email = json!({"type": "string", "format": "email", "ory.sh/kratos": {
        "verification": {"via": "email"}, "recovery": {"via": "email"}}});
    let mut login_email = email.clone();
    login_email["ory.sh/kratos"]["credentials"] = json!({"password": {"identifier": true}});
    registry
        .register(
            "v1",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": login_email, "username": {"type": "string"}
            }, "required": ["email"]}}}),
        )
        .unwrap();
    registry
        .register(
            "v2",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": email,
                "username": {"type": "string", "ory.sh/kratos": {
                    "credentials": {"password": {"identifier": true}}}}
            }, "required": ["email", "username"]}}}),
        )
        .unwrap();
    registry
}

fn app() -> (Router, MemoryStore) {
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

async fn create(app: &Router, schema: &str, traits: Value) -> String {
    let reply = post(
        app,
        "/admin/identities",
        &json!({"schema_id": schema, "traits": traits}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// ada (valid), bob (no username: invalid), cy (username `dee`, which dee,
/// already on v2, holds: colliding), in id order; and dee.
async fn seeded(app: &Router) -> [String; 4] {
    let ada = create(
        app,
        "v1",
        json!({"email": "ada@example.com", "username": "ada"}),
    )
    .await;
    let bob = create(app, "v1", json!({"email": "bob@example.com"})).await;
    let cy = create(
        app,
        "v1",
        json!({"email": "cy@example.com", "username": "dee"}),
    )
    .await;
    let dee = create(
        app,
        "v2",
        json!({"email": "dee@example.com", "username": "dee"}),
    )
    .await;
    [ada, bob, cy, dee]
}

async fn feed_len(store: &MemoryStore) -> usize {
    store
        .changes(TenantId::DEFAULT, None, PageSize::MAX)
        .await
        .unwrap()
        .changes
        .len()
}

fn identifier(value: &str) -> Value {
    json!({"field": "credentials.identifiers", "type": "password", "value": value})
}

#[tokio::test]
async fn a_dry_run_reports_every_identity_and_writes_nothing() {
    let (app, store) = app();
    let [ada, bob, cy, dee] = seeded(&app).await;
    let feed = feed_len(&store).await;
    // The error a create of bob's traits under v2 answers.
    let create_error = post(
        &app,
        "/admin/identities?dry_run=true",
        &json!({"schema_id": "v2", "traits": {"email": "bob@example.com"}}),
    )
    .await;
    let create_error = create_error.envelope(400).clone();
    assert_eq!(
        create_error["reason"],
        "I[#/traits] S[#/properties/traits/required] missing properties: \"username\""
    );

    let reply = post(&app, ROUTE, &json!({"from": "v1", "to": "v2"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("x-dry-run"), Some("true"));
    assert_eq!(
        reply.body,
        json!({
            "from": "v1",
            "to": "v2",
            "applied": false,
            "identities": [
                {"id": ada, "version": 1, "status": "valid",
                 "added": [identifier("ada")], "removed": [identifier("ada@example.com")],
                 "rechecked": 0},
                {"id": bob, "version": 1, "status": "invalid", "error": create_error,
                 "added": [], "removed": [], "rechecked": 0},
                {"id": cy, "version": 1, "status": "colliding",
                 "collisions": [{"field": "credentials.identifiers", "type": "password",
                                 "value": "dee", "identity_id": dee}],
                 "added": [identifier("dee")], "removed": [identifier("cy@example.com")],
                 "rechecked": 0},
            ],
            "next": null,
            "counts": {"scanned": 3, "valid": 1, "invalid": 1, "colliding": 1, "moved": 0,
                       "skipped": 0, "rechecked": 0},
            "on_from_schema": 3,
        })
    );
    assert_eq!(feed_len(&store).await, feed, "a dry run records nothing");
    let ada_now = get(&app, &format!("/admin/identities/{ada}")).await;
    assert_eq!(
        (ada_now.body["schema_id"].as_str(), ada_now.header("etag")),
        (Some("v1"), Some("\"1\""))
    );
    // `"apply": false` said out loud is the same dry run.
    let again = post(
        &app,
        ROUTE,
        &json!({"from": "v1", "to": "v2", "apply": false}),
    )
    .await;
    assert_eq!(
        (again.body.clone(), again.header("x-dry-run")),
        (reply.body, Some("true"))
    );
}

#[tokio::test]
async fn an_apply_moves_the_valid_ones_page_by_page() {
    let (app, store) = app();
    let [ada, bob, cy, _] = seeded(&app).await;
    let feed = feed_len(&store).await;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let reply = post(
            &app,
            ROUTE,
            &json!({"from": "v1", "to": "v2", "apply": true, "after": after, "page_size": 1}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.header("x-dry-run"), None);
        assert_eq!(reply.body["applied"], true);
        let entries = reply.body["identities"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        seen.push((
            entry["id"].as_str().unwrap().to_owned(),
            entry["status"].as_str().unwrap().to_owned(),
            entry.get("new_version").cloned(),
            reply.body["on_from_schema"].clone(),
        ));
        after = reply.body["next"].clone();
        if after.is_null() {
            break;
        }
        assert_eq!(after, entry["id"], "the cursor is the last id scanned");
    }
    assert_eq!(
        seen,
        [
            (ada.clone(), "moved".to_owned(), Some(json!(2)), json!(2)),
            (bob, "invalid".to_owned(), None, json!(2)),
            (cy, "colliding".to_owned(), None, json!(2)),
        ]
    );
    assert_eq!(feed_len(&store).await, feed + 1, "one change: ada's move");
    let moved = get(&app, &format!("/admin/identities/{ada}")).await;
    assert_eq!(
        (moved.body["schema_id"].as_str(), moved.header("etag")),
        (Some("v2"), Some("\"2\""))
    );
    let by_username = get(&app, "/admin/identities?credentials_identifier=ada").await;
    assert_eq!(by_username.body[0]["id"], ada.as_str());
}

#[tokio::test]
async fn bad_input_is_a_400_in_the_envelope_and_nothing_is_written() {
    let (app, store) = app();
    seeded(&app).await;
    let feed = feed_len(&store).await;
    let cases = [
        (
            json!({"from": "v1", "to": "nope", "apply": true}),
            "Unable to find JSON Schema ID: nope",
        ),
        (
            json!({"from": "nope", "to": "v2"}),
            "Unable to find JSON Schema ID: nope",
        ),
        (
            json!({"from": "v1", "to": "v2", "apply": true, "filter": {}}),
            "invalid schema migration body: unknown field `filter`",
        ),
        (
            json!({"to": "v2"}),
            "invalid schema migration body: `from` must be a schema id (a string)",
        ),
        (
            json!({"from": "v1", "to": 2}),
            "invalid schema migration body: `to` must be a schema id (a string)",
        ),
        (
            json!({"from": "v1", "to": "v2", "apply": "yes"}),
            "invalid schema migration body: `apply` must be `true` or `false`",
        ),
        (
            json!({"from": "v1", "to": "v2", "apply": true, "after": "page-2"}),
            "invalid schema migration body: `after` must be the `next` cursor of an earlier page, not \"page-2\"",
        ),
        (
            json!({"from": "v1", "to": "v2", "apply": true, "page_size": "ten"}),
            "invalid schema migration body: `page_size` must be an integer, not \"ten\"",
        ),
        (
            json!({"from": "v1", "to": "v2", "apply": true, "page_size": 1.5}),
            "invalid schema migration body: `page_size` must be an integer, not 1.5",
        ),
        (
            json!(["v1", "v2"]),
            "invalid schema migration body: the body must be an object with `from` and `to`",
        ),
    ];
    for (body, reason) in cases {
        let reply = post(&app, ROUTE, &body).await;
        assert_eq!(reply.envelope(400)["reason"], reason, "{body}");
    }
    let malformed = send(&app, Method::POST, ROUTE, &[], None).await;
    assert_eq!(malformed.envelope(400)["code"], 400);
    assert_eq!(feed_len(&store).await, feed, "nothing written");
    // Out-of-range page sizes are read as the list reads them.
    for (size, scanned) in [(0, 3), (-5, 3), (100_000, 3), (2, 2)] {
        let reply = post(
            &app,
            ROUTE,
            &json!({"from": "v1", "to": "v2", "page_size": size}),
        )
        .await;
        assert_eq!(
            reply.body["counts"]["scanned"], scanned,
            "{size}: {}",
            reply.text
        );
    }
    let wrong_method = send(&app, Method::GET, ROUTE, &[], None).await;
    assert_eq!(wrong_method.envelope(405)["code"], 405);
}

/// The route also answers without `/admin`, as every identity route does.
#[tokio::test]
async fn the_route_answers_without_admin_too() {
    let (app, _) = app();
    seeded(&app).await;
    let reply: Reply = post(
        &app,
        "/identities/schema-migrations",
        &json!({"from": "v1", "to": "v2"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["counts"]["scanned"], 3);
}
