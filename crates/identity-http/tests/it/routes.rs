//! Every route and every error status of the router, in process.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use identity_core::{Error, TenantId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

fn id_of(identity: &Value) -> String {
    identity["id"].as_str().unwrap().to_owned()
}

/// The `page_token` of the `rel="next"` link, if any.
fn next_token(reply: &Reply) -> Option<String> {
    let links = links(reply);
    let next = links.iter().find(|l| l.ends_with("rel=\"next\""))?;
    let url = next.strip_prefix('<')?.split('>').next()?;
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "page_token")
        .map(|(_, v)| v.into_owned())
}

/// The links of the one `Link` header (ory/x joins them with commas).
fn links(reply: &Reply) -> Vec<String> {
    let headers: Vec<&str> = reply
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(headers.len(), 1, "one Link header: {headers:?}");
    headers[0]
        .split(",<")
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_owned()
            } else {
                format!("<{l}")
            }
        })
        .collect()
}

#[tokio::test]
async fn create_answers_201_with_location_etag_and_kratos_json() {
    let app = app();
    let reply = post(
        &app,
        "/admin/identities",
        &json!({"traits": {"email": "Ada@Example.com"}, "metadata_admin": {"n": 1}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = id_of(&reply.body);
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE_URL}/admin/identities/{id}").as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let b = &reply.body;
    assert_eq!(b["schema_id"], "default");
    assert_eq!(b["schema_url"], format!("{BASE_URL}/schemas/ZGVmYXVsdA"));
    assert_eq!(b["state"], "active");
    assert_eq!(b["traits"]["email"], "Ada@Example.com");
    assert_eq!(b["metadata_admin"], json!({"n": 1}));
    assert_eq!(b["metadata_public"], Value::Null);
    assert_eq!(b["organization_id"], Value::Null);
    assert_eq!(
        b["credentials"]["password"]["identifiers"],
        json!(["ada@example.com"])
    );
    assert!(b["credentials"]["password"].get("config").is_none());
    assert_eq!(b["verifiable_addresses"][0]["status"], "pending");
    assert_eq!(b["recovery_addresses"][0]["value"], "ada@example.com");
}

#[tokio::test]
async fn create_refuses_unknown_fields_and_bad_values_with_400() {
    let app = app();
    // What does not decode is the `message` (Kratos' strict decoder).
    for (body, needle) in [
        (
            json!({"traits": {"email": "a@b.co"}, "id": Uuid::new_v4()}),
            "json: unknown field \"id\"",
        ),
        (
            json!({"traits": {"email": "a@b.co"}, "schema_url": "x"}),
            "json: unknown field \"schema_url\"",
        ),
        (json!([1, 2]), "invalid type"),
        (json!(null), "invalid type"),
    ] {
        let reply = post(&app, "/admin/identities", &body).await;
        let error = reply.envelope(400);
        assert!(error.get("reason").is_none(), "{}", reply.text);
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{}",
            reply.text
        );
    }
    // What decodes but is wrong is the `reason`.
    for body in [
        json!({"traits": {"email": "a@b.co"}, "state": "sleeping"}),
        json!({"traits": {"email": "a@b.co"}, "schema_id": "nope"}),
    ] {
        let reply = post(&app, "/admin/identities", &body).await;
        let error = reply.envelope(400);
        assert!(error["reason"].is_string(), "{}", reply.text);
    }
    let reply = post(
        &app,
        "/admin/identities",
        &json!({"traits": {"email": "a@b.co"}, "schema_id": "nope"}),
    )
    .await;
    assert_eq!(
        reply.envelope(400)["reason"],
        "Unable to find JSON Schema ID: nope"
    );
}

#[tokio::test]
async fn create_validation_error_has_reason_lines_and_violations() {
    let app = app();
    let reply = post(
        &app,
        "/admin/identities",
        &json!({"traits": {"email": "not-an-email"}}),
    )
    .await;
    let error = reply.envelope(400);
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .starts_with("I[#/traits/email]"),
        "{}",
        reply.text
    );
    assert_eq!(
        error["details"]["violations"][0]["instance_path"],
        "/traits/email"
    );
}

