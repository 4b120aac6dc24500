//! One bench scenario in a loop, for a profiler (callgrind, perf).
//!
//! ```text
//! cargo build --profile bench -p identity-benches --example profile
//! valgrind --tool=callgrind --toggle-collect='*hot_*' \
//!     target/release/examples/profile validate default 3
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Scenarios (each over the seeded 10,000-document corpus of a shared
//! schema, `rounds` times): `validate` (ours on parsed values, bench (a)),
//! `bare` (stock `jsonschema` `is_valid`, bench (c)), `from-bytes` (b),
//! `parse` (d), `bare-from-bytes` (e), `invalid` (ours on the invalid
//! documents), `iter-errors` (the bare count on them), `iter-errors-all`
//! (the bare count on the whole corpus: what `iter_errors` costs a valid
//! document against `bare`'s `is_valid`), `bare-invalid` (`is_valid` on the
//! invalid documents), `invalid-floor` (the limits walk, then `is_valid`,
//! then the bare count, on the invalid documents); and, on the memory
//! store through the manager, `put`, `get` and `validate-put-traits`; and
//! Argon2id at the production parameters: `argon2-bare` (the `argon2`
//! crate's `hash_password_into`), `argon2-hash` and `argon2-verify` (ours).
//! Only the functions named `hot_*` run the measured loop, so
//! `--toggle-collect='*hot_*'` leaves setup out of the counts.

use std::hint::black_box;
use std::sync::Arc;

use identity_benches::bare_validator;
use identity_benches::corpus::{CORPUS_SIZE, corpus, shared_data};
use identity_core::IdentitySchema;
use identity_core::password::PasswordHasher;
use identity_core::{
    CreateIdentityBody, IdentityManager, Limits, SchemaRegistry, TenantId, UpdateIdentityBody,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};

const SEED: u64 = 0x1de7_1717;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map_or("validate", String::as_str);
    let schema_id = args.get(2).map_or("default", String::as_str);
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1);
    let mut registry = SchemaRegistry::new();
    registry
        .register_file(
            schema_id,
            shared_data().join(format!("schemas/{schema_id}.schema.json")),
        )
        .expect("shared schema registers");
    let schema = registry.resolve(schema_id).expect("registered").clone();
    let docs = corpus(schema_id, SEED, CORPUS_SIZE);
    let (valid, invalid): (Vec<_>, Vec<_>) = docs.into_iter().partition(|d| d.valid);
    let all: Vec<Value> = valid
        .iter()
        .chain(&invalid)
        .map(|d| d.traits.clone())
        .collect();
    let invalid: Vec<Value> = invalid.into_iter().map(|d| d.traits).collect();
    let wrap = |v: &Value| json!({ "traits": v });
    let n = match scenario {
        "validate" => hot_validate(&schema, &mut all.clone(), rounds),
        "bare" => {
            let bare = bare_validator(schema.raw());
            hot_bare(&bare, &all.iter().map(wrap).collect::<Vec<_>>(), rounds)
        }
        "from-bytes" => hot_from_bytes(&schema, &to_bytes(&all), rounds),
        "parse" => hot_parse(&to_bytes(&all.iter().map(wrap).collect::<Vec<_>>()), rounds),
        "bare-from-bytes" => {
            let bare = bare_validator(schema.raw());
            let bytes = to_bytes(&all.iter().map(wrap).collect::<Vec<_>>());
            hot_bare_from_bytes(&bare, &bytes, rounds)
        }
        "invalid" => hot_invalid(&schema, &mut invalid.clone(), rounds),
        "iter-errors" => {
            let bare = bare_validator(schema.raw());
            hot_iter_errors(&bare, &invalid.iter().map(wrap).collect::<Vec<_>>(), rounds)
        }
        "iter-errors-all" => {
            let bare = bare_validator(schema.raw());
            hot_iter_errors(&bare, &all.iter().map(wrap).collect::<Vec<_>>(), rounds)
        }
        "invalid-floor" => {
            let bare = bare_validator(schema.raw());
            let wrapped: Vec<Value> = invalid.iter().map(wrap).collect();
            hot_invalid_floor(&bare, &invalid, &wrapped, rounds)
        }
        "bare-invalid" => {
            let bare = bare_validator(schema.raw());
            hot_bare(&bare, &invalid.iter().map(wrap).collect::<Vec<_>>(), rounds)
        }
        "put" | "get" | "validate-put-traits" => manager_scenario(scenario, rounds),
        "argon2-bare" | "argon2-hash" | "argon2-verify" => password_scenario(scenario, rounds),
        other => panic!("unknown scenario {other:?}"),
    };
    println!("{scenario} {schema_id}: {n}");
}

