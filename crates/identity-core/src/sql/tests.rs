use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::model::{CredentialConfig, VerificationStatus};
use crate::time::Timestamp;

fn at(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).expect("in range")
}

fn identity() -> Identity {
    Identity {
        id: Uuid::from_u128(1),
        schema_id: "default".into(),
        state: Default::default(),
        state_changed_at: None,
        traits: json!({}),
        credentials: Default::default(),
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        metadata_public: None,
        metadata_admin: None,
        organization_id: None,
        external_id: None,
        created_at: at(0),
        updated_at: at(0),
        version: 1,
    }
}

fn credential(kind: CredentialType, identifiers: &[&str], version: i64) -> Credential {
    Credential {
        kind,
        identifiers: identifiers.iter().map(|s| (*s).to_owned()).collect(),
        config: CredentialConfig::new(json!({})),
        version,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn verifiable(id: u128, via: AddressVia, value: &str, verified: bool) -> VerifiableAddress {
    VerifiableAddress {
        id: Uuid::from_u128(id),
        value: value.to_owned(),
        verified,
        via,
        status: VerificationStatus::Pending,
        verified_at: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn recovery(id: u128, via: AddressVia, value: &str) -> RecoveryAddress {
    RecoveryAddress {
        id: Uuid::from_u128(id),
        value: value.to_owned(),
        via,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn valid(identity: Identity) -> ValidIdentity {
    ValidIdentity::new(identity).expect("valid")
}

/// The child rows of an identity as a SQL store holds them, each table
/// keyed by its unique key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rows {
    credentials: BTreeMap<CredentialType, Credential>,
    identifiers: BTreeMap<(CredentialType, String), usize>,
    verifiable: BTreeMap<(AddressVia, String), (VerifiableAddress, usize)>,
    recovery: BTreeMap<(AddressVia, String), (RecoveryAddress, usize)>,
}

impl Rows {
    fn of(i: &Identity) -> Rows {
        let mut rows = Rows::default();
        for (kind, c) in &i.credentials {
            let mut row = c.clone();
            row.identifiers.clear();
            rows.credentials.insert(*kind, row);
            for (p, id) in c.identifiers.iter().enumerate() {
                rows.identifiers.insert((*kind, id.clone()), p);
            }
        }
        for (p, a) in i.verifiable_addresses.iter().enumerate() {
            rows.verifiable
                .insert((a.via, a.value.clone()), (a.clone(), p));
        }
        for (p, a) in i.recovery_addresses.iter().enumerate() {
            rows.recovery
                .insert((a.via, a.value.clone()), (a.clone(), p));
        }
        rows
    }
}

/// A unique index: an insert of a key already present fails.
fn insert<K: Ord, V>(table: &mut BTreeMap<K, V>, key: K, value: V) -> Result<(), String> {
    if table.contains_key(&key) {
        return Err("an insert tripped a unique index".into());
    }
    table.insert(key, value);
    Ok(())
}

/// A change in place must find its row (by its unique key).
fn change<K: Ord, V>(table: &mut BTreeMap<K, V>, key: K, value: V) -> Result<(), String> {
    match table.get_mut(&key) {
        Some(slot) => {
            *slot = value;
            Ok(())
        }
        None => Err("a change found no row".into()),
    }
}

/// Runs the plan step by step in its order, as a store with one unique
/// index per table would, and with cascading credential deletes.
fn apply(rows: &mut Rows, plan: &ChildRowPlan<'_>) -> Result<(), String> {
    for (kind, identifier) in &plan.deleted_identifiers {
        rows.identifiers.remove(&(*kind, (*identifier).to_owned()));
    }
    for kind in &plan.deleted_credentials {
        rows.credentials.remove(kind);
        rows.identifiers.retain(|(k, _), _| k != kind);
    }
    for (via, value) in &plan.deleted_verifiable {
        rows.verifiable.remove(&(*via, (*value).to_owned()));
    }
    for (via, value) in &plan.deleted_recovery {
        rows.recovery.remove(&(*via, (*value).to_owned()));
    }
    for c in &plan.changed_credentials {
        let mut row = (*c).clone();
        row.identifiers.clear();
        change(&mut rows.credentials, c.kind, row)?;
    }
    for (kind, identifier, p) in &plan.moved_identifiers {
        change(&mut rows.identifiers, (*kind, (*identifier).to_owned()), *p)?;
    }
    for (a, p) in &plan.changed_verifiable {
        let key = (a.via, a.value.clone());
        change(&mut rows.verifiable, key, ((*a).clone(), *p))?;
    }
    for (a, p) in &plan.changed_recovery {
        let key = (a.via, a.value.clone());
        change(&mut rows.recovery, key, ((*a).clone(), *p))?;
    }
    for c in &plan.new_credentials {
        let mut row = (*c).clone();
        row.identifiers.clear();
        insert(&mut rows.credentials, c.kind, row)?;
    }
    for (kind, identifier, p) in &plan.new_identifiers {
        if !rows.credentials.contains_key(kind) {
            return Err("an identifier without its credential".into());
        }
        insert(&mut rows.identifiers, (*kind, (*identifier).to_owned()), *p)?;
    }
    for (a, p) in &plan.new_verifiable {
        let key = (a.via, a.value.clone());
        insert(&mut rows.verifiable, key, ((*a).clone(), *p))?;
    }
    for (a, p) in &plan.new_recovery {
        let key = (a.via, a.value.clone());
        insert(&mut rows.recovery, key, ((*a).clone(), *p))?;
    }
    Ok(())
}

#[test]
fn swapping_values_between_rows_deletes_first() {
    let mut old = identity();
    old.credentials.insert(
        CredentialType::Password,
        credential(CredentialType::Password, &["a", "b"], 0),
    );
    old.verifiable_addresses = vec![
        verifiable(1, AddressVia::Email, "a@x", true),
        verifiable(2, AddressVia::Email, "b@x", false),
    ];
    old.recovery_addresses = vec![recovery(3, AddressVia::Email, "a@x")];
    // The two addresses swap ids, the identifiers swap places, the
    // recovery address gets a new id.
    let mut new = old.clone();
    if let Some(c) = new.credentials.get_mut(&CredentialType::Password) {
        c.identifiers.reverse();
    }
    new.verifiable_addresses = vec![
        verifiable(2, AddressVia::Email, "a@x", true),
        verifiable(1, AddressVia::Email, "b@x", false),
    ];
    new.recovery_addresses = vec![recovery(4, AddressVia::Email, "a@x")];
    let next = valid(new.clone());
    let plan = ChildRowPlan::new(&old, &next);
    assert_eq!(
        plan.moved_identifiers,
        vec![
            (CredentialType::Password, "b", 0),
            (CredentialType::Password, "a", 1)
        ]
    );
    assert_eq!(
        plan.deleted_verifiable,
        vec![(AddressVia::Email, "a@x"), (AddressVia::Email, "b@x")]
    );
    assert_eq!(plan.new_verifiable.len(), 2);
    assert_eq!(plan.deleted_recovery, vec![(AddressVia::Email, "a@x")]);
    assert!(plan.new_credentials.is_empty() && plan.changed_credentials.is_empty());
    let mut rows = Rows::of(&old);
    apply(&mut rows, &plan).expect("no collision");
    assert_eq!(rows, Rows::of(&new));
}

#[test]
fn an_unchanged_identity_plans_nothing() {
    let mut old = identity();
    old.credentials.insert(
        CredentialType::Oidc,
        credential(CredentialType::Oidc, &["g:1"], 0),
    );
    old.verifiable_addresses = vec![verifiable(1, AddressVia::Sms, "+1", false)];
    let next = valid(old.clone());
    assert!(ChildRowPlan::new(&old, &next).is_empty());
}

#[test]
fn a_deleted_credential_lists_its_identifiers_first() {
    let mut old = identity();
    old.credentials.insert(
        CredentialType::Password,
        credential(CredentialType::Password, &["a"], 0),
    );
    let next = valid(identity());
    let plan = ChildRowPlan::new(&old, &next);
    assert_eq!(
        plan.deleted_identifiers,
        vec![(CredentialType::Password, "a")]
    );
    assert_eq!(plan.deleted_credentials, vec![CredentialType::Password]);
}

#[test]
fn conflicts_name_the_id_first_on_create_only() {
    let mut i = identity();
    i.external_id = Some(crate::model::ExternalId::new("e").expect("id"));
    i.recovery_addresses = vec![recovery(1, AddressVia::Email, "a@x")];
    let v = valid(i);
    let create = conflict_candidates(&v, WriteOp::Create);
    assert_eq!(create[0], ConflictField::Id);
    assert_eq!(&create[1..], v.unique_keys());
    assert_eq!(conflict_candidates(&v, WriteOp::Update), v.unique_keys());
    assert_eq!(
        UniqueIndex::RecoveryAddress.backstop(&v),
        Some(ConflictField::RecoveryAddress(
            AddressVia::Email,
            "a@x".into()
        ))
    );
    assert_eq!(
        UniqueIndex::ExternalId.backstop(&v),
        Some(ConflictField::ExternalId("e".into()))
    );
    assert_eq!(
        UniqueIndex::IdentityId.backstop(&v),
        Some(ConflictField::Id)
    );
    assert_eq!(UniqueIndex::VerifiableAddress.backstop(&v), None);
    for key in v.unique_keys() {
        assert_eq!(UniqueIndex::of(key).backstop(&v).as_ref(), Some(key));
    }
}

#[test]
fn prefix_bounds() {
    assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
    assert_eq!(prefix_upper_bound("").as_deref(), None);
    assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_upper_bound("\u{10FFFF}").as_deref(), None);
    assert_eq!(
        prefix_upper_bound("x\u{D7FF}").as_deref(),
        Some("x\u{E000}")
    );
    // Everything with the prefix sorts below the bound, byte-wise too.
    let bound = prefix_upper_bound("ab").unwrap_or_default();
    for s in ["ab", "ab\u{10FFFF}\u{10FFFF}", "abzzz"] {
        assert!(s.as_bytes() < bound.as_bytes(), "{s:?}");
    }
    assert!("ac".as_bytes() >= bound.as_bytes());
}

const KINDS: [CredentialType; 3] = [
    CredentialType::Password,
    CredentialType::Oidc,
    CredentialType::Totp,
];
const VALUES: [&str; 4] = ["a", "b", "c", "d"];
const VIAS: [AddressVia; 2] = [AddressVia::Email, AddressVia::Sms];

/// A few distinct values of a small pool, in a random order.
fn distinct<T: Clone + std::fmt::Debug + 'static>(pool: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    let n = pool.len();
    Just(pool)
        .prop_shuffle()
        .prop_flat_map(move |p| (Just(p), 0..=n))
        .prop_map(|(p, k)| p.into_iter().take(k).collect())
}

fn arb_identity() -> impl Strategy<Value = Identity> {
    let credentials = proptest::collection::vec(
        (any::<bool>(), distinct(VALUES.to_vec()), 0..2i64),
        KINDS.len(),
    );
    let pairs: Vec<(AddressVia, &str)> = VIAS
        .iter()
        .flat_map(|v| VALUES.iter().map(move |s| (*v, *s)))
        .collect();
    let ids: Vec<u128> = (1..=5).collect();
    let verifiable_rows = (
        distinct(pairs.clone()),
        distinct(ids.clone()),
        proptest::collection::vec(any::<bool>(), 8),
    );
    let recovery_rows = (distinct(pairs), distinct(ids));
    (credentials, verifiable_rows, recovery_rows).prop_map(|(creds, (vp, vi, flags), (rp, ri))| {
        let mut i = identity();
        for (kind, (present, identifiers, version)) in KINDS.iter().zip(creds) {
            if present {
                i.credentials
                    .insert(*kind, credential(*kind, &identifiers, version));
            }
        }
        i.verifiable_addresses = vp
            .iter()
            .zip(&vi)
            .zip(&flags)
            .map(|(((via, value), id), verified)| verifiable(*id, *via, value, *verified))
            .collect();
        i.recovery_addresses = rp
            .iter()
            .zip(&ri)
            .map(|((via, value), id)| recovery(*id, *via, value))
            .collect();
        i
    })
}

/// Every unique key a set of rows holds, each once (the tables are keyed
/// by them, so a duplicate would have failed the insert).
fn keys(rows: &Rows) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (k, v) in rows.identifiers.keys() {
        out.insert(format!("i {k} {v}"));
    }
    for (via, v) in rows.verifiable.keys() {
        out.insert(format!("v {via:?} {v}"));
    }
    for (via, v) in rows.recovery.keys() {
        out.insert(format!("r {via:?} {v}"));
    }
    out
}

proptest! {
    /// Applying the plan to the old rows, step by step under unique
    /// indexes, never trips one and yields exactly the new rows.
    #[test]
    fn the_plan_turns_old_rows_into_new_ones(old in arb_identity(), new in arb_identity()) {
        let next = valid(new.clone());
        let plan = ChildRowPlan::new(&old, &next);
        let mut rows = Rows::of(&old);
        prop_assert_eq!(apply(&mut rows, &plan), Ok(()));
        prop_assert_eq!(&rows, &Rows::of(&new));
        prop_assert_eq!(keys(&rows).len(), next.unique_keys().len());
        // Planning a version against itself changes nothing.
        let same = ChildRowPlan::new(&new, &next);
        prop_assert!(same.is_empty(), "{:?}", same);
    }
}
