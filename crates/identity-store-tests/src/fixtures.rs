//! Builders of consistent identities for store tests.
//!
//! Everything is deterministic: ids, address ids and timestamps derive from
//! a numeric seed, so two calls with the same arguments build equal
//! identities. Identity ids are `Uuid::from_u128(seed)`, so they sort like
//! their seeds; address ids live in a separate range and never collide with
//! identity ids or with the addresses of another seed. Timestamps have whole
//! microseconds, the precision the core keeps.

use identity_core::{
    AddressVia, Change, Credential, CredentialConfig, CredentialType, ExternalId, Identity,
    IdentityStore, PageSize, RecoveryAddress, State, TenantId, Timestamp, ValidIdentity,
    VerifiableAddress, VerificationStatus,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The tenant the checks work in.
pub const TENANT: TenantId = TenantId(Uuid::from_u128(0x7e4a_0000_0000_4000_8000_0000_0000_0001));

/// A second tenant, for isolation checks.
pub const OTHER_TENANT: TenantId =
    TenantId(Uuid::from_u128(0x7e4a_0000_0000_4000_8000_0000_0000_0002));

/// The organization of [`full_identity`].
pub const ORGANIZATION: Uuid = Uuid::from_u128(0x0e6a_0000_0000_4000_8000_0000_0000_0001);

/// The id built from `seed`; ids sort like their seeds.
pub fn id(seed: u64) -> Uuid {
    Uuid::from_u128(u128::from(seed))
}

/// The id of the `n`th address of the identity built from `seed` (`n` < 16):
/// outside the range of [`id`], and distinct for every (seed, n).
pub fn address_id(seed: u64, n: u8) -> Uuid {
    Uuid::from_u128((0xadd << 116) | (u128::from(seed) << 4) | u128::from(n & 0xf))
}

/// An email address for `seed`: `user<seed>@example.com`.
pub fn email(seed: u64) -> String {
    format!("user{seed}@example.com")
}

/// An E.164 phone number for `seed`.
pub fn phone(seed: u64) -> String {
    format!("+49151{:08}", seed % 100_000_000)
}

/// The instant `offset` microseconds after a fixed base instant
/// (2025-11-20T09:14:03.512345Z).
pub fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_micros(1_763_630_043_512_345 + offset)
        .expect("fixture timestamps are in range")
}

/// Wraps an identity for a store call (the checks vouch for consistency;
/// the core checks its unique keys and text).
pub fn valid(identity: Identity) -> ValidIdentity {
    ValidIdentity::new_for_tests(identity)
        .unwrap_or_else(|e| panic!("a fixture identity the core refuses: {e}"))
}

/// An external id (the fixtures' are valid).
pub fn ext(text: &str) -> ExternalId {
    ExternalId::new(text).unwrap_or_else(|e| panic!("a fixture external id: {e}"))
}

/// `identity` as a store returns it after a write that gave it `version`.
pub fn with_version(identity: &Identity, version: u64) -> Identity {
    let mut identity = identity.clone();
    identity.version = version;
    identity
}

