//! Validation of traits, and derivation of identifiers and addresses from the
//! `ory.sh/kratos` sites found at registration.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::extension::{Site, Step};
use super::{IdentitySchema, formats};
use crate::error::{Error, Violation};
use crate::limits::Limits;
use crate::model::{AddressVia, CredentialType};
use crate::normalize;

/// An address derived from the traits, normalised; borrowed from the
/// [`Derived`] that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DerivedAddress<'a> {
    /// The channel.
    pub via: AddressVia,
    /// The normalised value.
    pub value: &'a str,
}

/// An entry of the `code` credential's address list; borrowed from the
/// [`Derived`] that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CodeAddress<'a> {
    /// The channel the code is sent on.
    pub channel: AddressVia,
    /// The normalised address.
    pub address: &'a str,
}

/// What the `ory.sh/kratos` keyword derives from valid traits: identifiers
/// of the schema-driven credential types and addresses, read through the
/// methods.
///
/// Every normalised value is written once, in one string, and each list
/// names the values it holds by their place in it: a document's whole
/// derivation is one allocation (the string; the lists' first six entries
/// are kept in place), whatever number of lists a value is in.
#[derive(Clone, Default)]
pub struct Derived {
    /// The normalised values, one after the other.
    text: String,
    /// The lists' entries, grouped by list in the order of the list
    /// constants (`PASSWORD` to `RECOVERY`), each group in its list's order.
    entries: Entries,
    /// Where each list's group ends in `entries`.
    ends: [usize; LISTS],
}

/// One value of a list: its place in [`Derived::text`] and, for an address,
/// its channel (an identifier's is always `Email`, and unused).
#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    end: usize,
    via: AddressVia,
}

/// How many entries [`Entries`] holds without allocating: a document's
/// one address in all six lists, or two in three.
const INLINE: usize = 6;

/// The entries of [`Derived`]: in place up to [`INLINE`], then on the heap.
#[derive(Clone)]
struct Entries {
    len: usize,
    inline: [Entry; INLINE],
    /// Every entry once there are more than [`INLINE`] (and empty until
    /// then).
    heap: Vec<Entry>,
}

impl Default for Entries {
    fn default() -> Self {
        Entries {
            len: 0,
            inline: [Entry {
                start: 0,
                end: 0,
                via: AddressVia::Email,
            }; INLINE],
            heap: Vec::new(),
        }
    }
}

impl std::ops::Deref for Entries {
    type Target = [Entry];

    fn deref(&self) -> &[Entry] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }
}

impl Entries {
    #[inline]
    fn insert(&mut self, at: usize, entry: Entry) {
        if self.heap.is_empty() && self.len < INLINE {
            // Almost always an append; else a few entries move up one.
            let mut i = self.len;
            while i > at {
                self.inline[i] = self.inline[i - 1];
                i -= 1;
            }
            self.inline[at] = entry;
            self.len += 1;
        } else {
            self.insert_on_heap(at, entry);
        }
    }

    /// [`Entries::insert`] past [`INLINE`] entries: kept out of the inlined
    /// path, which almost every document stays on.
    #[cold]
    #[inline(never)]
    fn insert_on_heap(&mut self, at: usize, entry: Entry) {
        if self.heap.is_empty() {
            let mut heap = Vec::with_capacity(2 * INLINE);
            heap.extend_from_slice(&self.inline[..self.len]);
            self.heap = heap;
        }
        self.heap.insert(at, entry);
    }
}

/// The lists of [`Derived`], in the order of their groups.
const PASSWORD: usize = 0;
const WEBAUTHN: usize = 1;
const CODE: usize = 2;
const CODE_ADDRESSES: usize = 3;
const VERIFIABLE: usize = 4;
const RECOVERY: usize = 5;
const LISTS: usize = 6;

