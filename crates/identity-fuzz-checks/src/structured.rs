//! Structure-aware inputs: the fuzzer's bytes read as choices (with
//! `arbitrary`), so that it reaches what raw JSON bytes rarely spell: JSON
//! Patch operations with long paths into every part of an identity, deep
//! and wide values, self-copies; schemas made of `$ref` graphs (long
//! chains, shared subschemas, cycles) with the `ory.sh/kratos` keyword at
//! their ends.
//!
//! Generation never recurses on a depth the input chooses: nested values
//! and reference chains are built in loops, and recursive choices stop at
//! a fixed depth.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Value, json};

/// Recursive choices (objects in objects) stop here; depth beyond it comes
/// from the loop-built chains.
const MAX_SPEC_DEPTH: usize = 6;

/// A short string from a vocabulary that hits the identity's members and
/// JSON Pointer escapes, or a few arbitrary characters.
fn word(u: &mut Unstructured<'_>) -> Result<String> {
    const WORDS: [&str; 24] = [
        "a",
        "b",
        "email",
        "name",
        "config",
        "password",
        "hashed_password",
        "totp_url",
        "providers",
        "identifiers",
        "verified",
        "id",
        "value",
        "via",
        "0",
        "1",
        "-",
        "x~1y",
        "~0",
        "",
        "type",
        "created_at",
        "user_handle",
        "credentials",
    ];
    if u.ratio(3, 4)? {
        Ok((*u.choose(&WORDS)?).to_owned())
    } else {
        let len = u.int_in_range(0..=6)?;
        (0..len)
            .map(|_| u.arbitrary::<char>())
            .collect::<Result<String>>()
    }
}

/// The start of a path: a member of the identity (or an unknown one).
fn root(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    const CREDENTIAL_TYPES: [&str; 9] = [
        "password",
        "oidc",
        "saml",
        "totp",
        "lookup_secret",
        "webauthn",
        "passkey",
        "code",
        "nope",
    ];
    const MEMBERS: [&str; 14] = [
        "traits",
        "metadata_public",
        "metadata_admin",
        "verifiable_addresses",
        "recovery_addresses",
        "state",
        "schema_id",
        "external_id",
        "organization_id",
        "id",
        "created_at",
        "state_changed_at",
        "schema_url",
        "unknown",
    ];
    Ok(match u.int_in_range(0..=3)? {
        0 => vec![
            "credentials".to_owned(),
            (*u.choose(&CREDENTIAL_TYPES)?).to_owned(),
            "config".to_owned(),
        ],
        1 => vec![
            "credentials".to_owned(),
            (*u.choose(&CREDENTIAL_TYPES)?).to_owned(),
        ],
        _ => vec![(*u.choose(&MEMBERS)?).to_owned()],
    })
}

/// A JSON Pointer: a root, a few segments, and possibly one segment
/// repeated up to 5,000 times (the long paths of issue 12).
fn pointer(u: &mut Unstructured<'_>) -> Result<String> {
    let mut tokens = root(u)?;
    for _ in 0..u.int_in_range(0..=4)? {
        tokens.push(word(u)?);
    }
    if u.ratio(1, 4)? {
        let repeated = word(u)?;
        let times = u.int_in_range(0..=5_000)?;
        tokens.extend(std::iter::repeat_n(repeated, times));
    }
    let mut out = String::new();
    for t in tokens {
        out.push('/');
        out.push_str(&t.replace('~', "~0").replace('/', "~1"));
    }
    Ok(out)
}

