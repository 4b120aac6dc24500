//! `GET /metrics`: every metric of identity-http and identity-core (their
//! `metrics` features) in the Prometheus text format, from
//! `metrics-exporter-prometheus`'s recorder, on the server's own listener.
//!
//! The route sits at the root, outside `--path-prefix` (a prefix is for
//! the API a proxy exposes; a scraper reaches the server itself) and
//! outside the request metrics (scrapes are not API traffic). The
//! exporter runs no listener of its own. `--no-metrics` installs no
//! recorder and serves no route (`/metrics` is then the API's 404).

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The path the metrics are served at.
pub(crate) const PATH: &str = "/metrics";

/// The histogram buckets of every duration (seconds): from a cached read
/// (about a millisecond) to a slow password hash or a store timeout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms are drained into their buckets between scrapes,
/// so that samples never pile up in memory when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// The metrics flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MetricsArgs {
    /// Neither record metrics nor serve `GET /metrics` (Prometheus text
    /// format, at the root, outside `--path-prefix`).
    #[arg(long, env = "IDENTITY_NO_METRICS")]
    pub no_metrics: bool,
}

/// Installs the Prometheus recorder (unless `--no-metrics`) and starts its
/// upkeep; the handle renders the scrape.
pub(crate) fn install(args: &MetricsArgs) -> Result<Option<PrometheusHandle>, String> {
    if args.no_metrics {
        return Ok(None);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    identity_http::describe_metrics();
    let upkeep = handle.clone();
    // Ends with the runtime, as the other background work does.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Some(handle))
}

/// `app` with request metrics and `GET /metrics`, or `app` itself without
/// a recorder.
pub(crate) fn mount(app: Router, handle: Option<PrometheusHandle>) -> Router {
    let Some(handle) = handle else {
        return app;
    };
    let scrape = get(move || {
        let body = handle.render();
        std::future::ready(
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                body,
            )
                .into_response(),
        )
    });
    app.layer(identity_http::RequestMetricsLayer::new())
        .merge(Router::new().route(PATH, scrape))
}
