//! What text an identity may hold: decided here, once, for every store.
//!
//! Two rules, checked by [`ValidIdentity`](crate::ValidIdentity)'s
//! constructor before any store sees an identity:
//!
//! - no text anywhere in the identity (schema id, traits, metadata,
//!   credential configs, identifiers, addresses, external id; JSON keys
//!   included) holds a NUL character: PostgreSQL cannot store one in `TEXT`
//!   or `JSONB`, and C-string based tools cut at it;
//! - every value a uniqueness index holds (credential identifiers, address
//!   values, the external id) is at most [`INDEX_KEY_MAX_BYTES`] bytes of
//!   UTF-8.
//!
//! So a store may assume both, and every store answers the same
//! [`Error::InvalidInput`] for such an identity (it never gets one).

use serde_json::Value;

use crate::error::Error;
use crate::model::Identity;

/// The most bytes (UTF-8) of a value a uniqueness index holds: a credential
/// identifier, a verifiable or recovery address value, an external id.
///
/// PostgreSQL refuses a B-tree index entry over about 2,700 bytes (a third
/// of an 8 KiB page, the tenant and the credential type included); 1,024
/// leaves room for those and for any adapter's key prefix, and is far above
/// any real identifier (an email address is at most 254 characters).
pub const INDEX_KEY_MAX_BYTES: usize = 1_024;

/// Checks both rules on `identity`; the error names the field (named only
/// when there is an error: this runs on every write).
pub(crate) fn check(identity: &Identity) -> Result<(), Error> {
    // One stack for every JSON walk of the identity.
    let mut stack = Vec::new();
    no_nul_in_str(&identity.schema_id, "schema_id")?;
    no_nul_in_json(&identity.traits, &mut stack).map_err(|()| nul("traits"))?;
    if let Some(m) = &identity.metadata_public {
        no_nul_in_json(m, &mut stack).map_err(|()| nul("metadata_public"))?;
    }
    if let Some(m) = &identity.metadata_admin {
        no_nul_in_json(m, &mut stack).map_err(|()| nul("metadata_admin"))?;
    }
    if let Some(e) = &identity.external_id {
        index_key(e.as_str(), "external_id")?;
    }
    for (kind, credential) in &identity.credentials {
        no_nul_in_json(credential.config.expose(), &mut stack)
            .map_err(|()| nul(&format!("the config of the {kind} credential")))?;
        for identifier in &credential.identifiers {
            if !is_index_key(identifier) {
                index_key(identifier, &format!("a {kind} credential identifier"))?;
            }
        }
    }
    for a in &identity.verifiable_addresses {
        index_key(&a.value, "a verifiable address")?;
    }
    for a in &identity.recovery_addresses {
        index_key(&a.value, "a recovery address")?;
    }
    Ok(())
}

/// Whether `value` passes [`index_key`].
fn is_index_key(value: &str) -> bool {
    value.len() <= INDEX_KEY_MAX_BYTES && !value.contains('\0')
}

/// An index key: NUL-free and at most [`INDEX_KEY_MAX_BYTES`] bytes.
pub(crate) fn index_key(value: &str, what: &str) -> Result<(), Error> {
    no_nul_in_str(value, what)?;
    if value.len() > INDEX_KEY_MAX_BYTES {
        return Err(Error::invalid(format!(
            "{what} must be at most {INDEX_KEY_MAX_BYTES} bytes long"
        )));
    }
    Ok(())
}

/// JSON a caller searches with: no NUL in a string or key (no stored
/// value holds one, and PostgreSQL refuses them).
pub(crate) fn search_json(value: &Value, what: &str) -> Result<(), Error> {
    no_nul_in_json(value, &mut Vec::new()).map_err(|()| nul(what))
}

/// Text a caller searches with: no NUL, at most [`INDEX_KEY_MAX_BYTES`].
pub(crate) fn search_text(value: &str, what: &str) -> Result<(), Error> {
    index_key(value, what)
}

fn no_nul_in_str(value: &str, what: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(nul(what));
    }
    Ok(())
}

fn nul(what: &str) -> Error {
    Error::invalid(format!("{what} must not contain a NUL character"))
}

/// Walks `value` with an explicit stack (callers' JSON may be deep), left
/// empty for the next walk; `Err` when a string or key holds a NUL.
fn no_nul_in_json<'a>(value: &'a Value, stack: &mut Vec<&'a Value>) -> Result<(), ()> {
    stack.clear();
    stack.push(value);
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return Err(()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    if key.contains('\0') {
                        return Err(());
                    }
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_anywhere_in_json_is_found() {
        for value in [
            json!("a\u{0}"),
            json!({"k\u{0}": 1}),
            json!([1, [{"a": ["\u{0}"]}]]),
        ] {
            assert_eq!(no_nul_in_json(&value, &mut Vec::new()), Err(()));
        }
        assert_eq!(
            no_nul_in_json(&json!({"a": ["b", 1, null]}), &mut Vec::new()),
            Ok(())
        );
    }

    #[test]
    fn index_keys_are_bounded_in_bytes() {
        assert!(index_key(&"a".repeat(INDEX_KEY_MAX_BYTES), "x").is_ok());
        let e = index_key(&"a".repeat(INDEX_KEY_MAX_BYTES + 1), "a recovery address")
            .expect_err("long");
        assert_eq!(
            e.to_string(),
            "a recovery address must be at most 1024 bytes long"
        );
        // Bytes, not characters: 342 three-byte characters are 1,026 bytes.
        assert!(index_key(&"€".repeat(342), "x").is_err());
    }
}
