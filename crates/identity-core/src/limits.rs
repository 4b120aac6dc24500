//! Input limits, checked before any validation so that no document can make
//! validation slow, exhaust memory or overflow the stack.

use std::io;

use serde_json::Value;

use crate::error::Violation;

/// Size and depth limits for traits and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Checks `value` against the limits; `at` is the instance path named in
    /// the violation (e.g. `/traits`).
    pub fn check(&self, value: &Value, at: &str) -> Result<(), Violation> {
        if exceeds_depth(value, self.max_depth) {
            return Err(Violation::at(
                at,
                format!(
                    "value is nested deeper than the limit of {} levels",
                    self.max_depth
                ),
            ));
        }
        let mut counter = Counter {
            written: 0,
            limit: self.max_json_bytes,
        };
        if serde_json::to_writer(&mut counter, value).is_err() {
            return Err(Violation::at(
                at,
                format!(
                    "value is larger than the limit of {} bytes of JSON",
                    self.max_json_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `value` has more than `max` levels of nesting; iterative, so any
/// depth is safe to inspect.
fn exceeds_depth(value: &Value, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let level = depth + 1;
        if level > max {
            return true;
        }
        stack.extend(children.map(|c| (c, level)));
    }
    false
}

struct Counter {
    written: usize,
    limit: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        if self.written > self.limit {
            return Err(io::Error::other("limit exceeded"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
        assert_eq!(err.instance_path, "/traits");
        assert_eq!(
            err.message,
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
            err.message,
            "value is larger than the limit of 10 bytes of JSON"
        );
    }

    #[test]
    fn a_very_deep_value_is_rejected_without_recursion() {
        let mut v = json!(1);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert!(Limits::default().check(&v, "/traits").is_err());
        // Dropping a 100k-deep Value recurses in serde_json; unwind it by hand.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }
}
