//! `GET /admin/identities` with the search criteria (`state`, `schema_id`,
//! `traits`) and the total count (`include_total`, `X-Total-Count`).

use std::sync::Arc;

use axum::Router;
use identity_core::password::PasswordHasher;
use identity_core::{IdentityManager, Limits, ManagerConfig, SchemaRegistry};
use serde_json::{Value, json};

use crate::common::{BASE_URL, Reply, get, post};

/// A router whose registry also holds `employee`, a schema with a
/// department, tags and an address; JSON values of at most 4 KiB.
fn app() -> Router {
    let mut registry = crate::common::schemas();
    registry
        .register(
            "employee",
            json!({
                "type": "object",
                "properties": {"traits": {"type": "object", "properties": {
                    "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}}}},
                    "department": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "address": {"type": "object", "properties": {"city": {"type": "string"}}}
                }, "required": ["email"]}}
            }),
        )
        .expect("register");
    let registry: SchemaRegistry = registry;
    let store = Arc::new(identity_store_memory::MemoryStore::new());
    identity_http::router(
        IdentityManager::builder(store, Arc::new(registry))
            .hasher(PasswordHasher::insecure_fast_for_tests())
            .config(
                ManagerConfig::default()
                    .with_base_url(BASE_URL)
                    .with_limits(Limits::default().with_max_json_bytes(4 * 1024)),
            )
            .build(),
    )
}

/// Seeds 1 to 9: `employee` for seeds up to 6 (department `eng` for even
/// seeds, `ops` for odd; tag `remote` for seeds 1 to 3; Paris for seeds
/// 1, 2, 4, 5), `default` beyond; inactive when the seed is a multiple of 3.
async fn seeded() -> Router {
    let app = app();
    for seed in 1..=9u32 {
        let email = format!("user{seed}@example.com");
        let state = if seed.is_multiple_of(3) {
            "inactive"
        } else {
            "active"
        };
        let body = if seed <= 6 {
            json!({"schema_id": "employee", "state": state, "traits": {
                "email": email,
                "department": if seed.is_multiple_of(2) { "eng" } else { "ops" },
                "tags": if seed <= 3 { json!(["remote", "x"]) } else { json!(["office"]) },
                "address": {"city": if seed.is_multiple_of(3) { "Lyon" } else { "Paris" }}
            }})
        } else {
            json!({"schema_id": "default", "state": state, "traits": {"email": email}})
        };
        let reply = post(&app, "/admin/identities", &body).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text);
    }
    app
}

fn query(pattern: &Value) -> String {
    form_urlencoded::byte_serialize(pattern.to_string().as_bytes()).collect()
}

/// The seeds of a page's identities, in order.
fn seeds(reply: &Reply) -> Vec<u32> {
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    reply
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|i| {
            let email = i["traits"]["email"].as_str().expect("email");
            email
                .trim_start_matches("user")
                .trim_end_matches("@example.com")
                .parse()
                .expect("a seed")
        })
        .collect()
}

/// Every seed a search matches, following `next` links; sorted (ids are
/// random, so pages are in id order, not seed order).
async fn walk(app: &Router, uri: &str) -> (Vec<u32>, usize) {
    let mut all = Vec::new();
    let mut next = Some(uri.to_owned());
    let mut pages = 0;
    while let Some(uri) = next {
        let reply = get(app, &uri).await;
        all.extend(seeds(&reply));
        pages += 1;
        next = reply.header("link").and_then(|links| {
            links
                .split(',')
                .find(|l| l.ends_with("rel=\"next\""))
                .and_then(|l| l.split(['<', '>']).nth(1))
                .map(str::to_owned)
        });
        assert!(pages <= 20, "too many pages");
    }
    all.sort_unstable();
    (all, pages)
}

#[tokio::test]
async fn criteria_select_alone_and_together() {
    let app = seeded().await;
    let cases: Vec<(String, Vec<u32>)> = vec![
        ("state=inactive".into(), vec![3, 6, 9]),
        ("state=active&schema_id=default".into(), vec![7, 8]),
        ("schema_id=employee".into(), vec![1, 2, 3, 4, 5, 6]),
        (
            format!("traits={}", query(&json!({"department": "eng"}))),
            vec![2, 4, 6],
        ),
        (
            format!(
                "traits={}&state=active",
                query(&json!({"department": "eng", "address": {"city": "Paris"}}))
            ),
            vec![2, 4],
        ),
        (
            format!("traits={}", query(&json!({"tags": ["remote"]}))),
            vec![1, 2, 3],
        ),
        (
            format!("traits={}", query(&json!({"tags": "remote"}))),
            vec![],
        ),
        (
            format!(
                "traits={}&credentials_identifier=user4@example.com",
                query(&json!({"department": "eng"}))
            ),
            vec![4],
        ),
        ("state=".into(), (1..=9).collect()),
    ];
    for (q, expected) in cases {
        let (all, _) = walk(&app, &format!("/admin/identities?{q}")).await;
        assert_eq!(all, expected, "{q}");
        // In pages of 2, following the links (which keep the criteria).
        let (paged, pages) = walk(&app, &format!("/admin/identities?{q}&page_size=2")).await;
        assert_eq!(paged, expected, "{q} in pages of 2");
        assert_eq!(pages, expected.len().div_ceil(2).max(1), "{q}");
        // The total, on request only.
        let first = get(
            &app,
            &format!("/admin/identities?{q}&page_size=1&include_total=true"),
        )
        .await;
        let total = expected.len().to_string();
        assert_eq!(first.header("x-total-count"), Some(total.as_str()), "{q}");
        let plain = get(&app, &format!("/admin/identities?{q}&page_size=1")).await;
        assert_eq!(plain.header("x-total-count"), None, "{q}");
    }
}

#[tokio::test]
async fn legacy_pages_count_what_a_search_matches() {
    let app = seeded().await;
    let reply = get(&app, "/admin/identities?page=0&per_page=2&state=active").await;
    assert_eq!(seeds(&reply).len(), 2);
    assert_eq!(reply.header("x-total-count"), Some("6"));
    // Without a criterion, Kratos' count: the tenant's identities.
    let reply = get(&app, "/admin/identities?page=0&per_page=2").await;
    assert_eq!(reply.header("x-total-count"), Some("9"));
}

#[tokio::test]
async fn bad_criteria_are_400() {
    let app = seeded().await;
    let deep = (0..20).fold(json!(1), |v, _| json!({ "k": v }));
    let big = json!({ "k": "x".repeat(5 * 1024) });
    for q in [
        "state=disabled".to_owned(),
        "state=Active".to_owned(),
        "traits=%7Bnot%20json".to_owned(),
        format!("traits={}", query(&json!(["eng"]))),
        format!("traits={}", query(&json!("eng"))),
        format!("traits={}", query(&deep)),
        format!("traits={}", query(&big)),
        format!("traits={}", query(&json!({"k": "a\u{0}b"}))),
        "include_total=yes".to_owned(),
        "schema_id=a%00b".to_owned(),
    ] {
        let reply = get(&app, &format!("/admin/identities?{q}")).await;
        reply.envelope(400);
    }
}
