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
/// First a quick recursive pass that bounds the size from above without
/// reading a string's bytes and allocates nothing: a value whose bound
/// fits, fits. Only a value near a limit (or over it), or a depth limit too
/// deep to recurse, pays for the exact count.
fn measure(value: &Value, max_depth: usize, max_bytes: usize) -> Measure {
    if max_depth <= RECURSION_MAX_DEPTH {
        let mut bound = Bound::default();
        let fits = match value {
            Value::Array(_) | Value::Object(_) => {
                bound_container(value, 0, max_depth, max_bytes, &mut bound).is_ok()
            }
            scalar => {
                bound.add_scalar(scalar);
                bound.fits(max_bytes)
            }
        };
        if fits {
            return Measure::Fits;
        }
    }
    measure_exactly(value, max_depth, max_bytes)
}

/// The most bytes `serde_json` writes for any number (`-1.7976931348623157e308`
/// and `-9223372036854775808` are 23 and 20).
const NUMBER_MAX_LEN: usize = 24;

/// The most bytes one byte of a string takes written: a six-byte `\u00XX`
/// escape.
const ESCAPED_MAX_LEN: usize = 6;

/// An upper bound of a value's compact JSON size, kept as two sums so
/// that a member costs an addition or two: the bytes of its strings (keys
/// included), each of which takes at most [`ESCAPED_MAX_LEN`] written, and
/// everything else (quotes, brackets, colons, commas, scalars at their
/// longest).
///
/// Plain additions cannot overflow: every string byte counted is a byte in
/// memory, and every fixed amount (at most [`NUMBER_MAX_LEN`]) stands for a
/// member or an item that takes more than that in memory.
#[derive(Default)]
struct Bound {
    text: usize,
    fixed: usize,
}

impl Bound {
    #[inline(always)]
    fn add_scalar(&mut self, value: &Value) {
        match value {
            Value::String(s) => {
                self.text += s.len();
                self.fixed += 2;
            }
            Value::Number(_) => self.fixed += NUMBER_MAX_LEN,
            // `false`, the longest; and `null`.
            _ => self.fixed += 5,
        }
    }

    #[inline(always)]
    fn fits(&self, max_bytes: usize) -> bool {
        self.text
            .saturating_mul(ESCAPED_MAX_LEN)
            .saturating_add(self.fixed)
            <= max_bytes
    }
}

/// The bound of an array or object at `depth` (its parent's), added to
/// `bound`; recursive, for a `max_depth` of at most
/// [`RECURSION_MAX_DEPTH`]. `Err` means "over a limit, or maybe over the
/// size limit": deeper than `max_depth`, or a bound past `max_bytes` once
/// a container is done.
fn bound_container(
    value: &Value,
    depth: usize,
    max_depth: usize,
    max_bytes: usize,
    bound: &mut Bound,
) -> Result<(), ()> {
    if depth >= max_depth {
        return Err(());
    }
    match value {
        Value::Array(items) => {
            // Brackets and a comma after each item (one too many).
            bound.fixed += 2 + items.len();
            for item in items {
                match item {
                    Value::Array(_) | Value::Object(_) => {
                        bound_container(item, depth + 1, max_depth, max_bytes, bound)?;
                    }
                    scalar => bound.add_scalar(scalar),
                }
            }
        }
        Value::Object(map) => {
            // Braces, and for each member its key's quotes, a colon and a
            // comma (one too many).
            bound.fixed += 2 + 4 * map.len();
            for (k, child) in map {
                bound.text += k.len();
                match child {
                    Value::Array(_) | Value::Object(_) => {
                        bound_container(child, depth + 1, max_depth, max_bytes, bound)?;
                    }
                    scalar => bound.add_scalar(scalar),
                }
            }
        }
        scalar => bound.add_scalar(scalar),
    }
    if bound.fits(max_bytes) {
        Ok(())
    } else {
        Err(())
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

    /// At every size limit around a value's own size and every depth limit
    /// around its own depth, `check` accepts exactly the values that fit:
    /// the quick bound never lets one through that the exact count refuses.
    #[test]
    fn check_is_exact_at_every_limit() {
        let values = [
            json!(null),
            json!(-17),
            json!("q\"\n\u{1}é"),
            json!([]),
            json!({}),
            json!({"nickname": "Ada7", "preferences": {"theme": "dark", "lang": "en",
                   "notifications": {"email": true, "sms": false}}}),
            json!([1, -20, 3.5, null, true, false, "q\"\n\u{1}", {"k\u{7f}": ["x"]}, [[]]]),
        ];
        for v in &values {
            let size = serde_json::to_string(v).expect("json").len();
            let depth = extent(v, usize::MAX, usize::MAX).expect("fits").depth;
            for max_json_bytes in 0..size + 8 {
                for max_depth in 0..depth + 2 {
                    let limits = Limits {
                        max_json_bytes,
                        max_depth,
                    };
                    let got = limits
                        .check(v, "/traits")
                        .map_err(|e| e.message().to_owned());
                    // Which limit a value over both is refused for is the
                    // exact walk's, unchanged: the first one it passes.
                    let want = match extent(v, max_depth, max_json_bytes) {
                        Ok(_) => Ok(()),
                        Err(Exceeded::Depth) => Err(format!(
                            "value is nested deeper than the limit of {max_depth} levels"
                        )),
                        Err(Exceeded::Size) => Err(format!(
                            "value is larger than the limit of {max_json_bytes} bytes of JSON"
                        )),
                    };
                    assert_eq!(
                        got, want,
                        "{v} at {max_json_bytes} bytes, depth {max_depth}"
                    );
                    assert_eq!(
                        got.is_ok(),
                        size <= max_json_bytes && depth <= max_depth,
                        "{v} at {max_json_bytes} bytes, depth {max_depth}"
                    );
                }
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