fn to_bytes(values: &[Value]) -> Vec<Vec<u8>> {
    values
        .iter()
        .map(|v| serde_json::to_vec(v).expect("json"))
        .collect()
}

#[inline(never)]
fn hot_validate(schema: &IdentitySchema, values: &mut [Value], rounds: usize) -> usize {
    let limits = Limits::default();
    let mut ok = 0;
    for _ in 0..rounds {
        for traits in values.iter_mut() {
            ok += usize::from(schema.validate(black_box(traits), &limits).is_ok());
        }
    }
    ok
}

#[inline(never)]
fn hot_bare(bare: &jsonschema::Validator, wrapped: &[Value], rounds: usize) -> usize {
    let mut ok = 0;
    for _ in 0..rounds {
        for doc in wrapped {
            ok += usize::from(bare.is_valid(black_box(doc)));
        }
    }
    ok
}

#[inline(never)]
fn hot_from_bytes(schema: &IdentitySchema, bytes: &[Vec<u8>], rounds: usize) -> usize {
    let limits = Limits::default();
    let mut ok = 0;
    for _ in 0..rounds {
        for raw in bytes {
            let mut traits: Value = serde_json::from_slice(black_box(raw)).expect("json");
            ok += usize::from(schema.validate(&mut traits, &limits).is_ok());
        }
    }
    ok
}

#[inline(never)]
fn hot_parse(bytes: &[Vec<u8>], rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        for raw in bytes {
            let v: Value = serde_json::from_slice(black_box(raw)).expect("json");
            n += usize::from(v.is_object());
        }
    }
    n
}

#[inline(never)]
fn hot_bare_from_bytes(bare: &jsonschema::Validator, bytes: &[Vec<u8>], rounds: usize) -> usize {
    let mut ok = 0;
    for _ in 0..rounds {
        for raw in bytes {
            let doc: Value = serde_json::from_slice(black_box(raw)).expect("json");
            ok += usize::from(bare.is_valid(&doc));
        }
    }
    ok
}

#[inline(never)]
fn hot_invalid(schema: &IdentitySchema, values: &mut [Value], rounds: usize) -> usize {
    let limits = Limits::default();
    let mut n = 0;
    for _ in 0..rounds {
        for traits in values.iter_mut() {
            if let Err(e) = schema.validate(black_box(traits), &limits) {
                n += e.violations().len();
            }
        }
    }
    n
}

/// What any checker that keeps the two steps ours must take pays on an
/// invalid document before it turns a single error into anything: the
/// limits walk over the traits (they are refused for size or depth before
/// the schema is consulted), the `is_valid` pass (valid documents take
/// only that one) and the bare count. The wrapper is built outside the
/// loop, as for `iter-errors`.
#[inline(never)]
fn hot_invalid_floor(
    bare: &jsonschema::Validator,
    values: &[Value],
    wrapped: &[Value],
    rounds: usize,
) -> usize {
    let limits = Limits::default();
    let mut n = 0;
    for _ in 0..rounds {
        for (traits, doc) in values.iter().zip(wrapped) {
            if limits.check(black_box(traits), "/traits").is_err() {
                n += 1;
            } else if !bare.is_valid(black_box(doc)) {
                n += bare.iter_errors(doc).count();
            }
        }
    }
    n
}

#[inline(never)]
fn hot_iter_errors(bare: &jsonschema::Validator, wrapped: &[Value], rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        for doc in wrapped {
            n += bare.iter_errors(black_box(doc)).count();
        }
    }
    n
}

const BCRYPT: &str = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";

