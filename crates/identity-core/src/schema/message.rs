//! The words of a violation the validator found, kept unwritten until the
//! message is read: collecting every violation of an invalid document
//! formats nothing.

use std::sync::Arc;

use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
use jsonschema::{JsonType, JsonTypeSet};
use serde_json::Value;

use crate::error::Violation;

/// What a message not yet written needs: the error's kind, moved out of
/// the validator's error, and the few facts of the instance it names (its
/// type, its length, or the value itself when it is a scalar).
///
/// Kept in the violation itself, not boxed: the kinds an invalid document
/// most often breaks (a type, a length, an unexpected or missing member)
/// then cost no allocation of their own. The variants that hold a whole
/// `Value` box it, so the enum stays four words.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    Format {
        instance: Box<Value>,
        format: String,
    },
    Type {
        expected: Expected,
        got: &'static str,
    },
    Required {
        property: Box<Value>,
    },
    AdditionalProperties {
        unexpected: Vec<String>,
    },
    Count {
        what: Count,
        limit: u64,
        count: usize,
    },
    Pattern {
        pattern: String,
    },
    Enum {
        options: Arc<Value>,
    },
    Constant {
        expected: Arc<Value>,
    },
    Bound {
        op: &'static str,
        /// The limit, then the instance.
        values: Box<(Value, Value)>,
    },
    /// A kind that is written at once (never built).
    Keyword(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected {
    Single(JsonType),
    Multiple(JsonTypeSet),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    MinLength,
    MaxLength,
    MinItems,
    MaxItems,
    MinProperties,
    MaxProperties,
}

/// A violation from the validator's error, its message left unwritten
/// for the kinds Kratos' tests pin; the rest keep the `jsonschema` crate's
/// own wording, written now (it may quote the whole instance, which the
/// violation does not keep).
pub(crate) fn violation(e: jsonschema::ValidationError<'_>) -> Violation {
    let lazy = match e.kind() {
        Kind::Enum { options } => options.is_array(),
        Kind::Format { .. }
        | Kind::Type { .. }
        | Kind::Required { .. }
        | Kind::AdditionalProperties { .. }
        | Kind::Pattern { .. }
        | Kind::Constant { .. }
        | Kind::Minimum { .. }
        | Kind::Maximum { .. }
        | Kind::ExclusiveMinimum { .. }
        | Kind::ExclusiveMaximum { .. }
        | Kind::MinLength { .. }
        | Kind::MaxLength { .. }
        | Kind::MinItems { .. }
        | Kind::MaxItems { .. }
        | Kind::MinProperties { .. }
        | Kind::MaxProperties { .. } => true,
        _ => false,
    };
    if !lazy {
        let message = e.to_string();
        let parts = e.into_parts();
        return Violation::located(parts.instance_path, parts.schema_path, message);
    }
    let parts = e.into_parts();
    let pending = match parts.kind {
        Kind::Format { format } => Pending::Format {
            instance: Box::new(parts.instance.into_owned()),
            format,
        },
        Kind::Type { kind } => Pending::Type {
            expected: match kind {
                TypeKind::Single(t) => Expected::Single(t),
                TypeKind::Multiple(set) => Expected::Multiple(set),
            },
            got: super::json_type(&parts.instance),
        },
        Kind::Required { property } => Pending::Required {
            property: Box::new(property),
        },
        Kind::AdditionalProperties { unexpected } => Pending::AdditionalProperties { unexpected },
        Kind::Pattern { pattern } => Pending::Pattern { pattern },
        Kind::Enum { options } => Pending::Enum { options },
        Kind::Constant { expected_value } => Pending::Constant {
            expected: expected_value,
        },
        Kind::Minimum { limit } => bound(">=", limit, parts.instance.into_owned()),
        Kind::Maximum { limit } => bound("<=", limit, parts.instance.into_owned()),
        Kind::ExclusiveMinimum { limit } => bound(">", limit, parts.instance.into_owned()),
        Kind::ExclusiveMaximum { limit } => bound("<", limit, parts.instance.into_owned()),
        Kind::MinLength { limit } => counted(Count::MinLength, limit, &parts.instance),
        Kind::MaxLength { limit } => counted(Count::MaxLength, limit, &parts.instance),
        Kind::MinItems { limit } => counted(Count::MinItems, limit, &parts.instance),
        Kind::MaxItems { limit } => counted(Count::MaxItems, limit, &parts.instance),
        Kind::MinProperties { limit } => counted(Count::MinProperties, limit, &parts.instance),
        Kind::MaxProperties { limit } => counted(Count::MaxProperties, limit, &parts.instance),
        // Not lazy: written above.
        other => Pending::Keyword(other.keyword().to_owned()),
    };
    Violation::pending(parts.instance_path, parts.schema_path, pending)
}

/// A length rule's pending message, with the instance's length (a
/// string's in characters), read only for these kinds.
fn counted(what: Count, limit: u64, instance: &Value) -> Pending {
    let count = match instance {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    Pending::Count { what, limit, count }
}

fn bound(op: &'static str, limit: Value, instance: Value) -> Pending {
    Pending::Bound {
        op,
        values: Box::new((limit, instance)),
    }
}

impl Pending {
    /// The message in the words of Kratos' validator (ory/jsonschema),
    /// which its clients and tests match: `expected string, but got
    /// number`, `missing properties: "email"`, `additionalProperties "x"
    /// not allowed`, `"x" is not valid "email"`, ...
    pub(crate) fn write(&self) -> String {
        let quoted = |names: &[String]| {
            names
                .iter()
                .map(|n| Value::String(n.clone()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Pending::Format { instance, format } => format!("{instance} is not valid {format:?}"),
            Pending::Type { expected, got } => {
                let expected = match expected {
                    Expected::Single(t) => t.to_string(),
                    Expected::Multiple(set) => set
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                format!("expected {expected}, but got {got}")
            }
            Pending::Required { property } => format!("missing properties: {property}"),
            Pending::AdditionalProperties { unexpected } => {
                format!("additionalProperties {} not allowed", quoted(unexpected))
            }
            Pending::Count { what, limit, count } => match what {
                Count::MinLength => format!("length must be >= {limit}, but got {count}"),
                Count::MaxLength => format!("length must be <= {limit}, but got {count}"),
                Count::MinItems => {
                    format!("minimum {limit} items allowed, but found {count} items")
                }
                Count::MaxItems => {
                    format!("maximum {limit} items allowed, but found {count} items")
                }
                Count::MinProperties => {
                    format!("minimum {limit} properties allowed, but found {count} properties")
                }
                Count::MaxProperties => {
                    format!("maximum {limit} properties allowed, but found {count} properties")
                }
            },
            Pending::Pattern { pattern } => format!("does not match pattern {pattern:?}"),
            Pending::Enum { options } => format!(
                "value must be one of {}",
                options
                    .as_array()
                    .map(|list| list.iter().map(Value::to_string).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .join(", ")
            ),
            Pending::Constant { expected } => format!("value must be {expected}"),
            Pending::Bound { op, values } => {
                let (limit, instance) = &**values;
                format!("must be {op} {limit} but found {instance}")
            }
            Pending::Keyword(keyword) => format!("fails {keyword:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four words: a violation holds its pending message in place.
    #[test]
    fn pending_stays_small() {
        assert_eq!(std::mem::size_of::<Pending>(), 32);
    }
}
