//! PostgreSQL store throughput: create, get, update and find-by-identifier
//! through `PostgresStore`, and a raw tokio-postgres baseline that sends
//! the same SQL in the same transaction shape (pipelined child inserts,
//! `SELECT … FOR UPDATE` pipelined with the one-statement read on update)
//! with none of the library's logic: no pool, no row decoding into
//! identities, no row diff, no conflict diagnosis, no task per write, and
//! no change feed. `raw_change` is the same baseline with the store's
//! change row appended by the identity row's own statement
//! ([`INSERT_IDENTITY_CHANGE`], [`UPDATE_IDENTITY_CHANGE`]), as the store
//! does: what the feed costs a write, without the store around it. Each operation runs
//! with 1, 4 and 16 concurrent clients.
//!
//! The `postgres/search_100k` group (issue 17, item 4) lists and counts
//! with the search criteria over 100,000 identities in a schema of its own
//! (loaded only when the group is selected), against an unfiltered page, a
//! plain count and a count by `traits->>'department'` that no index serves.
//!
//! `IDENTITY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!  cargo bench -p identity-benches --bench postgres`; without the variable
//! the benchmark says so and measures nothing. Figures in
//! `benches/README.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use identity_core::{
    CredentialType, Identity, IdentityStore, ListFilter, ListQuery, PageSize, State, TenantId,
    ValidIdentity,
};
use identity_store_postgres::{PostgresOptions, PostgresStore};
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

const URL_ENV: &str = "IDENTITY_TEST_POSTGRES_URL";
const T: TenantId = TenantId::DEFAULT;
/// Identities stored before reads and updates are measured.
const PRELOAD: u64 = 2_000;
const CLIENTS: [usize; 3] = [1, 4, 16];

/// The `stores` bench's typical identity `n` (email trait, password and
/// code credentials, one verifiable and one recovery address), with the
/// admin metadata the update here rewrites.
fn person(n: u64) -> Identity {
    let mut i = identity_benches::sqlite_raw::person(n, &identity_benches::sqlite_raw::email(n));
    i.metadata_admin = Some(json!({"counter": 0}));
    i
}

use identity_benches::sqlite_raw::valid;

// The store's statements, verbatim (crates/identity-store-postgres/src/rows.rs).
const SELECT: &str = "SELECT i.id, i.schema_id, i.state, i.state_changed_at, i.traits, \
     i.metadata_public, i.metadata_admin, i.organization_id, i.external_id, i.created_at, \
     i.updated_at, i.version, \
     (SELECT jsonb_agg(jsonb_build_array(c.type, c.config, c.version, c.created_at, \
             c.updated_at)) \
        FROM credentials c WHERE c.nid = i.nid AND c.identity_id = i.id), \
     (SELECT jsonb_agg(jsonb_build_array(ci.type, ci.identifier) \
             ORDER BY ci.type, ci.position) \
        FROM credential_identifiers ci WHERE ci.nid = i.nid AND ci.identity_id = i.id), \
     (SELECT jsonb_agg(jsonb_build_array(a.id, a.via, a.value, a.verified, a.status, \
             a.verified_at, a.created_at, a.updated_at) ORDER BY a.position) \
        FROM verifiable_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id), \
     (SELECT jsonb_agg(jsonb_build_array(r.id, r.via, r.value, r.created_at, \
             r.updated_at) ORDER BY r.position) \
        FROM recovery_addresses r WHERE r.nid = i.nid AND r.identity_id = i.id) \
     FROM identities i ";
const INSERT_IDENTITY: &str = "INSERT INTO identities (nid, id, schema_id, state, \
     state_changed_at, traits, metadata_public, metadata_admin, organization_id, external_id, \
     created_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)";
