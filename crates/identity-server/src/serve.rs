//! The accept loop: HTTP/1.1 connections with read timeouts, a cap on open
//! connections, and a graceful shutdown with a bound.
//!
//! `axum::serve` has none of these knobs, so the server drives hyper
//! itself: a slow client can hold a connection only for the header read
//! timeout (hyper closes it, idle keep-alive connections included) or the
//! body read timeout (the request answers 408); past `max_connections` new
//! connections wait in the listen backlog instead of taking memory; and a
//! shutdown closes idle connections, lets requests in flight finish for
//! the grace period, then drops what is left and returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The bounds of the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeLimits {
    /// How long a client may take to send a request's headers (and how long
    /// an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long requests in flight may run on after a shutdown begins.
    pub shutdown_grace: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down
/// within `limits.shutdown_grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        // A permit first: at the cap, connections wait in the backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let open = limits.max_connections.max(1) - permits.available_permits();
    tracing::info!(
        open_connections = open,
        "shutting down: closing idle connections, finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(limits.shutdown_grace) => tracing::warn!(
            grace_seconds = limits.shutdown_grace.as_secs_f64(),
            "connections still open after the grace period; dropping them"
        ),
    }
}
