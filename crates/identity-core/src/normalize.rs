//! Normalisation of identifiers and addresses (SPEC §2, "Normalisation").
//!
//! Lookups and uniqueness compare normalised values, so two spellings of one
//! address (`"  Foo@EXAMPLE.com "`, `"foo\u{200b}@example.com"`) can never
//! belong to two identities.

use icu_properties::props::DefaultIgnorableCodePoint;
use icu_properties::{CodePointSetData, CodePointSetDataBorrowed};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::model::{AddressVia, CredentialType};

/// Whether a character is invisible or blank and so must not tell two
/// identifiers apart: every Default_Ignorable_Code_Point (zero-width space
/// and joiners, soft hyphen, BOM, word joiner, bidi controls, combining
/// grapheme joiner, variation selectors, Hangul fillers, tag characters,
/// ...), every other format control (general category `Cf`), and the
/// braille pattern blank U+2800, which renders as a space but is a letter.
fn is_invisible(c: char) -> bool {
    DEFAULT_IGNORABLE.contains(c)
        || matches!(
            c,
            '\u{2800}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
        || c.general_category() == GeneralCategory::Format
}

/// Unicode's Default_Ignorable_Code_Point, from ICU4X's compiled data.
const DEFAULT_IGNORABLE: CodePointSetDataBorrowed<'static> =
    CodePointSetData::new::<DefaultIgnorableCodePoint>();

/// Trim, NFKC (which also folds full- and half-width forms), drop invisible
/// characters, lowercase.
fn fold(value: &str) -> String {
    // ASCII is already NFKC and holds no invisible characters: trimming and
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

/// Appends [`fold`]'s result to `out`: the ASCII case (almost every value)
/// is written in place, without a string of its own.
pub(crate) fn fold_into(value: &str, out: &mut String) {
    if value.is_ascii() {
        // `str::trim` on ASCII: the ASCII characters with Unicode's
        // White_Space property are tab to carriage return, and space.
        let bytes = value.as_bytes();
        let blank = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
        let from = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
        let to = bytes
            .iter()
            .rposition(|b| !blank(b))
            .map_or(from, |i| i + 1);
        let start = out.len();
        out.push_str(&value[from..to]);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&fold(value));
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
/// The rule is the `phonenumber` crate's: NFKC, invisible characters
/// dropped, trimmed, then `phonenumber::parse(None, ..)`, `is_valid` and
/// E.164 formatting. The common form (ASCII `+` and digits, with spaces,
/// hyphens, dots or parentheses) takes a fast path that runs the same
/// steps on the crate's metadata with patterns compiled once, at a few
/// percent of the parse's cost; everything else is parsed in full. A
/// differential test holds the two to the same answer on every input of a
/// seeded corpus, and a second one compares this function with Python's
/// `phonenumbers` (libphonenumber) on generated vectors: they agree except
/// where the crate's parser itself departs from libphonenumber, listed in
/// `tests/it/phone.rs`.
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
    crate::phone::e164(value).unwrap_or_else(|| phone_full(value))
}

/// [`phone`] without its fast path (and without its cache): the full parse
/// alone. Exposed for the differential test of the fast path.
#[doc(hidden)]
pub fn phone_full(value: &str) -> Option<String> {
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

/// The fast path of [`phone`] alone: `None` for an input it leaves to the
/// full parse, else its answer. Exposed for the differential test.
#[doc(hidden)]
pub fn phone_fast(value: &str) -> Option<Option<String>> {
    crate::phone::e164(value)
}

/// Normalises a username-like identifier: trim, NFKC, drop invisible
/// characters, lowercase.
pub fn username(value: &str) -> String {
    fold(value)
}

/// Normalises a `password`, `webauthn` or `code` identifier the way the
/// schema extension does: the value is folded first (trim, NFKC, which
/// turns a fullwidth `＋` into `+`, invisible characters dropped,
/// lowercase); a folded value with a leading `+` that parses as a phone
/// number becomes E.164, everything else stays folded.
///
/// ```
/// use identity_core::normalize::identifier_like;
/// assert_eq!(identifier_like("\u{ff0b}1 650 253 0000"), "+16502530000");
/// assert_eq!(identifier_like("alice\u{034f}"), "alice");
/// assert_eq!(identifier_like("Ada@Example.com"), "ada@example.com");
/// ```
pub fn identifier_like(value: &str) -> String {
    let folded = fold(value);
    if folded.starts_with('+')
        && let Some(e164) = phone(&folded)
    {
        return e164;
    }
    folded
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

    /// The in-place fold trims exactly what `str::trim` does, for every
    /// ASCII byte on either side, and lowercases the rest.
    #[test]
    fn fold_into_is_fold_on_ascii() {
        for b in 0..=127u8 {
            let c = char::from(b);
            for value in [
                format!("{c}A.b@X{c}"),
                format!("{c}{c}Q{c}"),
                format!("{c}"),
                format!("{c}{c}"),
            ] {
                let mut out = String::from("kept|");
                fold_into(&value, &mut out);
                assert_eq!(
                    out,
                    format!("kept|{}", value.trim().to_ascii_lowercase()),
                    "{value:?}"
                );
                assert_eq!(out["kept|".len()..], fold(&value), "{value:?}");
            }
        }
        let mut out = String::new();
        fold_into(" \u{b}\tMiXeD Case\r\n", &mut out);
        assert_eq!(out, "mixed case");
    }

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
    fn look_alikes_fold_to_one_identifier() {
        for look_alike in [
            "alice\u{034f}",  // combining grapheme joiner
            "ali\u{fe0f}ce",  // variation selector 16
            "alice\u{e0100}", // variation selector 17
            "\u{3164}alice",  // Hangul filler
            "alice\u{115f}",  // Hangul choseong filler
            "alice\u{ffa0}",  // halfwidth Hangul filler
            "alice\u{2800}",  // braille pattern blank
            "al\u{200b}ice",  // zero-width space
            "alice\u{e0041}", // tag latin capital A
            "\u{ff41}lice",   // fullwidth a
        ] {
            assert_eq!(identifier_like(look_alike), "alice", "{look_alike:?}");
        }
        assert_eq!(identifier_like("\u{ff0b}1 650 253 0000"), "+16502530000");
        assert_eq!(
            identifier_like(
                "\u{ff0b}\u{ff11}\u{ff16}\u{ff15}\u{ff10}\u{ff12}\u{ff15}\u{ff13}\u{ff10}\u{ff10}\u{ff10}\u{ff10}"
            ),
            "+16502530000"
        );
        assert_eq!(identifier_like(" +1 650 253 0000\u{200b}"), "+16502530000");
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