const INSERT_CREDENTIALS: &str = "INSERT INTO credentials (nid, identity_id, type, config, \
     version, created_at, updated_at) \
     SELECT $1, $2, e->>0, e->1, (e->>2)::INT8, (e->>3)::INT8, (e->>4)::INT8 \
     FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_IDENTIFIERS: &str = "INSERT INTO credential_identifiers (nid, identity_id, type, \
     identifier, position) \
     SELECT $1, $2, e->>0, e->>1, (e->>2)::INT8 FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_VERIFIABLE: &str = "INSERT INTO verifiable_addresses (nid, identity_id, id, \
     position, via, value, verified, status, verified_at, created_at, updated_at) \
     SELECT $1, $2, (e->>0)::UUID, (e->>1)::INT8, e->>2, e->>3, (e->>4)::BOOLEAN, e->>5, \
     (e->>6)::INT8, (e->>7)::INT8, (e->>8)::INT8 FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_RECOVERY: &str = "INSERT INTO recovery_addresses (nid, identity_id, id, position, \
     via, value, created_at, updated_at) \
     SELECT $1, $2, (e->>0)::UUID, (e->>1)::INT8, e->>2, e->>3, (e->>4)::INT8, (e->>5)::INT8 \
     FROM jsonb_array_elements($3::JSONB) AS e";
const LOCK_HEAD: &str = "SELECT version FROM identities WHERE nid = $1 AND id = $2 FOR UPDATE";
const UPDATE_IDENTITY: &str = "UPDATE identities SET schema_id = $3, state = $4, \
     state_changed_at = $5, traits = $6, metadata_public = $7, metadata_admin = $8, \
     organization_id = $9, external_id = $10, created_at = $11, updated_at = $12, \
     version = $13 WHERE nid = $1 AND id = $2";

/// [`INSERT_IDENTITY`] with the store's change row appended by the same
/// statement, as `identity-store-postgres` writes it (its private
/// `INSERT_IDENTITY` with `feed::append_written!`, copied): no cursor
/// (readers number it), a `seq` from the column's default; `$13` is the
/// field list.
const INSERT_IDENTITY_CHANGE: &str = "WITH written AS (INSERT INTO identities (nid, id, \
     schema_id, state, state_changed_at, traits, metadata_public, metadata_admin, \
     organization_id, external_id, created_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1) RETURNING id) \
     INSERT INTO identity_changes (nid, identity_id, kind, version, fields, at) \
     SELECT $1, written.id, 'created', 1, $13, \
     (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::INT8 FROM written";
/// [`UPDATE_IDENTITY`] with the store's change row, likewise copied; `$14`
/// is the field list.
const UPDATE_IDENTITY_CHANGE: &str = "WITH written AS (UPDATE identities SET schema_id = $3, \
     state = $4, state_changed_at = $5, traits = $6, metadata_public = $7, \
     metadata_admin = $8, organization_id = $9, external_id = $10, created_at = $11, \
     updated_at = $12, version = $13 WHERE nid = $1 AND id = $2 RETURNING id, version) \
     INSERT INTO identity_changes (nid, identity_id, kind, version, fields, at) \
     SELECT $1, written.id, 'updated', written.version, $14, \
     (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::INT8 FROM written";
/// The field list of the changes `raw_change` writes.
const FIELDS: &str = "metadata_admin";

/// One raw connection with its statements prepared.
struct Raw {
    client: Client,
    get: Statement,
    find: Statement,
    insert: [Statement; 5],
    insert_change: Statement,
    lock: Statement,
    update: Statement,
    update_change: Statement,
}

