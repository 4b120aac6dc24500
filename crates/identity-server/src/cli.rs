//! Flags, subcommands and their environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// The Kratos-compatible identity admin API, and the commands that import,
/// export, list and migrate its database.
///
/// Without a subcommand, `identity-server [FLAGS]` is `identity-server
/// serve [FLAGS]` (see `identity-server serve --help`).
#[derive(Debug, clap::Parser)]
#[command(name = "identity-server", version, about)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments, reading them as `serve`'s when they
    /// do not start with a subcommand (or help or version): today's
    /// `identity-server --listen …` keeps working, and the other commands
    /// never read `serve`'s flags or environment variables.
    pub(crate) fn parse_args() -> Cli {
        use clap::{CommandFactory as _, Parser as _};
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let named = args.get(1).and_then(|a| a.to_str()).is_some_and(|first| {
            matches!(first, "help" | "-h" | "--help" | "-V" | "--version")
                || Cli::command()
                    .get_subcommands()
                    .any(|c| c.get_name() == first)
        });
        if !named {
            args.insert(1.min(args.len()), "serve".into());
        }
        Cli::parse_from(args)
    }
}

/// The subcommands. Each holds its own flags; [`StoreArgs`] is shared.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Serve the admin API (the default).
    Serve(ServeArgs),
    /// Create identities from a JSON array or JSON lines of Kratos create
    /// bodies (`-` reads standard input).
    Import(ImportArgs),
    /// Write every identity as a JSON line in the import body's shape.
    Export(ExportArgs),
    /// List identities, optionally filtered, or count them.
    List(ListArgs),
    /// Apply the database's pending schema migrations, or show them.
    Migrate(MigrateArgs),
    /// Move the identities of one identity schema to another, page by
    /// page, or (`--dry-run`) report what the move would do.
    MigrateSchema(MigrateSchemaArgs),
}

/// Where identities live and the schemas they follow: every command's.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// Where identities live: `sqlite://PATH` (created if missing),
    /// `memory:` (lost on exit; `serve` only), or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "IDENTITY_DATABASE",
        default_value = "sqlite://identities.db"
    )]
    pub database: String,

    /// An identity schema as `ID=PATH` (repeatable; the first is the
    /// default). Without any, a built-in schema with an email identifier,
    /// verification and recovery is used. The variable takes a
    /// comma-separated list.
    #[arg(
        long = "schema",
        env = "IDENTITY_SCHEMAS",
        value_name = "ID=PATH",
        value_delimiter = ','
    )]
    pub schemas: Vec<SchemaArg>,
}

/// `serve`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "127.0.0.1:4434")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Public base URL, the prefix of every `schema_url` and `Location`
    /// (default: `http://` + the listening address).
    #[arg(long, env = "IDENTITY_BASE_URL")]
    pub base_url: Option<String>,

    /// Serve every route under this path prefix (e.g. `/iam`: `PUT
    /// /iam/identities/{id}`, `GET /iam/admin/identities`).
    #[arg(long, env = "IDENTITY_PATH_PREFIX")]
    pub path_prefix: Option<String>,

    /// Largest request body, in bytes.
    #[arg(long, env = "IDENTITY_BODY_LIMIT", default_value_t = identity_http::DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,

    /// Seconds a client may take to send a request's headers; also how long
    /// an idle keep-alive connection stays open.
    #[arg(long, env = "IDENTITY_HEADER_TIMEOUT", default_value_t = 10.0, value_parser = seconds)]
    pub header_timeout: f64,

    /// Seconds a client may take to send a request's body (then 408).
    #[arg(long, env = "IDENTITY_BODY_TIMEOUT", default_value_t = 30.0, value_parser = seconds)]
    pub body_timeout: f64,

    /// The most connections open at once; more wait in the listen backlog.
    #[arg(long, env = "IDENTITY_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seconds requests in flight may run on after SIGTERM or Ctrl-C before
    /// the server drops them and exits.
    #[arg(long, env = "IDENTITY_SHUTDOWN_GRACE", default_value_t = 10.0, value_parser = seconds)]
    pub shutdown_grace: f64,

    /// How many passwords may be hashed at once (default: one per core);
    /// each Argon2id hash holds 19 MiB while it runs.
    #[arg(long, env = "IDENTITY_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Deliver every identity change, at least once, as a JSON line
    /// appended to this file (synced before the consumer's cursor, kept in
    /// the database, moves on; after a crash the last page may be written
    /// again).
    #[arg(long, env = "IDENTITY_CHANGES_LOG", value_name = "PATH")]
    pub changes_log: Option<PathBuf>,

    /// Seconds between two rounds of change delivery.
    #[arg(long, env = "IDENTITY_CHANGES_POLL", default_value_t = 0.2, value_parser = seconds)]
    pub changes_poll: f64,

    /// Days the change feed keeps changes (0: no age bound).
    #[arg(long, env = "IDENTITY_CHANGES_RETENTION_DAYS", default_value_t = 30.0, value_parser = seconds)]
    pub changes_retention_days: f64,

    /// The most changes the feed keeps (default: no count bound).
    #[arg(long, env = "IDENTITY_CHANGES_RETENTION_COUNT")]
    pub changes_retention_count: Option<u64>,

    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
}