impl Derived {
    /// The identifiers derived for one type, de-duplicated, in document
    /// order: for `password`, `webauthn` and `code` (the schema-driven
    /// types), none for any other.
    pub fn identifiers_of(
        &self,
        kind: CredentialType,
    ) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + Clone + '_ {
        let list = match kind {
            CredentialType::Password => Some(PASSWORD),
            CredentialType::Webauthn => Some(WEBAUTHN),
            CredentialType::Code => Some(CODE),
            _ => None,
        };
        list.map_or(&[][..], |l| self.group(l))
            .iter()
            .map(|e| self.value(e))
    }

    /// The `code` credential's addresses, sorted by address then channel,
    /// without repeats.
    pub fn code_addresses(
        &self,
    ) -> impl ExactSizeIterator<Item = CodeAddress<'_>> + DoubleEndedIterator + Clone + '_ {
        self.group(CODE_ADDRESSES).iter().map(|e| CodeAddress {
            channel: e.via,
            address: self.value(e),
        })
    }

    /// Verifiable addresses, de-duplicated, in document order.
    pub fn verifiable_addresses(
        &self,
    ) -> impl ExactSizeIterator<Item = DerivedAddress<'_>> + DoubleEndedIterator + Clone + '_ {
        self.addresses(VERIFIABLE)
    }

    /// Recovery addresses, de-duplicated, in document order.
    pub fn recovery_addresses(
        &self,
    ) -> impl ExactSizeIterator<Item = DerivedAddress<'_>> + DoubleEndedIterator + Clone + '_ {
        self.addresses(RECOVERY)
    }

    fn addresses(
        &self,
        list: usize,
    ) -> impl ExactSizeIterator<Item = DerivedAddress<'_>> + DoubleEndedIterator + Clone + '_ {
        self.group(list).iter().map(|e| DerivedAddress {
            via: e.via,
            value: self.value(e),
        })
    }

    /// Where `list`'s group starts and ends in `entries`.
    fn bounds(&self, list: usize) -> (usize, usize) {
        let start = list.checked_sub(1).map_or(0, |before| self.ends[before]);
        (start, self.ends[list])
    }

    fn group(&self, list: usize) -> &[Entry] {
        let (start, end) = self.bounds(list);
        &self.entries[start..end]
    }

    fn value(&self, e: &Entry) -> &str {
        &self.text[e.start..e.end]
    }

    /// Writes a value with `write` (which appends to the text) and returns
    /// its place.
    fn write(&mut self, write: impl FnOnce(&mut String)) -> Span {
        if self.text.capacity() == 0 {
            // Room for three or four addresses before the first
            // reallocation (as cheap to allocate as room for one).
            self.text.reserve(128);
        }
        let start = self.text.len();
        write(&mut self.text);
        Span {
            start,
            end: self.text.len(),
        }
    }

    fn span(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// Adds a value at the end of `list` unless the list already holds it
    /// (on the same channel).
    #[inline(always)]
    fn push_unique(&mut self, list: usize, span: Span, via: AddressVia) {
        let (start, end) = self.bounds(list);
        // Lengths first: most values differ in length. Bytes: equal as
        // strings exactly when equal as bytes, without boundary checks.
        let len = span.end - span.start;
        let text = self.text.as_bytes();
        if self.entries[start..end].iter().any(|e| {
            e.via == via
                && e.end - e.start == len
                && text[e.start..e.end] == text[span.start..span.end]
        }) {
            return;
        }
        self.insert(list, end, span, via);
    }

    /// Adds a code address in its place (by address, then channel) unless
    /// the list already holds it.
    #[inline(always)]
    fn insert_code_address(&mut self, span: Span, via: AddressVia) {
        let (start, end) = self.bounds(CODE_ADDRESSES);
        let key = (self.span(span), via);
        let mut at = end;
        for (i, e) in self.entries[start..end].iter().enumerate() {
            match (self.value(e), e.via).cmp(&key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return,
                std::cmp::Ordering::Greater => {
                    at = start + i;
                    break;
                }
            }
        }
        self.insert(CODE_ADDRESSES, at, span, via);
    }

    #[inline]
    fn insert(&mut self, list: usize, at: usize, span: Span, via: AddressVia) {
        self.entries.insert(
            at,
            Entry {
                start: span.start,
                end: span.end,
                via,
            },
        );
        for end in &mut self.ends[list..] {
            *end += 1;
        }
    }
}

/// A value written in [`Derived::text`], not yet in any list.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// The lists, compared by what they hold (not by how the text is laid out).
impl PartialEq for Derived {
    fn eq(&self, other: &Self) -> bool {
        (0..LISTS).all(|list| {
            let (a, b) = (self.group(list), other.group(list));
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.via == y.via && self.value(x) == other.value(y))
        })
    }
}

