//! Input limits, checked before any validation so that no document can make
//! validation slow, exhaust memory or overflow the stack.

use serde_json::Value;

use crate::error::Violation;

/// The deepest JSON a caller's body (or patch, or schema) may be before
/// anything recursive touches it: `serde_json`'s own parser limit, so that
/// a value built in memory gets no further than one read from text.
pub(crate) const BODY_MAX_DEPTH: usize = 128;

/// Size and depth limits for traits and metadata: start from `default()`
/// and change what you need with the `with_*` methods.
///
/// ```
/// use identity_core::Limits;
/// let limits = Limits::default().with_max_json_bytes(16 * 1024);
/// assert_eq!((limits.max_json_bytes, limits.max_depth), (16 * 1024, 32));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most bytes one value (traits, or one metadata value) may take as
    /// compact JSON. Default 64 KiB.
    pub max_json_bytes: usize,
    /// The most levels of nested arrays and objects in one value. Default 32.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_bytes: 64 * 1024,
            max_depth: 32,
        }
    }
}

impl Limits {
    /// The most bytes one value may take as compact JSON.
    pub fn with_max_json_bytes(mut self, bytes: usize) -> Self {
        self.max_json_bytes = bytes;
        self
    }

    /// The most levels of nested arrays and objects in one value.
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Checks `value` against the limits; `at` is the instance path named in
    /// the violation (e.g. `/traits`).
    pub fn check(&self, value: &Value, at: &str) -> Result<(), Violation> {
        match measure(value, self.max_depth, self.max_json_bytes) {
            Measure::Fits => Ok(()),
            Measure::TooDeep => Err(Violation::at(
                at,
                format!(
                    "value is nested deeper than the limit of {} levels",
                    self.max_depth
                ),
            )),
            Measure::TooBig => Err(Violation::at(
                at,
                format!(
                    "value is larger than the limit of {} bytes of JSON",
                    self.max_json_bytes
                ),
            )),
        }
    }
}

enum Measure {
    Fits,
    TooDeep,
    TooBig,
}

/// The bytes `s` takes as a JSON string, quotes and escapes included, the
/// way `serde_json` writes it.
pub(crate) fn string_len(s: &str) -> usize {
    // Most strings need no escape; this test has no early exit, so it runs
    // over many bytes at a time.
    let plain = s.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        return s.len() + 2;
    }
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0x00..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() + escapes + 2
}

fn number_len(n: &serde_json::Number) -> usize {
    if let Some(i) = n.as_i64() {
        itoa_len(i.unsigned_abs()) + usize::from(i < 0)
    } else if let Some(u) = n.as_u64() {
        itoa_len(u)
    } else {
        n.to_string().len()
    }
}

fn itoa_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Deepest `max_depth` bounded by recursion; beyond it only the walk with
/// its own stack runs, so no limit a caller sets can overflow the stack.
const RECURSION_MAX_DEPTH: usize = 256;

/// Checks the compact JSON size and the nesting depth against the limits.
/// First a quick recursive pass that bounds each string and number from
/// above without reading its bytes and allocates nothing: a value whose
/// bound fits, fits. Only a value near a limit (or over it), or a depth
/// limit too deep to recurse, pays for the exact count.
fn measure(value: &Value, max_depth: usize, max_bytes: usize) -> Measure {
    let mut bound = 0usize;
    if max_depth <= RECURSION_MAX_DEPTH
        && bound_into(value, 0, max_depth, max_bytes, &mut bound).is_ok()
    {
        return Measure::Fits;
    }
    measure_exactly(value, max_depth, max_bytes)
}

/// The most bytes `serde_json` writes for any number (`-1.7976931348623157e308`
/// and `-9223372036854775808` are 23 and 20).
const NUMBER_MAX_LEN: usize = 24;

