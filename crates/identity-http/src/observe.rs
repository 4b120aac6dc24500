//! Request metrics (the `metrics` feature): a tower layer that counts each
//! request by method, route template and status, and records its
//! duration, through the [`metrics`](https://docs.rs/metrics) facade.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// `identity_http_requests_total{method, route, status}`: counter.
const REQUESTS_TOTAL: &str = "identity_http_requests_total";
/// `identity_http_request_duration_seconds{method, route, status}`: histogram.
const REQUEST_DURATION: &str = "identity_http_request_duration_seconds";

/// The `route` label of a request no route matched (the router's 404
/// fallback): a route template always starts with `/`, so this names no
/// route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Counts every request by method, route template and status, and
/// records its duration (from the request to the response's head), as
/// `identity_http_requests_total` and
/// `identity_http_request_duration_seconds`.
///
/// Add it with [`Router::layer`](axum::Router::layer), after the routes:
/// axum has matched the route by then, and the `route` label is its
/// template (`/admin/identities/{id}`, with any prefix or nesting), never
/// the path the request was sent with (which can hold an email or an
/// external id). A request no route matched is labelled
/// [`UNMATCHED_ROUTE`]; a method outside the nine of RFC 9110 and PATCH,
/// `OTHER`. So the number of series is bounded by the routes, whatever the
/// clients send.
///
/// The metrics go to the recorder installed in the `metrics` facade (for
/// Prometheus, `metrics-exporter-prometheus`; `identity-server` installs
/// it and serves `GET /metrics`).
///
/// ```
/// # use std::sync::Arc;
/// # use identity_core::{IdentityManager, SchemaRegistry};
/// # let store: identity_core::DynIdentityStore = Arc::new(identity_store_memory::MemoryStore::new());
/// # let manager = IdentityManager::builder(store, Arc::new(SchemaRegistry::new())).build();
/// let router: axum::Router = identity_http::AdminApi::new(manager)
///     .into_router()
///     .layer(identity_http::RequestMetricsLayer::new());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMetricsLayer {
    _private: (),
}

impl RequestMetricsLayer {
    /// The layer.
    pub fn new() -> Self {
        RequestMetricsLayer::default()
    }
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics { inner }
    }
}

/// The service of [`RequestMetricsLayer`].
#[derive(Debug, Clone)]
pub struct RequestMetrics<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for RequestMetrics<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RequestMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
            .to_owned();
        let method = method_label(request.method());
        RequestMetricsFuture {
            inner: self.inner.call(request),
            method,
            route,
            start: Instant::now(),
        }
    }
}

pin_project! {
    /// The response future of [`RequestMetrics`]: records the request when
    /// the response's head is ready.
    #[derive(Debug)]
    pub struct RequestMetricsFuture<F> {
        #[pin]
        inner: F,
        method: &'static str,
        route: String,
        start: Instant,
    }
}

impl<F, ResBody, E> Future for RequestMetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        // An error is the inner service's own failure, with no status (an
        // axum router's is `Infallible`): nothing to count.
        if let Ok(response) = &result {
            record(
                this.method,
                std::mem::take(this.route),
                response.status(),
                this.start.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(result)
    }
}

fn record(method: &'static str, route: String, status: StatusCode, seconds: f64) {
    let status = status.as_str().to_owned();
    metrics::histogram!(
        REQUEST_DURATION,
        "method" => method,
        "route" => route.clone(),
        "status" => status.clone()
    )
    .record(seconds);
    metrics::counter!(
        REQUESTS_TOTAL,
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
}

/// The `method` label: the standard methods by name, any other `OTHER`
/// (a client may send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Describes the request metrics, and identity-core's (see
/// `identity_core::describe_metrics`), to the installed recorder: help text
/// and unit, which exporters print (Prometheus' `# HELP`). Optional:
/// metrics are recorded without it. Call it once, after installing the
/// recorder.
///
/// ```
/// // With a recorder installed (e.g. metrics-exporter-prometheus):
/// identity_http::describe_metrics();
/// ```
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests, by method, route template and status."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from an HTTP request to its response's head, by method, route template and status."
    );
    identity_core::describe_metrics();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PROPFIND-ada.example.com").expect("a token");
        assert_eq!(method_label(&custom), "OTHER");
    }
}
