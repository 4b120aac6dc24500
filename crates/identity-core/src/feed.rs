//! The change feed: one change per committed write, read back by cursor.
//!
//! Every store appends, in the transaction of each create, update and
//! delete (and of each created entry of a batch), one [`Change`]: where it
//! stands in its tenant's feed (a [`ChangeCursor`]), which identity, what
//! kind of write, the identity's version after it, the names of the
//! top-level fields it changed (never their values) and when it committed.
//! A write that fails or rolls back leaves no change.
//!
//! The guarantee readers rely on, which the conformance suite checks on
//! every store: cursors of one tenant grow in commit order, so a reader
//! that follows [`ChangePage::next`] sees every committed change exactly
//! once, in an order consistent with each identity's versions, even while
//! writers commit concurrently. A change of a later cursor never becomes
//! visible before one of an earlier cursor.

use std::fmt;
use std::str::FromStr;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{Identity, TenantId};
use crate::time::Timestamp;

/// A position in one tenant's change feed: the cursor of the last change a
/// reader has seen. On the wire it is opaque text (today the decimal
/// number); callers pass back what they were given.
///
/// ```
/// use identity_core::ChangeCursor;
///
/// let cursor: ChangeCursor = "42".parse().unwrap();
/// assert_eq!(cursor.get(), 42);
/// assert_eq!(cursor.to_string(), "42");
/// assert!("-1".parse::<ChangeCursor>().is_err());
/// assert!(ChangeCursor::START < cursor);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChangeCursor(u64);

impl ChangeCursor {
    /// Before the first change of a tenant (changes are numbered from 1).
    pub const START: ChangeCursor = ChangeCursor(0);

    /// The cursor with this number (stores number each tenant's changes).
    pub const fn new(n: u64) -> Self {
        ChangeCursor(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Text that is not a cursor this library handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCursor;

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the change cursor is not valid")
    }
}

impl std::error::Error for InvalidCursor {}

impl FromStr for ChangeCursor {
    type Err = InvalidCursor;

    /// Decimal digits only (at most 20, no sign, no spaces).
    fn from_str(text: &str) -> Result<Self, InvalidCursor> {
        if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidCursor);
        }
        text.parse().map(ChangeCursor).map_err(|_| InvalidCursor)
    }
}

/// What a write did to an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// It was created (alone or in a batch).
    Created,
    /// It was updated: PUT, PATCH or a credential deletion.
    Updated,
    /// It was deleted.
    Deleted,
}

impl ChangeKind {
    /// `created`, `updated` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }

    /// The kind named by [`ChangeKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(ChangeKind::Created),
            "updated" => Some(ChangeKind::Updated),
            "deleted" => Some(ChangeKind::Deleted),
            _ => None,
        }
    }
}

/// The top-level fields of an identity a write changed: a small set, named
/// as in the identity's JSON.
///
/// ```
/// use identity_core::ChangedFields;
///
/// let fields = ChangedFields::parse_list("traits,state").unwrap();
/// assert_eq!(fields.names().collect::<Vec<_>>(), ["state", "traits"]);
/// assert_eq!(fields.to_list(), "state,traits");
/// assert_eq!(ChangedFields::parse_list(""), Some(ChangedFields::NONE));
/// assert_eq!(ChangedFields::parse_list("password"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChangedFields(u16);

/// The fields, in the order [`ChangedFields::names`] gives them.
const FIELD_NAMES: [&str; 10] = [
    "schema_id",
    "state",
    "traits",
    "credentials",
    "verifiable_addresses",
    "recovery_addresses",
    "metadata_public",
    "metadata_admin",
    "organization_id",
    "external_id",
];

impl ChangedFields {
    /// No field (a delete, or an update that changed nothing but the
    /// version and the update time).
    pub const NONE: ChangedFields = ChangedFields(0);

    /// `traits` (each constant's bit is the index of its name in
    /// [`FIELD_NAMES`]).
    pub(crate) const TRAITS: ChangedFields = ChangedFields(1 << 2);
    /// `credentials`.
    pub(crate) const CREDENTIALS: ChangedFields = ChangedFields(1 << 3);
    /// `metadata_public`.
    pub(crate) const METADATA_PUBLIC: ChangedFields = ChangedFields(1 << 6);
    /// `metadata_admin`.
    pub(crate) const METADATA_ADMIN: ChangedFields = ChangedFields(1 << 7);

    /// The fields that hold an identity's unique values: `credentials`
    /// (their identifiers), `verifiable_addresses`, `recovery_addresses`,
    /// `external_id`.
    pub(crate) const UNIQUE_VALUES: ChangedFields =
        ChangedFields(1 << 3 | 1 << 4 | 1 << 5 | 1 << 9);

