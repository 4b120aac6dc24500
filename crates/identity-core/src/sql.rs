//! Driver-free helpers for SQL identity stores.
//!
//! An [`IdentityStore`](crate::IdentityStore) over a SQL database keeps an
//! identity in a row and its credentials, credential identifiers,
//! verifiable and recovery addresses in child rows, with one unique index
//! per uniqueness rule (see [`UniqueIndex`]). The rules such an adapter
//! needs besides its SQL live here, once, for every adapter (this
//! workspace's SQLite and PostgreSQL ones, and yours):
//!
//! - [`ChildRowPlan`]: which child rows an update deletes, changes and
//!   inserts, in an order that never trips a unique index;
//! - [`conflict_candidates`]: which collision a failed write names when
//!   several values collide;
//! - [`UniqueIndex::backstop`]: the value a unique violation names when the
//!   lookup of the colliding value finds nothing (it raced with a delete);
//! - [`prefix_upper_bound`]: the upper bound of the range scan that serves
//!   [`ListFilter::IdentifierPrefix`](crate::ListFilter::IdentifierPrefix).
//!
//! An adapter may also assume what [`ValidIdentity`] guarantees: unique
//! keys without duplicates, no NUL character, index keys of at most
//! [`INDEX_KEY_MAX_BYTES`](crate::INDEX_KEY_MAX_BYTES) bytes, an external
//! id that is never empty. Its page sizes come as
//! [`PageSize`](crate::PageSize), within bounds.
//!
//! A write that fails on a unique index, in outline:
//!
//! ```
//! use identity_core::sql::{UniqueIndex, conflict_candidates};
//! use identity_core::{ConflictField, Error, ValidIdentity, WriteOp};
//!
//! /// `holder` asks the database which identity holds a value (your SQL);
//! /// `own` is the identity itself on update.
//! fn conflict(
//!     identity: &ValidIdentity,
//!     op: WriteOp,
//!     violated: Option<UniqueIndex>,
//!     own: Option<uuid::Uuid>,
//!     holder: &dyn Fn(&ConflictField) -> Option<uuid::Uuid>,
//! ) -> Error {
//!     let found = conflict_candidates(identity, op)
//!         .into_iter()
//!         .find(|key| holder(key).is_some_and(|h| Some(h) != own));
//!     match found.or_else(|| violated?.backstop(identity)) {
//!         Some(field) => Error::Conflict { field, op },
//!         None => Error::Internal {
//!             message: "unexpected unique violation".into(),
//!             source: None,
//!         },
//!     }
//! }
//! # let _ = conflict;
//! ```

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::error::{ConflictField, WriteOp};
use crate::model::{
    AddressVia, Credential, CredentialType, Identity, RecoveryAddress, VerifiableAddress,
};
use crate::store::ValidIdentity;

/// The least string greater than every string that starts with `prefix`,
/// in code point order (the byte order of UTF-8, so SQLite's `BINARY` and
/// PostgreSQL's `"C"` collation), or `None` when no such string exists (the
/// scan then has no upper bound).
///
/// `identifier >= prefix AND identifier < bound` selects exactly the
/// identifiers that start with `prefix`, with an index range scan and no
/// `LIKE` escaping.
///
/// ```
/// use identity_core::sql::prefix_upper_bound;
///
/// assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
/// assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
/// assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
/// assert_eq!(prefix_upper_bound(""), None);
/// ```
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // Surrogates are not characters: the one after U+D7FF is U+E000.
        let next = match u32::from(last) + 1 {
            0xD800 => 0xE000,
            n => n,
        };
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The unique indexes of an identity store's tables, one per uniqueness
/// rule of the store contract (each led by the tenant).
///
/// An adapter tells which one a unique violation hit from its driver's
/// error (a constraint name, a message), and maps any other index to
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UniqueIndex {
    /// The identity's id.
    IdentityId,
    /// The external id.
    ExternalId,
    /// (credential type, identifier).
    CredentialIdentifier,
    /// A verifiable address (via, value).
    VerifiableAddress,
    /// A recovery address (via, value).
    RecoveryAddress,
}

impl UniqueIndex {
    /// The index that holds `field`.
    pub fn of(field: &ConflictField) -> UniqueIndex {
        match field {
            ConflictField::Id => UniqueIndex::IdentityId,
            ConflictField::ExternalId(_) => UniqueIndex::ExternalId,
            ConflictField::CredentialIdentifier(..) => UniqueIndex::CredentialIdentifier,
            ConflictField::VerifiableAddress(..) => UniqueIndex::VerifiableAddress,
            ConflictField::RecoveryAddress(..) => UniqueIndex::RecoveryAddress,
        }
    }

