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

/// Whether ASCII folding (trim, lowercase) leaves `value` as it is.
fn is_folded_ascii(value: &str) -> bool {
    let bytes = value.as_bytes();
    let blank = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    value.is_ascii()
        && !bytes.iter().any(u8::is_ascii_uppercase)
        && !bytes.first().is_some_and(blank)
        && !bytes.last().is_some_and(blank)
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
