//! The `format` checks the registry adds to (or tightens in) `jsonschema`.

use std::sync::OnceLock;

use serde_json::Value;

/// Kratos' limit on a whole email address.
pub const EMAIL_MAX_LEN: usize = 254;
/// Kratos' limit on the local part of an email address.
pub const EMAIL_LOCAL_MAX_LEN: usize = 64;

/// The `jsonschema` crate's own `email` format, compiled once.
fn stock_email() -> &'static jsonschema::Validator {
    static STOCK: OnceLock<jsonschema::Validator> = OnceLock::new();
    STOCK.get_or_init(|| {
        let schema = serde_json::json!({"format": "email"});
        match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&schema)
        {
            Ok(v) => v,
            // The literal schema above is valid; this arm cannot be reached.
            Err(e) => unreachable!("stock email schema failed to compile: {e}"),
        }
    })
}

/// The email rule of the SPEC: what the `jsonschema` crate's `email` format
/// accepts, at most 254 characters in all and at most 64 in the local part.
///
/// ```
/// use identity_core::schema::is_valid_email;
/// assert!(is_valid_email("ada@example.com"));
/// assert!(!is_valid_email("not-an-email"));
/// assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(65))));
/// ```
pub fn is_valid_email(value: &str) -> bool {
    if value.len() > EMAIL_MAX_LEN {
        return false;
    }
    if let Some(at) = value.rfind('@')
        && at > EMAIL_LOCAL_MAX_LEN
    {
        return false;
    }
    stock_email().is_valid(&Value::String(value.to_owned()))
}

/// The `tel` format: a phone number that parses and is valid in E.164 form.
pub fn is_valid_tel(value: &str) -> bool {
    crate::normalize::phone(value).is_some()
}

/// The `uuid` format (RFC 4122 hyphenated form), asserted under every draft.
pub fn is_valid_uuid(value: &str) -> bool {
    value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()
}
