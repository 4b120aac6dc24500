//! `GET /metrics` scraped from the running binary after a create, a
//! conflict, a 404 and a request no route matches: exact counts by route
//! template and status, histogram buckets with their labels, the
//! password hashing metrics; `--no-metrics` turns it off.

use serde_json::json;

use crate::server::Server;

/// The buckets the server gives every duration histogram.
const BUCKETS: [&str; 14] = [
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "+Inf",
];

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let reply = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    reply.text().await.unwrap()
}

/// The sample lines of `text` whose name is `name` (exactly: not its
/// `_bucket`, `_sum` or `_count` unless named so).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let mut found: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect();
    found.sort_unstable();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_requests_operations_and_hashes_exactly() {
    let mut server = Server::start("memory:");
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let base = &server.base;
    let body = json!({
        "traits": {"email": "ada@example.com"},
        "credentials": {"password": {"config": {"password": "correct horse battery staple"}}}
    });
    let created = http
        .post(format!("{base}/admin/identities"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let conflict = http
        .post(format!("{base}/admin/identities"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), 409);
    let missing = http
        .get(format!(
            "{base}/admin/identities/{}",
            uuid::Uuid::from_u128(7)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let nowhere = http
        .get(format!("{base}/nowhere/ada@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);

    let text = scrape(&http, base).await;
    // Readiness polls are counted too (how many depends on the start-up):
    // every other request exactly once, `/metrics` itself not at all.
    let requests: Vec<&str> = samples(&text, "identity_http_requests_total")
        .into_iter()
        .filter(|l| !l.contains("route=\"/health/ready\""))
        .collect();
    assert_eq!(
        requests,
        [
            r#"identity_http_requests_total{method="GET",route="/admin/identities/{id}",status="404"} 1"#,
            r#"identity_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"identity_http_requests_total{method="POST",route="/admin/identities",status="201"} 1"#,
            r#"identity_http_requests_total{method="POST",route="/admin/identities",status="409"} 1"#,
        ],
        "{text}"
    );
    assert!(
        text.contains(
            r#"identity_http_requests_total{method="GET",route="/health/ready",status="200"} "#
        ),
        "{text}"
    );
    let operations: Vec<&str> = samples(&text, "identity_operations_total")
        .into_iter()
        .filter(|l| !l.contains("operation=\"prune_changes\""))
        .collect();
    assert_eq!(
        operations,
        [
            r#"identity_operations_total{operation="create",outcome="conflict"} 1"#,
            r#"identity_operations_total{operation="create",outcome="ok"} 1"#,
            r#"identity_operations_total{operation="get",outcome="not_found"} 1"#,
        ],
        "{text}"
    );
    // The latency histogram of the create: every bucket, with its labels,
    // and the one request in the count.
    let series = r#"method="POST",route="/admin/identities",status="201""#;
    let buckets: Vec<String> = BUCKETS
        .iter()
        .map(|le| format!("identity_http_request_duration_seconds_bucket{{{series},le=\"{le}\"}} "))
        .collect();
    for bucket in &buckets {
        assert!(text.contains(bucket.as_str()), "{bucket} in\n{text}");
    }
    assert!(
        text.contains(&format!("{}1\n", buckets[BUCKETS.len() - 1])),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "identity_http_request_duration_seconds_count{{{series}}} 1\n"
        )),
        "{text}"
    );
    assert!(text.contains("# TYPE identity_http_request_duration_seconds histogram\n"));
    assert!(text.contains("# TYPE identity_operations_total counter\n"));
    // Both creates hashed their password (the second conflicts only at the
    // store); none is waiting now.
    assert_eq!(
        samples(&text, "identity_password_hash_duration_seconds_count"),
        ["identity_password_hash_duration_seconds_count 2"],
        "{text}"
    );
    assert_eq!(
        samples(&text, "identity_password_hash_wait_seconds_count"),
        ["identity_password_hash_wait_seconds_count 2"],
        "{text}"
    );
    assert_eq!(
        samples(&text, "identity_password_hash_queue_depth"),
        ["identity_password_hash_queue_depth 0"],
        "{text}"
    );
    assert!(
        samples(&text, "identity_store_errors_total").is_empty(),
        "{text}"
    );
    // Nothing a client sent in a path is a label; no scrape counts itself.
    assert!(!text.contains("example"), "{text}");
    assert!(!text.contains("/metrics"), "{text}");
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_sits_at_the_root_under_a_prefix_and_goes_with_no_metrics() {
    let mut prefixed = Server::start_with("memory:", &["--path-prefix", "/iam"]);
    prefixed.wait_ready_under("/iam").await;
    let http = reqwest::Client::new();
    let missing = http
        .get(format!(
            "{}/iam/identities/{}",
            prefixed.base,
            uuid::Uuid::from_u128(7)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let text = scrape(&http, &prefixed.base).await;
    assert_eq!(
        samples(&text, "identity_http_requests_total")
            .into_iter()
            .filter(|l| !l.contains("/health/ready"))
            .collect::<Vec<_>>(),
        [
            r#"identity_http_requests_total{method="GET",route="/iam/identities/{id}",status="404"} 1"#
        ],
        "{text}"
    );
    assert!(prefixed.terminate().success());

    let mut off = Server::start_with("memory:", &["--no-metrics"]);
    off.wait_ready().await;
    let reply = http
        .get(format!("{}/metrics", off.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], 404);
    assert!(off.terminate().success());
}
