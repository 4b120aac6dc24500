//! Searching identities: the containment rule of the traits filter.
//!
//! [`ListQuery::with_traits`](crate::ListQuery::with_traits) selects the
//! identities whose traits *contain* a pattern. This module defines
//! containment once, for every store: it is PostgreSQL's `jsonb @>`, so a
//! PostgreSQL store answers it with the operator (and a GIN index) and
//! every other store calls [`json_contains`].

use serde_json::{Number, Value};

/// The deepest traits pattern a search accepts (also bounded by
/// [`Limits::max_depth`](crate::Limits)). [`json_contains`] recurses once per
/// level of the pattern, so this bounds its stack whatever the limits.
pub const TRAITS_PATTERN_MAX_DEPTH: usize = 16;

/// Whether `doc` contains `pattern`, as PostgreSQL's `doc @> pattern`
/// decides for `jsonb`:
///
/// - an object contains an object when every key of the pattern is in the
///   document and the document's value there contains the pattern's value;
/// - an array contains an array when every element of the pattern is
///   contained in some element of the document (order and repetitions do
///   not matter; a scalar element must equal a scalar element);
/// - a scalar contains an equal scalar: strings byte for byte, numbers by
///   value (`1` equals `1.0`), booleans, `null`;
/// - values of different kinds never contain one another, except at the
///   top level, where an array contains a scalar it has as an element
///   (`["a", "b"] @> "a"`).
///
/// A pattern nested deeper than [`TRAITS_PATTERN_MAX_DEPTH`] levels (as
/// [`Limits`](crate::Limits) counts them: `{"a": 1}` is one) contains
/// nothing (the manager refuses it before any store sees it).
///
/// ```
/// use identity_core::json_contains;
/// use serde_json::json;
///
/// let traits = json!({"department": "eng", "tags": ["a", "b"], "name": {"first": "Ada"}});
/// assert!(json_contains(&traits, &json!({"department": "eng"})));
/// assert!(json_contains(&traits, &json!({"tags": ["b"], "name": {"first": "Ada"}})));
/// assert!(!json_contains(&traits, &json!({"tags": "b"})));
/// assert!(!json_contains(&traits, &json!({"department": "ops"})));
/// assert!(json_contains(&traits, &json!({})));
/// ```
pub fn json_contains(doc: &Value, pattern: &Value) -> bool {
    if let Value::Array(items) = doc
        && is_scalar(pattern)
    {
        return items.iter().any(|item| scalar_eq(item, pattern));
    }
    contains(doc, pattern, 0)
}

fn contains(doc: &Value, pattern: &Value, depth: usize) -> bool {
    if depth > TRAITS_PATTERN_MAX_DEPTH {
        return false;
    }
    match (doc, pattern) {
        (Value::Object(doc), Value::Object(pattern)) => pattern.iter().all(|(key, want)| {
            doc.get(key)
                .is_some_and(|have| contains(have, want, depth + 1))
        }),
        (Value::Array(doc), Value::Array(pattern)) => pattern.iter().all(|want| {
            if is_scalar(want) {
                doc.iter().any(|have| scalar_eq(have, want))
            } else {
                doc.iter().any(|have| contains(have, want, depth + 1))
            }
        }),
        (doc, pattern) => scalar_eq(doc, pattern),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Equality of two scalars (false for containers).
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => number_eq(a, b),
        _ => false,
    }
}

/// Numbers by value: exactly as integers when both are, as floats
/// otherwise (so `1` equals `1.0`, as `numeric` compares them).
fn number_eq(a: &Number, b: &Number) -> bool {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return a == b;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containment_follows_jsonb() {
        let doc = json!({
            "a": 1, "s": "x", "t": true, "n": null,
            "arr": [1, "two", {"k": "v", "w": 2}, [3, 4]],
            "o": {"p": {"q": [1, 2]}}
        });
        let yes = [
            json!({}),
            json!({"a": 1}),
            json!({"a": 1.0}),
            json!({"s": "x", "t": true, "n": null}),
            json!({"arr": []}),
            json!({"arr": ["two", 1, 1]}),
            json!({"arr": [{"k": "v"}]}),
            json!({"arr": [[4]]}),
            json!({"o": {}}),
            json!({"o": {"p": {"q": [2]}}}),
        ];
        for p in yes {
            assert!(json_contains(&doc, &p), "{p}");
        }
        let no = [
            json!({"a": 2}),
            json!({"a": "1"}),
            json!({"missing": null}),
            json!({"n": false}),
            json!({"arr": 1}),
            json!({"arr": [{"k": "w"}]}),
            json!({"arr": [4]}),
            json!({"arr": {"k": "v"}}),
            json!({"o": {"p": {"q": 1}}}),
            json!({"o": []}),
            json!([]),
            json!("x"),
        ];
        for p in no {
            assert!(!json_contains(&doc, &p), "{p}");
        }
        // The top-level exception: an array contains its scalar elements.
        assert!(json_contains(&json!(["a", 1]), &json!("a")));
        assert!(!json_contains(&json!("a"), &json!(["a"])));
        assert!(json_contains(&json!("a"), &json!("a")));
    }

    #[test]
    fn deep_patterns_contain_nothing() {
        let mut pattern = json!(1);
        let mut doc = json!(1);
        for _ in 0..=TRAITS_PATTERN_MAX_DEPTH {
            pattern = json!({ "k": pattern });
            doc = json!({ "k": doc });
        }
        assert!(!json_contains(&doc, &pattern));
        let shallow = doc["k"].clone();
        let shallow_pattern = pattern["k"].clone();
        assert!(json_contains(&shallow, &shallow_pattern));
    }
}
