//! Reconciliation of verifiable and recovery addresses with what the traits
//! derive (SPEC §3).

use crate::model::{RecoveryAddress, VerifiableAddress, VerificationStatus};
use crate::normalize;
use crate::schema::DerivedAddress;
use crate::time::{IdGenerator, Timestamp};

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
                .find(|a| a.via == d.via && normalize::address(a.via, &a.value) == d.value);
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
                .find(|a| a.via == d.via && normalize::address(a.via, &a.value) == d.value);
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
