//! The `metrics` feature (on in these tests): `RequestMetricsLayer` counts
//! requests by method, route template and status, never by the path or
//! method a client sent; a store failure is counted as one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use identity_http::{AdminApi, RequestMetricsLayer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;

use crate::common::{self, FailingStore, Failure, get, post, raw, send};

/// Each metric as one line, `name{label=value,…} value`, sorted: a
/// counter's count, a gauge's value, a histogram's number of samples.
fn lines(snapshotter: &Snapshotter) -> Vec<String> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let mut labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match value {
            DebugValue::Counter(n) => n.to_string(),
            DebugValue::Gauge(g) => format!("gauge {}", g.into_inner()),
            DebugValue::Histogram(samples) => {
                for s in &samples {
                    assert!(s.is_finite() && s.into_inner() >= 0.0, "{s}");
                }
                format!("{} samples", samples.len())
            }
        };
        out.insert(
            format!("{}{{{}}}", key.key().name(), labels.join(",")),
            value,
        );
    }
    out.into_iter().map(|(k, v)| format!("{k} {v}")).collect()
}

/// Runs `requests` on a current-thread runtime with a local debugging
/// recorder (the thread's own: every task stays on it), and returns what
/// it recorded.
fn recorded<F: Future<Output = ()>>(requests: impl FnOnce() -> F) -> Vec<String> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(requests()));
    lines(&snapshotter)
}

fn metered(api: AdminApi) -> Router {
    api.into_router().layer(RequestMetricsLayer::new())
}

fn memory_api() -> AdminApi {
    AdminApi::new(common::manager(Arc::new(
        identity_store_memory::MemoryStore::new(),
    )))
}

#[test]
fn requests_are_counted_by_method_route_template_and_status() {
    let app = metered(memory_api());
    let lines = recorded(|| async {
        let body = json!({"schema_id": "default", "traits": {"email": "ada@example.com"}});
        let ada = post(&app, "/admin/identities", &body).await;
        assert_eq!(ada.status, StatusCode::CREATED, "{}", ada.text);
        let again = post(&app, "/admin/identities", &body).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let id = ada.body["id"].as_str().unwrap();
        assert_eq!(
            get(&app, &format!("/admin/identities/{id}")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            get(&app, &format!("/identities/{}", uuid::Uuid::nil()))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // No route: one label, whatever the path holds.
        assert_eq!(
            get(&app, "/nowhere/ada@example.com").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, "/nowhere/else").await.status,
            StatusCode::NOT_FOUND
        );
        // A method the route does not serve, and one no standard names.
        let put = send(&app, Method::PUT, "/health/alive", &[], None).await;
        assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
        let odd = Request::builder()
            .method(Method::from_bytes(b"PROPFIND-ada.example.com").unwrap())
            .uri("/health/alive")
            .body(Body::empty())
            .unwrap();
        assert_eq!(raw(&app, odd).await.status, StatusCode::METHOD_NOT_ALLOWED);
    });
    let http: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("identity_http_"))
        .collect();
    assert_eq!(
        http,
        [
            "identity_http_request_duration_seconds{method=GET,route=/admin/identities/{id},status=200} 1 samples",
            "identity_http_request_duration_seconds{method=GET,route=/identities/{id},status=404} 1 samples",
            "identity_http_request_duration_seconds{method=GET,route=unmatched,status=404} 2 samples",
            "identity_http_request_duration_seconds{method=OTHER,route=/health/alive,status=405} 1 samples",
            "identity_http_request_duration_seconds{method=POST,route=/admin/identities,status=201} 1 samples",
            "identity_http_request_duration_seconds{method=POST,route=/admin/identities,status=409} 1 samples",
            "identity_http_request_duration_seconds{method=PUT,route=/health/alive,status=405} 1 samples",
            "identity_http_requests_total{method=GET,route=/admin/identities/{id},status=200} 1",
            "identity_http_requests_total{method=GET,route=/identities/{id},status=404} 1",
            "identity_http_requests_total{method=GET,route=unmatched,status=404} 2",
            "identity_http_requests_total{method=OTHER,route=/health/alive,status=405} 1",
            "identity_http_requests_total{method=POST,route=/admin/identities,status=201} 1",
            "identity_http_requests_total{method=POST,route=/admin/identities,status=409} 1",
            "identity_http_requests_total{method=PUT,route=/health/alive,status=405} 1",
        ]
    );
    // The operations behind them, from identity-core (the feature turns
    // its metrics on too).
    let operations: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("identity_operations_total"))
        .collect();
    assert_eq!(
        operations,
        [
            "identity_operations_total{operation=create,outcome=conflict} 1",
            "identity_operations_total{operation=create,outcome=ok} 1",
            "identity_operations_total{operation=get,outcome=not_found} 1",
            "identity_operations_total{operation=get,outcome=ok} 1",
        ]
    );
    // Nothing the client sent in a path or a method is a label.
    assert!(lines.iter().all(|l| !l.contains("example")), "{lines:#?}");
}

#[test]
fn a_prefix_is_part_of_the_route_template() {
    let app = metered(memory_api().prefix("/iam"));
    let lines = recorded(|| async {
        let id = uuid::Uuid::nil();
        assert_eq!(
            get(&app, &format!("/iam/admin/identities/{id}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, "/iam/nowhere").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, "/admin/identities").await.status,
            StatusCode::NOT_FOUND
        );
    });
    let counts: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("identity_http_requests_total"))
        .collect();
    assert_eq!(
        counts,
        [
            "identity_http_requests_total{method=GET,route=/iam/admin/identities/{id},status=404} 1",
            "identity_http_requests_total{method=GET,route=unmatched,status=404} 2",
        ]
    );
}

#[test]
fn a_store_failure_is_counted_by_method_and_kind() {
    let app = metered(AdminApi::new(common::manager(Arc::new(FailingStore(
        Failure::Unavailable,
    )))));
    let lines = recorded(|| async {
        let reply = get(&app, &format!("/admin/identities/{}", uuid::Uuid::nil())).await;
        reply.envelope(503);
    });
    let counts: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.contains("_seconds"))
        .collect();
    assert_eq!(
        counts,
        [
            "identity_http_requests_total{method=GET,route=/admin/identities/{id},status=503} 1",
            "identity_operations_total{operation=get,outcome=unavailable} 1",
            "identity_store_errors_total{kind=unavailable,method=get} 1",
        ]
    );
}
