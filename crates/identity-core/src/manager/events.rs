//! Events the manager emits after a write commits.

use std::fmt::Debug;

use uuid::Uuid;

use crate::model::{Identity, State, TenantId};

/// What happened to an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It was created.
    Created,
    /// It was updated (PUT or PATCH).
    Updated,
    /// It was deleted.
    Deleted,
}

/// One committed change. It names fields, never their values: no traits or
/// secrets travel in events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEvent {
    /// Created, updated or deleted.
    pub kind: EventKind,
    /// The tenant.
    pub tenant: TenantId,
    /// The identity.
    pub id: Uuid,
    /// The top-level fields whose value changed (every present field on
    /// create, none on delete).
    pub changed_fields: Vec<&'static str>,
    /// The version before (none on create).
    pub old_version: Option<u64>,
    /// The version after (none on delete).
    pub new_version: Option<u64>,
    /// The state after the write (the last state on delete), so a server can
    /// revoke sessions when an identity turns inactive.
    pub state: State,
}

/// Receives events after commit. Implementations must be quick (queue the
/// work) and must not fail the write: the change is already stored.
pub trait EventSink: Send + Sync + Debug + 'static {
    /// Called once per committed write.
    fn identity_event(&self, event: &IdentityEvent);
}

/// The top-level fields that differ between two versions of an identity.
pub(crate) fn changed_fields(old: Option<&Identity>, new: &Identity) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(old) = old else {
        out.extend(["schema_id", "state", "traits"]);
        if !new.credentials.is_empty() {
            out.push("credentials");
        }
        if !new.verifiable_addresses.is_empty() {
            out.push("verifiable_addresses");
        }
        if !new.recovery_addresses.is_empty() {
            out.push("recovery_addresses");
        }
        if new.metadata_public.is_some() {
            out.push("metadata_public");
        }
        if new.metadata_admin.is_some() {
            out.push("metadata_admin");
        }
        if new.organization_id.is_some() {
            out.push("organization_id");
        }
        if new.external_id.is_some() {
            out.push("external_id");
        }
        return out;
    };
    let checks: [(&'static str, bool); 10] = [
        ("schema_id", old.schema_id != new.schema_id),
        ("state", old.state != new.state),
        ("traits", old.traits != new.traits),
        ("credentials", old.credentials != new.credentials),
        (
            "verifiable_addresses",
            old.verifiable_addresses != new.verifiable_addresses,
        ),
        (
            "recovery_addresses",
            old.recovery_addresses != new.recovery_addresses,
        ),
        (
            "metadata_public",
            old.metadata_public != new.metadata_public,
        ),
        ("metadata_admin", old.metadata_admin != new.metadata_admin),
        (
            "organization_id",
            old.organization_id != new.organization_id,
        ),
        ("external_id", old.external_id != new.external_id),
    ];
    out.extend(
        checks
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(name, _)| name),
    );
    out
}