fn manager_scenario(scenario: &str, rounds: usize) -> usize {
    let mut registry = SchemaRegistry::new();
    registry
        .register_file("default", shared_data().join("schemas/default.schema.json"))
        .expect("registers");
    let registry = Arc::new(registry);
    let m = IdentityManager::builder(Arc::new(MemoryStore::new()), registry.clone())
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let traits =
        json!({"email": "user0@example.com", "name": {"first": "Ada", "last": "Lovelace"}});
    let body = CreateIdentityBody::from_json(json!({
        "traits": traits,
        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
        "metadata_public": {"plan": "pro"}
    }))
    .expect("body");
    let tenant = TenantId::DEFAULT;
    let id = rt.block_on(m.create(tenant, body)).expect("create").id;
    let rounds = rounds * 1_000;
    match scenario {
        "put" => {
            let put = UpdateIdentityBody::from_json(json!({
                "traits": traits, "metadata_public": {"plan": "pro"}
            }))
            .expect("body");
            put_scenario(&rt, &m, tenant, id, &put, rounds)
        }
        "get" => hot_get(&rt, &m, tenant, id, rounds),
        _ => {
            let schema = registry.resolve("default").expect("default").clone();
            hot_validate_traits(&schema, &traits, rounds)
        }
    }
}

fn put_scenario(
    rt: &tokio::runtime::Runtime,
    m: &IdentityManager,
    tenant: TenantId,
    id: uuid::Uuid,
    body: &UpdateIdentityBody,
    rounds: usize,
) -> usize {
    // The bodies are the caller's: made before the measured loop.
    let bodies: Vec<UpdateIdentityBody> = (0..rounds).map(|_| body.clone()).collect();
    hot_put_loop(rt, m, tenant, id, bodies)
}

#[inline(never)]
fn hot_put_loop(
    rt: &tokio::runtime::Runtime,
    m: &IdentityManager,
    tenant: TenantId,
    id: uuid::Uuid,
    bodies: Vec<UpdateIdentityBody>,
) -> usize {
    let mut n = 0;
    for body in bodies {
        let updated = rt.block_on(m.update(tenant, id, body, None)).expect("put");
        n += usize::from(updated.version > 0);
    }
    n
}

#[inline(never)]
fn hot_get(
    rt: &tokio::runtime::Runtime,
    m: &IdentityManager,
    tenant: TenantId,
    id: uuid::Uuid,
    rounds: usize,
) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        n += usize::from(rt.block_on(m.get(tenant, black_box(id))).is_ok());
    }
    n
}

#[inline(never)]
fn hot_validate_traits(schema: &IdentitySchema, traits: &Value, rounds: usize) -> usize {
    let limits = Limits::default();
    let mut n = 0;
    for _ in 0..rounds {
        let mut t = traits.clone();
        n += usize::from(schema.validate(&mut t, &limits).is_ok());
    }
    n
}

const PASSWORD: &str = "correct horse battery staple";

fn password_scenario(scenario: &str, rounds: usize) -> usize {
    use argon2::{Algorithm, Argon2, Params, Version};
    let hasher = PasswordHasher::default();
    let encoded = hasher.hash(PASSWORD).expect("hash");
    match scenario {
        "argon2-bare" => {
            let bare = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(19_456, 2, 1, Some(32)).expect("params"),
            );
            hot_argon2_bare(&bare, rounds)
        }
        "argon2-hash" => hot_argon2_hash(&hasher, rounds),
        _ => hot_argon2_verify(&encoded, rounds),
    }
}

#[inline(never)]
fn hot_argon2_bare(bare: &argon2::Argon2<'_>, rounds: usize) -> usize {
    let salt = [7u8; 16];
    let mut n = 0;
    for _ in 0..rounds {
        let mut out = [0u8; 32];
        bare.hash_password_into(black_box(PASSWORD.as_bytes()), &salt, &mut out)
            .expect("hash");
        n += usize::from(out[0]);
    }
    n
}

#[inline(never)]
fn hot_argon2_hash(hasher: &PasswordHasher, rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        n += hasher.hash(black_box(PASSWORD)).expect("hash").len();
    }
    n
}

#[inline(never)]
fn hot_argon2_verify(encoded: &str, rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        n += usize::from(
            identity_core::password::verify(black_box(PASSWORD), encoded).expect("verify"),
        );
    }
    n
}
