//! The OpenAPI document against the routes: it documents exactly
//! `identity_http::ROUTES`, the router serves every one of them, and every
//! `$ref` resolves.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

fn document() -> Value {
    serde_json::from_str(identity_http::OPENAPI_JSON).unwrap()
}

#[test]
fn the_document_lists_exactly_the_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = identity_http::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, routed);
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
    }
}

#[tokio::test]
async fn the_router_serves_every_documented_route() {
    let app = app();
    for (method, path) in identity_http::ROUTES {
        let uri = path
            .replace("{id}", &Uuid::new_v4().to_string())
            .replace("{externalID}", "someone");
        let method: Method = method.parse().unwrap();
        let body = match method {
            Method::POST | Method::PUT | Method::PATCH => Some(json!({})),
            _ => None,
        };
        let reply = send(&app, method.clone(), &uri, &[], body.as_ref()).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let unrouted = reply.status == StatusCode::NOT_FOUND
            && reply.body["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("No route matches"));
        assert!(!unrouted, "{method} {path}: {}", reply.text);
    }
    // An undocumented route is not served.
    let reply = get(&app, "/admin/identities/by/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_document_is_served() {
    let reply = get(&app(), "/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, document());
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
}
