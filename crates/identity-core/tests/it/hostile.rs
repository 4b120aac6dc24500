//! Hostile input through the library (issue 12): deep PATCH paths and
//! values, self-copy growth, secrets copied out of their configs, plaintext
//! passwords patched in, caller-chosen address ids, deep bodies and
//! schemas, `$ref` graphs, and `Debug` of everything that holds a secret.
//! Each case is refused with a typed error and exact message, nothing
//! stored changes, and nothing recurses on the caller's depth (the deep
//! cases run on a thread with a 256 KiB stack).

use std::sync::Arc;

use identity_core::password::PasswordHasher;
use identity_core::{
    BatchEntry, BatchOutcome, CreateIdentityBody, CredentialType, Error, ErrorKind, Identity,
    IdentityManager, Limits, ListParams, SchemaRegistry, TRAITS_PATTERN_MAX_DEPTH, TenantId,
    UpdateIdentityBody,
};
use identity_core::{MAX_REF_DEPTH, MAX_SITES, MAX_WALK_STEPS, SCHEMA_MAX_REFS};
use identity_core::{PATCH_GROWTH_FACTOR, PATCH_MAX_OPS};
use identity_store_memory::MemoryStore;
use serde_json::{Map, Value, json};

use crate::ops_support::{Env, T1, TENANT, env, ts};

const HASH: &str = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";
const TOTP: &str = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";

async fn seeded(env: &Env) -> Identity {
    env.create(json!({"traits": {"email": "h@x.example"},
        "credentials": {"password": {"config": {"hashed_password": HASH}},
                        "totp": {"config": {"totp_url": TOTP}}}}))
        .await
        .expect("created")
}

async fn patch(env: &Env, who: &Identity, ops: Value) -> Result<Identity, Error> {
    env.manager
        .patch(TENANT, who.id, ops, None)
        .await
        .map(std::sync::Arc::unwrap_or_clone)
}

/// Refused as invalid input with exactly `reason`, and nothing stored changed.
async fn refused(env: &Env, who: &Identity, ops: Value, reason: &str) {
    let err = patch(env, who, ops).await.expect_err(reason);
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(err.to_string(), reason);
    let stored = env.manager.get(TENANT, who.id).await.expect("still there");
    assert_eq!(&*stored, who);
}

/// A value nested `depth` arrays deep, built without recursion.
fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

/// Runs `f` on a thread whose stack is far too small for recursion on a
/// deep value, with a current-thread runtime.
fn on_small_stack<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow")
}