async fn raw(url: &str, schema: &str) -> Raw {
    let mut config: tokio_postgres::Config = url.parse().expect("url");
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config.connect(NoTls).await.expect("raw connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let prepare = |sql: String| {
        let client = &client;
        async move { client.prepare(&sql).await.expect("prepare") }
    };
    Raw {
        get: prepare(format!("{SELECT}WHERE i.nid = $1 AND i.id = $2")).await,
        find: prepare(format!(
            "{SELECT}WHERE i.nid = $1 AND i.id = (SELECT ci.identity_id FROM \
             credential_identifiers ci WHERE ci.nid = $1 AND ci.type = $2 AND ci.identifier = $3)"
        ))
        .await,
        insert: [
            prepare(INSERT_IDENTITY.into()).await,
            prepare(INSERT_CREDENTIALS.into()).await,
            prepare(INSERT_IDENTIFIERS.into()).await,
            prepare(INSERT_VERIFIABLE.into()).await,
            prepare(INSERT_RECOVERY.into()).await,
        ],
        insert_change: prepare(INSERT_IDENTITY_CHANGE.into()).await,
        lock: prepare(LOCK_HEAD.into()).await,
        update: prepare(UPDATE_IDENTITY.into()).await,
        update_change: prepare(UPDATE_IDENTITY_CHANGE.into()).await,
        client,
    }
}

fn micros(t: identity_core::Timestamp) -> i64 {
    t.unix_micros()
}

type P<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// The values of an identity row's columns that are not fields of
/// [`Identity`] as they are (text, microseconds), for the statements'
/// parameters.
struct Columns<'a> {
    state: &'a str,
    changed: Option<i64>,
    created: i64,
    updated: i64,
    external_id: Option<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(i: &'a Identity) -> Self {
        Columns {
            state: i.state.as_str(),
            changed: i.state_changed_at.map(micros),
            created: micros(i.created_at),
            updated: micros(i.updated_at),
            external_id: i.external_id.as_ref().map(|e| e.as_str()),
        }
    }

    /// `$1` to `$12` of [`INSERT_IDENTITY`] and [`UPDATE_IDENTITY`].
    fn params<'p>(&'p self, nid: &'p Uuid, i: &'p Identity) -> [P<'p>; 12] {
        [
            nid,
            &i.id,
            &i.schema_id,
            &self.state,
            &self.changed,
            &i.traits,
            &i.metadata_public,
            &i.metadata_admin,
            &i.organization_id,
            &self.external_id,
            &self.created,
            &self.updated,
        ]
    }
}