    /// The set holding the field of this name, if it is one.
    pub fn field(name: &str) -> Option<ChangedFields> {
        FIELD_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| ChangedFields(1 << i))
    }

    /// Both sets together.
    #[must_use]
    pub fn union(self, other: ChangedFields) -> ChangedFields {
        ChangedFields(self.0 | other.0)
    }

    /// Whether it holds the field of this name.
    pub fn contains(self, name: &str) -> bool {
        ChangedFields::field(name).is_some_and(|f| self.0 & f.0 != 0)
    }

    /// Whether it holds no field.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of its fields, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        FIELD_NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, name)| *name)
    }

    /// The names joined by commas (empty for none): how SQL stores keep
    /// the set.
    pub fn to_list(self) -> String {
        self.names().collect::<Vec<_>>().join(",")
    }

    /// The set [`ChangedFields::to_list`] wrote; `None` when a name is
    /// unknown.
    pub fn parse_list(text: &str) -> Option<ChangedFields> {
        if text.is_empty() {
            return Some(ChangedFields::NONE);
        }
        text.split(',').try_fold(ChangedFields::NONE, |set, name| {
            ChangedFields::field(name).map(|f| set.union(f))
        })
    }

    /// The fields a create sets: schema, state and traits always, the
    /// others when present.
    pub fn of_created(identity: &Identity) -> ChangedFields {
        let i = identity;
        let present = [
            true,
            true,
            true,
            !i.credentials.is_empty(),
            !i.verifiable_addresses.is_empty(),
            !i.recovery_addresses.is_empty(),
            i.metadata_public.is_some(),
            i.metadata_admin.is_some(),
            i.organization_id.is_some(),
            i.external_id.is_some(),
        ];
        ChangedFields::from_flags(present)
    }

    /// The fields whose value differs between two versions of an identity.
    pub fn between(old: &Identity, new: &Identity) -> ChangedFields {
        ChangedFields::between_except(old, new, ChangedFields::NONE)
    }

    /// [`ChangedFields::between`], leaving out the fields of `same`, which
    /// the caller knows hold equal values in both (a write that kept them
    /// as they were stored): they are not compared, and are not in the
    /// result.
    pub(crate) fn between_except(
        old: &Identity,
        new: &Identity,
        same: ChangedFields,
    ) -> ChangedFields {
        let compare = |i: usize| same.0 & (1 << i) == 0;
        let changed = [
            compare(0) && old.schema_id != new.schema_id,
            compare(1) && old.state != new.state,
            compare(2) && !same_json(&old.traits, &new.traits),
            compare(3) && old.credentials != new.credentials,
            compare(4) && old.verifiable_addresses != new.verifiable_addresses,
            compare(5) && old.recovery_addresses != new.recovery_addresses,
            compare(6)
                && !same_optional_json(old.metadata_public.as_ref(), new.metadata_public.as_ref()),
            compare(7)
                && !same_optional_json(old.metadata_admin.as_ref(), new.metadata_admin.as_ref()),
            compare(8) && old.organization_id != new.organization_id,
            compare(9) && old.external_id != new.external_id,
        ];
        ChangedFields::from_flags(changed)
    }

    /// Whether it holds any field of `other`.
    pub(crate) fn intersects(self, other: ChangedFields) -> bool {
        self.0 & other.0 != 0
    }

    fn from_flags(flags: [bool; 10]) -> ChangedFields {
        ChangedFields(
            flags
                .iter()
                .enumerate()
                .filter(|(_, set)| **set)
                .fold(0, |bits, (i, _)| bits | (1 << i)),
        )
    }
}