/// `import`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ImportArgs {
    /// The file to read, or `-` for standard input: a JSON array of create
    /// bodies, or one create body per line (JSON lines), told apart by the
    /// first byte that is not white space.
    #[arg(value_name = "FILE|-")]
    pub file: String,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Identities created per batch (one store transaction each; at most
    /// 1,000). A batch is sent early once 200 of its entries carry a
    /// plaintext password, the most one batch may hash.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,

    /// The largest entry, in bytes of JSON; a larger one fails (and is
    /// skipped without being read into memory).
    #[arg(long, default_value_t = identity_http::DEFAULT_BODY_LIMIT)]
    pub max_entry_bytes: usize,

    /// Check every entry (validation, imported hashes, conflicts with the
    /// database and with the earlier entries of its batch) and report,
    /// writing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How many passwords may be hashed at once (default: one per core).
    #[arg(long, env = "IDENTITY_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
}

/// The search criteria `export` and `list` share.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Criteria {
    /// Only identities in this state (`active` or `inactive`).
    #[arg(long, value_parser = parse_state)]
    pub state: Option<identity_core::State>,

    /// Only identities of this schema.
    #[arg(long)]
    pub schema_id: Option<String>,

    /// Only identities whose traits contain this JSON object
    /// (`{"department":"eng"}`, PostgreSQL's `@>`).
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    pub traits: Option<serde_json::Value>,
}

/// `export`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub criteria: Criteria,

    /// Include the importable credential configs: password hashes
    /// (`hashed_password`), OIDC and SAML links, TOTP secrets, lookup
    /// codes, WebAuthn keys and passkeys. Secrets: without this flag none
    /// is written.
    #[arg(long)]
    pub with_credentials: bool,
}

/// `list`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub criteria: Criteria,

    /// Identities read per page (1 to 500).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub page_size: u16,

    /// Stop after this many identities (default: all).
    #[arg(long)]
    pub limit: Option<u64>,

    /// Print only how many identities match, over every page.
    #[arg(long)]
    pub count: bool,

    /// `table` (aligned columns per page) or `json` (one admin JSON
    /// identity per line, without credential configs).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub output: String,

    /// The prefix of each `schema_url` in JSON output.
    #[arg(
        long,
        env = "IDENTITY_BASE_URL",
        default_value = "http://127.0.0.1:4434"
    )]
    pub base_url: String,
}

/// `migrate`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MigrateArgs {
    /// `up` (the default) applies the pending migrations; `status` shows
    /// the database's version, this binary's and what is pending, and
    /// changes nothing.
    #[arg(value_name = "up|status", default_value = "up", value_parser = ["up", "status"])]
    pub action: String,

    /// Where identities live (`sqlite://PATH` or `postgres://...`).
    #[arg(
        long,
        env = "IDENTITY_DATABASE",
        default_value = "sqlite://identities.db"
    )]
    pub database: String,
}

fn parse_state(text: &str) -> Result<identity_core::State, String> {
    identity_core::State::parse(text)
        .ok_or_else(|| format!("expected active or inactive, got {text:?}"))
}

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

/// A non-negative, finite number of seconds.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..1e9).contains(&s) => Ok(s),
        _ => Err(format!("expected a number of seconds, got {text:?}")),
    }
}

/// `ID=PATH`.
#[derive(Debug, Clone)]
pub(crate) struct SchemaArg {
    pub id: String,
    pub path: PathBuf,
}

impl FromStr for SchemaArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((id, path)) if !id.is_empty() && !path.is_empty() => Ok(SchemaArg {
                id: id.to_owned(),
                path: PathBuf::from(path),
            }),
            _ => Err(format!("expected ID=PATH, got {s:?}")),
        }
    }
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Database {
    Memory,
    Sqlite(PathBuf),
    Postgres,
}

impl FromStr for Database {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory:" || s == "memory://" {
            return Ok(Database::Memory);
        }
        if let Some(rest) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            // Connection-string options (`?mode=rwc`) are not ours to read.
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(format!("{s:?}: the SQLite URL names no file"));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres);
        }
        Err(format!(
            "{s:?}: expected sqlite://PATH, memory: or postgres://..."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!("memory:".parse(), Ok(Database::Memory));
        assert_eq!(
            "sqlite://identities.db".parse(),
            Ok(Database::Sqlite("identities.db".into()))
        );
        assert_eq!(
            "sqlite:///var/lib/id.db?mode=rwc".parse(),
            Ok(Database::Sqlite("/var/lib/id.db".into()))
        );
        assert_eq!("postgres://u@h/db".parse(), Ok(Database::Postgres));
        assert!("sqlite://".parse::<Database>().is_err());
        assert!("mysql://x".parse::<Database>().is_err());
    }

    #[test]
    fn schema_args() {
        let s: SchemaArg = "customer=./c.json".parse().expect("valid");
        assert_eq!(
            (s.id.as_str(), s.path.to_str()),
            ("customer", Some("./c.json"))
        );
        assert!("nopath".parse::<SchemaArg>().is_err());
        assert!("=x".parse::<SchemaArg>().is_err());
    }
}

/// `migrate-schema`'s flags.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["dry_run", "apply"])))]
pub(crate) struct MigrateSchemaArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The schema id the identities use now.
    #[arg(long)]
    pub from: String,

    /// The schema id to move them to (registered with `--schema`).
    #[arg(long)]
    pub to: String,

    /// Report per identity whether it is valid against `--to`, what it
    /// would gain or lose and what would collide; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Move every valid identity, each written only at the version that
    /// was checked (a concurrent change is re-read, never overwritten).
    #[arg(long)]
    pub apply: bool,

    /// Resume after this identity id (the cursor the last page printed).
    #[arg(long, value_name = "ID")]
    pub after: Option<uuid::Uuid>,

    /// Identities per page (1 to 500).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub page_size: u16,
}