/// A search's traits pattern nested far deeper than a stack allows is
/// refused (and dropped) without recursion, as are patterns one level past
/// the bound and patterns that are not objects; one at the bound searches.
#[test]
fn deep_traits_patterns_are_refused_without_recursion() {
    on_small_stack(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let env = env();
            // Two copies of the pattern, built without recursion (cloning
            // a deep value, or `json!` around one, would recurse).
            let search = |pattern: fn() -> Value| {
                let manager = env.manager.clone();
                async move {
                    let list = ListParams::default().with_traits(pattern());
                    let count = ListParams::default().with_traits(pattern());
                    (
                        manager.list(TENANT, list).await.map(|p| p.identities.len()),
                        manager.count(TENANT, count).await,
                    )
                }
            };
            let (listed, counted) =
                search(|| Value::Object(Map::from_iter([("k".to_owned(), nested(200_000))]))).await;
            assert_eq!(listed.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
            assert_eq!(counted.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
            fn at_bound() -> Value {
                (0..TRAITS_PATTERN_MAX_DEPTH).fold(json!(1), |v, _| json!({ "k": v }))
            }
            let (listed, counted) = search(at_bound).await;
            assert_eq!(
                (listed.expect("at the bound"), counted.expect("count")),
                (0, 0)
            );
            let (listed, _) = search(|| json!({ "k": at_bound() })).await;
            assert_eq!(listed.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
            let not_objects: [fn() -> Value; 3] = [|| json!([]), || json!("eng"), || json!(null)];
            for not_an_object in not_objects {
                let (listed, counted) = search(not_an_object).await;
                assert_eq!(listed.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
                assert_eq!(counted.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
            }
        });
    });
}

#[tokio::test]
async fn deep_patch_paths_are_refused_before_anything_is_built() {
    let env = env();
    let who = seeded(&env).await;
    // The 4 KB patch of issue 12 (about 2,030 segments), under every kind
    // of member: free-form, credential config, structural, unknown.
    for prefix in [
        "/metadata_admin",
        "/traits",
        "/credentials/password/config",
        "/verifiable_addresses/0",
        "/no_such_member",
    ] {
        let path = format!("{prefix}{}", "/a".repeat(2030));
        refused(
            &env,
            &who,
            json!([{"op": "add", "path": path, "value": 1}]),
            &format!("the patch path {path} is nested deeper than the limit of 32 levels"),
        )
        .await;
    }
    // Exactly at the limit is fine; one more level is not.
    let at_limit = format!("/metadata_admin{}", "/a".repeat(32));
    patch(
        &env,
        &who,
        json!([{"op": "add", "path": at_limit, "value": 1}]),
    )
    .await
    .expect("32 levels");
    let who = env.manager.get(TENANT, who.id).await.expect("read");
    let past = format!("/metadata_admin{}", "/a".repeat(33));
    refused(
        &env,
        &who,
        json!([{"op": "add", "path": past, "value": 1}]),
        &format!("the patch path {past} is nested deeper than the limit of 32 levels"),
    )
    .await;
    // A deep `from` is refused the same way, and so is a value that nests
    // past the limit from where it is put.
    let from = format!("/metadata_public{}", "/b".repeat(40));
    refused(
        &env,
        &who,
        json!([{"op": "copy", "from": from, "path": "/metadata_public/c"}]),
        &format!("the patch path {from} is nested deeper than the limit of 32 levels"),
    )
    .await;
    let path = format!("/traits{}", "/a".repeat(30));
    refused(
        &env,
        &who,
        json!([{"op": "add", "path": path, "value": nested(3)}]),
        &format!("the value at {path} is nested deeper than the limit allows there (2 levels)"),
    )
    .await;
    // Copying a value under itself, deeper than it may go there.
    let path = format!("/metadata_admin{}", "/z".repeat(10));
    refused(
        &env,
        &who,
        json!([{"op": "copy", "from": "/metadata_admin", "path": path}]),
        &format!(
            "patch operation at {path} would nest /metadata_admin deeper than the limit allows there (22 levels)"
        ),
    )
    .await;
}

#[test]
fn a_deep_patch_value_from_a_library_caller_is_refused_without_recursion() {
    on_small_stack(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let env = env();
            let who = seeded(&env).await;
            let ops = Value::Array(vec![json!({"op": "add", "path": "/metadata_admin/x"})]);
            let mut ops = ops;
            ops[0]["value"] = nested(100_000);
            let err = patch(&env, &who, ops).await.expect_err("too deep");
            assert_eq!(
                err.to_string(),
                "a JSON Patch is nested deeper than 35 levels"
            );
            // A deep create body and a deep update body likewise.
            let mut body = json!({"traits": {}});
            body["traits"]["x"] = nested(100_000);
            let err = CreateIdentityBody::from_json(body).expect_err("deep body");
            assert_eq!(
                err.to_string(),
                "the create body is nested deeper than 128 levels"
            );
            let mut body = json!({"traits": {}});
            body["metadata_admin"] = nested(100_000);
            let err = UpdateIdentityBody::from_json(body).expect_err("deep body");
            assert_eq!(
                err.to_string(),
                "the update body is nested deeper than 128 levels"
            );
            assert_eq!(
                env.manager.get(TENANT, who.id).await.expect("there"),
                std::sync::Arc::new(who.clone())
            );
        });
    });
}

#[tokio::test]
async fn self_copies_are_refused_once_they_pass_the_growth_limit() {
    let env = env();
    let who = seeded(&env).await;
    let growth_limit = PATCH_GROWTH_FACTOR * Limits::default().max_json_bytes;
    assert_eq!(growth_limit, 256 * 1024);
    // 30 KB of metadata, then copies of the whole member into itself: each
    // doubles it. The fourth would take it past 256 KiB of growth.
    let big = "x".repeat(30_000);
    let mut ops = vec![json!({"op": "add", "path": "/metadata_admin/a", "value": big})];
    for i in 0..20 {
        ops.push(json!({"op": "copy", "from": "/metadata_admin", "path": format!("/metadata_admin/c{i}")}));
    }
    refused(
        &env,
        &who,
        Value::Array(ops.clone()),
        "the patch grows the identity by more than the limit of 262144 bytes of JSON",
    )
    .await;
    // Three copies (240 KB) pass this check and are then held to the
    // metadata limit of 64 KiB, as any value is.
    let err = patch(&env, &who, Value::Array(ops[..4].to_vec()))
        .await
        .expect_err("over the metadata limit");
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(
        err.violations()[0].message(),
        "value is larger than the limit of 65536 bytes of JSON"
    );
    // So is a single value larger than the growth limit, at parse time.
    refused(
        &env,
        &who,
        json!([{"op": "add", "path": "/metadata_admin/huge", "value": "y".repeat(300_000)}]),
        "the patch grows the identity by more than the limit of 262144 bytes of JSON",
    )
    .await;
    // And more operations than a patch may hold.
    let many: Vec<Value> = (0..=PATCH_MAX_OPS)
        .map(|_| json!({"op": "test", "path": "/state", "value": "active"}))
        .collect();
    refused(
        &env,
        &who,
        Value::Array(many),
        "a JSON Patch may hold at most 1000 operations, not 1001",
    )
    .await;
}