pub(crate) fn same_optional_json(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_json(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// `a == b` for JSON values (objects compare as unordered maps, as
/// `serde_json`'s equality does), fast when both hold their members in the
/// same order, as two versions of one document usually do: members are
/// compared pairwise in order, and an object whose keys differ in order
/// falls back to `serde_json`'s (hashing) equality. Iterative: nesting
/// goes on an explicit stack, kept inline for the first levels.
///
/// The walk goes no further than the smaller of the two (objects and
/// arrays of other lengths differ at once, and the map equality of the
/// fallback recurses no deeper than the shallower value), so comparing a
/// caller's value that passed no limit with a stored one costs no more
/// than the stored one bounds.
pub(crate) fn same_json(a: &Value, b: &Value) -> bool {
    const INLINE: usize = 8;
    let mut inline: [(&Value, &Value); INLINE] = [(a, b); INLINE];
    let mut len = 1;
    let mut spill: Vec<(&Value, &Value)> = Vec::new();
    macro_rules! push {
        ($pair:expr) => {
            if len < INLINE {
                inline[len] = $pair;
                len += 1;
            } else {
                spill.push($pair);
            }
        };
    }
    loop {
        let (a, b) = if let Some(pair) = spill.pop() {
            pair
        } else if len > 0 {
            len -= 1;
            inline[len]
        } else {
            return true;
        };
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                // Keys and values in one pass; the members pushed are taken
                // back if the keys turn out to come in another order.
                let mark = (len, spill.len());
                for ((k, v), (l, w)) in x.iter().zip(y) {
                    if !same_str(k, l) {
                        // Another order (or other keys): the map equality
                        // decides, for the whole object.
                        if x != y {
                            return false;
                        }
                        (len, _) = mark;
                        spill.truncate(mark.1);
                        break;
                    }
                    if !same_leaf_or_push(v, w, &mut |pair| push!(pair)) {
                        return false;
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                for (v, w) in x.iter().zip(y) {
                    if !same_leaf_or_push(v, w, &mut |pair| push!(pair)) {
                        return false;
                    }
                }
            }
            (a, b) => {
                if !same_leaf_or_push(a, b, &mut |_| {}) {
                    return false;
                }
            }
        }
    }
}

/// Whether `a` and `b` may be equal: `false` when they differ as leaves
/// (strings compared by [`same_str`]) or in kind; a pair of arrays or
/// objects is handed to `push`, to be compared later.
#[inline(always)]
fn same_leaf_or_push<'a>(
    a: &'a Value,
    b: &'a Value,
    push: &mut impl FnMut((&'a Value, &'a Value)),
) -> bool {
    match (a, b) {
        (Value::String(s), Value::String(t)) => same_str(s, t),
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)) => {
            push((a, b));
            true
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        (v, w) => v == w,
    }
}

/// `a == b`, eight bytes at a time: the keys and strings of an identity
/// are short, where this costs less than a call to `memcmp`.
#[inline(always)]
fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut x = a.chunks_exact(8);
    let mut y = b.chunks_exact(8);
    for (p, q) in (&mut x).zip(&mut y) {
        let (mut u, mut v) = ([0u8; 8], [0u8; 8]);
        u.copy_from_slice(p);
        v.copy_from_slice(q);
        if u != v {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

impl Serialize for ChangedFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for name in self.names() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

/// One committed change, as the feed gives it back.
///
/// Its JSON (`serde`) is the wire form of
/// `GET /admin/identities/changes`:
/// `{"cursor":"7","identity_id":"…","kind":"updated","version":3,"fields":["traits"],"at":"…"}`
/// (the tenant is the feed's, and is left out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Where it stands in its tenant's feed.
    pub cursor: ChangeCursor,
    /// The tenant.
    pub tenant: TenantId,
    /// The identity.
    pub identity_id: Uuid,
    /// Created, updated or deleted.
    pub kind: ChangeKind,
    /// The identity's version after the write. A delete counts as one more
    /// version (the deleted version plus 1), so `(identity_id, version)`
    /// names each change of an identity once: what a consumer of an
    /// at-least-once delivery de-duplicates by.
    pub version: u64,
    /// The top-level fields the write changed (every field a create set;
    /// none for a delete).
    pub fields: ChangedFields,
    /// When the store committed it.
    pub at: Timestamp,
}

impl Change {
    /// A change as a store read it back.
    pub fn new(
        cursor: ChangeCursor,
        tenant: TenantId,
        identity_id: Uuid,
        kind: ChangeKind,
        version: u64,
        fields: ChangedFields,
        at: Timestamp,
    ) -> Self {
        Change {
            cursor,
            tenant,
            identity_id,
            kind,
            version,
            fields,
            at,
        }
    }
}

impl Serialize for Change {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Change", 6)?;
        s.serialize_field("cursor", &self.cursor.to_string())?;
        s.serialize_field("identity_id", &self.identity_id)?;
        s.serialize_field("kind", self.kind.as_str())?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("fields", &self.fields)?;
        s.serialize_field("at", &self.at)?;
        s.end()
    }
}

/// One page of a tenant's changes, in cursor order, and where to go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    /// The changes after the requested cursor, ascending.
    pub changes: Vec<Change>,
    /// The cursor to read after next time: the last change's, or, when the
    /// page is empty, the cursor that was asked for (from the start: the
    /// one just before the oldest change the store keeps).
    pub next: ChangeCursor,
}

