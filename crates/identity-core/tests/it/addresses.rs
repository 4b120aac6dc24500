//! Address reconciliation (SPEC §3).

use identity_core::DerivedAddress;
use identity_core::{
    AddressVia, RecoveryAddress, SequentialIds, Timestamp, VerifiableAddress, VerificationStatus,
};
use identity_core::{reconcile_recovery, reconcile_verifiable};
use uuid::Uuid;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("timestamp")
}

fn derived(via: AddressVia, value: &str) -> DerivedAddress<'_> {
    DerivedAddress { via, value }
}

#[test]
fn matches_keep_their_state_new_ones_are_pending_the_rest_go() {
    let then = ts("2026-01-01T00:00:00Z");
    let now = ts("2026-02-01T00:00:00Z");
    let kept_id = Uuid::from_u128(7);
    let existing = vec![
        VerifiableAddress {
            id: kept_id,
            value: "TEST@Example.com".into(),
            verified: true,
            via: AddressVia::Email,
            status: VerificationStatus::Completed,
            verified_at: Some(then),
            created_at: then,
            updated_at: then,
        },
        VerifiableAddress {
            id: Uuid::from_u128(8),
            value: "gone@example.com".into(),
            verified: true,
            via: AddressVia::Email,
            status: VerificationStatus::Completed,
            verified_at: Some(then),
            created_at: then,
            updated_at: then,
        },
    ];
    let ids = SequentialIds::new();
    let got = reconcile_verifiable(
        [
            derived(AddressVia::Sms, "+16502530000"),
            derived(AddressVia::Email, "test@example.com"),
        ],
        &existing,
        now,
        &ids,
    );
    assert_eq!(
        got,
        vec![
            VerifiableAddress {
                id: Uuid::parse_str("00000000-0000-4000-8000-000000000001").expect("uuid"),
                value: "+16502530000".into(),
                verified: false,
                via: AddressVia::Sms,
                status: VerificationStatus::Pending,
                verified_at: None,
                created_at: now,
                updated_at: now,
            },
            VerifiableAddress {
                id: kept_id,
                value: "test@example.com".into(),
                verified: true,
                via: AddressVia::Email,
                status: VerificationStatus::Completed,
                verified_at: Some(then),
                created_at: then,
                updated_at: now,
            },
        ]
    );
}

#[test]
fn same_value_on_another_channel_is_a_different_address() {
    let then = ts("2026-01-01T00:00:00Z");
    let existing = vec![RecoveryAddress {
        id: Uuid::from_u128(1),
        value: "a@b.example".into(),
        via: AddressVia::Email,
        created_at: then,
        updated_at: then,
    }];
    let ids = SequentialIds::new();
    let unchanged = reconcile_recovery(
        [derived(AddressVia::Email, "a@b.example")],
        &existing,
        then,
        &ids,
    );
    assert_eq!(unchanged, existing);
    let got = reconcile_recovery(
        [derived(AddressVia::Sms, "a@b.example")],
        &existing,
        then,
        &ids,
    );
    assert_ne!(got[0].id, Uuid::from_u128(1));
}
