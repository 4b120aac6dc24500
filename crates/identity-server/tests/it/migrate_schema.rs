//! `identity-server migrate-schema`: a dry run reports and writes nothing,
//! `--apply` moves exactly the valid identities, resumes after a cursor,
//! and bad requests fail with a clear message.

use serde_json::{Value, json};

use crate::cli::{Run, run};

/// Schema `a` (email identifier, optional username) and `b` (username
/// required and the login identifier), written under `dir`; the
/// `--schema` flags that register them.
fn schema_flags(dir: &std::path::Path) -> Vec<String> {
    let email = |identifier: bool| {
        let mut ext = json!({"verification": {"via": "email"}});
        if identifier {
            ext["credentials"] = json!({"password": {"identifier": true}});
        }
        json!({"type": "string", "format": "email", "ory.sh/kratos": ext})
    };
    let a = json!({"properties": {"traits": {"type": "object", "properties": {
        "email": email(true), "username": {"type": "string"}}, "required": ["email"]}}});
    let b = json!({"properties": {"traits": {"type": "object", "properties": {
        "email": email(false),
        "username": {"type": "string", "minLength": 1,
            "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}},
        "required": ["email", "username"]}}});
    let mut flags = Vec::new();
    for (id, schema) in [("a", a), ("b", b)] {
        let path = dir.join(format!("{id}.json"));
        std::fs::write(&path, schema.to_string()).unwrap();
        flags.push("--schema".to_owned());
        flags.push(format!("{id}={}", path.display()));
    }
    flags
}

/// Runs `identity-server ARGS --database DB` with the two schemas.
fn with(args: &[&str], database: &str, flags: &[String], stdin: &[u8]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    all.extend(["--database", database]);
    run(&all, stdin)
}

/// The `status` of each JSON line.
fn statuses(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            entry["status"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn dry_run_reports_and_apply_moves_the_valid_identities() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("m.db").display());
    dry_run_then_apply(&database, dir.path());
}

/// The same on PostgreSQL, in a schema of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn dry_run_reports_and_apply_moves_the_valid_identities_on_postgres() {
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .expect("IDENTITY_TEST_POSTGRES_URL names the test server");
    let schema = format!("cli_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let database = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let outcome = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        dry_run_then_apply(&database, dir.path());
    })
    .await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// Four identities on `a` (valid, invalid, colliding, valid): the dry run
/// reports them and writes nothing; the apply, in two pages, moves the two
/// valid ones; a resume past the end and a second dry run find what is
/// left.
fn dry_run_then_apply(database: &str, dir: &std::path::Path) {
    let database = database.to_owned();
    let flags = schema_flags(dir);
    // Imported in this order, so listed in it (time-ordered ids): valid,
    // invalid (no username), colliding (the first's username), valid.
    let lines: String = [
        json!({"email": "ada@example.com", "username": "ada"}),
        json!({"email": "bob@example.com"}),
        json!({"email": "cy@example.com", "username": "ada"}),
        json!({"email": "dee@example.com", "username": "dee"}),
    ]
    .iter()
    .map(|traits| json!({"schema_id": "a", "traits": traits}).to_string() + "\n")
    .collect();
    let imported = with(&["import", "-"], &database, &flags, lines.as_bytes());
    assert_eq!(imported.code, 0, "{imported:?}");

    let dry = with(
        &["migrate-schema", "--from", "a", "--to", "b", "--dry-run"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(dry.code, 1, "an invalid and a colliding identity: {dry:?}");
    assert_eq!(
        statuses(&dry.stdout),
        ["valid", "invalid", "colliding", "valid"]
    );
    let first: Value = serde_json::from_str(dry.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&first["version"], &first["added"], &first["removed"]),
        (
            &json!(1),
            &json!([{"field": "credentials.identifiers", "type": "password", "value": "ada"}]),
            &json!([{"field": "credentials.identifiers", "type": "password",
                     "value": "ada@example.com"}])
        ),
        "{first}"
    );
    let invalid: Value = serde_json::from_str(dry.stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(invalid["error"]["code"], 400, "{invalid}");
    assert_eq!(
        dry.stderr.trim_end(),
        "dry run of a -> b: 4 scanned, 2 valid, 1 invalid, 1 colliding, 0 moved, 0 skipped, \
         0 re-checked; 4 identities use a now"
    );
    let on_a = with(
        &["list", "--schema-id", "a", "--count"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(on_a.stdout, "4\n", "a dry run writes nothing");

    // Two pages of two: the second resumes after the first's cursor.
    let applied = with(
        &[
            "migrate-schema",
            "--from",
            "a",
            "--to",
            "b",
            "--apply",
            "--page-size",
            "2",
        ],
        &database,
        &flags,
        b"",
    );
    assert_eq!(applied.code, 1, "{applied:?}");
    assert_eq!(
        statuses(&applied.stdout),
        ["moved", "invalid", "colliding", "moved"]
    );
    let stderr: Vec<&str> = applied.stderr.lines().collect();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    let second_id: Value = serde_json::from_str(applied.stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        stderr[0],
        format!(
            "2 scanned, 1 valid, 1 invalid, 0 colliding, 1 moved, 0 skipped, 0 re-checked; \
             resume with --after {}",
            second_id["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        stderr[1],
        "migrated a -> b: 4 scanned, 2 valid, 1 invalid, 1 colliding, 2 moved, 0 skipped, \
         0 re-checked; 2 identities use a now"
    );
    let on_b = with(
        &["list", "--schema-id", "b", "--count"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(on_b.stdout, "2\n");

    // Resuming after the last identity finds nothing more; from the start,
    // only the two left on `a` are scanned again, and still cannot move.
    let last: Value = serde_json::from_str(applied.stdout.lines().last().unwrap()).unwrap();
    let resumed = with(
        &[
            "migrate-schema",
            "--from",
            "a",
            "--to",
            "b",
            "--apply",
            "--after",
            last["id"].as_str().unwrap(),
        ],
        &database,
        &flags,
        b"",
    );
    assert_eq!(
        (resumed.code, resumed.stdout.as_str()),
        (0, ""),
        "{resumed:?}"
    );
    let again = with(
        &["migrate-schema", "--from", "a", "--to", "b", "--dry-run"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(statuses(&again.stdout), ["invalid", "colliding"]);
    assert_eq!(again.code, 1);
}

#[test]
fn bad_requests_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("m.db").display());
    let flags = schema_flags(dir.path());
    let created = with(&["migrate", "up"], &database, &flags[..0], b"");
    assert_eq!(created.code, 0, "{created:?}");

    let neither = with(
        &["migrate-schema", "--from", "a", "--to", "b"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(neither.code, 2, "clap refuses: {neither:?}");
    assert!(
        neither.stderr.contains("--dry-run") && neither.stderr.contains("--apply"),
        "{}",
        neither.stderr
    );
    let both = with(
        &[
            "migrate-schema",
            "--from",
            "a",
            "--to",
            "b",
            "--dry-run",
            "--apply",
        ],
        &database,
        &flags,
        b"",
    );
    assert_eq!(both.code, 2, "{both:?}");

    let unknown = with(
        &["migrate-schema", "--from", "a", "--to", "c", "--dry-run"],
        &database,
        &flags,
        b"",
    );
    assert_eq!(
        (unknown.code, unknown.stderr.trim_end()),
        (1, "identity-server: Unable to find JSON Schema ID: c")
    );

    let memory = with(
        &["migrate-schema", "--from", "a", "--to", "b", "--dry-run"],
        "memory:",
        &flags,
        b"",
    );
    assert_eq!(memory.code, 1);
    assert!(
        memory
            .stderr
            .contains("`identity-server migrate-schema` needs a database that persists"),
        "{}",
        memory.stderr
    );
}