/// Which changes [`IdentityStore::prune_changes`] removes: those committed
/// before `before`, and those beyond the newest `keep_last`.
///
/// ```
/// use identity_core::{PruneChanges, Timestamp};
///
/// let prune = PruneChanges::new(Some(Timestamp::UNIX_EPOCH), Some(1_000));
/// assert_eq!(prune.keep_last, Some(1_000));
/// ```
///
/// [`IdentityStore::prune_changes`]: crate::IdentityStore::prune_changes
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneChanges {
    /// Remove every change committed before this instant.
    pub before: Option<Timestamp>,
    /// Keep at most this many of the newest changes of the tenant.
    pub keep_last: Option<u64>,
}

impl PruneChanges {
    /// Remove changes older than `before` and beyond the newest
    /// `keep_last` (either, both or neither).
    pub fn new(before: Option<Timestamp>, keep_last: Option<u64>) -> Self {
        PruneChanges { before, keep_last }
    }
}

/// The most bytes of a consumer name.
pub const CONSUMER_NAME_MAX_BYTES: usize = 64;

/// Checks a consumer name: 1 to 64 bytes of ASCII letters, digits, `-`,
/// `_`, `.` and `:`.
///
/// ```
/// assert!(identity_core::check_consumer_name("webhooks").is_ok());
/// assert!(identity_core::check_consumer_name("").is_err());
/// assert!(identity_core::check_consumer_name("a b").is_err());
/// ```
pub fn check_consumer_name(name: &str) -> Result<(), crate::Error> {
    let fine = !name.is_empty()
        && name.len() <= CONSUMER_NAME_MAX_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if fine {
        Ok(())
    } else {
        Err(crate::Error::invalid(format!(
            "a change consumer name is 1 to {CONSUMER_NAME_MAX_BYTES} ASCII letters, digits, '-', '_', '.' or ':'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_name_round_trips_through_the_list_form() {
        let mut all = ChangedFields::NONE;
        for name in FIELD_NAMES {
            let one = ChangedFields::field(name).expect("a field name");
            assert_eq!(one.names().collect::<Vec<_>>(), [name]);
            assert_eq!(ChangedFields::parse_list(&one.to_list()), Some(one));
            all = all.union(one);
        }
        assert_eq!(all.names().count(), 10);
        assert_eq!(ChangedFields::parse_list(&all.to_list()), Some(all));
        assert_eq!(ChangedFields::parse_list("traits,"), None);
        assert_eq!(ChangedFields::parse_list(",traits"), None);
    }

    /// The in-order comparison agrees with `serde_json`'s equality,
    /// including objects whose members come in another order, nesting past
    /// the inline stack, and values that differ only deep inside.
    #[test]
    fn same_json_agrees_with_serde_json_equality() {
        use serde_json::json;
        let mut deep = json!(1);
        let mut deep_other = json!(2);
        for _ in 0..40 {
            deep = json!({"a": [deep], "b": 1});
            deep_other = json!({"a": [deep_other], "b": 1});
        }
        let wide: Value = (0..40)
            .map(|i| (format!("k{i}"), json!({"v": [i]})))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let cases = [
            (
                json!({"a": 1, "b": {"c": [1, 2]}}),
                json!({"a": 1, "b": {"c": [1, 2]}}),
            ),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1})),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 3})),
            (
                json!({"a": {"x": 1, "y": 2}}),
                json!({"a": {"y": 2, "x": 1}}),
            ),
            (json!({"a": 1}), json!({"a": 1, "b": 2})),
            (json!({"a": 1}), json!({"b": 1})),
            (json!([1, {"a": 2}]), json!([1, {"a": 3}])),
            (json!([1, 2]), json!([2, 1])),
            (json!([]), json!({})),
            (json!(1), json!(1.0)),
            (json!("x"), json!("x")),
            (json!(null), json!(false)),
            (
                json!({"a": {"x": 1}, "b": 2}),
                json!({"b": 2, "a": {"x": 1}}),
            ),
            (
                json!({"a": {"x": 1}, "b": 2}),
                json!({"b": 2, "a": {"x": 2}}),
            ),
            (
                json!({"a": [1], "b": {"c": 1}, "d": 3}),
                json!({"a": [1], "d": 3, "b": {"c": 1}}),
            ),
            (json!({"a": "x"}), json!({"a": {"x": 1}})),
            (json!([[1], {"a": "b"}]), json!([{"a": "b"}, [1]])),
            (
                json!({"k": "abcdefghijklmnopq"}),
                json!({"k": "abcdefghijklmnopQ"}),
            ),
            (json!(["abcdefgh"]), json!(["abcdefgh"])),
            (deep.clone(), deep.clone()),
            (deep, deep_other),
            (wide.clone(), wide.clone()),
        ];
        for (a, b) in &cases {
            assert_eq!(same_json(a, b), a == b, "{a} against {b}");
            assert_eq!(same_json(b, a), a == b, "{b} against {a}");
        }
    }

    #[test]
    fn field_constants_name_their_fields() {
        let named = |names: &str| ChangedFields::parse_list(names).expect("field names");
        assert_eq!(ChangedFields::TRAITS, named("traits"));
        assert_eq!(ChangedFields::CREDENTIALS, named("credentials"));
        assert_eq!(ChangedFields::METADATA_PUBLIC, named("metadata_public"));
        assert_eq!(ChangedFields::METADATA_ADMIN, named("metadata_admin"));
        assert_eq!(
            ChangedFields::UNIQUE_VALUES,
            named("credentials,verifiable_addresses,recovery_addresses,external_id")
        );
        let all = named("schema_id,state,traits,credentials,metadata_public");
        assert!(all.intersects(ChangedFields::UNIQUE_VALUES));
        assert!(all.intersects(ChangedFields::CREDENTIALS));
        assert!(!named("external_id").intersects(ChangedFields::CREDENTIALS));
        assert!(!named("traits").intersects(ChangedFields::UNIQUE_VALUES));
    }

    /// `between_except` compares every field but those it is told are the
    /// same, and leaves those out of its answer.
    #[test]
    fn between_except_leaves_out_the_fields_known_the_same() {
        use serde_json::json;
        let old: Identity = serde_json::from_value(json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "schema_id": "default",
            "traits": {"email": "a@example.com"},
            "metadata_public": {"plan": "pro"},
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z"
        }))
        .expect("identity");
        let mut new = old.clone();
        new.traits = json!({"email": "b@example.com"});
        new.metadata_public = None;
        new.external_id = Some(crate::model::ExternalId::new("x".to_owned()).expect("id"));
        let named = |names: &str| ChangedFields::parse_list(names).expect("field names");
        assert_eq!(
            ChangedFields::between(&old, &new),
            named("traits,metadata_public,external_id")
        );
        assert_eq!(
            ChangedFields::between_except(&old, &new, named("traits,credentials")),
            named("metadata_public,external_id")
        );
        assert_eq!(
            ChangedFields::between_except(&old, &old, ChangedFields::NONE),
            ChangedFields::NONE
        );
    }

    /// `same_str` is `==`, for strings of every length up to 40 bytes that
    /// differ in one byte at any position, or not at all, or in length.
    #[test]
    fn same_str_is_string_equality() {
        for len in 0..=40usize {
            let a: String = "abcdefgh\u{e9}".chars().cycle().take(len).collect();
            assert!(same_str(&a, &a.clone()), "{a:?}");
            let mut longer = a.clone();
            longer.push('x');
            assert!(!same_str(&a, &longer), "{a:?}");
            assert!(!same_str(&longer, &a), "{a:?}");
            for at in 0..a.len() {
                let mut bytes = a.clone().into_bytes();
                bytes[at] ^= 0x01;
                if let Ok(other) = String::from_utf8(bytes) {
                    assert_eq!(same_str(&a, &other), a == other, "{a:?} {other:?}");
                    assert!(!same_str(&a, &other), "{a:?} {other:?}");
                }
            }
        }
    }

    #[test]
    fn cursor_text_is_decimal_digits_only() {
        assert_eq!("0".parse::<ChangeCursor>(), Ok(ChangeCursor::START));
        assert_eq!(
            "18446744073709551615".parse::<ChangeCursor>(),
            Ok(ChangeCursor::new(u64::MAX))
        );
        for bad in ["", "+1", " 1", "1 ", "18446744073709551616", "0x1", "1e3"] {
            assert_eq!(bad.parse::<ChangeCursor>(), Err(InvalidCursor), "{bad:?}");
        }
    }

    #[test]
    fn change_json_is_the_wire_form() {
        let change = Change::new(
            ChangeCursor::new(7),
            TenantId::DEFAULT,
            Uuid::nil(),
            ChangeKind::Updated,
            3,
            ChangedFields::parse_list("traits,metadata_admin").expect("field names"),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            serde_json::to_string(&change).expect("JSON"),
            r#"{"cursor":"7","identity_id":"00000000-0000-0000-0000-000000000000","kind":"updated","version":3,"fields":["traits","metadata_admin"],"at":"1970-01-01T00:00:00.000000Z"}"#
        );
    }
}