#[tokio::test]
async fn secrets_stay_in_their_configs() {
    let env = env();
    let who = seeded(&env).await;
    for (op, from, to) in [
        (
            "copy",
            "/credentials/password/config/hashed_password",
            "/metadata_public/h",
        ),
        (
            "move",
            "/credentials/password/config/hashed_password",
            "/metadata_admin/h",
        ),
        ("copy", "/credentials/totp/config/totp_url", "/traits/t"),
        ("copy", "/credentials/totp/config", "/metadata_public/t"),
        ("copy", "/credentials/password", "/metadata_public/p"),
        (
            "copy",
            "/credentials/totp/config/totp_url",
            "/credentials/password/config/totp",
        ),
        (
            "copy",
            "/credentials/password/config/hashed_password",
            "/credentials/password/identifiers/0",
        ),
    ] {
        refused(
            &env,
            &who,
            json!([{"op": op, "from": from, "path": to}]),
            &format!(
                "patch may not copy or move secrets out of a credential's config: from {from} to {to}"
            ),
        )
        .await;
    }
    // Within the same config, a copy stays secret and is allowed.
    let patched = patch(
        &env,
        &who,
        json!([{"op": "copy", "from": "/credentials/password/config/hashed_password",
                "path": "/credentials/password/config/previous"}]),
    )
    .await
    .expect("within the config");
    let config = patched.credentials[&CredentialType::Password]
        .config
        .expose();
    assert_eq!(config["previous"], HASH);
    assert!(!env.json(&patched).to_string().contains(HASH));
}

#[tokio::test]
async fn a_plaintext_password_is_never_patched_in() {
    let env = env();
    let who = seeded(&env).await;
    let reason = "credentials.password: a plaintext password cannot be patched in; \
                  import it with create or PUT (`credentials.password.config.password`), which hash it";
    refused(
        &env,
        &who,
        json!([{"op": "add", "path": "/credentials/password/config/password", "value": "hunter2"}]),
        reason,
    )
    .await;
    refused(
        &env,
        &who,
        json!([{"op": "replace", "path": "/credentials/password",
                "value": {"type": "password", "config": {"password": "hunter2"}}}]),
        reason,
    )
    .await;
    // A whole credential without timestamps (as Kratos' clients send it)
    // is taken, with the stored creation time.
    env.clock.set(ts(T1));
    let patched = patch(
        &env,
        &who,
        json!([{"op": "replace", "path": "/credentials/password",
                "value": {"type": "password", "identifiers": [], "config": {"hashed_password": HASH}}}]),
    )
    .await
    .expect("whole credential");
    let credential = &patched.credentials[&CredentialType::Password];
    assert_eq!(
        credential.created_at,
        who.credentials[&CredentialType::Password].created_at
    );
    assert_eq!(credential.identifiers, ["h@x.example"]);
}