/// A JSON value: scalars, small objects and arrays, long strings, and
/// chains of nested containers up to 5,000 deep (built in a loop; drop it
/// with [`dispose`]). At `depth` [`MAX_SPEC_DEPTH`] only scalars and
/// strings.
fn value(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    // Past the recursion depth only small scalars, so that values built
    // in loops or repeated stay small: the fuzzer's time goes to the
    // library, not to building inputs.
    let choice = if depth > MAX_SPEC_DEPTH {
        u.int_in_range(0..=3)?
    } else if depth == MAX_SPEC_DEPTH {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=7)?
    };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => Value::String(word(u)?),
        4 => {
            let len = u.int_in_range(0..=20_000)?;
            Value::String("x".repeat(len))
        }
        5 => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                map.insert(word(u)?, value(u, depth + 1)?);
            }
            Value::Object(map)
        }
        6 => {
            let mut items = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                items.push(value(u, depth + 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let mut v = value(u, MAX_SPEC_DEPTH + 1)?;
            for i in 0..u.int_in_range(0..=5_000)? {
                v = if i % 2 == 0 {
                    Value::Array(vec![v])
                } else {
                    // Not `json!({"k": v})`: that serializes `v` again,
                    // recursively.
                    let mut map = Map::new();
                    map.insert("k".into(), v);
                    Value::Object(map)
                };
            }
            v
        }
    })
}

/// Drops a value of any depth without recursion.
pub fn dispose(value: Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

/// A JSON Patch document of up to 40 operations (sometimes the same
/// operation repeated, as a run of self-copies is).
pub fn patch(u: &mut Unstructured<'_>) -> Result<Value> {
    const OPS: [&str; 7] = ["add", "remove", "replace", "move", "copy", "test", "nope"];
    let mut ops = Vec::new();
    for _ in 0..u.int_in_range(0..=40)? {
        let op = *u.choose(&OPS)?;
        // A run of one operation repeated (as self-copies are) takes a
        // shallow value, so that repeating it clones nothing deep.
        let times = if u.ratio(1, 8)? {
            u.int_in_range(1..=16)?
        } else {
            1
        };
        let depth = if times > 1 { MAX_SPEC_DEPTH + 1 } else { 0 };
        let mut map = Map::new();
        map.insert("op".into(), json!(op));
        map.insert("path".into(), json!(pointer(u)?));
        if matches!(op, "move" | "copy") || u.ratio(1, 10)? {
            map.insert("from".into(), json!(pointer(u)?));
        }
        if matches!(op, "add" | "replace" | "test") || u.ratio(1, 10)? {
            map.insert("value".into(), value(u, depth)?);
        }
        let op = Value::Object(map);
        ops.extend(std::iter::repeat_n(op, times));
    }
    Ok(Value::Array(ops))
}

/// An `ory.sh/kratos` keyword, well-formed or not.
fn keyword(u: &mut Unstructured<'_>) -> Result<Value> {
    const VIAS: [&str; 3] = ["email", "sms", "pigeon"];
    Ok(match u.int_in_range(0..=5)? {
        0 => json!({"credentials": {"password": {"identifier": true}}}),
        1 => json!({"verification": {"via": *u.choose(&VIAS)?}}),
        2 => json!({"recovery": {"via": *u.choose(&VIAS)?}}),
        3 => json!({"credentials": {"code": {"identifier": true, "via": *u.choose(&VIAS)?}}}),
        4 => json!({"credentials": {"webauthn": {"identifier": true}},
                    "organizations": {"matcher": "email_domain"}}),
        _ => value(u, MAX_SPEC_DEPTH + 1)?,
    })
}

/// A `$ref` to a definition, the traits schema, the root, or nowhere.
fn reference(u: &mut Unstructured<'_>, defs: usize) -> Result<String> {
    Ok(match u.int_in_range(0..=9)? {
        0 => "#/properties/traits".to_owned(),
        1 => "#".to_owned(),
        2 => "#/definitions/missing".to_owned(),
        3 => "https://example.invalid/remote.json".to_owned(),
        _ => format!(
            "#/definitions/d{}",
            u.int_in_range(0..=defs.saturating_sub(1))?
        ),
    })
}

/// A subschema that refers to the others by `$ref` (never by nesting, so
/// its depth is fixed).
fn subschema(u: &mut Unstructured<'_>, defs: usize) -> Result<Value> {
    const FORMATS: [&str; 5] = ["email", "tel", "no-validate", "uuid", "date"];
    const CONDITIONAL: [&str; 4] = ["anyOf", "oneOf", "not", "if"];
    Ok(match u.int_in_range(0..=7)? {
        0 => json!({ "$ref": reference(u, defs)? }),
        1 => {
            let mut props = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                props.insert(word(u)?, json!({ "$ref": reference(u, defs)? }));
            }
            json!({"type": "object", "properties": props})
        }
        2 => {
            let all: Vec<Value> = (0..u.int_in_range(1..=3)?)
                .map(|_| reference(u, defs).map(|r| json!({ "$ref": r })))
                .collect::<Result<_>>()?;
            json!({ "allOf": all })
        }
        3 => json!({"type": "array", "items": { "$ref": reference(u, defs)? }}),
        4 => {
            let keyword_name = *u.choose(&CONDITIONAL)?;
            let mut map = Map::new();
            let sub = json!({ "$ref": reference(u, defs)? });
            map.insert(
                keyword_name.into(),
                if keyword_name.ends_with("Of") {
                    json!([sub])
                } else {
                    sub
                },
            );
            Value::Object(map)
        }
        _ => {
            let mut map = Map::new();
            map.insert("type".into(), json!("string"));
            if u.arbitrary()? {
                map.insert("format".into(), json!(*u.choose(&FORMATS)?));
            }
            if u.ratio(3, 4)? {
                map.insert("ory.sh/kratos".into(), keyword(u)?);
            }
            Value::Object(map)
        }
    })
}

