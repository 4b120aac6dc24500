//! `identity-server`: the Kratos-compatible identity admin API over a
//! SQLite file, PostgreSQL (or memory), with a request log and graceful
//! shutdown; and the commands that import, export, list and migrate the
//! database.
//!
//! ```text
//! identity-server --listen 127.0.0.1:4434 --database sqlite://identities.db \
//!     --schema default=./default.schema.json --base-url https://id.example.com
//! identity-server import identities.jsonl --database sqlite://identities.db
//! identity-server export --with-credentials > backup.jsonl
//! identity-server list --state inactive --count
//! identity-server migrate status
//! ```
//!
//! Every flag of `serve` has an environment variable (`IDENTITY_LISTEN`,
//! ...); see `identity-server serve --help`. The log filter is `RUST_LOG`
//! (default `info` for `serve`, `warn` for the other commands, whose
//! output is their own).

mod cli;
mod entries;
mod export;
mod feed;
mod import;
mod list;
mod metrics;
mod migrate;
mod migrate_schema;
mod progress;
mod serve;
mod store;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::MatchedPath;
use identity_core::{ChangeRetention, IdentityManager, ManagerConfig, SchemaRegistry};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;

use crate::cli::{Command, ServeArgs, StoreArgs};

/// The schema used when no `--schema` is given: an email identifier for
/// password, webauthn and code login, verification and recovery by email.
const DEFAULT_SCHEMA: &str = include_str!("../schemas/default.schema.json");

fn main() -> ExitCode {
    let command = cli::Cli::parse_args().command;
    let serving = matches!(command, Command::Serve(_));
    let default_filter = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            Command::Serve(args) => run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Import(args) => import::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::List(args) => list::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
            Command::MigrateSchema(args) => migrate_schema::run(args).await,
        }
    });
    // Blocking tasks (a password hash) get a moment; nothing holds the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(code) => code,
        Err(message) if serving => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
        // The other commands talk to a person or a script: a plain line.
        Err(message) => {
            eprintln!("identity-server: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `serve`: the admin API until SIGTERM or Ctrl-C.
async fn run(cli: ServeArgs) -> Result<(), String> {
    let schemas = schemas(&cli.store)?;
    let metrics = metrics::install(&cli.metrics)?;
    let store = store::open(&cli.store.database).await?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let base_url = cli
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let max_age = (cli.changes_retention_days > 0.0)
        .then(|| Duration::from_secs_f64(cli.changes_retention_days * 86_400.0));
    let retention = ChangeRetention::default()
        .with_max_age(max_age)
        .with_max_count(cli.changes_retention_count);
    let mut builder = IdentityManager::builder(store, Arc::new(schemas)).config(
        ManagerConfig::default()
            .with_base_url(base_url.clone())
            .with_retention(retention),
    );
    if let Some(permits) = cli.hash_concurrency {
        builder = builder.hash_concurrency(permits);
    }
    let manager = builder.build();
    // Background work ends with the runtime, when `run` returns.
    tokio::spawn(feed::prune_forever(
        manager.clone(),
        Duration::from_secs(60),
    ));
    if let Some(path) = &cli.changes_log {
        tracing::info!(path = %path.display(), "delivering changes to a JSON lines file");
        tokio::spawn(feed::deliver_forever(
            manager.clone(),
            Arc::new(feed::JsonLinesSink::new(path.clone())),
            Duration::from_secs_f64(cli.changes_poll),
        ));
    }
    let mut api = identity_http::AdminApi::new(manager).body_limit(cli.body_limit);
    if let Some(prefix) = &cli.path_prefix {
        api = api.prefix(prefix.clone());
    }
    let app = metrics::mount(api.into_router(), metrics)
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs_f64(
            cli.body_timeout,
        )))
        // One line per request: method, route template and outcome. Never
        // the URI: its query can hold an email (`credentials_identifier`),
        // its path an external id.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(route_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(()),
        );
    tracing::info!(
        address = %local,
        base_url = %base_url,
        database = %database_kind(&cli.store.database),
        "identity-server listening"
    );
    let limits = serve::ServeLimits {
        header_timeout: Duration::from_secs_f64(cli.header_timeout),
        max_connections: cli.max_connections,
        shutdown_grace: Duration::from_secs_f64(cli.shutdown_grace),
    };
    serve::serve(listener, app, limits, shutdown_signal()).await;
    tracing::info!("identity-server stopped");
    Ok(())
}

/// The span of a request: its method and the route template it matched
/// (`/admin/identities/{id}`), never the path or query it was sent with.
fn route_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<no route>", MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), route = %route)
}

/// The database URL without what may be a secret (a PostgreSQL password):
/// only its scheme.
fn database_kind(url: &str) -> &str {
    url.split_once(':').map_or(url, |(scheme, _)| scheme)
}

/// The registry of `--schema ID=PATH` (the first is the default), or the
/// built-in schema as `default`.
fn schemas(cli: &StoreArgs) -> Result<SchemaRegistry, String> {
    let mut registry = SchemaRegistry::new();
    if cli.schemas.is_empty() {
        let value = serde_json::from_str(DEFAULT_SCHEMA)
            .map_err(|e| format!("the built-in schema is not JSON: {e}"))?;
        registry
            .register("default", value)
            .map_err(|e| format!("the built-in schema is invalid: {e}"))?;
        return Ok(registry);
    }
    for (i, s) in cli.schemas.iter().enumerate() {
        registry
            .register_file(s.id.clone(), &s.path)
            .map_err(|e| format!("schema {:?}: {e}", s.id))?;
        if i == 0 {
            registry.set_default_id(s.id.clone());
        }
    }
    Ok(registry)
}

/// Resolves on SIGTERM or Ctrl-C; the server then stops accepting, closes
/// idle connections and gives requests in flight the grace period.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
