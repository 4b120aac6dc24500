//! The subcommands beside `serve`: `import`, `export`, `list` and
//! `migrate`, run as the real binary on SQLite files (and on PostgreSQL
//! when `IDENTITY_TEST_POSTGRES_URL` names a server).

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::server::Server;

/// What a run of the binary left: exit code, standard output, standard
/// error.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `identity-server ARGS` with `stdin`, no `IDENTITY_*` variable and
/// the default log filter.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> Run {
    run_with_env(args, stdin, &[])
}

/// [`run`] with these environment variables set.
fn run_with_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_identity-server"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("IDENTITY_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may not read it all (a refused command): ignore EPIPE.
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A bcrypt hash (cost 4) a test may import.
const HASH: &str = "$2a$04$zo9pKfHdhrTnUa4mqoCL0uZf8o4gFTRm8XfyjmNqNpn4wXuVKYUBe";

/// Import bodies exactly as `export --with-credentials` writes them (every
/// key in its place), so that the first export must give this text back.
fn canonical_lines() -> Vec<Value> {
    vec![
        json!({
            "schema_id": "default", "state": "active",
            "traits": {"email": "ada@example.com"},
            "credentials": {
                "password": {"config": {"hashed_password": HASH}},
                "oidc": {"config": {"providers": [{"provider": "google", "subject": "g-1", "use_auto_link": true}]}},
                "totp": {"config": {"totp_url": "otpauth://totp/ada?secret=JBSWY3DPEHPK3PXP"}},
                "lookup_secret": {"config": {"codes": [{"code": "aaaa"}, {"code": "bbbb", "used_at": "2026-01-01T00:00:00.000000Z"}]}}
            },
            "verifiable_addresses": [{"value": "ada@example.com", "via": "email", "verified": true,
                                      "status": "completed", "verified_at": "2025-05-05T05:05:05.000000Z"}],
            "metadata_public": {"plan": "pro", "n": [1, 2.5, "x"]},
            "metadata_admin": {"note": "vip"},
            "organization_id": "11111111-2222-4333-8444-555555555555",
            "external_id": "crm-ada"
        }),
        json!({
            "schema_id": "default", "state": "inactive",
            "traits": {"email": "bob@example.com"},
            "credentials": {"password": {"config": {"use_password_migration_hook": true}}},
            "verifiable_addresses": [{"value": "bob@example.com", "via": "email", "verified": false, "status": "sent"}]
        }),
        json!({
            "schema_id": "default", "state": "active",
            "traits": {"email": "cy@example.com"},
            "verifiable_addresses": [{"value": "cy@example.com", "via": "email", "verified": false, "status": "pending"}]
        }),
    ]
}

fn jsonl(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

/// The lines of an import's report with each created id replaced by
/// `<id>` (ids are new UUIDv7s), after checking each is one.
fn masked(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(id) = v.get("identity").and_then(Value::as_str) {
                let parsed = uuid::Uuid::parse_str(id).unwrap();
                assert_eq!(parsed.get_version_num(), 7, "{id}");
                v["identity"] = json!("<id>");
            }
            v
        })
        .collect()
}

fn created(n: u64) -> Value {
    json!({"entry": n, "line": n, "action": "create", "identity": "<id>"})
}

/// `import` then `export --with-credentials` on a SQLite file gives the
/// imported lines back byte for byte; importing that export into another
/// empty file and exporting again gives the same bytes; `export` without
/// the flag prints no secret.
#[test]
fn import_then_export_round_trips_byte_for_byte_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let first = format!("sqlite://{}", dir.path().join("first.db").display());
    let second = format!("sqlite://{}", dir.path().join("second.db").display());
    let input = jsonl(&canonical_lines());
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, &input).unwrap();

    let imported = run(
        &["import", file.to_str().unwrap(), "--database", &first],
        b"",
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    assert_eq!(
        masked(&imported.stdout),
        [created(1), created(2), created(3)]
    );
    assert_eq!(imported.stderr, "imported 3 of 3 entries, 0 failed\n");

    let exported = run(&["export", "--with-credentials", "--database", &first], b"");
    assert_eq!((exported.code, exported.stderr.as_str()), (0, ""));
    assert_eq!(exported.stdout, input);

    // Through standard input into another file, and out again.
    let again = run(
        &["import", "-", "--database", &second],
        exported.stdout.as_bytes(),
    );
    assert_eq!(again.code, 0, "{again:?}");
    let second_export = run(
        &["export", "--with-credentials", "--database", &second],
        b"",
    );
    assert_eq!(second_export.stdout, exported.stdout);

    let plain = run(&["export", "--database", &first], b"");
    assert_eq!(plain.code, 0);
    let without: Vec<Value> = canonical_lines()
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().unwrap().shift_remove("credentials");
            v
        })
        .collect();
    assert_eq!(plain.stdout, jsonl(&without));
    for secret in [
        HASH,
        "JBSWY3DPEHPK3PXP",
        "aaaa",
        "use_password_migration_hook",
    ] {
        assert!(
            !plain.stdout.contains(secret),
            "{secret} in {}",
            plain.stdout
        );
    }
}

