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
    value.len() <= INDEX_KEY_MAX_BYTES && !has_nul(value)
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
    if has_nul(value) {
        return Err(nul(what));
    }
    Ok(())
}

fn nul(what: &str) -> Error {
    Error::invalid(format!("{what} must not contain a NUL character"))
}

/// Whether `value` holds a NUL: eight bytes at a time (a word has a zero
/// byte exactly when `(w - 0x01..01) & !w & 0x80..80` is not zero), then
/// the rest one by one. The strings of an identity are short, where this
/// costs about half of `str::contains`'s `memchr`, which it runs on
/// every string of every write.
fn has_nul(value: &str) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = value.as_bytes().chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_ne_bytes(bytes);
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            return true;
        }
    }
    words.remainder().contains(&0)
}

/// Walks `value` with an explicit stack (callers' JSON may be deep), left
/// empty for the next walk; `Err` when a string or key holds a NUL.
fn no_nul_in_json<'a>(value: &'a Value, stack: &mut Vec<&'a Value>) -> Result<(), ()> {
    stack.clear();
    stack.push(value);
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if has_nul(s) => return Err(()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    if has_nul(key) {
                        return Err(());
                    }
                    // A string member (most of them) is checked here,
                    // without a trip through the stack.
                    match item {
                        Value::String(s) if has_nul(s) => return Err(()),
                        Value::Array(_) | Value::Object(_) => stack.push(item),
                        _ => {}
                    }
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

    /// `has_nul` answers what `contains('\0')` does, for a NUL at every
    /// position of strings of every length up to 40 bytes, for strings
    /// without one, and for the bytes around zero.
    #[test]
    fn has_nul_is_contains_nul() {
        for len in 0..=40 {
            let plain = "ab\u{80}c"
                .repeat(len)
                .chars()
                .take(len)
                .collect::<String>();
            assert!(!has_nul(&plain), "{plain:?}");
            for at in 0..=plain.chars().count() {
                let mut with: String = plain.chars().take(at).collect();
                with.push('\0');
                with.extend(plain.chars().skip(at));
                assert!(has_nul(&with), "{with:?}");
            }
        }
        for b in 0..=255u8 {
            let s = String::from_utf8_lossy(&[b'x', b, b'y', b'z', 1, 2, 3, 0x7f, b]).into_owned();
            assert_eq!(has_nul(&s), b == 0, "{s:?}");
        }
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
