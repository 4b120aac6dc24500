//! Normalisation of identifiers and addresses (SPEC §2, "Normalisation").
//!
//! Lookups and uniqueness compare normalised values, so two spellings of one
//! address (`"  Foo@EXAMPLE.com "`, `"foo\u{200b}@example.com"`) can never
//! belong to two identities.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::model::{AddressVia, CredentialType};

/// Whether a character is invisible: a format control (general category
/// `Cf`: zero-width space and joiners, soft hyphen, BOM, word joiner, bidi
/// controls, ...).
fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// Trim, NFKC (which also folds full- and half-width forms), drop invisible
/// characters, lowercase.
fn fold(value: &str) -> String {
    // ASCII is already NFKC and holds no format characters: trimming and
    // ASCII lowercasing give the same result without the Unicode machinery.
    if value.is_ascii() {
        return value.trim().to_ascii_lowercase();
    }
    let folded: String = value
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect();
    // NFKC can turn e.g. an ideographic space into a plain one: trim after.
    let trimmed = folded.trim();
    if trimmed.len() == folded.len() {
        folded
    } else {
        trimmed.to_owned()
    }
}

/// Normalises an email-like value: trim, NFKC, width-fold, drop invisible
/// characters, lowercase.
///
/// ```
/// use identity_core::normalize::email;
/// assert_eq!(email("  Foo@EXAMPLE.com "), "foo@example.com");
/// assert_eq!(email("foo\u{200b}@example.com"), "foo@example.com");
/// ```
pub fn email(value: &str) -> String {
    fold(value)
}

/// Parses a phone number written in international form and returns it in
/// E.164 (`"+1 (650) 253-0000"` → `"+16502530000"`); `None` when it does not
/// parse as a valid number.
///
/// ```
/// use identity_core::normalize::phone;
/// assert_eq!(phone("+1 (650) 253-0000").as_deref(), Some("+16502530000"));
/// assert_eq!(phone("12345"), None);
/// ```
pub fn phone(value: &str) -> Option<String> {
    // Validation (`format: tel`) and derivation parse the same value one
    // after the other on the same thread; remember the last few answers.
    thread_local! {
        static RECENT: std::cell::RefCell<Vec<(String, Option<String>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(hit) = RECENT.with(|r| {
        r.borrow()
            .iter()
            .find(|(k, _)| k == value)
            .map(|(_, v)| v.clone())
    }) {
        return hit;
    }
    let parsed = parse_phone(value);
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() == 4 {
            r.remove(0);
        }
        r.push((value.to_owned(), parsed.clone()));
    });
    parsed
}

fn parse_phone(value: &str) -> Option<String> {
    let cleaned: String = value
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .collect::<String>();
    let number = phonenumber::parse(None, cleaned.trim()).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Normalises a username-like identifier: trim, NFKC, drop invisible
/// characters, lowercase.
pub fn username(value: &str) -> String {
    fold(value)
}

/// Normalises a `password`, `webauthn` or `code` identifier the way the
/// schema extension does: phone-like values (leading `+` and parsable) to
/// E.164, email-like values (containing `@`) and everything else folded.
pub fn identifier_like(value: &str) -> String {
    let trimmed = value.trim_start();
    if trimmed.starts_with('+')
        && let Some(e164) = phone(trimmed)
    {
        return e164;
    }
    if value.contains('@') {
        email(value)
    } else {
        username(value)
    }
}

/// Normalises an address on its channel: email folding for `email`, E.164
/// for `sms` (falling back to folding when it does not parse).
pub fn address(via: AddressVia, value: &str) -> String {
    match via {
        AddressVia::Email => email(value),
        AddressVia::Sms => phone(value).unwrap_or_else(|| username(value)),
    }
}

/// Normalises a credential identifier for lookup: `password`, `webauthn` and
/// `code` identifiers as the schema extension stores them; `oidc`, `saml`,
/// `totp`, `lookup_secret` and `passkey` identifiers byte-exact.
pub fn credential_identifier(kind: CredentialType, value: &str) -> String {
    if kind.is_schema_driven() {
        identifier_like(value)
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_fold_case_width_and_invisibles() {
        assert_eq!(email("  Foo@EXAMPLE.com "), "foo@example.com");
        assert_eq!(email("foo\u{200b}@example.com"), "foo@example.com");
        assert_eq!(
            email("\u{feff}foo\u{00ad}@exa\u{2060}mple.com"),
            "foo@example.com"
        );
        assert_eq!(email("\u{202e}foo@example.com\u{202c}"), "foo@example.com");
        assert_eq!(email("ＦＯＯ＠ｅｘａｍｐｌｅ．ｃｏｍ"), "foo@example.com");
        assert_eq!(email("\u{3000}foo@example.com\u{3000}"), "foo@example.com");
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(phone("+1 (650) 253-0000").as_deref(), Some("+16502530000"));
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(phone("12345"), None);
        assert_eq!(phone("+1 555"), None);
    }

    #[test]
    fn usernames_fold_width_and_case() {
        assert_eq!(username(" Grace_Hopper "), "grace_hopper");
        assert_eq!(
            username("\u{ff27}\u{ff32}\u{ff21}\u{ff23}\u{ff25}"),
            "grace"
        );
        assert_eq!(username("\u{200b}\u{200b}\u{200b}"), "");
    }

    #[test]
    fn identifiers_pick_their_family() {
        assert_eq!(identifier_like("+1 650 253 0000"), "+16502530000");
        assert_eq!(identifier_like("Ada@Example.com"), "ada@example.com");
        assert_eq!(identifier_like("+notaphone"), "+notaphone");
        assert_eq!(
            credential_identifier(CredentialType::Oidc, "Google:ABC"),
            "Google:ABC"
        );
        assert_eq!(
            credential_identifier(CredentialType::Password, "Google:ABC"),
            "google:abc"
        );
    }
}
