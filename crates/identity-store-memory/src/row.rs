//! One stored identity.

use std::sync::Arc;

use identity_core::{ConflictField, Error, Identity, ValidIdentity};
use uuid::Uuid;

use crate::stored::Stored;

/// One stored identity (shared, or in its own compact form), its version,
/// and what list filters and writes read without decoding it. No `Debug`:
/// the row holds every secret.
pub(crate) struct Row {
    data: RowData,
    pub(crate) version: u64,
    pub(crate) organization_id: Option<Uuid>,
    /// The unique values the row holds in the indexes, so that writes free
    /// them without decoding the identity.
    pub(crate) keys: Box<[ConflictField]>,
}

/// The identity of a row.
enum RowData {
    /// Decoded and shared with readers; its `version` is the row's.
    Shared(Arc<Identity>),
    /// The store's compact form ([`stored::Stored`]): a decoded identity
    /// spends most of its bytes on `serde_json` maps and B-tree nodes, this
    /// about half of them.
    Compact(Box<str>),
}

impl Row {
    /// The row of `identity`, at the version it carries, without its keys:
    /// made before the write takes any lock (the encoding, and the copy of
    /// the keys, [`Row::with_keys`], are the costly part), then given its
    /// version with [`Row::at_version`]. An update that keeps the values
    /// the stored row holds takes that row's keys instead of a copy.
    pub(crate) fn new(identity: &ValidIdentity, compact: bool) -> Result<Row, Error> {
        let i = identity.identity();
        let data = if compact {
            let encoded =
                serde_json::to_string(&Stored::of(i)).map_err(|e| corrupt(&e.to_string()))?;
            RowData::Compact(encoded.into_boxed_str())
        } else {
            RowData::Shared(Arc::clone(identity.shared()))
        };
        Ok(Row {
            data,
            version: i.version,
            organization_id: i.organization_id,
            keys: Box::default(),
        })
    }

    /// This row holding (a copy of) `keys`.
    pub(crate) fn with_keys(mut self, keys: &[ConflictField]) -> Row {
        self.keys = keys.into();
        self
    }

    /// This row at `version`, the one the store gives it.
    pub(crate) fn at_version(mut self, version: u64) -> Row {
        if let RowData::Shared(identity) = &mut self.data
            && identity.version != version
        {
            // Written through the store API at another version than the
            // one it will have: the row needs its own copy.
            Arc::make_mut(identity).version = version;
        }
        self.version = version;
        self
    }

    /// Whether `identity` holds exactly the unique values of this row, as
    /// known without comparing them: it is an update built on the very
    /// identity this row shares ([`ValidIdentity::keeps_unique_keys_of`]).
    pub(crate) fn keys_kept_by(&self, identity: &ValidIdentity) -> bool {
        match &self.data {
            RowData::Shared(stored) => identity.keeps_unique_keys_of(stored),
            RowData::Compact(_) => false,
        }
    }

    /// The identity as readers see it, carrying its version.
    pub(crate) fn to_identity(&self) -> Result<Arc<Identity>, Error> {
        match &self.data {
            RowData::Shared(identity) => Ok(Arc::clone(identity)),
            RowData::Compact(encoded) => {
                // From `str`, not bytes: serde_json then skips UTF-8
                // validation.
                let stored: Stored<'_> =
                    serde_json::from_str(encoded).map_err(|e| corrupt(&e.to_string()))?;
                let identity = stored
                    .into_identity(self.version)
                    .map_err(|e| corrupt(&e))?;
                Ok(Arc::new(identity))
            }
        }
    }
}

/// The store wrote these bytes itself from a valid identity, so they always
/// encode and decode; this error would take a bug.
fn corrupt(e: &str) -> Error {
    Error::Internal {
        message: format!("memory store row does not round-trip: {e}"),
        source: None,
    }
}
