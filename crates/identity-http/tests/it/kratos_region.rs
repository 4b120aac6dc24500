//! Ports of Kratos' `identity/handler_test.go` `TestHandler_Region` (its
//! own registry with the `default` schema only, admin server) and of the
//! region JSON tests of `identity/identity_region_test.go`, as far as the
//! API shows them.

use axum::Router;
use axum::http::Method;
use serde_json::{Value, json};

use crate::common::Reply;
use crate::kratos_support::*;

const INVALID_REGION: &str = "the provided region is not a valid Ory region";

/// The local `send` of `TestHandler_Region`: a raw JSON body.
async fn send_json(app: &Router, method: Method, uri: &str, body: Value) -> Reply {
    send(app, method, uri, &body).await
}

/// `POST /identities` of `{"schema_id":"default","traits":{"bar":"baz"}}`
/// plus `region` when given; asserts 201.
async fn create_with_region(app: &Router, region: Option<&str>) -> Value {
    let mut body = json!({"schema_id": "default", "traits": {"bar": "baz"}});
    if let Some(region) = region {
        body["region"] = json!(region);
    }
    let reply = send_json(app, Method::POST, ADMIN, body).await;
    expect(&reply, 201).clone()
}

/// Ports TestHandler_Region/case=POST /admin/identities binds region field.
#[tokio::test]
async fn post_binds_region_field() {
    let app = region_app();
    let created = create_with_region(&app, Some("eu-central")).await;
    assert_eq!(created["region"], "eu-central");
}

/// Ports TestHandler_Region/case=POST /admin/identities returns region in create response.
#[tokio::test]
async fn post_returns_region_in_create_response() {
    let app = region_app();
    let created = create_with_region(&app, Some("us-west")).await;
    assert_eq!(created["region"], "us-west");
    assert!(!id_of(&created).is_empty());
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} replace /region.
#[tokio::test]
async fn patch_replace_region() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("eu-central")).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "replace", "path": "/region", "value": "us-west"}]),
    )
    .await;
    assert_eq!(expect(&reply, 200)["region"], "us-west");
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} add /region.
#[tokio::test]
async fn patch_add_region() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, None).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "add", "path": "/region", "value": "us-east"}]),
    )
    .await;
    assert_eq!(expect(&reply, 200)["region"], "us-east");
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} rejects remove on /region.
#[tokio::test]
async fn patch_rejects_remove_on_region() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("eu-central")).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "remove", "path": "/region"}]),
    )
    .await;
    assert_error(
        &reply,
        400,
        &bad_request(r#"operation "remove" is not supported on /region"#),
    );
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} rejects move on /region.
/// Divergence 10: the project supports `move`, so Kratos' `unsupported
/// operation: move` is not its message; the patch is still refused (400)
/// because `/region` is not part of a stored identity, so there is nothing to
/// move from.
#[tokio::test]
async fn patch_rejects_move_on_region() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("eu-central")).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "move", "from": "/region", "path": "/traits/x"}]),
    )
    .await;
    expect(&reply, 400);
    assert_eq!(reply.body["error"]["code"], 400, "{}", reply.text);
    let reply = get(&app, &format!("{ADMIN}/{id}")).await;
    assert!(expect(&reply, 200)["traits"].get("x").is_none());
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} rejects invalid region value.
#[tokio::test]
async fn patch_rejects_invalid_region_value() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("eu-central")).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "replace", "path": "/region", "value": "mars"}]),
    )
    .await;
    assert_error(&reply, 400, &bad_request(INVALID_REGION));
}

/// Ports TestHandler_Region/case=PUT /admin/identities/{id} updates region.
#[tokio::test]
async fn put_updates_region() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("us-east")).await);
    let reply = send_json(
        &app,
        Method::PUT,
        &format!("{ADMIN}/{id}"),
        json!({"schema_id": "default", "traits": {"bar": "qux"}, "state": "active",
               "region": "eu-central"}),
    )
    .await;
    assert_eq!(expect(&reply, 200)["region"], "eu-central");
}

/// Ports TestHandler_Region/case=PUT /admin/identities/{id} rejects invalid region value.
#[tokio::test]
async fn put_rejects_invalid_region_value() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("us-east")).await);
    let reply = send_json(
        &app,
        Method::PUT,
        &format!("{ADMIN}/{id}"),
        json!({"schema_id": "default", "traits": {"bar": "qux"}, "state": "active",
               "region": "mars"}),
    )
    .await;
    assert_error(&reply, 400, &bad_request(INVALID_REGION));
}

/// Ports TestHandler_Region/case=PATCH /admin/identities/{id} mixed /region and /traits ops.
#[tokio::test]
async fn patch_mixed_region_and_traits_ops() {
    let app = region_app();
    let id = id_of(&create_with_region(&app, Some("eu-central")).await);
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([
            {"op": "replace", "path": "/region", "value": "us-west"},
            {"op": "replace", "path": "/traits/bar", "value": "qux"}
        ]),
    )
    .await;
    let got = expect(&reply, 200);
    assert_eq!(got["region"], "us-west");
    assert_eq!(got["traits"]["bar"], "qux");
}

/// Ports TestHandler_Region/case=POST /admin/identities rejects invalid region value.
#[tokio::test]
async fn post_rejects_invalid_region_value() {
    let app = region_app();
    let reply = send_json(
        &app,
        Method::POST,
        ADMIN,
        json!({"schema_id": "default", "traits": {"bar": "baz"}, "region": "mars"}),
    )
    .await;
    assert_error(&reply, 400, &bad_request(INVALID_REGION));
}

/// Ports TestHandler_Region/case=PATCH /admin/identities batch rejects invalid region value (the whole request fails).
#[tokio::test]
async fn batch_rejects_invalid_region_value() {
    let app = region_app();
    let reply = send_json(
        &app,
        Method::PATCH,
        ADMIN,
        json!({"identities": [{"create": {"schema_id": "default", "traits": {"bar": "baz"},
                                          "region": "mars"}}]}),
    )
    .await;
    assert_error(&reply, 400, &bad_request(INVALID_REGION));
    let reply = get(&app, ADMIN).await;
    assert_eq!(expect(&reply, 200), &json!([]));
}

/// Ports TestIdentity_RegionJSONRoundTrip (identity_region_test.go) as the API shows it: an identity with region `eu-central` is written with `"region":"eu-central"`.
#[tokio::test]
async fn identity_region_json_round_trip() {
    let app = region_app();
    let reply = send_json(
        &app,
        Method::POST,
        ADMIN,
        json!({"schema_id": "default", "traits": {"bar": "baz"}, "region": "eu-central"}),
    )
    .await;
    assert!(
        reply.text.contains(r#""region":"eu-central""#),
        "{}",
        reply.text
    );
}

/// Ports TestIdentity_RegionJSONOmitEmpty (identity_region_test.go) as the API shows it: without a region there is no `region` key.
/// Kratos does not store the region (kratos-wire-details (e)), so a read never
/// has one.
#[tokio::test]
async fn identity_region_json_omit_empty() {
    let app = region_app();
    let created = create_with_region(&app, None).await;
    assert!(created.get("region").is_none(), "{created}");
    let with_region = create_with_region(&app, Some("eu-central")).await;
    for id in [id_of(&created), id_of(&with_region)] {
        let reply = get(&app, &format!("{ADMIN}/{id}")).await;
        assert!(
            expect(&reply, 200).get("region").is_none(),
            "{}",
            reply.text
        );
    }
}
