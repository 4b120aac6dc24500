use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;

/// The longest external id, in characters.
pub const EXTERNAL_ID_MAX_CHARS: usize = 64;

/// A caller-chosen id of an identity, unique per tenant: never empty, at
/// most [`EXTERNAL_ID_MAX_CHARS`] characters, without a NUL character.
///
/// Kratos reads an empty external id as none; [`ExternalId::from_optional`]
/// is where that rule lives, so an `Option<ExternalId>` is `None` exactly
/// when there is no external id, and no store ever sees an empty one.
///
/// ```
/// use identity_core::ExternalId;
///
/// assert_eq!(ExternalId::new("crm-1").unwrap().as_str(), "crm-1");
/// assert!(ExternalId::new("").is_err());
/// assert_eq!(ExternalId::from_optional(Some(String::new())).unwrap(), None);
/// assert_eq!(
///     ExternalId::new("x".repeat(65)).unwrap_err().to_string(),
///     "external_id must be at most 64 characters"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Checks `value`: [`Error::InvalidInput`] when it is empty, longer than
    /// [`EXTERNAL_ID_MAX_CHARS`] characters or holds a NUL character.
    pub fn new(value: impl Into<String>) -> Result<ExternalId, Error> {
        let value = value.into();
        if value.is_empty() {
            return Err(Error::invalid("external_id must not be empty"));
        }
        if value.chars().count() > EXTERNAL_ID_MAX_CHARS {
            return Err(Error::invalid(format!(
                "external_id must be at most {EXTERNAL_ID_MAX_CHARS} characters"
            )));
        }
        crate::text::index_key(&value, "external_id")?;
        Ok(ExternalId(value))
    }

    /// Kratos' reading of an optional external id: none or empty is no
    /// external id; anything else must pass [`ExternalId::new`].
    pub fn from_optional(value: Option<String>) -> Result<Option<ExternalId>, Error> {
        match value {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => ExternalId::new(v).map(Some),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, unwrapped.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ExternalId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ExternalId::new(text).map_err(serde::de::Error::custom)
    }
}

/// `Option<ExternalId>` from JSON as [`ExternalId::from_optional`] reads
/// it (`null`, absent and `""` are none).
pub(crate) fn deserialize_optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ExternalId>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    ExternalId::from_optional(text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "deserialize_optional")]
        external_id: Option<ExternalId>,
    }

    fn read(value: serde_json::Value) -> Result<Option<ExternalId>, serde_json::Error> {
        serde_json::from_value::<Holder>(value).map(|h| h.external_id)
    }

    #[test]
    fn json_reads_empty_and_null_as_none_and_checks_the_rest() {
        assert_eq!(read(json!({})).ok(), Some(None));
        assert_eq!(read(json!({"external_id": null})).ok(), Some(None));
        assert_eq!(read(json!({"external_id": ""})).ok(), Some(None));
        assert_eq!(
            read(json!({"external_id": "crm-1"})).ok(),
            Some(ExternalId::new("crm-1").ok())
        );
        assert!(read(json!({"external_id": "x".repeat(65)})).is_err());
        assert!(read(json!({"external_id": "a\u{0}"})).is_err());
        // Characters, not bytes: 64 two-byte characters fit.
        assert!(ExternalId::new("é".repeat(64)).is_ok());
    }
}