#[tokio::test]
async fn address_ids_are_never_the_callers() {
    let env = env();
    let a = seeded(&env).await;
    let b = env
        .create(json!({"traits": {"email": "b@x.example"}}))
        .await
        .expect("b");
    let a_id = a.verifiable_addresses[0].id;
    let b_id = b.verifiable_addresses[0].id;
    // B's address patched to A's address id keeps its own.
    let patched = patch(
        &env,
        &b,
        json!([{"op": "replace", "path": "/verifiable_addresses/0/id", "value": a_id.to_string()},
               {"op": "replace", "path": "/recovery_addresses/0/id", "value": a.recovery_addresses[0].id.to_string()}]),
    )
    .await
    .expect("patched");
    assert_eq!(patched.verifiable_addresses[0].id, b_id);
    assert_eq!(patched.recovery_addresses[0].id, b.recovery_addresses[0].id);
    // A whole address list from the caller: ids come from the store.
    let mut forged = env.json(&b)["verifiable_addresses"].clone();
    forged[0]["id"] = json!(a_id.to_string());
    forged[0]["verified"] = json!(true);
    env.clock.set(ts(T1));
    let patched = patch(
        &env,
        &patched,
        json!([{"op": "replace", "path": "/verifiable_addresses", "value": forged}]),
    )
    .await
    .expect("patched");
    let address = &patched.verifiable_addresses[0];
    assert_eq!(address.id, b_id);
    // Verified without a time: stamped now, as Kratos' persister does.
    assert!(address.verified);
    assert_eq!(address.verified_at, Some(ts(T1)));
    let patched = patch(
        &env,
        &patched,
        json!([{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": false}]),
    )
    .await
    .expect("unverified");
    assert_eq!(patched.verifiable_addresses[0].verified_at, None);
    // A's address is untouched.
    assert_eq!(
        env.manager
            .get(TENANT, a.id)
            .await
            .expect("a")
            .verifiable_addresses[0]
            .id,
        a_id
    );
}

fn registry() -> SchemaRegistry {
    SchemaRegistry::new()
}

fn schema_with_defs(defs: Map<String, Value>, traits: Value) -> Value {
    json!({"definitions": defs, "properties": {"traits": traits}})
}

fn schema_error(schema: Value) -> String {
    let err = registry().register("x", schema).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Schema, "{err}");
    err.to_string()
}

#[test]
fn hostile_schemas_are_refused_with_schema_errors() {
    // A 20,000-long $ref chain.
    let mut defs = Map::new();
    for i in 0..20_000 {
        defs.insert(
            format!("d{i}"),
            json!({"$ref": format!("#/definitions/d{}", i + 1)}),
        );
    }
    defs.insert("d20000".into(), json!({"type": "string"}));
    let chain = schema_with_defs(
        defs,
        json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}}),
    );
    assert_eq!(SCHEMA_MAX_REFS, 1000);
    assert_eq!(
        on_small_stack(move || schema_error(chain)),
        "invalid identity schema \"x\": it holds 20001 $refs, more than the limit of 1000"
    );

    // The keyword behind more nested $refs than allowed.
    let mut defs = Map::new();
    for i in 0..70 {
        defs.insert(
            format!("d{i}"),
            json!({"$ref": format!("#/definitions/d{}", i + 1)}),
        );
    }
    defs.insert(
        "d70".into(),
        json!({"type": "string", "format": "email",
               "ory.sh/kratos": {"verification": {"via": "email"}}}),
    );
    assert_eq!(MAX_REF_DEPTH, 64);
    assert_eq!(
        schema_error(schema_with_defs(
            defs,
            json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}})
        )),
        "invalid identity schema \"x\": more than 64 $refs are followed one inside another at /definitions/d63"
    );

    // A shared $ref graph: 2^30 paths. Without the keyword it is found
    // once per location and accepted; with it at the bottom, its sites
    // would multiply.
    let diamond = |keyword: bool| {
        let mut defs = Map::new();
        for i in 0..30 {
            let r = format!("#/definitions/d{}", i + 1);
            defs.insert(
                format!("d{i}"),
                json!({"type": "object", "properties": {"x": {"$ref": r}, "y": {"$ref": r}}}),
            );
        }
        defs.insert(
            "d30".into(),
            if keyword {
                json!({"type": "string", "format": "email",
                       "ory.sh/kratos": {"verification": {"via": "email"}}})
            } else {
                json!({"type": "string"})
            },
        );
        schema_with_defs(
            defs,
            json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}}),
        )
    };
    registry()
        .register("x", diamond(false))
        .expect("a shared graph without the keyword");
    assert_eq!(MAX_SITES, 1000);
    assert_eq!(
        schema_error(diamond(true)),
        "invalid identity schema \"x\": the ory.sh/kratos keyword applies at more than 1000 places"
    );

    // A graph whose 2^20 paths lead back to the keyword but add no site:
    // the walk is bounded by its steps.
    let mut defs = Map::new();
    defs.insert(
        "d0".into(),
        json!({"type": "object", "format": "email",
               "ory.sh/kratos": {"verification": {"via": "email"}},
               "properties": {"l": {"$ref": "#/definitions/d1"}, "r": {"$ref": "#/definitions/d1"}}}),
    );
    for i in 1..20 {
        let r = format!("#/definitions/d{}", i + 1);
        defs.insert(
            format!("d{i}"),
            json!({"properties": {"l": {"$ref": r}, "r": {"$ref": r}}}),
        );
    }
    defs.insert("d20".into(), json!({"$ref": "#/definitions/d0"}));
    assert_eq!(MAX_WALK_STEPS, 100_000);
    assert_eq!(
        schema_error(schema_with_defs(
            defs,
            json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}})
        )),
        "invalid identity schema \"x\": its $refs lead to the ory.sh/kratos keyword along more than 100000 paths"
    );

    // A schema nested 100,000 levels deep, dropped without recursion.
    // (Inserted, not interpolated: `json!` would serialize it recursively.)
    let mut deep = json!({"properties": {"traits": {"type": "object"}}});
    deep["x"] = nested(100_000);
    assert_eq!(
        on_small_stack(move || schema_error(deep)),
        "invalid identity schema \"x\": it is nested deeper than 128 levels"
    );
}