/// A credential of `kind` with these identifiers and config, created and
/// updated at `at(0)`.
pub fn credential(kind: CredentialType, identifiers: &[&str], config: Value) -> Credential {
    Credential {
        kind,
        identifiers: identifiers.iter().map(|s| (*s).to_owned()).collect(),
        config: CredentialConfig::new(config),
        version: 0,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// A pending, unverified verifiable address.
pub fn verifiable_address(id: Uuid, via: AddressVia, value: &str) -> VerifiableAddress {
    VerifiableAddress {
        id,
        value: value.to_owned(),
        verified: false,
        via,
        status: VerificationStatus::Pending,
        verified_at: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// A recovery address.
pub fn recovery_address(id: Uuid, via: AddressVia, value: &str) -> RecoveryAddress {
    RecoveryAddress {
        id,
        value: value.to_owned(),
        via,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// A plain identity: traits `{"email": email}`, a password credential
/// whose identifier is `email`, one verifiable and one recovery address for
/// `email`, `metadata_admin` `{"counter": 0}`, no external id, no
/// organization, version 0 (stores assign versions).
pub fn identity(seed: u64, email: &str) -> Identity {
    let hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
    let password = credential(
        CredentialType::Password,
        &[email],
        json!({ "hashed_password": hash }),
    );
    Identity {
        id: id(seed),
        schema_id: "default".to_owned(),
        state: State::Active,
        state_changed_at: Some(at(1)),
        traits: json!({ "email": email }),
        credentials: [(CredentialType::Password, password)].into_iter().collect(),
        verifiable_addresses: vec![verifiable_address(
            address_id(seed, 0),
            AddressVia::Email,
            email,
        )],
        recovery_addresses: vec![recovery_address(
            address_id(seed, 1),
            AddressVia::Email,
            email,
        )],
        metadata_public: None,
        metadata_admin: Some(json!({ "counter": 0 })),
        organization_id: None,
        external_id: None,
        created_at: at(0),
        updated_at: at(2),
        version: 0,
    }
}

/// An identity with every field set: inactive state, nested traits with an
/// email and a phone, password, OIDC, TOTP and code credentials with
/// configs, a verified email and a pending SMS verifiable address, an email
/// recovery address, both metadata, external id `ext-<seed>`, organization
/// [`ORGANIZATION`], distinct timestamps.
pub fn full_identity(seed: u64, email: &str) -> Identity {
    let phone = phone(seed);
    let id = id(seed);
    let subject = format!("google:{seed}-subject");
    let mut i = identity(seed, email);
    i.schema_id = "customer".to_owned();
    i.state = State::Inactive;
    i.state_changed_at = Some(at(7));
    i.traits = json!({
        "email": email,
        "phone": phone,
        "name": { "first": "Zoë", "last": "O'Brien \"Jr\"" },
        "tags": ["a", "b"],
        "age": 42,
    });
    let mut oidc = credential(
        CredentialType::Oidc,
        &[&subject],
        json!({ "providers": [{ "provider": "google", "subject": subject, "initial_id_token": "" }] }),
    );
    oidc.version = 1;
    oidc.created_at = at(3);
    oidc.updated_at = at(4);
    let totp = credential(
        CredentialType::Totp,
        &[&id.to_string()],
        json!({ "totp_url": "otpauth://totp/Example:user?secret=JBSWY3DPEHPK3PXP&issuer=Example" }),
    );
    let code = credential(
        CredentialType::Code,
        &[email, &phone],
        json!({ "addresses": [{ "channel": "email", "address": email }, { "channel": "sms", "address": phone }] }),
    );
    for c in [oidc, totp, code] {
        i.credentials.insert(c.kind, c);
    }
    let mut verified = verifiable_address(address_id(seed, 0), AddressVia::Email, email);
    verified.verified = true;
    verified.status = VerificationStatus::Completed;
    verified.verified_at = Some(at(5));
    verified.updated_at = at(5);
    i.verifiable_addresses = vec![
        verified,
        verifiable_address(address_id(seed, 2), AddressVia::Sms, &phone),
    ];
    i.metadata_public = Some(json!({ "plan": "pro", "nested": { "x": [1, 2.5, null, true] } }));
    i.metadata_admin = Some(json!({ "counter": 0, "note": "ünïcödé ✓" }));
    i.organization_id = Some(ORGANIZATION);
    i.external_id = Some(ext(&format!("ext-{seed}")));
    i.created_at = at(0);
    i.updated_at = at(9);
    i
}

/// Every change of `tenant` the store keeps, read from the start by
/// following `next` in pages of [`PageSize::MAX`] until a page is empty.
///
/// # Panics
///
/// When a read fails.
pub async fn all_changes(store: &(impl IdentityStore + ?Sized), tenant: TenantId) -> Vec<Change> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .changes(tenant, after, PageSize::MAX)
            .await
            .expect("read the feed");
        if page.changes.is_empty() {
            return out;
        }
        after = Some(page.next);
        out.extend(page.changes);
    }
}