    /// The value a violation of this index names when the write path could
    /// not find which value collided (another writer freed it before the
    /// lookup): the id, or the first value of `identity` this index holds.
    /// `None` when the identity holds none (the violation then takes a
    /// bug: report it as an internal error).
    ///
    /// ```
    /// use identity_core::sql::UniqueIndex;
    /// use identity_core::ConflictField;
    /// # fn demo(identity: &identity_core::ValidIdentity) {
    /// assert_eq!(UniqueIndex::IdentityId.backstop(identity), Some(ConflictField::Id));
    /// # }
    /// ```
    pub fn backstop(self, identity: &ValidIdentity) -> Option<ConflictField> {
        if self == UniqueIndex::IdentityId {
            return Some(ConflictField::Id);
        }
        identity
            .unique_keys()
            .iter()
            .find(|key| UniqueIndex::of(key) == self)
            .cloned()
    }
}

/// The values a failed `op` of `identity` may have collided on, in the
/// order a conflict names them: on create the id first, then
/// [`ValidIdentity::unique_keys`] in order. The conflict names the first
/// one another identity of the tenant holds, so every store names the
/// same collision when several values collide.
///
/// ```
/// use identity_core::sql::conflict_candidates;
/// use identity_core::{ConflictField, WriteOp};
/// # fn demo(identity: &identity_core::ValidIdentity) {
/// let create = conflict_candidates(identity, WriteOp::Create);
/// assert_eq!(create[0], ConflictField::Id);
/// assert_eq!(&create[1..], identity.unique_keys());
/// assert_eq!(conflict_candidates(identity, WriteOp::Update), identity.unique_keys());
/// # }
/// ```
pub fn conflict_candidates(identity: &ValidIdentity, op: WriteOp) -> Vec<ConflictField> {
    let keys = identity.unique_keys();
    let mut out = Vec::with_capacity(keys.len() + 1);
    if op == WriteOp::Create {
        out.push(ConflictField::Id);
    }
    out.extend_from_slice(keys);
    out
}