/// The most bytes a JSON string of `len` bytes takes written: every byte a
/// six-byte `\u00XX` escape, plus the quotes.
fn string_bound(len: usize) -> usize {
    len.saturating_mul(6).saturating_add(2)
}

/// Like [`measure_exactly`], recursive, with [`string_bound`] and
/// [`NUMBER_MAX_LEN`] for exact lengths; `Err` means "over a limit, or maybe over the size limit".
fn bound_into(
    value: &Value,
    depth: usize,
    max_depth: usize,
    max_bytes: usize,
    bound: &mut usize,
) -> Result<(), ()> {
    match value {
        Value::Array(items) => {
            if depth + 1 > max_depth {
                return Err(());
            }
            *bound = bound.saturating_add(2 + items.len());
            for item in items {
                bound_child(item, depth + 1, max_depth, max_bytes, bound)?;
            }
        }
        Value::Object(map) => {
            if depth + 1 > max_depth {
                return Err(());
            }
            *bound = bound.saturating_add(2 + map.len());
            for (k, child) in map {
                *bound = bound.saturating_add(string_bound(k.len()) + 1);
                bound_child(child, depth + 1, max_depth, max_bytes, bound)?;
            }
        }
        scalar => *bound = bound.saturating_add(scalar_bound(scalar)),
    }
    if *bound > max_bytes {
        return Err(());
    }
    Ok(())
}

/// [`bound_into`] for a member or item: a scalar (most of them) is counted
/// here, without a call.
#[inline(always)]
fn bound_child(
    value: &Value,
    depth: usize,
    max_depth: usize,
    max_bytes: usize,
    bound: &mut usize,
) -> Result<(), ()> {
    if let Value::Array(_) | Value::Object(_) = value {
        return bound_into(value, depth, max_depth, max_bytes, bound);
    }
    *bound = bound.saturating_add(scalar_bound(value));
    if *bound > max_bytes {
        return Err(());
    }
    Ok(())
}

/// The most bytes a scalar takes written (0 for an array or object).
#[inline(always)]
fn scalar_bound(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => NUMBER_MAX_LEN,
        Value::String(s) => string_bound(s.len()),
        Value::Array(_) | Value::Object(_) => 0,
    }
}

/// The exact compact JSON size and depth, with an explicit stack (any depth
/// is safe), stopping as soon as either limit is passed.
fn measure_exactly(value: &Value, max_depth: usize, max_bytes: usize) -> Measure {
    match extent(value, max_depth, max_bytes) {
        Ok(_) => Measure::Fits,
        Err(Exceeded::Depth) => Measure::TooDeep,
        Err(Exceeded::Size) => Measure::TooBig,
    }
}

/// How much room a value takes: its compact JSON bytes and its nesting
/// depth (containers; a scalar is 0 deep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub(crate) bytes: usize,
    pub(crate) depth: usize,
}

/// Which limit [`extent`] found passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Depth,
    Size,
}

/// The exact [`Extent`] of `value`, walked with an explicit stack (any
/// depth is safe) and abandoned as soon as it passes `max_depth` or
/// `max_bytes`, so the work is bounded by the limits, not by the value.
pub(crate) fn extent(
    value: &Value,
    max_depth: usize,
    max_bytes: usize,
) -> Result<Extent, Exceeded> {
    let mut size = 0usize;
    let mut deepest = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Null => size += 4,
            Value::Bool(b) => size += if *b { 4 } else { 5 },
            Value::Number(n) => size += number_len(n),
            Value::String(s) => size = size.saturating_add(string_len(s)),
            Value::Array(items) => {
                if depth + 1 > max_depth {
                    return Err(Exceeded::Depth);
                }
                deepest = deepest.max(depth + 1);
                // Brackets and the commas between items.
                size = size.saturating_add(2 + items.len().saturating_sub(1));
                stack.extend(items.iter().map(|c| (c, depth + 1)));
            }
            Value::Object(map) => {
                if depth + 1 > max_depth {
                    return Err(Exceeded::Depth);
                }
                deepest = deepest.max(depth + 1);
                // Braces, commas, and for each member its key and colon.
                size = size.saturating_add(2 + map.len().saturating_sub(1));
                for (k, child) in map {
                    size = size.saturating_add(string_len(k) + 1);
                    stack.push((child, depth + 1));
                }
            }
        }
        if size > max_bytes {
            return Err(Exceeded::Size);
        }
    }
    Ok(Extent {
        bytes: size,
        depth: deepest,
    })
}