/// A file with bad entries: the good ones are imported, each bad one is
/// reported (entry, line, Kratos' words) on standard error and as a JSON
/// line on standard output, and the exit status is 1.
#[test]
fn bad_entries_are_reported_and_fail_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bad.db").display());
    let input = [
        r#"{"traits":{"email":"a@example.com"}}"#,
        r#"{"traits":{"email":"not-an-email"}}"#,
        "",
        r#"{"traits":{"email":"A@Example.com"}}"#,
        "not json",
        r#"{"traits":{"email":"c@example.com"},"id":"x"}"#,
        r#"{"traits":{"email":"d@example.com"},"credentials":{"password":{"config":{"hashed_password":"plain"}}}}"#,
        r#"{"traits":{"email":"e@example.com"}}"#,
    ]
    .join("\n");
    let result = run(&["import", "-", "--database", &database], input.as_bytes());
    assert_eq!(result.code, 1, "{result:?}");
    assert_eq!(
        result.stderr,
        "entry 2 (line 2): The request was malformed or contained invalid parameters: \
         I[#/traits/email] S[#/properties/traits/properties/email/format] \"not-an-email\" is not valid \"email\"\n\
         entry 3 (line 4): The resource could not be created due to a conflict: \
         This identity conflicts with another identity that already exists. \
         (credentials.identifiers password: a@example.com)\n\
         entry 4 (line 5): The request was malformed or contained invalid parameters: \
         the entry is not JSON: expected ident at line 1 column 2\n\
         entry 5 (line 6): The request was malformed or contained invalid parameters: \
         json: unknown field \"id\"\n\
         entry 6 (line 7): The request was malformed or contained invalid parameters: \
         The imported password does not match any known hash format. \
         (the password hash is not in a supported format)\n\
         imported 2 of 7 entries, 5 failed\n"
    );
    let report = masked(&result.stdout);
    assert_eq!(report.len(), 7);
    assert_eq!(report[0], created(1));
    assert_eq!(
        report[1],
        json!({"entry": 2, "line": 2, "action": "error", "error": {
            "code": 400, "status": "Bad Request",
            "reason": "I[#/traits/email] S[#/properties/traits/properties/email/format] \"not-an-email\" is not valid \"email\"",
            "details": {"violations": [{"instance_path": "/traits/email",
                "schema_path": "/properties/traits/properties/email/format",
                "message": "\"not-an-email\" is not valid \"email\""}]},
            "message": "The request was malformed or contained invalid parameters"}})
    );
    assert_eq!(
        report[2],
        json!({"entry": 3, "line": 4, "action": "error", "error": {
            "code": 409, "status": "Conflict",
            "reason": "This identity conflicts with another identity that already exists.",
            "details": {"conflict": {"field": "credentials.identifiers", "type": "password", "value": "a@example.com"}},
            "message": "The resource could not be created due to a conflict"}})
    );
    assert_eq!(
        report[6],
        json!({"entry": 7, "line": 8, "action": "create", "identity": "<id>"})
    );
    let count = run(&["list", "--count", "--database", &database], b"");
    assert_eq!((count.code, count.stdout.as_str()), (0, "2\n"));

    // A dry run of the same file writes nothing and reports the same
    // failures (a@example.com now conflicts with the stored one too).
    let dry = run(
        &["import", "-", "--dry-run", "--database", &database],
        input.as_bytes(),
    );
    assert_eq!(dry.code, 1);
    assert!(
        dry.stderr.ends_with(
            "dry run: 0 of 7 entries would be imported, 7 would fail; nothing was written\n"
        ),
        "{}",
        dry.stderr
    );
    let count = run(&["list", "--count", "--database", &database], b"");
    assert_eq!(count.stdout, "2\n");
}