impl Eq for Derived {}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// A list written as one, without collecting it.
        struct List<I>(I);
        impl<I: Iterator + Clone> std::fmt::Debug for List<I>
        where
            I::Item: std::fmt::Debug,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.0.clone()).finish()
            }
        }
        f.debug_struct("Derived")
            .field(
                "password",
                &List(self.identifiers_of(CredentialType::Password)),
            )
            .field(
                "webauthn",
                &List(self.identifiers_of(CredentialType::Webauthn)),
            )
            .field("code", &List(self.identifiers_of(CredentialType::Code)))
            .field("code_addresses", &List(self.code_addresses()))
            .field("verifiable_addresses", &List(self.verifiable_addresses()))
            .field("recovery_addresses", &List(self.recovery_addresses()))
            .finish()
    }
}

impl IdentitySchema {
    /// Validates `traits` as the document `{"traits": traits}` and, when it is
    /// valid, derives identifiers and addresses.
    ///
    /// Limits are checked first. Every violation is reported, with instance
    /// paths starting at `/traits`. `traits` is borrowed mutably only to wrap
    /// it without a copy; it is left exactly as it was.
    pub fn validate(&self, traits: &mut Value, limits: &Limits) -> Result<Derived, Error> {
        limits
            .check(traits, "/traits")
            .map_err(|v| Error::Validation(vec![v]))?;
        self.validate_bounded(traits)
    }

    /// [`IdentitySchema::validate`], for traits known to be within the
    /// limits already (equal to traits that passed them when stored).
    pub(crate) fn validate_bounded(&self, traits: &mut Value) -> Result<Derived, Error> {
        // Wrap without copying: swap the traits into this thread's
        // `{"traits": ...}` document (kept, key and all, between calls) and
        // back out.
        thread_local! {
            static WRAPPER: std::cell::Cell<Option<Value>> = const { std::cell::Cell::new(None) };
        }
        let mut doc = WRAPPER
            .with(std::cell::Cell::take)
            .unwrap_or_else(|| Value::Object(Map::from_iter([("traits".to_owned(), Value::Null)])));
        swap_traits(&mut doc, traits);
        let outcome = self.check_document(&doc);
        swap_traits(&mut doc, traits);
        WRAPPER.with(|w| w.set(Some(doc)));
        outcome?;
        self.derive(traits)
    }

    /// Validates only; the document is `{"traits": ...}`.
    fn check_document(&self, doc: &Value) -> Result<(), Error> {
        if self.validator.is_valid(doc) {
            return Ok(());
        }
        let violations: Vec<Violation> = self
            .validator
            .iter_errors(doc)
            .map(super::message::violation)
            .collect();
        Err(Error::Validation(violations))
    }

    /// Derives identifiers and addresses from traits that passed validation.
    pub fn derive(&self, traits: &Value) -> Result<Derived, Error> {
        let mut out = Derived::default();
        if self.sites.is_empty() {
            return Ok(out);
        }
        let mut violations = Vec::new();
        let root = Trail::ROOT;
        for site in &self.sites {
            visit(traits, &site.path, &root, &mut |path, raw| {
                apply(site, path, raw, &mut out, &mut violations);
            });
        }
        if !violations.is_empty() {
            // One value under several extension entries reports a problem once.
            let mut seen = BTreeSet::new();
            violations
                .retain(|v| seen.insert((v.instance_path().to_owned(), v.message().to_owned())));
            return Err(Error::Validation(violations));
        }
        Ok(out)
    }
}

/// Swaps `traits` with the value of the wrapper's one member, `"traits"`
/// (no hashing: the member is reached by position).
fn swap_traits(wrapper: &mut Value, traits: &mut Value) {
    if let Some(slot) = wrapper.as_object_mut().and_then(|m| m.values_mut().next()) {
        std::mem::swap(slot, traits);
    }
}

/// The instance path to a value, kept as a chain of steps on the stack
/// while derivation walks the traits: it is written out as a JSON Pointer
/// only when a violation names it, which almost no value needs.
#[derive(Clone, Copy)]
struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    step: TrailStep<'a>,
}