#[tokio::test]
async fn debug_never_prints_a_secret() {
    let env = env();
    let who = seeded(&env).await;
    let body = json!({"traits": {"email": "d@x.example"},
        "credentials": {"password": {"config": {"password": "hunter2-plaintext"}},
                        "totp": {"config": {"totp_url": TOTP}}}});
    let create = CreateIdentityBody::from_json(body.clone()).expect("body");
    let update = UpdateIdentityBody::from_json(body.clone()).expect("body");
    let entry: BatchEntry = serde_json::from_value(json!({"create": body})).expect("entry");
    let store = MemoryStore::new();
    let manager = IdentityManager::builder(
        Arc::new(store.clone()),
        Arc::new(crate::ops_support::registry()),
    )
    .hasher(PasswordHasher::insecure_fast_for_tests())
    .build();
    // The store behind `manager` holds a hash and a TOTP secret.
    manager
        .create(
            TenantId::DEFAULT,
            CreateIdentityBody::from_json(json!({"traits": {"email": "s@x.example"},
                "credentials": {"password": {"config": {"hashed_password": HASH}},
                                "totp": {"config": {"totp_url": TOTP}}}}))
            .expect("body"),
        )
        .await
        .expect("stored");
    let stored = env.manager.get(TENANT, who.id).await.expect("stored");
    let page = env
        .manager
        .list(TENANT, Default::default())
        .await
        .expect("list");
    let outcome = BatchOutcome::Failed {
        error: Error::invalid("x"),
        patch_id: None,
    };
    let printed = [
        format!("{create:?}"),
        format!("{update:?}"),
        format!("{entry:?}"),
        format!("{stored:?}"),
        format!("{:?}", stored.credentials),
        format!("{:?}", stored.credentials[&CredentialType::Password]),
        format!("{page:?}"),
        format!("{outcome:?}"),
        format!("{manager:?}"),
        format!("{:?}", env.manager),
        format!("{store:?}"),
        format!("{:?}", identity_core::password::HashMemory::new()),
    ];
    for text in &printed {
        for secret in ["hunter2", HASH, "JBSWY3DPEHPK3PXP", "otpauth"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(
        printed[0].contains("credentials: {\"password\", \"totp\"} (configs redacted)"),
        "{}",
        printed[0]
    );
    assert!(
        printed[10].contains("identities_per_tenant"),
        "{}",
        printed[10]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_password_creates_share_one_hashing_permit() {
    let manager = IdentityManager::builder(
        Arc::new(MemoryStore::new()),
        Arc::new(crate::ops_support::registry()),
    )
    .hasher(PasswordHasher::insecure_fast_for_tests())
    .hash_concurrency(1)
    .build();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let manager = manager.clone();
            tokio::spawn(async move {
                manager
                    .create(
                        TENANT,
                        CreateIdentityBody::from_json(json!({
                            "traits": {"email": format!("c{i}@x.example")},
                            "credentials": {"password": {"config": {"password": format!("pw-{i}")}}}
                        }))
                        .expect("body"),
                    )
                    .await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let created = task.await.expect("task").expect("created");
        let config = created.credentials[&CredentialType::Password]
            .config
            .expose();
        let hash = config["hashed_password"].as_str().expect("hash");
        assert!(
            identity_core::password::verify(&format!("pw-{i}"), hash).expect("verifies"),
            "{i}"
        );
    }
}