/// A JSON array (here pretty-printed, from a file) imports like JSON
/// lines; its report names each entry's first line. A broken array stops
/// the import with the place it broke, after what came before it.
#[test]
fn json_arrays_are_imported_entry_by_entry() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("array.db").display());
    let file = dir.path().join("in.json");
    std::fs::write(
        &file,
        "[\n  {\"traits\": {\"email\": \"x@example.com\"}},\n  {\n    \"traits\": {\"email\": \"bad\"}\n  },\n  {\"traits\": {\"email\": \"y@example.com\"}}\n]\n",
    )
    .unwrap();
    let result = run(
        &[
            "import",
            file.to_str().unwrap(),
            "--database",
            &database,
            "--batch-size",
            "1",
        ],
        b"",
    );
    assert_eq!(result.code, 1, "{result:?}");
    let report = masked(&result.stdout);
    assert_eq!(
        report[0],
        json!({"entry": 1, "line": 2, "action": "create", "identity": "<id>"})
    );
    assert_eq!(
        (
            &report[1]["entry"],
            &report[1]["line"],
            &report[1]["error"]["code"]
        ),
        (&json!(2), &json!(3), &json!(400))
    );
    assert_eq!(
        report[2],
        json!({"entry": 3, "line": 6, "action": "create", "identity": "<id>"})
    );
    assert!(
        result
            .stderr
            .ends_with("imported 2 of 3 entries, 1 failed\n"),
        "{}",
        result.stderr
    );

    let broken = run(
        &["import", "-", "--database", &database],
        b"[{\"traits\":{\"email\":\"z@example.com\"}} {\"traits\":{}}]",
    );
    assert_eq!(broken.code, 1);
    assert_eq!(masked(&broken.stdout), [created(1)]);
    assert_eq!(
        broken.stderr,
        "imported 1 of 1 entries, 0 failed\n\
         identity-server: import stopped: line 1: expected `,` or `]` after entry 1\n"
    );
    let emails = run(&["list", "--output", "json", "--database", &database], b"");
    let emails: Vec<String> = emails
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["traits"]["email"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(emails, ["x@example.com", "y@example.com", "z@example.com"]);
}

/// `list` narrows by state, schema and traits containment, counts over
/// every page, pages through small pages, and prints a table.
#[test]
fn list_filters_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("list.db").display());
    let schema = dir.path().join("employee.json");
    std::fs::write(
        &schema,
        json!({"type": "object", "properties": {"traits": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                "credentials": {"password": {"identifier": true}}}},
            "department": {"type": "string"}}}}})
        .to_string(),
    )
    .unwrap();
    let schema_flag = format!("employee={}", schema.display());
    let mut lines = Vec::new();
    for (n, (state, department)) in [
        ("active", "eng"),
        ("inactive", "eng"),
        ("active", "ops"),
        ("inactive", "ops"),
        ("inactive", "eng"),
    ]
    .into_iter()
    .enumerate()
    {
        lines.push(json!({"schema_id": "employee", "state": state,
            "traits": {"email": format!("e{n}@example.com"), "department": department}}));
    }
    let imported = run(
        &[
            "import",
            "-",
            "--schema",
            &schema_flag,
            "--database",
            &database,
        ],
        jsonl(&lines).as_bytes(),
    );
    assert_eq!(imported.code, 0, "{imported:?}");

    let list = |extra: &[&str]| {
        let mut args = vec!["list", "--schema", &schema_flag, "--database", &database];
        args.extend_from_slice(extra);
        let r = run(&args, b"");
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{extra:?}");
        r.stdout
    };
    assert_eq!(list(&["--count"]), "5\n");
    assert_eq!(list(&["--count", "--state", "inactive"]), "3\n");
    assert_eq!(list(&["--count", "--schema-id", "employee"]), "5\n");
    assert_eq!(list(&["--count", "--schema-id", "default"]), "0\n");
    assert_eq!(
        list(&[
            "--count",
            "--state",
            "inactive",
            "--traits",
            r#"{"department":"eng"}"#
        ]),
        "2\n"
    );
    let emails = |out: String| -> Vec<String> {
        out.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["traits"]["email"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        emails(list(&[
            "--output",
            "json",
            "--page-size",
            "1",
            "--traits",
            r#"{"department":"eng"}"#
        ])),
        ["e0@example.com", "e1@example.com", "e4@example.com"]
    );
    assert_eq!(
        emails(list(&[
            "--output",
            "json",
            "--page-size",
            "2",
            "--limit",
            "3"
        ])),
        ["e0@example.com", "e1@example.com", "e2@example.com"]
    );
    let table = list(&["--state", "active"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(
        rows[0],
        "ID                                    STATE     SCHEMA ID  VERIFIABLE ADDRESSES"
    );
    assert_eq!(&rows[1][36..], "  active    employee");
    assert_eq!(&rows[2][36..], "  active    employee");
    let bad = run(
        &[
            "list",
            "--traits",
            "[1]",
            "--database",
            &database,
            "--schema",
            &schema_flag,
        ],
        b"",
    );
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (
            1,
            "identity-server: cannot list identities: the traits filter must be a JSON object\n"
        )
    );
}

/// `migrate status` reads the version without migrating (a missing file
/// stays missing); `migrate` applies what is pending, once.
#[test]
fn migrate_status_and_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let database = format!("sqlite://{}", path.display());
    let v = identity_store_sqlite::SCHEMA_VERSION;
    let status = run(&["migrate", "status", "--database", &database], b"");
    assert_eq!(
        (status.code, status.stdout, status.stderr.as_str()),
        (
            0,
            format!(
                "database schema version: 0 (no database yet)\n\
             library schema version:  {v}\n\
             pending migrations:      1-{v} (run `identity-server migrate`)\n"
            ),
            ""
        )
    );
    assert!(!path.exists());
    let up = run(&["migrate", "--database", &database], b"");
    assert_eq!(
        (up.code, up.stdout),
        (
            0,
            format!("applied migrations 1-{v}: schema version 0 -> {v}\n")
        )
    );
    let status = run(&["migrate", "status", "--database", &database], b"");
    assert_eq!(
        status.stdout,
        format!(
            "database schema version: {v}\nlibrary schema version:  {v}\npending migrations:      none\n"
        )
    );
    let up = run(&["migrate", "up", "--database", &database], b"");
    assert_eq!(
        up.stdout,
        format!("schema version {v} is current: nothing to apply\n")
    );
    // `list` and `export` never create a database.
    let missing = dir.path().join("none.db");
    let r = run(
        &[
            "list",
            "--database",
            &format!("sqlite://{}", missing.display()),
        ],
        b"",
    );
    assert_eq!(
        (r.code, r.stderr),
        (
            1,
            format!(
                "identity-server: there is no SQLite database at {}: nothing to list\n",
                missing.display()
            )
        )
    );
    assert!(!missing.exists());
}