#[derive(Clone, Copy)]
enum TrailStep<'a> {
    /// `/traits`.
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Trail<'a> {
    const ROOT: Trail<'static> = Trail {
        parent: None,
        step: TrailStep::Root,
    };

    fn child(&'a self, step: TrailStep<'a>) -> Trail<'a> {
        Trail {
            parent: Some(self),
            step,
        }
    }

    /// The JSON Pointer, e.g. `/traits/emails/0`. Iterative: the chain is
    /// as long as a site's path, which registration bounded.
    fn pointer(&self) -> String {
        use std::fmt::Write as _;
        let mut steps = Vec::new();
        let mut cur = Some(self);
        while let Some(t) = cur {
            steps.push(t.step);
            cur = t.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            match step {
                TrailStep::Root => out.push_str("/traits"),
                TrailStep::Key(k) => {
                    out.push('/');
                    if k.contains(['~', '/']) {
                        out.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    } else {
                        out.push_str(k);
                    }
                }
                // Writing to a String cannot fail.
                TrailStep::Index(i) => {
                    let _ = write!(out, "/{i}");
                }
            }
        }
        out
    }
}

/// Calls `f(path, value)` for every string (or number) at `path`, spreading
/// arrays; `at` is the trail to `value`.
fn visit(value: &Value, path: &[Step], at: &Trail<'_>, f: &mut dyn FnMut(&Trail<'_>, &str)) {
    let Some((step, rest)) = path.split_first() else {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    leaf(item, &at.child(TrailStep::Index(i)), f);
                }
            }
            other => leaf(other, at, f),
        }
        return;
    };
    match (step, value) {
        (Step::Key(k), Value::Object(map)) => {
            if let Some(child) = member(map, k) {
                visit(child, rest, &at.child(TrailStep::Key(k)), f);
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                visit(child, rest, &at.child(TrailStep::Index(*i)), f);
            }
        }
        (Step::EachItem, Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                visit(child, rest, &at.child(TrailStep::Index(i)), f);
            }
        }
        _ => {}
    }
}

/// `map.get(key)`: on the small objects traits are made of, comparing the
/// keys costs less than hashing the one looked up.
fn member<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= 8 {
        map.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

#[inline(always)]
fn leaf(value: &Value, at: &Trail<'_>, f: &mut dyn FnMut(&Trail<'_>, &str)) {
    match value {
        Value::String(s) => f(at, s),
        Value::Number(n) => f(at, &n.to_string()),
        _ => {}
    }
}

fn empty_violation(path: &Trail<'_>) -> Violation {
    Violation::at(
        path.pointer(),
        "the value is empty once normalised (it holds only spaces or invisible characters)",
    )
}

/// One value's normalised forms, each written in the derived text on its
/// first use and shared by every later one.
struct Forms<'r> {
    raw: &'r str,
    /// Trimmed, NFKC, invisible characters dropped, lowercased.
    folded: Option<Span>,
    /// E.164, when the value parses as a phone number.
    phone: Option<Option<Span>>,
}

impl<'r> Forms<'r> {
    fn new(raw: &'r str) -> Self {
        Forms {
            raw,
            folded: None,
            phone: None,
        }
    }

    /// [`normalize::username`] and [`normalize::email`].
    fn folded(&mut self, out: &mut Derived) -> Span {
        let raw = self.raw;
        *self
            .folded
            .get_or_insert_with(|| out.write(|text| normalize::fold_into(raw, text)))
    }

    /// [`normalize::phone`].
    fn phone(&mut self, out: &mut Derived) -> Option<Span> {
        let raw = self.raw;
        *self.phone.get_or_insert_with(|| {
            normalize::phone(raw).map(|e164| out.write(|text| text.push_str(&e164)))
        })
    }

    /// [`normalize::identifier_like`]: the folded value, or E.164 when it
    /// starts with `+` and parses as a phone number.
    fn identifier_like(&mut self, out: &mut Derived) -> Span {
        let folded = self.folded(out);
        let value = out.span(folded);
        if value.starts_with('+')
            && let Some(e164) = normalize::phone(value)
        {
            return out.write(|text| text.push_str(&e164));
        }
        folded
    }
}