/// An identity schema made of a `$ref` graph: up to 48 definitions
/// referring to each other (shared subschemas, cycles), sometimes a long
/// chain of plain references (up to 20,000), and a traits schema whose
/// properties refer into them.
pub fn schema(u: &mut Unstructured<'_>) -> Result<Value> {
    let count = u.int_in_range(1..=48)?;
    let mut defs = Map::new();
    for i in 0..count {
        defs.insert(format!("d{i}"), subschema(u, count)?);
    }
    if u.ratio(1, 4)? {
        // d0 → c0 → c1 → … → the old d0.
        let len = u.int_in_range(1..=20_000)?;
        if let Some(old) = defs.remove("d0") {
            defs.insert(format!("c{len}"), old);
        }
        defs.insert("d0".into(), json!({"$ref": "#/definitions/c0"}));
        for i in 0..len {
            defs.insert(
                format!("c{i}"),
                json!({ "$ref": format!("#/definitions/c{}", i + 1) }),
            );
        }
    }
    let mut props = Map::new();
    for _ in 0..u.int_in_range(1..=4)? {
        props.insert(word(u)?, json!({ "$ref": reference(u, count)? }));
    }
    Ok(json!({
        "definitions": defs,
        "properties": {"traits": {"type": "object", "properties": props}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deepest nesting in `value`, walked with a stack.
    fn depth(value: &Value) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(value, 0)];
        while let Some((v, d)) = stack.pop() {
            deepest = deepest.max(d);
            match v {
                Value::Array(items) => stack.extend(items.iter().map(|c| (c, d + 1))),
                Value::Object(map) => stack.extend(map.values().map(|c| (c, d + 1))),
                _ => {}
            }
        }
        deepest
    }

    #[test]
    fn generators_reach_long_paths_deep_values_and_long_chains() {
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut longest_path, mut deepest, mut most_defs) = (0, 0, 0);
        for _ in 0..400 {
            let data: Vec<u8> = (0..16_384).map(|_| rng.u8(..)).collect();
            let mut u = Unstructured::new(&data);
            let Value::Array(ops) = patch(&mut u).expect("patch") else {
                panic!("a patch is an array");
            };
            for op in &ops {
                let segments = op["path"].as_str().map_or(0, |p| p.matches('/').count());
                longest_path = longest_path.max(segments);
                deepest = deepest.max(depth(op));
            }
            dispose(Value::Array(ops));
            let mut u = Unstructured::new(&data);
            let s = schema(&mut u).expect("schema");
            most_defs = most_defs.max(s["definitions"].as_object().map_or(0, Map::len));
            dispose(s);
        }
        assert!(longest_path > 1_000, "longest path {longest_path}");
        assert!(deepest > 1_000, "deepest value {deepest}");
        assert!(most_defs > 1_000, "most definitions {most_defs}");
    }
}