/// `memory:` starts empty and ends with the command: every command but
/// `serve` refuses it, saying so.
#[test]
fn memory_is_refused_where_nothing_would_persist() {
    for command in ["import", "export", "list", "migrate"] {
        let mut args = vec![command];
        if command == "import" {
            args.push("-");
        }
        args.extend(["--database", "memory:"]);
        let r = run(&args, b"{\"traits\":{}}\n");
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr),
            (
                1,
                "",
                format!(
                    "identity-server: `identity-server {command}` needs a database that persists: \
                     memory: starts empty and is lost when the command ends; use sqlite://PATH or postgres://...\n"
                )
            )
        );
    }
}

/// The commands read `serve`'s flags and variables only when serving: a
/// `serve` variable the other commands have no use for (here an invalid
/// one) does not stop them, while the database variable applies to all.
#[test]
fn serve_variables_are_only_read_by_serve() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("env.db").display());
    let env = [
        ("IDENTITY_LISTEN", "not an address"),
        ("IDENTITY_BODY_TIMEOUT", "forever"),
        ("IDENTITY_DATABASE", database.as_str()),
    ];
    let up = run_with_env(&["migrate"], b"", &env);
    assert_eq!((up.code, up.stderr.as_str()), (0, ""), "{up:?}");
    let count = run_with_env(&["list", "--count"], b"", &env);
    assert_eq!((count.code, count.stdout.as_str()), (0, "0\n"));
    let serve = run_with_env(&[], b"", &env);
    assert_eq!(serve.code, 2);
    assert!(
        serve
            .stderr
            .starts_with("error: invalid value 'not an address' for '--listen <LISTEN>'"),
        "{}",
        serve.stderr
    );
}

