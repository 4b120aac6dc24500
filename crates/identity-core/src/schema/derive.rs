//! Validation of traits, and derivation of identifiers and addresses from the
//! `ory.sh/kratos` sites found at registration.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::extension::{Site, Step};
use super::{IdentitySchema, formats};
use crate::error::{Error, Violation};
use crate::limits::Limits;
use crate::model::{AddressVia, CredentialType};
use crate::normalize;

/// An address derived from the traits, normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DerivedAddress {
    /// The channel.
    pub via: AddressVia,
    /// The normalised value.
    pub value: String,
}

/// An entry of the `code` credential's address list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CodeAddress {
    /// The channel the code is sent on.
    pub channel: AddressVia,
    /// The normalised address.
    pub address: String,
}

/// What the `ory.sh/kratos` keyword derives from valid traits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    /// Identifiers of the schema-driven credential types (`password`,
    /// `webauthn`, `code`), de-duplicated, in document order.
    pub identifiers: BTreeMap<CredentialType, Vec<String>>,
    /// The `code` credential's addresses, sorted by address then channel.
    pub code_addresses: Vec<CodeAddress>,
    /// Verifiable addresses, de-duplicated, in document order.
    pub verifiable_addresses: Vec<DerivedAddress>,
    /// Recovery addresses, de-duplicated, in document order.
    pub recovery_addresses: Vec<DerivedAddress>,
}

impl Derived {
    /// The identifiers derived for one type (empty when none).
    pub fn identifiers_of(&self, kind: CredentialType) -> &[String] {
        self.identifiers
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or(&[])
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
        // By address, then channel (SPEC §2, as Kratos writes them).
        out.code_addresses
            .sort_by(|a, b| (&a.address, a.channel).cmp(&(&b.address, b.channel)));
        out.code_addresses.dedup();
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
            if let Some(child) = map.get(k) {
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

fn leaf(value: &Value, at: &Trail<'_>, f: &mut dyn FnMut(&Trail<'_>, &str)) {
    match value {
        Value::String(s) => f(at, s),
        Value::Number(n) => f(at, &n.to_string()),
        _ => {}
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn empty_violation(path: &Trail<'_>) -> Violation {
    Violation::at(
        path.pointer(),
        "the value is empty once normalised (it holds only spaces or invisible characters)",
    )
}

/// Normalises a value on a channel, checking what the channel requires.
fn on_channel(
    site: &Site,
    via: AddressVia,
    path: &Trail<'_>,
    raw: &str,
    violations: &mut Vec<Violation>,
    require_phone: bool,
) -> Option<String> {
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
            normalize::email(raw)
        }
        AddressVia::Sms => match normalize::phone(raw) {
            Some(e164) => e164,
            None if lenient => normalize::username(raw),
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
    if ext.password_identifier || ext.webauthn_identifier {
        let value = if site.format.as_deref() == Some("tel") {
            normalize::phone(raw).unwrap_or_else(|| normalize::username(raw))
        } else {
            normalize::identifier_like(raw)
        };
        if value.is_empty() {
            violations.push(empty_violation(path));
        } else {
            let ids = &mut out.identifiers;
            match (ext.password_identifier, ext.webauthn_identifier) {
                (true, true) => {
                    push_unique(
                        ids.entry(CredentialType::Password).or_default(),
                        value.clone(),
                    );
                    push_unique(ids.entry(CredentialType::Webauthn).or_default(), value);
                }
                (true, false) => {
                    push_unique(ids.entry(CredentialType::Password).or_default(), value);
                }
                _ => push_unique(ids.entry(CredentialType::Webauthn).or_default(), value),
            }
        }
    }
    // Each channel's normalisation runs once per value, however many of
    // code, verification and recovery use it; its last user takes it.
    let strict_recovery = ext.recovery_via == Some(AddressVia::Sms);
    let mut uses = [0usize; 2];
    for via in [ext.code_via, ext.verification_via]
        .into_iter()
        .chain((!strict_recovery).then_some(ext.recovery_via))
        .flatten()
    {
        uses[usize::from(via == AddressVia::Sms)] += 1;
    }
    let mut lenient: [Option<Option<String>>; 2] = [None, None];
    let mut on = |via: AddressVia, require_phone: bool, violations: &mut Vec<Violation>| {
        if require_phone && via == AddressVia::Sms {
            return on_channel(site, via, path, raw, violations, true);
        }
        let n = usize::from(via == AddressVia::Sms);
        let slot =
            lenient[n].get_or_insert_with(|| on_channel(site, via, path, raw, violations, false));
        uses[n] = uses[n].saturating_sub(1);
        if uses[n] == 0 {
            slot.take()
        } else {
            slot.clone()
        }
    };
    if let Some(via) = ext.code_via
        && let Some(value) = on(via, false, violations)
    {
        push_unique(
            out.identifiers.entry(CredentialType::Code).or_default(),
            value.clone(),
        );
        out.code_addresses.push(CodeAddress {
            channel: via,
            address: value,
        });
    }
    if let Some(via) = ext.verification_via
        && let Some(value) = on(via, false, violations)
    {
        push_unique(&mut out.verifiable_addresses, DerivedAddress { via, value });
    }
    // A recovery code sent to a number that cannot receive it locks the
    // user out: recovery via sms always needs a real phone number.
    if let Some(via) = ext.recovery_via
        && let Some(value) = on(via, true, violations)
    {
        push_unique(&mut out.recovery_addresses, DerivedAddress { via, value });
    }
}