/// Normalises a value on a channel, checking what the channel requires.
fn on_channel(
    site: &Site,
    via: AddressVia,
    path: &Trail<'_>,
    forms: &mut Forms<'_>,
    out: &mut Derived,
    violations: &mut Vec<Violation>,
    require_phone: bool,
) -> Option<Span> {
    let raw = forms.raw;
    let lenient = !require_phone && site.format.as_deref() == Some("no-validate");
    // A channel's own check reports where Kratos does: at the value's
    // `format` (which the channel implies when the schema has none).
    let at_format = |message: String| Violation::new(path.pointer(), site.format_path(), message);
    let value = match via {
        AddressVia::Email => {
            if site.format.is_none() && !formats::is_valid_email(raw) {
                violations.push(at_format(format!(
                    "{} is not valid \"email\"",
                    Value::String(raw.to_owned())
                )));
                return None;
            }
            forms.folded(out)
        }
        AddressVia::Sms => match forms.phone(out) {
            Some(e164) => e164,
            None if lenient => forms.folded(out),
            None => {
                violations.push(at_format(format!(
                    "{} is not valid \"tel\"",
                    Value::String(raw.to_owned())
                )));
                return None;
            }
        },
    };
    if value.is_empty() {
        violations.push(empty_violation(path));
        return None;
    }
    Some(value)
}

fn apply(
    site: &Site,
    path: &Trail<'_>,
    raw: &str,
    out: &mut Derived,
    violations: &mut Vec<Violation>,
) {
    let ext = &site.extension;
    let mut forms = Forms::new(raw);
    if ext.password_identifier || ext.webauthn_identifier {
        let value = if site.format.as_deref() == Some("tel") {
            match forms.phone(out) {
                Some(e164) => e164,
                None => forms.folded(out),
            }
        } else {
            forms.identifier_like(out)
        };
        if value.is_empty() {
            violations.push(empty_violation(path));
        } else {
            // An identifier's channel is unused: always `Email`.
            if ext.password_identifier {
                out.push_unique(PASSWORD, value, AddressVia::Email);
            }
            if ext.webauthn_identifier {
                out.push_unique(WEBAUTHN, value, AddressVia::Email);
            }
        }
    }
    // Each channel's check runs once per value, however many of code,
    // verification and recovery use it (recovery via sms has its own).
    let mut lenient: [Option<Option<Span>>; 2] = [None, None];
    let mut on = |via: AddressVia,
                  require_phone: bool,
                  out: &mut Derived,
                  violations: &mut Vec<Violation>| {
        if require_phone && via == AddressVia::Sms {
            return on_channel(site, via, path, &mut forms, out, violations, true);
        }
        *lenient[usize::from(via == AddressVia::Sms)]
            .get_or_insert_with(|| on_channel(site, via, path, &mut forms, out, violations, false))
    };
    if let Some(via) = ext.code_via
        && let Some(value) = on(via, false, out, violations)
    {
        out.push_unique(CODE, value, AddressVia::Email);
        // By address, then channel (SPEC §2, as Kratos writes them).
        out.insert_code_address(value, via);
    }
    if let Some(via) = ext.verification_via
        && let Some(value) = on(via, false, out, violations)
    {
        out.push_unique(VERIFIABLE, value, via);
    }
    // A recovery code sent to a number that cannot receive it locks the
    // user out: recovery via sms always needs a real phone number.
    if let Some(via) = ext.recovery_via
        && let Some(value) = on(via, true, out, violations)
    {
        out.push_unique(RECOVERY, value, via);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In place, at the spill and on the heap, an insert puts the entry
    /// where `Vec::insert` does.
    #[test]
    fn entries_insert_like_a_vec() {
        for at_of in [|_: usize| 0, |n: usize| n, |n: usize| n / 2] {
            let mut entries = Entries::default();
            let mut reference: Vec<usize> = Vec::new();
            for n in 0..3 * INLINE {
                let at = at_of(n);
                entries.insert(
                    at,
                    Entry {
                        start: n,
                        end: n + 1,
                        via: AddressVia::Sms,
                    },
                );
                reference.insert(at, n);
                let got: Vec<usize> = entries.iter().map(|e| e.start).collect();
                assert_eq!(got, reference);
            }
            assert_eq!(entries.len(), 3 * INLINE);
        }
    }
}