#[tokio::test]
async fn create_conflict_is_409_with_kratos_reason() {
    let app = app();
    create(&app, "dup@example.com", json!({})).await;
    let reply = post(
        &app,
        "/admin/identities",
        &json!({"traits": {"email": "DUP@example.com"}}),
    )
    .await;
    let error = reply.envelope(409);
    assert_eq!(
        error["reason"],
        "This identity conflicts with another identity that already exists."
    );
    assert!(error["details"]["conflict"].is_object(), "{}", reply.text);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused_with_the_envelope() {
    let app = app();
    let request = |content_type: Option<&str>, body: &str| {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri("/admin/identities");
        if let Some(c) = content_type {
            r = r.header("content-type", c);
        }
        r.body(Body::from(body.to_owned())).unwrap()
    };
    let ok = r#"{"traits":{"email":"ct@example.com"}}"#;
    raw(&app, request(Some("text/plain"), ok))
        .await
        .envelope(415);
    raw(&app, request(None, ok)).await.envelope(415);
    raw(
        &app,
        request(Some("application/x-www-form-urlencoded"), "a=b"),
    )
    .await
    .envelope(415);
    raw(&app, request(Some("application/json"), ""))
        .await
        .envelope(400);
    raw(&app, request(Some("application/json"), "  \n"))
        .await
        .envelope(400);
    raw(&app, request(Some("application/json"), "{\"traits\":"))
        .await
        .envelope(400);
    raw(&app, request(Some("application/json"), "\u{0}\u{1}garbage"))
        .await
        .envelope(400);
    // Parameters and +json types are JSON too.
    let reply = raw(&app, request(Some("application/json; charset=utf-8"), ok)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn oversize_bodies_are_413_default_1mib_and_configurable() {
    let app = app();
    let big = json!({"traits": {"email": "big@example.com"}, "metadata_admin": {"pad": "x".repeat(1024 * 1024 + 10)}});
    let reply = post(&app, "/admin/identities", &big).await;
    assert!(reply.envelope(413)["reason"].is_string());

    let small =
        identity_http::AdminApi::new(manager(Arc::new(identity_store_memory::MemoryStore::new())))
            .body_limit(256)
            .into_router();
    let body =
        json!({"traits": {"email": "pad@example.com"}, "metadata_admin": {"pad": "x".repeat(300)}});
    post(&small, "/admin/identities", &body).await.envelope(413);
    let reply = post(
        &small,
        "/admin/identities",
        &json!({"traits": {"email": "fits@example.com"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn get_answers_the_identity_with_its_etag() {
    let app = app();
    let created = create(&app, "get@example.com", json!({})).await;
    let id = id_of(&created);
    let reply = get(&app, &format!("/admin/identities/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.body, created);
}

#[tokio::test]
async fn include_credential_adds_only_those_configs() {
    let app = app();
    let created = create(
        &app,
        "creds@example.com",
        json!({"credentials": {
            "password": {"config": {"password": "correct horse battery staple"}},
            "oidc": {"config": {"providers": [{"provider": "github", "subject": "42"}]}}
        }}),
    )
    .await;
    let id = id_of(&created);
    assert!(created["credentials"]["password"].get("config").is_none());
    let plain = get(&app, &format!("/admin/identities/{id}")).await;
    assert!(
        plain.body["credentials"]["password"]
            .get("config")
            .is_none()
    );
    assert!(plain.body["credentials"]["oidc"].get("config").is_none());

    let reply = get(
        &app,
        &format!("/admin/identities/{id}?include_credential=password"),
    )
    .await;
    let hash = reply.body["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .unwrap();
    assert!(hash.starts_with('$'), "{hash}");
    assert!(reply.body["credentials"]["oidc"].get("config").is_none());

    let reply = get(
        &app,
        &format!("/admin/identities/{id}?include_credential=password&include_credential=oidc"),
    )
    .await;
    assert_eq!(
        reply.body["credentials"]["oidc"]["config"]["providers"][0]["subject"],
        "42"
    );
    assert!(reply.body["credentials"]["password"]["config"].is_object());

    get(
        &app,
        &format!("/admin/identities/{id}?include_credential=carrier-pigeon"),
    )
    .await
    .envelope(400);
}

#[tokio::test]
async fn get_by_external_id_decodes_the_path() {
    let app = app();
    let created = create(&app, "ext@example.com", json!({"external_id": "crm/äö 1"})).await;
    assert_eq!(created["external_id"], "crm/äö 1");
    let reply = get(
        &app,
        "/admin/identities/by/external/crm%2F%C3%A4%C3%B6%201?include_credential=password",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["id"], created["id"]);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    get(&app, "/admin/identities/by/external/nobody")
        .await
        .envelope(404);
}

#[tokio::test]
async fn path_parameters_that_do_not_decode_get_the_envelope() {
    let app = app();
    // Not UTF-8 once decoded: nothing by that name exists, so 404 in the
    // Kratos envelope (axum's own rejection is a text/plain 400).
    for path in [
        "/schemas/%ff",
        "/admin/identities/by/external/%ff",
        "/admin/identities/by/external/%C3%28",
        "/admin/identities/%ff",
    ] {
        let reply = get(&app, path).await;
        let error = reply.envelope(404);
        assert_eq!(error["message"], "Unable to locate the resource", "{path}");
    }
}

#[tokio::test]
async fn ids_that_are_not_uuids_are_404_on_every_identity_route() {
    let app = app();
    let body = json!({"traits": {"email": "x@example.com"}});
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        for id in ["not-a-uuid", "by", "1234", "%00"] {
            let body = match method {
                Method::PUT => Some(&body),
                Method::PATCH => Some(&json!([])),
                _ => None,
            };
            let reply = send(
                &app,
                method.clone(),
                &format!("/admin/identities/{id}"),
                &[],
                body,
            )
            .await;
            let error = reply.envelope(404);
            assert_eq!(error["message"], "Unable to locate the resource");
        }
    }
    let missing = Uuid::new_v4();
    get(&app, &format!("/admin/identities/{missing}"))
        .await
        .envelope(404);
    send(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{missing}"),
        &[],
        None,
    )
    .await
    .envelope(404);
    send(
        &app,
        Method::PUT,
        &format!("/admin/identities/{missing}"),
        &[],
        Some(&body),
    )
    .await
    .envelope(404);
}

#[tokio::test]
async fn put_replaces_and_moves_the_etag() {
    let app = app();
    let created = create(
        &app,
        "put@example.com",
        json!({"metadata_public": {"a": 1}, "external_id": "e1"}),
    )
    .await;
    let id = id_of(&created);
    let reply = send(
        &app,
        Method::PUT,
        &format!("/admin/identities/{id}"),
        &[],
        Some(
            &json!({"traits": {"email": "put2@example.com"}, "state": "inactive",
                     "unknown_field_is_ignored": true}),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["state"], "inactive");
    assert_eq!(reply.body["metadata_public"], Value::Null);
    assert!(reply.body.get("external_id").is_none());
    assert_eq!(
        reply.body["credentials"]["password"]["identifiers"],
        json!(["put2@example.com"])
    );
    // Malformed bodies are 400 on PUT too.
    send(
        &app,
        Method::PUT,
        &format!("/admin/identities/{id}"),
        &[],
        Some(&json!({"traits": {"email": "nope"}})),
    )
    .await
    .envelope(400);
}

#[tokio::test]
async fn put_conflict_is_409_with_the_update_message() {
    let app = app();
    create(&app, "taken@example.com", json!({})).await;
    let other = create(&app, "other@example.com", json!({})).await;
    let reply = send(
        &app,
        Method::PUT,
        &format!("/admin/identities/{}", id_of(&other)),
        &[],
        Some(&json!({"traits": {"email": "taken@example.com"}})),
    )
    .await;
    let error = reply.envelope(409);
    assert_eq!(
        error["message"],
        "Unable to insert or update resource because a resource with that value exists already"
    );
    assert!(error["details"]["conflict"]["field"].is_string());
}

#[tokio::test]
async fn if_match_makes_writes_conditional() {
    let app = app();
    let created = create(&app, "etag@example.com", json!({})).await;
    let uri = format!("/admin/identities/{}", id_of(&created));
    let put = |tag: &'static str, email: &'static str| {
        let app = app.clone();
        let uri = uri.clone();
        async move {
            send(
                &app,
                Method::PUT,
                &uri,
                &[("if-match", tag)],
                Some(&json!({"traits": {"email": email}})),
            )
            .await
        }
    };
    let reply = put("\"1\"", "etag2@example.com").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    // Stale, weak, foreign and empty tags never match.
    for tag in ["\"1\"", "W/\"2\"", "\"abc\"", "2", ""] {
        let reply = put(tag, "stale@example.com").await;
        reply.envelope(412);
    }
    let stale = put("\"1\"", "stale@example.com").await;
    assert_eq!(stale.body["error"]["details"]["actual_version"], 2);
    // A list of tags matches if any does; `*` matches any version.
    let reply = put("\"7\", \"2\"", "etag3@example.com").await;
    assert_eq!(reply.header("etag"), Some("\"3\""), "{}", reply.text);
    let reply = put("*", "etag4@example.com").await;
    assert_eq!(reply.header("etag"), Some("\"4\""), "{}", reply.text);
    // Nothing was written by the refused requests.
    let current = get(&app, &uri).await;
    assert_eq!(current.body["traits"]["email"], "etag4@example.com");

    // PATCH and DELETE honour it too.
    let patch = json!([{"op": "replace", "path": "/metadata_public", "value": {"p": 1}}]);
    send(
        &app,
        Method::PATCH,
        &uri,
        &[("if-match", "\"3\"")],
        Some(&patch),
    )
    .await
    .envelope(412);
    let reply = send(
        &app,
        Method::PATCH,
        &uri,
        &[("if-match", "\"4\"")],
        Some(&patch),
    )
    .await;
    assert_eq!(reply.header("etag"), Some("\"5\""), "{}", reply.text);
    send(&app, Method::DELETE, &uri, &[("if-match", "\"4\"")], None)
        .await
        .envelope(412);
    let reply = send(&app, Method::DELETE, &uri, &[("if-match", "\"5\"")], None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
}

#[tokio::test]
async fn patch_applies_json_patch_and_refuses_denied_paths() {
    let app = app();
    let created = create(&app, "patch@example.com", json!({})).await;
    let uri = format!("/admin/identities/{}", id_of(&created));
    let reply = send(
        &app,
        Method::PATCH,
        &uri,
        &[],
        Some(&json!([
            {"op": "replace", "path": "/traits/email", "value": "patched@example.com"},
            {"op": "add", "path": "/metadata_admin/notes", "value": "vip"},
            {"op": "replace", "path": "/state", "value": "inactive"}
        ])),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["metadata_admin"], json!({"notes": "vip"}));
    assert_eq!(reply.body["state"], "inactive");
    assert_eq!(
        reply.body["verifiable_addresses"][0]["value"],
        "patched@example.com"
    );
    assert!(
        reply.body["credentials"]["password"]
            .get("config")
            .is_none()
    );

    let reply = send(
        &app,
        Method::PATCH,
        &uri,
        &[],
        Some(&json!([{"op": "replace", "path": "/id", "value": Uuid::new_v4()}])),
    )
    .await;
    let error = reply.envelope(400);
    assert_eq!(error["reason"], "failed to apply JSON patch");
    assert_eq!(error["message"], "patch includes denied path: /id");
    send(
        &app,
        Method::PATCH,
        &uri,
        &[],
        Some(&json!({"op": "not a patch"})),
    )
    .await
    .envelope(400);
    send(
        &app,
        Method::PATCH,
        &uri,
        &[],
        Some(&json!([{"op": "replace", "path": "/state", "value": "asleep"}])),
    )
    .await
    .envelope(400);
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let app = app();
    let created = create(&app, "del@example.com", json!({})).await;
    let uri = format!("/admin/identities/{}", id_of(&created));
    let reply = send(&app, Method::DELETE, &uri, &[], None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    get(&app, &uri).await.envelope(404);
    send(&app, Method::DELETE, &uri, &[], None)
        .await
        .envelope(404);
    // The email is free again.
    create(&app, "del@example.com", json!({})).await;
}

#[tokio::test]
async fn batch_answers_one_result_per_entry() {
    let app = app();
    let p1 = Uuid::new_v4();
    let p2 = Uuid::new_v4();
    let p5 = Uuid::new_v4();
    let reply = send(
        &app,
        Method::PATCH,
        "/admin/identities",
        &[],
        Some(&json!({"identities": [
            {"create": {"traits": {"email": "b1@example.com"}}, "patch_id": p1},
            {"create": {"traits": {"email": "not an email"}}, "patch_id": p2},
            null,
            {"create": {"traits": {"email": "B1@example.com"}}},
            {"create": {"traits": {"email": "b5@example.com"}, "id": "mine"}, "patch_id": p5},
            {"patch_id": Uuid::new_v4()},
            {"create": {"traits": {"email": "b7@example.com"},
                        "credentials": {"password": {"config": {"password": "batch password 7"}}}}}
        ]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let results = reply.body["identities"].as_array().unwrap();
    assert_eq!(results.len(), 7, "{}", reply.text);
    assert_eq!(results[0]["action"], "create");
    assert_eq!(results[0]["patch_id"], p1.to_string());
    let first = results[0]["identity"].as_str().unwrap();
    assert_eq!(results[1]["action"], "error");
    assert_eq!(results[1]["patch_id"], p2.to_string());
    assert_eq!(results[1]["error"]["code"], 400);
    assert_eq!(results[2], Value::Null);
    assert_eq!(results[3]["action"], "error");
    assert_eq!(results[3]["error"]["code"], 409);
    assert_eq!(results[4]["action"], "error");
    assert_eq!(results[4]["error"]["code"], 400);
    assert_eq!(results[4]["patch_id"], p5.to_string());
    assert_eq!(results[5], Value::Null);
    assert_eq!(results[6]["action"], "create");
    let reply = get(&app, &format!("/admin/identities/{first}")).await;
    assert_eq!(reply.body["traits"]["email"], "b1@example.com");
    let listed = get(&app, "/admin/identities").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);

    // Whole-request errors.
    for body in [
        json!([]),
        json!({"identities": {"create": {}}}),
        json!({"identities": vec![Value::Null; 1001]}),
    ] {
        send(&app, Method::PATCH, "/admin/identities", &[], Some(&body))
            .await
            .envelope(400);
    }
    let reply = send(
        &app,
        Method::PATCH,
        "/admin/identities",
        &[],
        Some(&json!({"identities": []})),
    )
    .await;
    assert_eq!(reply.body, json!({"identities": []}));
}

#[tokio::test]
async fn list_pages_by_keyset_with_a_link_header() {
    let app = app();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id_of(
            &create(&app, &format!("list{i}@example.com"), json!({})).await,
        ));
    }
    ids.sort();
    let first = get(&app, "/admin/identities?page_size=2").await;
    assert_eq!(first.status, StatusCode::OK);
    let all_links = links(&first);
    assert_eq!(
        all_links[0],
        "</admin/identities?page_size=2&page_token=00000000-0000-0000-0000-000000000000>; rel=\"first\""
    );
    let next = all_links
        .iter()
        .find(|l| l.ends_with("rel=\"next\""))
        .unwrap();
    assert!(
        next.starts_with("</admin/identities?page_size=2&page_token="),
        "{next}"
    );
    let mut seen: Vec<String> = first.body.as_array().unwrap().iter().map(id_of).collect();
    let mut token = next_token(&first);
    let mut pages = 1;
    while let Some(t) = token {
        let page = get(
            &app,
            &format!("/admin/identities?page_size=2&page_token={t}"),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(page.body.as_array().unwrap().iter().map(id_of));
        token = next_token(&page);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // The default page holds all five, without a next link.
    let all = get(&app, "/admin/identities").await;
    assert_eq!(all.body.as_array().unwrap().len(), 5);
    assert_eq!(next_token(&all), None);
    // A page size of zero or less is the default, as in Kratos.
    for q in ["page_size=0", "page_size=-1"] {
        let reply = get(&app, &format!("/admin/identities?{q}")).await;
        assert_eq!(reply.body.as_array().unwrap().len(), 5, "{q}");
    }
    // Bad page parameters.
    for q in ["page_size=ten", "page_token=%%%", "page_token=ik1abc"] {
        get(&app, &format!("/admin/identities?{q}"))
            .await
            .envelope(400);
    }
}

#[tokio::test]
async fn list_filters() {
    let app = app();
    let org = Uuid::new_v4();
    let a = create(&app, "alpha@example.com", json!({"organization_id": org})).await;
    let b = create(
        &app,
        "beta@example.com",
        json!({"credentials": {"oidc": {"config": {"providers": [{"provider": "gh", "subject": "Sub"}]}}}}),
    )
    .await;
    create(&app, "gamma@example.com", json!({})).await;
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body.as_array().unwrap().iter().map(id_of).collect()
    };
    let reply = get(
        &app,
        &format!("/admin/identities?ids={}&ids={}", id_of(&a), id_of(&b)),
    )
    .await;
    let mut want = vec![id_of(&a), id_of(&b)];
    want.sort();
    assert_eq!(ids(&reply), want);
    let reply = get(
        &app,
        "/admin/identities?credentials_identifier=ALPHA%40example.com",
    )
    .await;
    assert_eq!(ids(&reply), vec![id_of(&a)]);
    let reply = get(&app, "/admin/identities?credentials_identifier=gh:Sub").await;
    assert_eq!(ids(&reply), vec![id_of(&b)]);
    let reply = get(
        &app,
        "/admin/identities?preview_credentials_identifier_similar=gam",
    )
    .await;
    assert_eq!(reply.body[0]["traits"]["email"], "gamma@example.com");
    let reply = get(&app, &format!("/admin/identities?organization_id={org}")).await;
    assert_eq!(ids(&reply), vec![id_of(&a)]);
    let reply = get(
        &app,
        "/admin/identities?credentials_identifier=beta%40example.com&include_credential=oidc",
    )
    .await;
    assert_eq!(
        reply.body[0]["credentials"]["oidc"]["config"]["providers"][0]["provider"],
        "gh"
    );
    for q in [
        format!("ids={}&credentials_identifier=x", id_of(&a)),
        "ids=nope".to_owned(),
        "organization_id=nope".to_owned(),
        "include_credential=nope".to_owned(),
    ] {
        get(&app, &format!("/admin/identities?{q}"))
            .await
            .envelope(400);
    }
}

#[tokio::test]
async fn list_legacy_pages_reach_1000_items_as_in_kratos() {
    let app = app();
    let entries: Vec<Value> = (0..1003)
        .map(|i| json!({"create": {"schema_id": "username", "traits": {"username": format!("user{i:04}")}}}))
        .collect();
    // The batch limit is 1,000: two batches.
    for chunk in entries.chunks(1000) {
        let reply = send(
            &app,
            Method::PATCH,
            "/admin/identities",
            &[],
            Some(&json!({ "identities": chunk })),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let keyset = get(&app, "/admin/identities?page_size=500").await;
    let keyset_ids: Vec<String> = keyset.body.as_array().unwrap().iter().map(id_of).collect();

    // A lone `per_page` is a keyset page size (at most 500), as in Kratos.
    let reply = get(&app, "/admin/identities?per_page=5000").await;
    assert_eq!(reply.body.as_array().unwrap().len(), 500);
    assert_eq!(
        links(&reply)[0],
        "</admin/identities?page_size=500&page_token=00000000-0000-0000-0000-000000000000>; rel=\"first\""
    );

    let reply = get(&app, "/admin/identities?page=0&per_page=5000").await;
    let page: Vec<String> = reply.body.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(page, keyset_ids);
    assert!(
        links(&reply).contains(&"</admin/identities?page=1&per_page=500>; rel=\"next\"".to_owned()),
        "{:?}",
        links(&reply)
    );
    // page * per_page may reach 1,000: the last legacy page holds 3.
    let reply = get(&app, "/admin/identities?per_page=500&page=2").await;
    assert_eq!(reply.body.as_array().unwrap().len(), 3);
    assert!(links(&reply).iter().all(|l| !l.ends_with("rel=\"next\"")));
    assert!(
        links(&reply).contains(&"</admin/identities?page=1&per_page=500>; rel=\"prev\"".to_owned())
    );

    let reply = get(&app, "/admin/identities?per_page=7&page=3").await;
    let page: Vec<String> = reply.body.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(page, keyset_ids[21..28].to_vec());
    // page * per_page = 1,000 exactly is the last page legacy paging reaches.
    let reply = get(&app, "/admin/identities?per_page=10&page=100").await;
    assert_eq!(reply.body.as_array().unwrap().len(), 3);
    // Past 1,000 items legacy pages are refused before anything is read.
    for q in ["per_page=500&page=3", "per_page=10&page=101", "page=5"] {
        let reply = get(&app, &format!("/admin/identities?{q}")).await;
        reply.envelope(400);
        assert_eq!(
            reply.body["error"]["reason"],
            "Legacy pagination is not supported for enumerating over 1000 items. Please switch to using page_token and page_size.",
            "{q}"
        );
    }
    // Malformed or out-of-range values take Kratos' defaults.
    let reply = get(&app, "/admin/identities?page=0&per_page=0").await;
    assert_eq!(reply.body.as_array().unwrap().len(), 1);
    for q in ["page=-1&per_page=3", "page=x&per_page=3"] {
        let reply = get(&app, &format!("/admin/identities?{q}")).await;
        let page: Vec<String> = reply.body.as_array().unwrap().iter().map(id_of).collect();
        assert_eq!(page, keyset_ids[..3].to_vec(), "{q}");
    }
}

#[tokio::test]
async fn schemas_are_served_and_schema_urls_resolve() {
    let app = app();
    let reply = get(&app, "/schemas").await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = reply.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], "default");
    assert_eq!(list[1]["id"], "username");
    assert!(list[0]["schema"]["properties"]["traits"].is_object());

    let created = create(&app, "schema@example.com", json!({})).await;
    let url = created["schema_url"].as_str().unwrap();
    let path = url.strip_prefix(BASE_URL).unwrap();
    let reply = get(&app, path).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, list[0]["schema"]);
    let reply = get(&app, "/schemas/username").await;
    assert_eq!(reply.body, list[1]["schema"]);
    get(&app, "/schemas/nope").await.envelope(404);
}

#[tokio::test]
async fn health_routes() {
    let app = app();
    let reply = get(&app, "/health/alive").await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let reply = get(&app, "/health/ready").await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let down = failing_app(Failure::Unavailable);
    let reply = get(&down, "/health/ready").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.body["errors"]["database"].is_string());
    assert!(!reply.text.contains("db.internal"), "{}", reply.text);
    let reply = get(&down, "/health/alive").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = app();
    get(&app, "/admin/nothing").await.envelope(404);
    get(&app, "/").await.envelope(404);
    send(&app, Method::DELETE, "/schemas", &[], None)
        .await
        .envelope(405);
    send(
        &app,
        Method::PUT,
        "/admin/identities",
        &[],
        Some(&json!({})),
    )
    .await
    .envelope(405);
}

#[tokio::test]
async fn server_errors_are_generic() {
    let id = Uuid::new_v4();
    for (failure, status) in [(Failure::Unavailable, 503), (Failure::Internal, 500)] {
        let app = failing_app(failure);
        let replies = [
            get(&app, &format!("/admin/identities/{id}")).await,
            get(&app, "/admin/identities").await,
            post(
                &app,
                "/admin/identities",
                &json!({"traits": {"email": "fail@example.com"}}),
            )
            .await,
            send(
                &app,
                Method::PATCH,
                "/admin/identities",
                &[],
                Some(&json!({"identities": [{"create": {"traits": {"email": "f@example.com"}}}]})),
            )
            .await,
            send(
                &app,
                Method::DELETE,
                &format!("/admin/identities/{id}"),
                &[],
                None,
            )
            .await,
        ];
        for reply in replies {
            let error = reply.envelope(status);
            assert!(error.get("reason").is_none(), "{}", reply.text);
            assert!(error.get("details").is_none(), "{}", reply.text);
            for secret in ["db.internal", "password", "SELECT", "secret", "credentials"] {
                assert!(!reply.text.contains(secret), "{}", reply.text);
            }
        }
    }
}

#[tokio::test]
async fn a_panicking_store_gives_500_not_a_dropped_connection() {
    let app = failing_app(Failure::Panic);
    let reply = get(&app, &format!("/admin/identities/{}", Uuid::new_v4())).await;
    reply.envelope(500);
    // The router keeps serving.
    let reply = get(&app, "/health/alive").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_tenant_comes_from_the_embedders_resolver() {
    let store = Arc::new(identity_store_memory::MemoryStore::new());
    let app = identity_http::AdminApi::new(manager(store))
        .tenant(|parts| match parts.headers.get("x-tenant") {
            None => Ok(TenantId::DEFAULT),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| Uuid::parse_str(v).ok())
                .map(TenantId)
                .ok_or_else(|| Error::invalid("x-tenant is not a UUID")),
        })
        .into_router();
    let t1 = Uuid::new_v4().to_string();
    let t2 = Uuid::new_v4().to_string();
    let body = json!({"traits": {"email": "tenant@example.com"}});
    let reply = send(
        &app,
        Method::POST,
        "/admin/identities",
        &[("x-tenant", &t1)],
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let uri = format!("/admin/identities/{}", id_of(&reply.body));
    // The same email is free in another tenant; the identity is invisible there.
    let reply = send(
        &app,
        Method::POST,
        "/admin/identities",
        &[("x-tenant", &t2)],
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    send(&app, Method::GET, &uri, &[("x-tenant", &t2)], None)
        .await
        .envelope(404);
    get(&app, &uri).await.envelope(404);
    let reply = send(&app, Method::GET, &uri, &[("x-tenant", &t1)], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(
        &app,
        Method::GET,
        "/admin/identities",
        &[("x-tenant", &t1)],
        None,
    )
    .await;
    assert_eq!(reply.body.as_array().unwrap().len(), 1);
    let reply = send(&app, Method::GET, &uri, &[("x-tenant", "garbage")], None).await;
    assert_eq!(reply.envelope(400)["reason"], "x-tenant is not a UUID");
}

#[tokio::test]
async fn version_aliases_and_a_path_prefix() {
    let app = app();
    let reply = get(&app, "/version").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"version": env!("CARGO_PKG_VERSION")}));
    // Every identity route answers without `/admin` too, as Kratos' admin
    // port does.
    let created = create(&app, "alias@example.com", json!({})).await;
    let id = id_of(&created);
    let reply = get(&app, &format!("/identities/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["id"], created["id"]);

    // Under a prefix: the Connhex IAM form `PUT /iam/identities/{id}`.
    let prefixed = identity_http::AdminApi::new(manager(std::sync::Arc::new(
        identity_store_memory::MemoryStore::new(),
    )))
    .prefix("/iam/")
    .into_router();
    let reply = post(
        &prefixed,
        "/iam/identities",
        &json!({"traits": {"email": "iam@example.com"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = id_of(&reply.body);
    let reply = send(
        &prefixed,
        Method::PUT,
        &format!("/iam/identities/{id}"),
        &[],
        Some(&json!({"traits": {"email": "iam2@example.com"}})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["traits"]["email"], "iam2@example.com");
    let reply = get(&prefixed, "/iam/admin/identities?page_size=1").await;
    assert_eq!(reply.status, StatusCode::OK);
    // Links follow the path the request came in on.
    assert!(
        links(&reply)[0].starts_with("</iam/admin/identities?page_size=1&page_token="),
        "{:?}",
        links(&reply)
    );
    // Outside the prefix: 404 in the envelope.
    get(&prefixed, "/admin/identities").await.envelope(404);
}

#[tokio::test]
async fn admin_api_debug_prints_no_secret() {
    let store = std::sync::Arc::new(identity_store_memory::MemoryStore::new());
    let manager = manager(store);
    let hash = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";
    manager
        .create(
            identity_core::TenantId::DEFAULT,
            identity_core::CreateIdentityBody::from_json(json!({
                "traits": {"email": "debug@example.com"},
                "credentials": {"password": {"config": {"hashed_password": hash}},
                                "totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let api = identity_http::AdminApi::new(manager);
    let printed = format!("{api:?}");
    for secret in [hash, "JBSWY3DPEHPK3PXP", "otpauth"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("identities_per_tenant"), "{printed}");
}