/// The child-row changes that turn a stored identity's rows into a new
/// version's, touching only rows that differ (unchanged rows keep their
/// keys, ids and row positions).
///
/// Rows are matched by their natural keys: a credential by type, an
/// identifier by (type, identifier), an address by its id. An address
/// that keeps its id and its (via, value) but changes anything else is
/// changed in place; one that keeps its id but not its (via, value) is
/// deleted and inserted anew.
///
/// **Run the steps in field order**: every `deleted_*`, then every
/// `changed_*` and `moved_*`, then every `new_*`. Deleting first frees each
/// value before any row claims it, so a value moving between rows of the
/// identity (an address swapping ids, identifiers re-ordered, a credential
/// replaced) never trips a unique index; the changes in place never touch
/// a unique column. Identifiers of a deleted credential are listed in
/// `deleted_identifiers` too (before `deleted_credentials`), so a schema
/// without cascading deletes works as well as one with them.
///
/// Positions are the index of an identifier in its credential's
/// `identifiers` and of an address in its list: store them to read the
/// lists back in order.
///
/// ```
/// use identity_core::sql::ChildRowPlan;
/// # fn demo(stored: &identity_core::Identity, next: &identity_core::ValidIdentity) {
/// let plan = ChildRowPlan::new(stored, next);
/// for (kind, identifier) in &plan.deleted_identifiers {
///     // DELETE FROM credential_identifiers WHERE nid = ? AND type = ? AND identifier = ?
/// }
/// // ... the other deletions, the changes, then the insertions.
/// for (kind, identifier, position) in &plan.new_identifiers {
///     // INSERT INTO credential_identifiers ...
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildRowPlan<'a> {
    /// Identifiers to delete, by (type, identifier).
    pub deleted_identifiers: Vec<(CredentialType, &'a str)>,
    /// Credentials to delete, by type.
    pub deleted_credentials: Vec<CredentialType>,
    /// Verifiable addresses to delete, by (via, value).
    pub deleted_verifiable: Vec<(AddressVia, &'a str)>,
    /// Recovery addresses to delete, by (via, value).
    pub deleted_recovery: Vec<(AddressVia, &'a str)>,
    /// Credentials whose row changes (config, version or timestamps), by
    /// type.
    pub changed_credentials: Vec<&'a Credential>,
    /// Identifiers whose position changes: (type, identifier, position).
    pub moved_identifiers: Vec<(CredentialType, &'a str, usize)>,
    /// Verifiable addresses changed in place (same via and value), with
    /// their position.
    pub changed_verifiable: Vec<(&'a VerifiableAddress, usize)>,
    /// Recovery addresses changed in place (same via and value), with
    /// their position.
    pub changed_recovery: Vec<(&'a RecoveryAddress, usize)>,
    /// Credentials to insert (their identifiers are in `new_identifiers`).
    pub new_credentials: Vec<&'a Credential>,
    /// Identifiers to insert: (type, identifier, position).
    pub new_identifiers: Vec<(CredentialType, &'a str, usize)>,
    /// Verifiable addresses to insert, with their position.
    pub new_verifiable: Vec<(&'a VerifiableAddress, usize)>,
    /// Recovery addresses to insert, with their position.
    pub new_recovery: Vec<(&'a RecoveryAddress, usize)>,
}

impl<'a> ChildRowPlan<'a> {
    /// The plan from `stored` (as read inside the write's transaction) to
    /// `next`.
    pub fn new(stored: &'a Identity, next: &'a ValidIdentity) -> ChildRowPlan<'a> {
        plan(stored, next.identity())
    }

    /// Whether no child row changes.
    pub fn is_empty(&self) -> bool {
        *self == ChildRowPlan::default()
    }
}

/// The plan between two identities (the body of [`ChildRowPlan::new`]);
/// deterministic: every list follows the identities' own order.
fn plan<'a>(stored: &'a Identity, next: &'a Identity) -> ChildRowPlan<'a> {
    let mut plan = ChildRowPlan::default();

    // Credentials and their identifiers.
    let mut old_ids: BTreeMap<(CredentialType, &str), usize> = BTreeMap::new();
    for (kind, credential) in &stored.credentials {
        for (p, identifier) in credential.identifiers.iter().enumerate() {
            old_ids.insert((*kind, identifier.as_str()), p);
        }
    }
    for (kind, credential) in &next.credentials {
        match stored.credentials.get(kind) {
            None => plan.new_credentials.push(credential),
            Some(old) => {
                let same = old.config == credential.config
                    && old.version == credential.version
                    && old.created_at == credential.created_at
                    && old.updated_at == credential.updated_at;
                if !same {
                    plan.changed_credentials.push(credential);
                }
            }
        }
        for (p, identifier) in credential.identifiers.iter().enumerate() {
            match old_ids.remove(&(*kind, identifier.as_str())) {
                Some(old) if old == p => {}
                Some(_) => plan.moved_identifiers.push((*kind, identifier, p)),
                None => plan.new_identifiers.push((*kind, identifier, p)),
            }
        }
    }
    // What is left of the stored identifiers is gone.
    plan.deleted_identifiers = old_ids.into_keys().collect();
    plan.deleted_credentials = stored
        .credentials
        .keys()
        .filter(|kind| !next.credentials.contains_key(kind))
        .copied()
        .collect();

    // Addresses, matched by id.
    let (deleted, changed, new) = addresses(
        &stored.verifiable_addresses,
        &next.verifiable_addresses,
        |a| (a.id, a.via, a.value.as_str()),
    );
    plan.deleted_verifiable = deleted;
    plan.changed_verifiable = changed;
    plan.new_verifiable = new;
    let (deleted, changed, new) =
        addresses(&stored.recovery_addresses, &next.recovery_addresses, |a| {
            (a.id, a.via, a.value.as_str())
        });
    plan.deleted_recovery = deleted;
    plan.changed_recovery = changed;
    plan.new_recovery = new;
    plan
}

/// (deleted (via, value)s, changed in place, new) between two address
/// lists; `key` gives an address's (id, via, value).
#[allow(clippy::type_complexity)]
fn addresses<'a, A: PartialEq>(
    stored: &'a [A],
    next: &'a [A],
    key: impl Fn(&'a A) -> (Uuid, AddressVia, &'a str),
) -> (
    Vec<(AddressVia, &'a str)>,
    Vec<(&'a A, usize)>,
    Vec<(&'a A, usize)>,
) {
    // The first stored position of each id; `kept[p]` once the stored
    // address at `p` keeps its row.
    let mut by_id: HashMap<Uuid, usize> = HashMap::with_capacity(stored.len());
    for (p, a) in stored.iter().enumerate() {
        by_id.entry(key(a).0).or_insert(p);
    }
    let mut kept = vec![false; stored.len()];
    let mut changed = Vec::new();
    let mut new = Vec::new();
    for (p, a) in next.iter().enumerate() {
        let (id, via, value) = key(a);
        let Some(op) = by_id.remove(&id) else {
            new.push((a, p));
            continue;
        };
        let o = &stored[op];
        let (_, old_via, old_value) = key(o);
        if op == p && o == a {
            kept[op] = true;
        } else if old_via == via && old_value == value {
            kept[op] = true;
            changed.push((a, p));
        } else {
            // Same id, another address: the old row goes, a new one comes.
            new.push((a, p));
        }
    }
    let deleted = stored
        .iter()
        .zip(kept)
        .filter(|(_, kept)| !kept)
        .map(|(a, _)| {
            let (_, via, value) = key(a);
            (via, value)
        })
        .collect();
    (deleted, changed, new)
}

#[cfg(test)]
mod tests;
