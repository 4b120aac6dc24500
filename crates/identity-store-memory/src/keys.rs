//! One tenant's uniqueness indexes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use identity_core::{AddressVia, ConflictField, CredentialType, Error, WriteOp};
use uuid::Uuid;

/// One tenant's uniqueness indexes, each mapping a unique value to the id
/// of the identity that holds it: external id, (credential type,
/// identifier), verifiable (via, value), recovery (via, value).
///
/// Invariant (kept by every write, under the tenant's index lock): a key
/// maps to `id` exactly when the row `id` lists the key among its own.
#[derive(Default)]
pub(crate) struct Keys {
    external_ids: BTreeMap<String, Uuid>,
    identifiers: Index<CredentialType>,
    verifiable: Index<AddressVia>,
    recovery: Index<AddressVia>,
}

/// A uniqueness index over (kind, value) pairs, nested so that a lookup
/// borrows the value (`&str`) instead of building an owned key.
type Index<K> = BTreeMap<K, BTreeMap<String, Uuid>>;

fn lookup<K: Ord>(index: &Index<K>, kind: &K, value: &str) -> Option<Uuid> {
    index.get(kind)?.get(value).copied()
}

fn remove_if_held<K: Ord>(index: &mut Index<K>, kind: &K, value: &str, id: Uuid) {
    if let Some(values) = index.get_mut(kind)
        && values.get(value) == Some(&id)
    {
        values.remove(value);
        if values.is_empty() {
            index.remove(kind);
        }
    }
}

impl Keys {
    /// The id of the identity holding `key`, if any.
    pub(crate) fn holder(&self, key: &ConflictField) -> Option<Uuid> {
        match key {
            ConflictField::Id => None,
            ConflictField::ExternalId(e) => self.external_ids.get(e).copied(),
            ConflictField::CredentialIdentifier(t, v) => lookup(&self.identifiers, t, v),
            ConflictField::VerifiableAddress(via, v) => lookup(&self.verifiable, via, v),
            ConflictField::RecoveryAddress(via, v) => lookup(&self.recovery, via, v),
        }
    }

    /// Records that `id` holds `key`.
    pub(crate) fn claim(&mut self, key: ConflictField, id: Uuid) {
        match key {
            ConflictField::Id => {}
            ConflictField::ExternalId(e) => {
                self.external_ids.insert(e, id);
            }
            ConflictField::CredentialIdentifier(t, v) => {
                self.identifiers.entry(t).or_default().insert(v, id);
            }
            ConflictField::VerifiableAddress(via, v) => {
                self.verifiable.entry(via).or_default().insert(v, id);
            }
            ConflictField::RecoveryAddress(via, v) => {
                self.recovery.entry(via).or_default().insert(v, id);
            }
        }
    }

    /// Frees `key` if `id` holds it (and only then: a key is never taken
    /// from another identity).
    pub(crate) fn release(&mut self, key: &ConflictField, id: Uuid) {
        match key {
            ConflictField::Id => {}
            ConflictField::ExternalId(e) => {
                if self.external_ids.get(e) == Some(&id) {
                    self.external_ids.remove(e);
                }
            }
            ConflictField::CredentialIdentifier(t, v) => {
                remove_if_held(&mut self.identifiers, t, v, id);
            }
            ConflictField::VerifiableAddress(via, v) => {
                remove_if_held(&mut self.verifiable, via, v, id);
            }
            ConflictField::RecoveryAddress(via, v) => {
                remove_if_held(&mut self.recovery, via, v, id);
            }
        }
    }

    /// The first of `keys` held by another identity than `id`, as a
    /// conflict error for `op`.
    pub(crate) fn check(&self, id: Uuid, keys: &[ConflictField], op: WriteOp) -> Result<(), Error> {
        for field in keys {
            if self.holder(field).is_some_and(|holder| holder != id) {
                return Err(Error::Conflict {
                    field: field.clone(),
                    op,
                });
            }
        }
        Ok(())
    }

    /// The id holding each (credential type, identifier) pair that is held.
    pub(crate) fn ids_with_identifiers(
        &self,
        pairs: &[(CredentialType, String)],
    ) -> BTreeSet<Uuid> {
        pairs
            .iter()
            .filter_map(|(kind, value)| lookup(&self.identifiers, kind, value))
            .collect()
    }

    /// The ids of identities holding an identifier (of any type) that starts
    /// with one of `prefixes`.
    pub(crate) fn ids_with_identifier_prefix(
        &self,
        prefixes: &[(CredentialType, String)],
    ) -> BTreeSet<Uuid> {
        let mut ids = BTreeSet::new();
        for (kind, prefix) in prefixes {
            let Some(values) = self.identifiers.get(kind) else {
                continue;
            };
            // The identifiers starting with `prefix` sit together, from
            // `prefix` on.
            let matching = values
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                .take_while(|(value, _)| value.starts_with(prefix.as_str()));
            ids.extend(matching.map(|(_, id)| *id));
        }
        ids
    }

    /// Every (key, holder) pair, for the consistency checks of the tests.
    #[cfg(test)]
    pub(crate) fn all(&self) -> BTreeSet<(ConflictField, Uuid)> {
        let mut all = BTreeSet::new();
        for (e, id) in &self.external_ids {
            all.insert((ConflictField::ExternalId(e.clone()), *id));
        }
        for (t, values) in &self.identifiers {
            for (v, id) in values {
                all.insert((ConflictField::CredentialIdentifier(*t, v.clone()), *id));
            }
        }
        for (via, values) in &self.verifiable {
            for (v, id) in values {
                all.insert((ConflictField::VerifiableAddress(*via, v.clone()), *id));
            }
        }
        for (via, values) in &self.recovery {
            for (v, id) in values {
                all.insert((ConflictField::RecoveryAddress(*via, v.clone()), *id));
            }
        }
        all
    }
}