impl Raw {
    async fn create(&self, i: &Identity, with_change: bool) {
        let nid = T.0;
        let credentials: Vec<Value> = i
            .credentials
            .values()
            .map(|c| {
                json!([
                    c.kind.as_str(),
                    c.config.expose(),
                    c.version,
                    micros(c.created_at),
                    micros(c.updated_at)
                ])
            })
            .collect();
        let identifiers: Vec<Value> = i
            .credentials
            .values()
            .flat_map(|c| {
                c.identifiers
                    .iter()
                    .enumerate()
                    .map(|(p, id)| json!([c.kind.as_str(), id, p]))
            })
            .collect();
        let verifiable: Vec<Value> = i
            .verifiable_addresses
            .iter()
            .enumerate()
            .map(|(p, a)| {
                json!([
                    a.id,
                    p,
                    a.via.as_str(),
                    a.value,
                    a.verified,
                    a.status.as_str(),
                    a.verified_at.map(micros),
                    micros(a.created_at),
                    micros(a.updated_at)
                ])
            })
            .collect();
        let recovery: Vec<Value> = i
            .recovery_addresses
            .iter()
            .enumerate()
            .map(|(p, a)| {
                json!([
                    a.id,
                    p,
                    a.via.as_str(),
                    a.value,
                    micros(a.created_at),
                    micros(a.updated_at)
                ])
            })
            .collect();
        let (c, v, idf, r) = (
            Value::Array(credentials),
            Value::Array(verifiable),
            Value::Array(identifiers),
            Value::Array(recovery),
        );
        let columns = Columns::of(i);
        self.client.batch_execute("BEGIN").await.expect("begin");
        let s = &self.insert;
        let mut head: Vec<P<'_>> = columns.params(&nid, i).to_vec();
        let head_statement = if with_change {
            head.push(&FIELDS);
            &self.insert_change
        } else {
            &s[0]
        };
        let children: [[P<'_>; 3]; 4] = [
            [&nid, &i.id, &c],
            [&nid, &i.id, &idf],
            [&nid, &i.id, &v],
            [&nid, &i.id, &r],
        ];
        let (a, b, d, e, f) = tokio::join!(
            self.client.execute(head_statement, &head),
            self.client.execute(&s[1], &children[0]),
            self.client.execute(&s[2], &children[1]),
            self.client.execute(&s[3], &children[2]),
            self.client.execute(&s[4], &children[3]),
        );
        for result in [a, b, d, e, f] {
            result.expect("raw insert");
        }
        self.client.batch_execute("COMMIT").await.expect("commit");
    }

    async fn get(&self, id: Uuid) -> tokio_postgres::Row {
        self.client
            .query_one(&self.get, &[&T.0, &id])
            .await
            .expect("raw get")
    }

    async fn find(&self, email: &str) -> tokio_postgres::Row {
        self.client
            .query_one(&self.find, &[&T.0, &"password", &email])
            .await
            .expect("raw find")
    }

    async fn update(&self, i: &Identity, with_change: bool) {
        self.client.batch_execute("BEGIN").await.expect("begin");
        let key: [P<'_>; 2] = [&T.0, &i.id];
        let (lock, _stored) = tokio::join!(self.client.query_one(&self.lock, &key), self.get(i.id));
        let version: i64 = lock.expect("lock").get(0);
        let columns = Columns::of(i);
        let next = version + 1;
        let mut row: Vec<P<'_>> = columns.params(&T.0, i).to_vec();
        row.push(&next);
        let statement = if with_change {
            row.push(&FIELDS);
            &self.update_change
        } else {
            &self.update
        };
        self.client
            .execute(statement, &row)
            .await
            .expect("raw update");
        self.client.batch_execute("COMMIT").await.expect("commit");
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    Get,
    Update,
    Find,
}

/// Runs `iters` operations spread over `clients` concurrent tasks and
/// returns the wall time. With `own_tenants`, each client creates in a
/// tenant of its own (the change feed is per tenant; until schema version
/// 5 one tenant's writes took turns from their change to their commit);
/// otherwise every client uses [`T`].
async fn run_store(
    store: &PostgresStore,
    op: Op,
    iters: u64,
    clients: usize,
    next: &Arc<AtomicU64>,
    own_tenants: bool,
) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients as u64)
        .map(|c| {
            let store = store.clone();
            let next = Arc::clone(next);
            let share = iters / clients as u64 + u64::from(c < iters % clients as u64);
            let tenant = if own_tenants {
                TenantId(Uuid::from_u128(u128::from(c) + 1))
            } else {
                T
            };
            tokio::spawn(async move {
                for k in 0..share {
                    let n = (c * 7919 + k * 104_729) % PRELOAD;
                    match op {
                        Op::Create => {
                            let i = person(next.fetch_add(1, Ordering::Relaxed));
                            store.create(tenant, &valid(&i)).await.expect("create");
                        }
                        Op::Get => {
                            std::hint::black_box(store.get(T, person(n).id).await.expect("get"));
                        }
                        Op::Update => {
                            let mut i = person(n);
                            i.metadata_admin = Some(json!({"counter": k}));
                            store.update(T, &valid(&i), None).await.expect("update");
                        }
                        Op::Find => {
                            let email = format!("user{n}@example.com");
                            std::hint::black_box(
                                store
                                    .find_by_identifier(T, CredentialType::Password, &email)
                                    .await
                                    .expect("find"),
                            );
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    started.elapsed()
}

async fn run_raw(
    raws: &Arc<Vec<Raw>>,
    op: Op,
    iters: u64,
    clients: usize,
    next: &Arc<AtomicU64>,
    with_change: bool,
) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let raws = Arc::clone(raws);
            let next = Arc::clone(next);
            let share = iters / clients as u64 + u64::from((c as u64) < iters % clients as u64);
            tokio::spawn(async move {
                let raw = &raws[c];
                for k in 0..share {
                    let n = (c as u64 * 7919 + k * 104_729) % PRELOAD;
                    match op {
                        Op::Create => {
                            raw.create(&person(next.fetch_add(1, Ordering::Relaxed)), with_change)
                                .await
                        }
                        Op::Get => {
                            std::hint::black_box(raw.get(person(n).id).await);
                        }
                        Op::Update => {
                            let mut i = person(n);
                            i.metadata_admin = Some(json!({"counter": k}));
                            raw.update(&i, with_change).await;
                        }
                        Op::Find => {
                            std::hint::black_box(raw.find(&format!("user{n}@example.com")).await);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    started.elapsed()
}

fn main() {
    let Ok(url) = std::env::var(URL_ENV) else {
        eprintln!(
            "SKIPPED: {URL_ENV} not set (e.g. postgres://postgres@127.0.0.1:5432/test); \
             the PostgreSQL benchmark measured nothing"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let schema = format!("bench_{}", Uuid::new_v4().simple());
    let (store, raws) = rt.block_on(async {
        let store = PostgresStore::connect(
            &url,
            PostgresOptions::default()
                .with_schema(schema.clone())
                .with_max_connections(16),
        )
        .await
        .expect("connect");
        let batch: Vec<ValidIdentity> = (0..PRELOAD).map(|n| valid(&person(n))).collect();
        for chunk in batch.chunks(500) {
            for r in store.batch_create(T, chunk).await.expect("preload") {
                r.expect("preload entry");
            }
        }
        let mut raws = Vec::new();
        for _ in 0..16 {
            raws.push(raw(&url, &schema).await);
        }
        (store, Arc::new(raws))
    });
    // Fresh ids for creates: the store's and the baseline's never collide.
    let store_next = Arc::new(AtomicU64::new(1_000_000));
    let raw_next = Arc::new(AtomicU64::new(1_000_000_000));

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for (name, op) in [
        ("create", Op::Create),
        ("get", Op::Get),
        ("update", Op::Update),
        ("find", Op::Find),
    ] {
        let mut group = criterion.benchmark_group(format!("postgres/{name}"));
        group.throughput(Throughput::Elements(1));
        for clients in CLIENTS {
            group.bench_function(BenchmarkId::new("store", clients), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(run_store(&store, op, iters, clients, &store_next, false))
                })
            });
            if matches!(op, Op::Create) && clients > 1 {
                group.bench_function(BenchmarkId::new("store_own_tenants", clients), |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(run_store(&store, op, iters, clients, &store_next, true))
                    })
                });
            }
            group.bench_function(BenchmarkId::new("raw", clients), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(run_raw(&raws, op, iters, clients, &raw_next, false))
                })
            });
            if matches!(op, Op::Create | Op::Update) {
                group.bench_function(BenchmarkId::new("raw_change", clients), |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(run_raw(&raws, op, iters, clients, &raw_next, true))
                    })
                });
            }
        }
        group.finish();
    }
    let search_schema = format!("bench_search_{}", Uuid::new_v4().simple());
    search_group(&mut criterion, &rt, &url, &search_schema);
    criterion.final_summary();

    drop(raws);
    drop(store);
    rt.block_on(async {
        let mut config: tokio_postgres::Config = url.parse().expect("url");
        config.options("");
        let (client, connection) = config.connect(NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let _ = client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; \
                 DROP SCHEMA IF EXISTS {search_schema} CASCADE"
            ))
            .await;
    });
}

/// Identities in the search group's schema.
const SEARCH_N: u64 = 100_000;

/// The search group's identity `n` (as in the `stores` bench): department
/// `d<n % 10>`, level `n % 5`, inactive when `n % 7 == 0`, schema
/// `employee` for even `n`.
fn searchable(n: u64) -> Identity {
    let mut i = person(n);
    i.traits["department"] = json!(format!("d{}", n % 10));
    i.traits["level"] = json!(n % 5);
    if n.is_multiple_of(7) {
        i.state = State::Inactive;
    }
    if n.is_multiple_of(2) {
        i.schema_id = "employee".to_owned();
    }
    i
}

/// The search group's store and a raw client, on `schema`, loaded with
/// [`SEARCH_N`] identities and analysed (so the planner knows the GIN
/// index's worth, as autovacuum would tell it soon after a real load).
async fn search_fixture(url: &str, schema: &str) -> (PostgresStore, Client) {
    let store = PostgresStore::connect(
        url,
        PostgresOptions::default()
            .with_schema(schema.to_owned())
            .with_max_connections(4),
    )
    .await
    .expect("connect");
    let started = Instant::now();
    for start in (0..SEARCH_N).step_by(500) {
        let batch: Vec<ValidIdentity> = (start..start + 500)
            .map(|n| valid(&searchable(n)))
            .collect();
        for r in store.batch_create(T, &batch).await.expect("load") {
            r.expect("load entry");
        }
    }
    let mut config: tokio_postgres::Config = url.parse().expect("url");
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config.connect(NoTls).await.expect("raw connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
        .batch_execute("ANALYZE identities")
        .await
        .expect("analyze");
    eprintln!(
        "postgres/search_100k: loaded {SEARCH_N} identities in {:?}",
        started.elapsed()
    );
    (store, client)
}

fn search_group(criterion: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str, schema: &str) {
    let fixture = std::sync::OnceLock::new();
    let fixture = || fixture.get_or_init(|| rt.block_on(search_fixture(url, schema)));
    let all = || ListQuery::new(ListFilter::All, None, PageSize::DEFAULT);
    let combined_expected =
        SEARCH_N / 10 - (0..SEARCH_N).filter(|n| n % 10 == 4 && n % 7 == 0).count() as u64;
    let queries: [(&str, ListQuery, u64); 5] = [
        ("all", all(), SEARCH_N),
        (
            "state",
            all().with_state(State::Inactive),
            SEARCH_N.div_ceil(7),
        ),
        (
            "traits",
            all().with_traits(json!({"department": "d3"})),
            SEARCH_N / 10,
        ),
        (
            "traits_state_schema",
            all()
                .with_traits(json!({"department": "d4", "level": 4}))
                .with_state(State::Active)
                .with_schema_id("employee"),
            combined_expected,
        ),
        (
            "traits_one",
            all().with_traits(json!({"email": "user77777@example.com"})),
            1,
        ),
    ];
    let mut group = criterion.benchmark_group("postgres/search_100k");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (what, query, expected) in &queries {
        group.bench_function(format!("page_{what}"), |b| {
            let (store, _) = fixture();
            let first = rt.block_on(store.list(T, query)).expect("list");
            let want = (*expected).min(PageSize::DEFAULT.get() as u64);
            assert_eq!(first.identities.len() as u64, want, "{what}");
            b.iter(|| rt.block_on(store.list(T, query)).expect("list"));
        });
        group.bench_function(format!("count_{what}"), |b| {
            let (store, _) = fixture();
            let n = rt.block_on(store.count_matching(T, query)).expect("count");
            assert_eq!(n, *expected, "{what}");
            b.iter(|| rt.block_on(store.count_matching(T, query)).expect("count"));
        });
    }
    // Baseline: the same count by a text comparison no index serves.
    group.bench_function("count_traits/raw_no_index", |b| {
        let (_, client) = fixture();
        let nid = T.0;
        let count = || async move {
            client
                .query_one(
                    "SELECT COUNT(*) FROM identities \
                     WHERE nid = $1 AND traits->>'department' = 'd3'",
                    &[&nid],
                )
                .await
                .expect("count")
                .get::<_, i64>(0)
        };
        assert_eq!(rt.block_on(count()), (SEARCH_N / 10) as i64);
        b.iter(|| rt.block_on(count()));
    });
    group.finish();
}
