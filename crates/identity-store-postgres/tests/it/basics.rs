//! Connecting, migrations, options and what is specific to PostgreSQL.

use std::time::Duration;

use identity_core::{
    ErrorKind, ExternalId, IdentityStore, ListFilter, ListQuery, PageSize, TenantId, ValidIdentity,
};
use identity_store_postgres::{PostgresOptions, PostgresStore, SCHEMA_VERSION, schema_version_of};
use identity_store_tests::fixtures::{TENANT, email, identity, valid};
use serde_json::json;

use crate::support::{Schema, row_counts, url};

/// Several processes (here: stores) connecting at once to a new schema all
/// succeed, and each migration is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn concurrent_connects_migrate_once() {
    let url = url();
    let schema = Schema::new(&url);
    let connects: Vec<_> = (0..6)
        .map(|_| {
            let (url, options) = (url.clone(), schema.options());
            tokio::spawn(async move { PostgresStore::connect(&url, options).await })
        })
        .collect();
    for connect in connects {
        let store = connect.await.expect("task").expect("connect");
        assert_eq!(
            store.schema_version().await.expect("version"),
            SCHEMA_VERSION
        );
    }
    let raw = schema.raw().await;
    let versions: Vec<i64> = raw
        .query(
            "SELECT version FROM identity_store_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("migrations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // Connecting again to a migrated schema changes nothing.
    let store = schema.store().await;
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
}

/// `schema_version_of` reads the version without migrating: 0 in a schema
/// never migrated (which it does not create), `SCHEMA_VERSION` once a
/// store connected there; a bad URL is invalid input.
#[tokio::test]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn the_schema_version_is_read_without_migrating() {
    let url = url();
    let schema = Schema::new(&url);
    let separator = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{separator}options=-csearch_path%3D{}", schema.name);
    let timeout = Duration::from_secs(10);
    assert_eq!(
        schema_version_of(&in_schema, timeout).await.expect("fresh"),
        0
    );
    assert_eq!(
        schema_version_of(&in_schema, timeout)
            .await
            .expect("still fresh"),
        0
    );
    drop(schema.store().await);
    assert_eq!(
        schema_version_of(&in_schema, timeout)
            .await
            .expect("migrated"),
        SCHEMA_VERSION
    );
    let bad = schema_version_of("postgres://u@h:notaport/db", timeout)
        .await
        .expect_err("bad URL");
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
}

/// A database migrated by a newer library is refused, not written to.
#[tokio::test]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn newer_schema_is_refused() {
    let url = url();
    let schema = Schema::new(&url);
    drop(schema.store().await);
    let raw = schema.raw().await;
    raw.execute(
        "INSERT INTO identity_store_migrations (version) VALUES ($1)",
        &[&(SCHEMA_VERSION + 1)],
    )
    .await
    .expect("pretend a newer migration ran");
    let e = PostgresStore::connect(&url, schema.options())
        .await
        .expect_err("newer schema");
    assert_eq!(e.kind(), ErrorKind::Internal, "{e:?}");
    assert!(e.to_string().contains("newer"), "{e}");
}

/// A server that cannot be reached is unavailable, within the timeout; a
/// bad URL or schema name is invalid input.
#[tokio::test]
async fn unreachable_and_invalid_configurations() {
    let options = PostgresOptions::default().with_connect_timeout(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let e = PostgresStore::connect("postgres://postgres@127.0.0.1:1/test", options.clone())
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let e = PostgresStore::connect("postgres://a:b@host:notaport/x", options.clone())
        .await
        .expect_err("bad URL");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert!(
        !e.to_string().contains("a:b"),
        "no credentials in errors: {e}"
    );

    let e = PostgresStore::connect(
        "postgres://postgres@127.0.0.1:1/test",
        options.with_schema("x; DROP TABLE y"),
    )
    .await
    .expect_err("bad schema name");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
}

/// A closed store is unavailable.
#[tokio::test]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn closed_store_is_unavailable() {
    let url = url();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    store.close();
    let e = store
        .get(TENANT, uuid::Uuid::nil())
        .await
        .expect_err("closed");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
}

/// Text PostgreSQL cannot store (a NUL character) never reaches it: the
/// core refuses it as invalid input before any store call (the driver's
/// error stays mapped to invalid input only as a backstop), and nothing is
/// written.
#[tokio::test]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn nul_characters_are_invalid_input() {
    let url = url();
    let schema = Schema::new(&url);
    let _store = schema.store().await;
    let mut traits = identity(1, &email(1));
    traits.traits = json!({ "email": email(1), "note": "a\u{0}b" });
    let e = ValidIdentity::new_for_tests(traits).expect_err("NUL in JSONB");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    let e = ExternalId::new("x\u{0}y").expect_err("NUL in text");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert_eq!(row_counts(&schema.raw().await).await, [0; 5]);
}

/// A limit of 0 is read as 1; traits keep every JSON value (JSONB may
/// reorder keys, which identity equality ignores).
#[tokio::test]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn zero_limit_and_json_values() {
    let url = url();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    for seed in 1..=2 {
        let mut i = identity(seed, &email(seed));
        i.traits = json!({ "email": email(seed), "z": 1, "a": [1.5, -2, null, {"k": "ü"}], "big": u64::MAX });
        i.metadata_public = Some(serde_json::Value::Null);
        store
            .create(TENANT, &valid(i.clone()))
            .await
            .expect("create");
        let mut expected = i;
        expected.version = 1;
        assert_eq!(
            store.get(TENANT, expected.id).await.expect("get"),
            std::sync::Arc::new(expected.clone())
        );
    }
    let page = store
        .list(
            TENANT,
            &ListQuery::new(ListFilter::All, None, PageSize::saturating(0)),
        )
        .await
        .expect("list");
    assert_eq!(page.identities.len(), 1);
    assert!(page.has_more);
    let other = TenantId(uuid::Uuid::from_u128(9));
    assert!(
        store
            .list(
                other,
                &ListQuery::new(ListFilter::All, None, PageSize::new(5).expect("page size"))
            )
            .await
            .expect("list")
            .identities
            .is_empty()
    );
}