/// Drops a value of any depth without recursion (`serde_json`'s own drop
/// recurses once per level, so a caller's deep value would overflow the
/// stack when refused).
pub(crate) fn dispose(value: Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

/// Refuses (and drops without recursion) a caller's value nested deeper
/// than `max_depth`, before anything recursive (deserialization, cloning,
/// dropping) touches it. `what` names the value in the error.
pub(crate) fn refuse_deeper_than(
    value: Value,
    max_depth: usize,
    what: &str,
) -> Result<Value, crate::Error> {
    match extent(&value, max_depth, usize::MAX) {
        Ok(_) => Ok(value),
        Err(_) => {
            dispose(value);
            Err(crate::Error::invalid(format!(
                "{what} is nested deeper than {max_depth} levels"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers() {
        let limits = Limits {
            max_json_bytes: 1 << 20,
            max_depth: 2,
        };
        assert_eq!(limits.check(&json!({"a": {"b": 1}}), "/traits"), Ok(()));
        assert_eq!(limits.check(&json!([[]]), "/traits"), Ok(()));
        let err = limits
            .check(&json!({"a": {"b": []}}), "/traits")
            .expect_err("too deep");
        assert_eq!(err.instance_path(), "/traits");
        assert_eq!(
            err.message(),
            "value is nested deeper than the limit of 2 levels"
        );
    }

    #[test]
    fn size_counts_compact_json_bytes() {
        let limits = Limits {
            max_json_bytes: 10,
            max_depth: 32,
        };
        // {"a":"12"} is exactly 10 bytes.
        assert_eq!(limits.check(&json!({"a": "12"}), "/x"), Ok(()));
        let err = limits
            .check(&json!({"a": "123"}), "/x")
            .expect_err("too big");
        assert_eq!(
            err.message(),
            "value is larger than the limit of 10 bytes of JSON"
        );
    }

    #[test]
    fn both_walks_agree() {
        let mut deep = json!("x");
        for _ in 0..40 {
            deep = json!({"k": [deep]});
        }
        let values = [
            json!({"a": "12"}),
            json!({"a": [1, -20, 3.5, null, true, false, "q\"\n\u{1}"]}),
            json!([[[[]]]]),
            deep,
        ];
        for v in &values {
            for (depth, bytes) in [(2, 10), (4, 64), (32, 1 << 20), (200, 30), (100, 1 << 20)] {
                let quick = format!("{:?}", measure_kind(measure(v, depth, bytes)));
                let exact = format!("{:?}", measure_kind(measure_exactly(v, depth, bytes)));
                assert_eq!(quick, exact, "{v} at depth {depth}, {bytes} bytes");
            }
        }
    }

    fn measure_kind(m: Measure) -> &'static str {
        match m {
            Measure::Fits => "fits",
            Measure::TooDeep => "too deep",
            Measure::TooBig => "too big",
        }
    }

    #[test]
    fn a_very_deep_value_is_rejected_without_recursion() {
        let mut v = json!(1);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert!(Limits::default().check(&v, "/traits").is_err());
        // A limit too deep to recurse takes the iterative walk.
        let deep_limit = Limits {
            max_json_bytes: 1 << 30,
            max_depth: 1 << 20,
        };
        assert_eq!(deep_limit.check(&v, "/traits"), Ok(()));
        // Dropping a 100k-deep Value recurses in serde_json; unwind it by hand.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }
}
