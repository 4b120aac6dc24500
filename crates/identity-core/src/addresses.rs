//! Reconciliation of verifiable and recovery addresses with what the traits
//! derive (SPEC §3).

use crate::model::{AddressVia, RecoveryAddress, VerifiableAddress, VerificationStatus};
use crate::normalize;
use crate::schema::DerivedAddress;
use crate::time::{IdGenerator, Timestamp};

/// Whether `normalize::address(via, stored) == derived`. An email address
/// stored exactly as derived, in plain ASCII, already lowercase and with
/// no blank at either end, is one that normalising leaves as it is (ASCII
/// is folded by trimming and lowercasing alone): answered without the copy
/// normalising makes, as it is for the stored addresses of almost every
/// write.
fn normalizes_to(via: AddressVia, stored: &str, derived: &str) -> bool {
    if via == AddressVia::Email && stored == derived && is_folded_ascii(derived) {
        return true;
    }
    normalize::address(via, stored) == derived
}

/// Whether ASCII folding (trim, lowercase) leaves `value` as it is: ASCII
/// without an uppercase letter, and no blank at either end.
fn is_folded_ascii(value: &str) -> bool {
    let bytes = value.as_bytes();
    let blank = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    !bytes.first().is_some_and(blank)
        && !bytes.last().is_some_and(blank)
        && is_ascii_without_uppercase(bytes)
}

/// Whether every byte is ASCII and none an uppercase letter: eight bytes
/// at a time (this runs on every stored address of every write). In a
/// word of ASCII bytes, adding `0x3f` to each sets its high bit exactly
/// when it is `A` (`0x41`) or above, and adding `0x25` exactly when it is
/// above `Z` (`0x5a`); neither sum carries into the next byte.
fn is_ascii_without_uppercase(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let w = u64::from_ne_bytes(eight);
        if w & HIGHS != 0 {
            return false;
        }
        let from_a = w + ONES * 0x3f;
        let past_z = w + ONES * 0x25;
        if from_a & !past_z & HIGHS != 0 {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// The verifiable addresses an identity has after its traits derived
/// `derived`: an existing (or imported) address with the same channel and
/// the same normalised value is kept with its id, verification state and
/// `created_at`; a new one starts `pending`; the rest are dropped. The result
/// follows the order of `derived`.
pub fn reconcile_verifiable<'a>(
    derived: impl IntoIterator<Item = DerivedAddress<'a>>,
    existing: &[VerifiableAddress],
    now: Timestamp,
    ids: &dyn IdGenerator,
) -> Vec<VerifiableAddress> {
    derived
        .into_iter()
        .map(|d| {
            let found = existing
                .iter()
                .find(|a| a.via == d.via && normalizes_to(a.via, &a.value, d.value));
            match found {
                Some(a) => {
                    let mut kept = a.clone();
                    if kept.value != d.value {
                        d.value.clone_into(&mut kept.value);
                        kept.updated_at = now;
                    }
                    kept
                }
                None => VerifiableAddress {
                    id: ids.new_id(),
                    value: d.value.to_owned(),
                    verified: false,
                    via: d.via,
                    status: VerificationStatus::Pending,
                    verified_at: None,
                    created_at: now,
                    updated_at: now,
                },
            }
        })
        .collect()
}

/// The recovery addresses after the traits derived `derived`, by the same
/// rule as [`reconcile_verifiable`].
pub fn reconcile_recovery<'a>(
    derived: impl IntoIterator<Item = DerivedAddress<'a>>,
    existing: &[RecoveryAddress],
    now: Timestamp,
    ids: &dyn IdGenerator,
) -> Vec<RecoveryAddress> {
    derived
        .into_iter()
        .map(|d| {
            let found = existing
                .iter()
                .find(|a| a.via == d.via && normalizes_to(a.via, &a.value, d.value));
            match found {
                Some(a) => {
                    let mut kept = a.clone();
                    if kept.value != d.value {
                        d.value.clone_into(&mut kept.value);
                        kept.updated_at = now;
                    }
                    kept
                }
                None => RecoveryAddress {
                    id: ids.new_id(),
                    value: d.value.to_owned(),
                    via: d.via,
                    created_at: now,
                    updated_at: now,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time test answers the byte-by-byte one, for every
    /// string of up to 11 bytes over bytes around the letters' bounds
    /// (placed at every position of both words and the remainder), and
    /// every byte value in each position of a 9-byte string.
    #[test]
    fn ascii_without_uppercase_is_the_bytewise_rule() {
        let plain = |b: &[u8]| b.iter().all(|b| b.is_ascii() && !b.is_ascii_uppercase());
        let alphabet = [
            b'@', b'A', b'Z', b'[', b'`', b'a', b'z', 0x7f, 0x80, 0xff, 0,
        ];
        for len in 0..=11usize {
            for seed in 0..alphabet.len().pow(2) {
                // Two bytes from the alphabet at every pair of positions,
                // the rest plain lowercase.
                for (i, j) in (0..len).flat_map(|i| (0..len).map(move |j| (i, j))) {
                    let mut bytes = vec![b'm'; len];
                    bytes[i] = alphabet[seed % alphabet.len()];
                    bytes[j] = alphabet[seed / alphabet.len()];
                    assert_eq!(
                        is_ascii_without_uppercase(&bytes),
                        plain(&bytes),
                        "{bytes:?}"
                    );
                }
            }
        }
        for at in 0..9 {
            for b in 0..=255u8 {
                let mut bytes = *b"abcdefghi";
                bytes[at] = b;
                assert_eq!(
                    is_ascii_without_uppercase(&bytes),
                    plain(&bytes),
                    "{bytes:?}"
                );
            }
        }
        assert!(is_ascii_without_uppercase(b""));
        assert!(is_ascii_without_uppercase(b"user0@example.com"));
        assert!(!is_ascii_without_uppercase(b"user0@example.coM"));
        assert!(!is_ascii_without_uppercase(b"User0@example.com"));
    }

    /// The shortcut answers what normalising answers, on values it takes
    /// and on values it leaves to normalising.
    #[test]
    fn normalizes_to_agrees_with_normalising() {
        let cases = [
            (AddressVia::Email, "a@x.org", "a@x.org", true),
            (AddressVia::Email, "A@x.org", "a@x.org", true),
            (AddressVia::Email, " a@x.org\t", "a@x.org", true),
            (AddressVia::Email, "A@x.org", "A@x.org", false),
            (AddressVia::Email, " a@x.org", " a@x.org", false),
            (AddressVia::Email, "a@x.org\n", "a@x.org\n", false),
            (AddressVia::Email, "b@x.org", "a@x.org", false),
            (AddressVia::Email, "\u{ff21}@x.org", "a@x.org", true),
            (AddressVia::Email, "", "", true),
            (AddressVia::Sms, "+1 650 253 0000", "+16502530000", true),
            (AddressVia::Sms, "+16502530000", "+16502530000", true),
        ];
        for (via, stored, derived, answer) in cases {
            assert_eq!(
                normalize::address(via, stored) == derived,
                answer,
                "{stored:?} {derived:?}"
            );
            assert_eq!(
                normalizes_to(via, stored, derived),
                answer,
                "{stored:?} {derived:?}"
            );
        }
    }
}
