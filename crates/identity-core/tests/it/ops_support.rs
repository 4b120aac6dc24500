//! A manager over the memory store with a fixed clock and sequential ids.

use std::sync::Arc;

use identity_core::password::PasswordHasher;
use identity_core::{Change, PageSize};
use identity_core::{
    CreateIdentityBody, CredentialInclude, FixedClock, Identity, IdentityManager, SchemaRegistry,
    SequentialIds, TenantId, Timestamp,
};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::shared_registry;

pub(crate) const T0: &str = "2026-11-27T10:00:00.000000Z";
pub(crate) const T1: &str = "2026-11-27T10:00:01.000000Z";
pub(crate) const TENANT: TenantId = TenantId::DEFAULT;

pub(crate) struct Env {
    pub manager: IdentityManager,
    pub clock: Arc<FixedClock>,
}

pub(crate) fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

pub(crate) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("timestamp")
}

/// The shared schemas plus `two-emails` (primary and secondary, both
/// verifiable) and `org` (an email with organisations).
pub(crate) fn registry() -> SchemaRegistry {
    let mut r = shared_registry();
    let mail = json!({"type": "string", "format": "email", "ory.sh/kratos": {
        "credentials": {"password": {"identifier": true}},
        "verification": {"via": "email"}}});
    r.register(
        "two-emails",
        json!({"properties": {"traits": {"type": "object",
            "properties": {"primary": mail, "secondary": mail}}}}),
    )
    .expect("two-emails");
    r
}

pub(crate) fn env() -> Env {
    let clock = Arc::new(FixedClock::new(ts(T0)));
    let manager = IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .clock(clock.clone())
        .ids(Arc::new(SequentialIds::new()))
        .build();
    Env { manager, clock }
}

impl Env {
    /// Every change of the tenant's feed (the tests write fewer than a
    /// page).
    pub(crate) async fn changes(&self) -> Vec<Change> {
        self.manager
            .changes(TENANT, None, PageSize::MAX)
            .await
            .expect("the feed")
            .changes
    }

    pub(crate) async fn create(&self, body: Value) -> Result<Identity, identity_core::Error> {
        self.manager
            .create(TENANT, CreateIdentityBody::from_json(body)?)
            .await
            .map(std::sync::Arc::unwrap_or_clone)
    }

    pub(crate) fn json(&self, identity: &Identity) -> Value {
        self.manager.to_json(identity, CredentialInclude::None)
    }

    pub(crate) fn admin_json(&self, identity: &Identity) -> Value {
        self.manager.to_json(identity, CredentialInclude::All)
    }
}
