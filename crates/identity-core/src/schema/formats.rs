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
/// use identity_core::is_valid_email;
/// assert!(is_valid_email("ada@example.com"));
/// assert!(!is_valid_email("not-an-email"));
/// assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(65))));
/// ```
pub fn is_valid_email(value: &str) -> bool {
    if value.len() > EMAIL_MAX_LEN {
        return false;
    }
    if is_plain_email(value) {
        return true;
    }
    // Without an `@` the stock rule has no local part and no domain to
    // split: it rejects, and need not be asked.
    match value.rfind('@') {
        None => false,
        Some(at) if at > EMAIL_LOCAL_MAX_LEN => false,
        Some(_) => stock_email_rule(value),
    }
}

/// The stock rule alone (the `jsonschema` crate's `email` format), without
/// the fast path. Exposed for the differential test of [`is_valid_email`].
#[doc(hidden)]
pub fn stock_email_rule(value: &str) -> bool {
    stock_email().is_valid(&Value::String(value.to_owned()))
}

/// The fast path of [`is_valid_email`]: `true` only for the plain form
/// almost every real address has, which the stock rule accepts too; `false`
/// means "not plain", and the stock rule decides.
///
/// Plain is ASCII `local@domain` with exactly one `@`, where the local part
/// is 1 to 64 bytes of dot-separated, non-empty runs of RFC 5322 `atext`,
/// and the domain is 1 to 253 bytes of dot-separated labels of 1 to 63
/// letters, digits and hyphens that start and end with a letter or digit
/// and have no `--` in their third and fourth places (the A-label marker,
/// which the stock rule decodes as Punycode). Quoted local parts, comments,
/// display names, domain literals and non-ASCII are all left to the stock
/// rule.
fn is_plain_email(value: &str) -> bool {
    let bytes = value.as_bytes();
    // The local part: dot-separated, non-empty runs of `atext`, each found
    // by a tight scan for the first byte that is not `atext`.
    let mut at = 0;
    loop {
        let Some(run) = bytes[at..]
            .iter()
            .position(|&b| CLASS[usize::from(b)] & ATEXT == 0)
        else {
            return false;
        };
        if run == 0 {
            return false;
        }
        at += run;
        match bytes[at] {
            b'.' => at += 1,
            b'@' => break,
            _ => return false,
        }
    }
    if at > EMAIL_LOCAL_MAX_LEN {
        return false;
    }
    // The domain: labels of 1 to 63 letters, digits and hyphens that start
    // and end with a letter or digit, without `--` in their third and
    // fourth places (the A-label marker).
    let mut rest = &bytes[at + 1..];
    if rest.is_empty() || rest.len() > 253 {
        return false;
    }
    loop {
        let len = rest
            .iter()
            .position(|&b| CLASS[usize::from(b)] & LDH == 0)
            .unwrap_or(rest.len());
        let label = &rest[..len];
        match (label.first(), label.last()) {
            (Some(&first), Some(&last))
                if len <= 63
                    && first != b'-'
                    && last != b'-'
                    && label.get(2..4) != Some(b"--".as_slice()) => {}
            _ => return false,
        }
        match rest.get(len) {
            None => return true,
            Some(b'.') => rest = &rest[len + 1..],
            Some(_) => return false,
        }
    }
}

const ATEXT: u8 = 1;
const LDH: u8 = 2;

/// Byte classes: `ATEXT` for RFC 5322 `atext` (ASCII letters, digits and
/// ``!#$%&'*+-/=?^_`{|}~``), `LDH` for letters, digits and `-`.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = ATEXT | LDH;
        }
        b += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        table[specials[i] as usize] |= ATEXT;
        i += 1;
    }
    table[b'-' as usize] |= LDH;
    table
};

/// The `tel` format: a phone number that parses and is valid in E.164 form.
pub fn is_valid_tel(value: &str) -> bool {
    crate::normalize::phone(value).is_some()
}

/// The `uuid` format (RFC 4122 hyphenated form), asserted under every draft.
pub(super) fn is_valid_uuid(value: &str) -> bool {
    value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain form checked label by label, as `is_plain_email` did before
    /// it checked the domain in one pass: the reference for the test below.
    fn is_plain_email_by_labels(value: &str) -> bool {
        let bytes = value.as_bytes();
        let mut i = 0;
        let mut after_dot = true;
        loop {
            let Some(&b) = bytes.get(i) else { return false };
            match b {
                b'@' => break,
                b'.' if after_dot => return false,
                b'.' => after_dot = true,
                _ if CLASS[usize::from(b)] & ATEXT != 0 => after_dot = false,
                _ => return false,
            }
            i += 1;
        }
        if after_dot || i > EMAIL_LOCAL_MAX_LEN {
            return false;
        }
        let domain = &bytes[i + 1..];
        if domain.is_empty() || domain.len() > 253 {
            return false;
        }
        domain.split(|&b| b == b'.').all(is_plain_label)
    }

    /// A host name label of letters, digits and inner hyphens, not an A-label.
    fn is_plain_label(label: &[u8]) -> bool {
        let (Some(first), Some(last)) = (label.first(), label.last()) else {
            return false;
        };
        label.len() <= 63
            && first.is_ascii_alphanumeric()
            && last.is_ascii_alphanumeric()
            && label.iter().all(|&b| CLASS[usize::from(b)] & LDH != 0)
            && label.get(2..4) != Some(b"--".as_slice())
    }

    /// Every string of up to 8 bytes over an alphabet of the bytes that
    /// matter, and long labels and local parts around their limits.
    #[test]
    fn one_pass_agrees_with_label_by_label() {
        let alphabet = b"a1-.@_";
        let mut checked = 0;
        for len in 0..=8u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut s = String::new();
                for _ in 0..len {
                    s.push(char::from(alphabet[n % alphabet.len()]));
                    n /= alphabet.len();
                }
                assert_eq!(is_plain_email(&s), is_plain_email_by_labels(&s), "{s:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 2_015_539);
        for local in [1, 63, 64, 65] {
            for label in [1, 2, 3, 4, 62, 63, 64] {
                for tail in ["", "-", "a", ".b", ".", "--x"] {
                    let s = format!("{}@{}{tail}", "l".repeat(local), "d".repeat(label));
                    assert_eq!(is_plain_email(&s), is_plain_email_by_labels(&s), "{s:?}");
                    let s = format!("a@x.{}{tail}.yz", "d".repeat(label));
                    assert_eq!(is_plain_email(&s), is_plain_email_by_labels(&s), "{s:?}");
                }
            }
        }
        let long_domain = format!("a@{}", vec!["d".repeat(63); 4].join("."));
        assert_eq!(long_domain.len() - 2, 255);
        assert!(!is_plain_email(&long_domain));
        assert!(is_plain_email("ab--c@x.example"));
        assert!(!is_plain_email("a@xn--c.example"));
        assert!(is_plain_email("a@x-n-c.example"));
    }
}