/// `identity-server serve FLAGS` is `identity-server FLAGS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_is_the_default_and_a_subcommand() {
    let mut server = Server::start_serve_subcommand("memory:");
    server.wait_ready().await;
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// The same round trip on PostgreSQL, in a schema of its own selected
/// through the URL's `search_path`; `migrate status` before and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn import_then_export_round_trips_on_postgres() {
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .expect("IDENTITY_TEST_POSTGRES_URL names the test server");
    let schemas = [
        format!("cli_{}", uuid::Uuid::new_v4().simple()),
        format!("cli_{}", uuid::Uuid::new_v4().simple()),
    ];
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for s in &schemas {
        client
            .batch_execute(&format!("CREATE SCHEMA {s}"))
            .await
            .unwrap();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let urls: Vec<String> = schemas
        .iter()
        .map(|s| format!("{url}{separator}options=-csearch_path%3D{s}"))
        .collect();
    let outcome = tokio::task::spawn_blocking({
        let urls = urls.clone();
        move || {
            let v = identity_store_postgres::SCHEMA_VERSION;
            let status = run(&["migrate", "status", "--database", &urls[0]], b"");
            assert_eq!(
                status.stdout,
                format!(
                    "database schema version: 0\nlibrary schema version:  {v}\n\
                     pending migrations:      1-{v} (run `identity-server migrate`)\n"
                )
            );
            let up = run(&["migrate", "--database", &urls[0]], b"");
            assert_eq!(
                up.stdout,
                format!("applied migrations 1-{v}: schema version 0 -> {v}\n")
            );
            let input = jsonl(&canonical_lines());
            let imported = run(&["import", "-", "--database", &urls[0]], input.as_bytes());
            assert_eq!(imported.code, 0, "{imported:?}");
            let exported = run(&["export", "--with-credentials", "--database", &urls[0]], b"");
            assert_eq!(exported.code, 0, "{exported:?}");
            // JSONB orders object keys its own way (shorter first), so
            // the first export is the input up to key order...
            let lines: Vec<Value> = exported
                .stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines, canonical_lines());
            // ...and from then on byte for byte.
            let again = run(&["import", "-", "--database", &urls[1]], exported.stdout.as_bytes());
            assert_eq!(again.code, 0, "{again:?}");
            let second = run(&["export", "--with-credentials", "--database", &urls[1]], b"");
            assert_eq!(second.stdout, exported.stdout);
            let count = run(&["list", "--count", "--state", "inactive", "--database", &urls[1]], b"");
            assert_eq!(count.stdout, "1\n");
            let status = run(&["migrate", "status", "--database", &urls[1]], b"");
            assert_eq!(
                status.stdout,
                format!(
                    "database schema version: {v}\nlibrary schema version:  {v}\npending migrations:      none\n"
                )
            );
        }
    })
    .await;
    for s in &schemas {
        client
            .batch_execute(&format!("DROP SCHEMA {s} CASCADE"))
            .await
            .unwrap();
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// Batches are cut at 200 plaintext passwords (the most one batch may
/// hash), whatever `--batch-size` says: 201 of them in one batch of 1,000
/// would be refused whole. A dry run, so nothing is hashed.
#[test]
fn batches_are_cut_at_the_plaintext_password_limit() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("plain.db").display());
    let lines: Vec<Value> = (0..201)
        .map(|n| {
            json!({"traits": {"email": format!("p{n}@example.com")},
                   "credentials": {"password": {"config": {"password": "correct horse battery staple"}}}})
        })
        .collect();
    let result = run(
        &[
            "import",
            "-",
            "--dry-run",
            "--batch-size",
            "1000",
            "--database",
            &database,
        ],
        jsonl(&lines).as_bytes(),
    );
    assert_eq!(
        (result.code, result.stderr.as_str()),
        (
            0,
            "dry run: 201 of 201 entries would be imported, 0 would fail; nothing was written\n"
        )
    );
    let report = masked(&result.stdout);
    assert_eq!(report.len(), 201);
    assert_eq!(
        report[200],
        json!({"entry": 201, "line": 201, "action": "create"})
    );
    let count = run(&["list", "--count", "--database", &database], b"");
    assert_eq!(count.stdout, "0\n");
}

/// An entry over `--max-entry-bytes` fails without being kept; the next
/// one imports.
#[test]
fn an_oversized_entry_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("big.db").display());
    let big =
        json!({"traits": {"email": "big@example.com"}, "metadata_admin": {"x": "y".repeat(200)}});
    let input = format!(
        "{big}\n{}\n",
        json!({"traits": {"email": "small@example.com"}})
    );
    let result = run(
        &[
            "import",
            "-",
            "--max-entry-bytes",
            "100",
            "--database",
            &database,
        ],
        input.as_bytes(),
    );
    assert_eq!(
        (result.code, result.stderr.as_str()),
        (
            1,
            "entry 1 (line 1): The request was malformed or contained invalid parameters: \
             the entry is larger than the limit of 100 bytes\n\
             imported 1 of 2 entries, 1 failed\n"
        )
    );
    assert_eq!(masked(&result.stdout)[1], created(2));
}
