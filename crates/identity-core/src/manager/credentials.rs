//! Every credential rule, in one place: import parsing and merge (SPEC §6),
//! the credentials the traits derive (PUT, create), the checks a patched
//! credential passes (PATCH), deletion, first factors, and the rules all of
//! them share: which identifiers each type carries, which password hashes
//! are accepted, and when `updated_at` moves.

use base64::Engine as _;
use identity_password::{Password, PasswordHasher};
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub(crate) use crate::blocking::HashPool;
use crate::error::Error;
use crate::model::{Credential, CredentialConfig, CredentialType, Credentials, Identity};
use crate::schema::{CodeAddress, Derived};
use crate::time::Timestamp;

/// The reason Kratos gives for a password import it cannot use.
pub const UNKNOWN_HASH_FORMAT: &str = "The imported password does not match any known hash format.";

/// What the body says about a password.
#[derive(Debug, Clone)]
pub(crate) enum PasswordImport {
    /// A plaintext to hash (it wins over a hash).
    Plain(Password),
    /// An encoded hash, already checked by `check_import`.
    Hashed(String),
    /// Verify through the migration hook on first login.
    MigrationHook,
}

/// One type's import, parsed and checked.
#[derive(Debug, Clone)]
pub(crate) enum Import {
    Password(PasswordImport),
    Providers(CredentialType, Vec<Value>),
    Totp(String),
    Lookup(Vec<Value>),
    Keys {
        kind: CredentialType,
        credentials: Vec<Value>,
        user_handle: Option<String>,
    },
}

fn bad(kind: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("credentials.{kind}: {why}"))
}

fn config_of<'a>(kind: &str, body: &'a Value) -> Result<&'a Map<String, Value>, Error> {
    let Some(obj) = body.as_object() else {
        return Err(bad(kind, "must be an object with a `config`"));
    };
    if let Some(extra) = obj.keys().find(|k| k.as_str() != "config") {
        return Err(bad(
            kind,
            format!("unknown field `{extra}` (expected `config`)"),
        ));
    }
    match obj.get("config") {
        Some(Value::Object(config)) => Ok(config),
        _ => Err(bad(kind, "`config` must be an object")),
    }
}

fn only_fields(kind: &str, config: &Map<String, Value>, allowed: &[&str]) -> Result<(), Error> {
    match config.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(bad(kind, format!("unknown config field `{extra}`"))),
        None => Ok(()),
    }
}

fn opt_str<'a>(
    kind: &str,
    config: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, Error> {
    match config.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(kind, format!("`{field}` must be a string"))),
    }
}

/// Parses the `credentials` map of a create or PUT body.
pub(crate) fn parse_imports(map: &Map<String, Value>) -> Result<Vec<Import>, Error> {
    let mut out = Vec::new();
    for (name, body) in map {
        if body.is_null() {
            continue;
        }
        let Some(kind) = CredentialType::parse(name) else {
            return Err(Error::invalid(format!(
                "credentials: unknown credential type `{name}`"
            )));
        };
        let config = config_of(name, body)?;
        let import = match kind {
            CredentialType::Password => parse_password(config)?,
            CredentialType::Oidc | CredentialType::Saml => parse_providers(kind, config)?,
            CredentialType::Totp => {
                only_fields(name, config, &["totp_url"])?;
                // Stored as given, as Kratos does: it is the TOTP secret in
                // whatever URL form the importing system wrote it.
                let url = opt_str(name, config, "totp_url")?.unwrap_or_default();
                Import::Totp(url.to_owned())
            }
            CredentialType::LookupSecret => parse_lookup(config)?,
            CredentialType::Webauthn | CredentialType::Passkey => parse_keys(kind, config)?,
            CredentialType::Code => {
                return Err(bad(
                    name,
                    "code credentials cannot be imported: they are derived from the traits",
                ));
            }
        };
        out.push(import);
    }
    Ok(out)
}

fn parse_password(config: &Map<String, Value>) -> Result<Import, Error> {
    only_fields(
        "password",
        config,
        &["password", "hashed_password", "use_password_migration_hook"],
    )?;
    let plain = opt_str("password", config, "password")?.filter(|p| !p.is_empty());
    let hashed = opt_str("password", config, "hashed_password")?.filter(|h| !h.is_empty());
    let hook = match config.get("use_password_migration_hook") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(bad(
                "password",
                "`use_password_migration_hook` must be a boolean",
            ));
        }
    };
    if let Some(p) = plain {
        return Ok(Import::Password(PasswordImport::Plain(Password::new(p))));
    }
    if let Some(h) = hashed {
        check_hash(h)?;
        return Ok(Import::Password(PasswordImport::Hashed(h.to_owned())));
    }
    if hook {
        return Ok(Import::Password(PasswordImport::MigrationHook));
    }
    Err(Error::invalid(UNKNOWN_HASH_FORMAT))
}

fn parse_providers(kind: CredentialType, config: &Map<String, Value>) -> Result<Import, Error> {
    let name = kind.as_str();
    only_fields(name, config, &["providers"])?;
    let Some(Value::Array(list)) = config.get("providers") else {
        return Err(bad(name, "`providers` must be an array"));
    };
    let mut providers = Vec::with_capacity(list.len());
    for p in list {
        let Some(obj) = p.as_object() else {
            return Err(bad(name, "each provider must be an object"));
        };
        let allowed: &[&str] = if kind == CredentialType::Oidc {
            &["provider", "subject", "organization", "use_auto_link"]
        } else {
            &["provider", "subject", "organization"]
        };
        only_fields(name, obj, allowed)?;
        let provider = opt_str(name, obj, "provider")?.unwrap_or_default();
        let subject = opt_str(name, obj, "subject")?.unwrap_or_default();
        if provider.is_empty() || subject.is_empty() {
            return Err(bad(
                name,
                "each provider needs a non-empty `provider` and `subject`",
            ));
        }
        if provider.contains(':') {
            return Err(bad(name, "a provider id must not contain `:`"));
        }
        // Stored as Kratos stores a link: OIDC ones with (empty) initial
        // tokens, which its readers expect.
        let mut stored = Map::new();
        stored.insert("subject".into(), json!(subject));
        stored.insert("provider".into(), json!(provider));
        if kind == CredentialType::Oidc {
            for token in [
                "initial_id_token",
                "initial_access_token",
                "initial_refresh_token",
            ] {
                stored.insert(token.into(), json!(""));
            }
        }
        if let Some(org) = opt_str(name, obj, "organization")?.filter(|o| !o.is_empty()) {
            stored.insert("organization".into(), json!(org));
        }
        // Stored only when true, as Kratos omits a false one.
        match obj.get("use_auto_link") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => {
                stored.insert("use_auto_link".into(), json!(true));
            }
            Some(_) => return Err(bad(name, "`use_auto_link` must be a boolean")),
        }
        providers.push(Value::Object(stored));
    }
    Ok(Import::Providers(kind, providers))
}

fn parse_lookup(config: &Map<String, Value>) -> Result<Import, Error> {
    only_fields("lookup_secret", config, &["codes"])?;
    let Some(Value::Array(list)) = config.get("codes") else {
        return Err(bad("lookup_secret", "`codes` must be an array"));
    };
    let mut codes = Vec::with_capacity(list.len());
    for c in list {
        let Some(obj) = c.as_object() else {
            return Err(bad("lookup_secret", "each code must be an object"));
        };
        only_fields("lookup_secret", obj, &["code", "used_at"])?;
        let code = opt_str("lookup_secret", obj, "code")?.unwrap_or_default();
        if code.is_empty() {
            return Err(bad("lookup_secret", "each code needs a non-empty `code`"));
        }
        let mut stored = Map::new();
        stored.insert("code".into(), json!(code));
        // `used_at: null` for an unused code, as Kratos stores it.
        let used_at = match opt_str("lookup_secret", obj, "used_at")? {
            Some(used) => json!(Timestamp::parse(used).ok_or_else(|| {
                bad("lookup_secret", "`used_at` must be an RFC 3339 timestamp")
            })?),
            None => Value::Null,
        };
        stored.insert("used_at".into(), used_at);
        codes.push(Value::Object(stored));
    }
    Ok(Import::Lookup(codes))
}

fn parse_keys(kind: CredentialType, config: &Map<String, Value>) -> Result<Import, Error> {
    let name = kind.as_str();
    only_fields(name, config, &["credentials", "user_handle"])?;
    let credentials = match config.get("credentials") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(bad(name, "`credentials` must be an array")),
    };
    for c in &credentials {
        match c.get("id") {
            Some(Value::String(id)) if !id.is_empty() => {}
            _ => return Err(bad(name, "each key needs a non-empty string `id`")),
        }
    }
    let user_handle = opt_str(name, config, "user_handle")?
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    Ok(Import::Keys {
        kind,
        credentials,
        user_handle,
    })
}

/// The import config (`credentials.<type>.config` of a create body) that
/// recreates a stored credential's config: the inverse of
/// [`parse_imports`] and [`merge`], so an exported identity imports again
/// to the same credential. `None` when there is nothing to import: `code`
/// (derived from the traits), and a config holding no secret (`{}`: the
/// traits derive it again). Only the fields an import accepts are written;
/// anything else a PATCH put into a config is left out.
pub(crate) fn import_config(kind: CredentialType, config: &Value) -> Option<Value> {
    let get = |field: &str| config.get(field).filter(|v| !v.is_null());
    let pick = |item: &Value, fields: &[&str]| -> Value {
        let mut out = Map::new();
        for field in fields {
            if let Some(v) = item.get(*field).filter(|v| !v.is_null()) {
                out.insert((*field).to_owned(), v.clone());
            }
        }
        Value::Object(out)
    };
    let out = match kind {
        CredentialType::Password => {
            if let Some(hash) = get("hashed_password").filter(|h| h.as_str() != Some("")) {
                json!({ "hashed_password": hash })
            } else if get("use_password_migration_hook") == Some(&Value::Bool(true)) {
                json!({ "use_password_migration_hook": true })
            } else {
                return None;
            }
        }
        CredentialType::Oidc | CredentialType::Saml => {
            let fields: &[&str] = if kind == CredentialType::Oidc {
                &["provider", "subject", "organization", "use_auto_link"]
            } else {
                &["provider", "subject", "organization"]
            };
            let providers: Vec<Value> = get("providers")?
                .as_array()?
                .iter()
                .map(|p| pick(p, fields))
                .collect();
            json!({ "providers": providers })
        }
        CredentialType::Totp => json!({ "totp_url": get("totp_url")? }),
        CredentialType::LookupSecret => {
            let codes: Vec<Value> = get("recovery_codes")?
                .as_array()?
                .iter()
                .map(|c| pick(c, &["code", "used_at"]))
                .collect();
            json!({ "codes": codes })
        }
        CredentialType::Webauthn | CredentialType::Passkey => {
            let keys = get("credentials")?.as_array()?;
            // A passkey without keys cannot be imported (Kratos' rule).
            if keys.is_empty() && kind == CredentialType::Passkey {
                return None;
            }
            let mut out = Map::new();
            out.insert("credentials".into(), Value::Array(keys.clone()));
            if let Some(handle) = get("user_handle") {
                out.insert("user_handle".into(), handle.clone());
            }
            Value::Object(out)
        }
        CredentialType::Code => return None,
    };
    Some(out)
}

/// Hashes plaintext passwords through `pool`, replacing them by their
/// hashes: however many requests arrive at once, at most the pool's
/// permits hash together, each holding its memory cost (19 MiB by
/// default); the others wait their turn.
pub(crate) async fn hash_passwords(
    imports: &mut [Import],
    hasher: &PasswordHasher,
    pool: &HashPool,
) -> Result<(), Error> {
    for import in imports.iter_mut() {
        if let Import::Password(PasswordImport::Plain(p)) = import {
            let hash = pool.hash(hasher, p.clone()).await?;
            *import = Import::Password(PasswordImport::Hashed(hash));
        }
    }
    Ok(())
}

/// A dry run's stand-in for [`hash_passwords`]: each plaintext is refused
/// exactly as hashing would refuse it, and otherwise replaced by
/// [`PasswordHasher::dry_run_hash`]'s string (the configured format and
/// length, verifying nothing), without spending a hash's time or memory.
pub(crate) fn dry_run_passwords(
    imports: &mut [Import],
    hasher: &PasswordHasher,
) -> Result<(), Error> {
    for import in imports.iter_mut() {
        if let Import::Password(PasswordImport::Plain(p)) = import {
            let hash = hasher
                .dry_run_hash(p.expose())
                .map_err(|e| Error::invalid(format!("credentials.password: {e}")))?;
            *import = Import::Password(PasswordImport::Hashed(hash));
        }
    }
    Ok(())
}

/// Identifiers in their canonical order, as Kratos reads them back:
/// sorted, each once.
pub(crate) fn canonical(mut identifiers: Vec<String>) -> Vec<String> {
    identifiers.sort_unstable();
    identifiers.dedup();
    identifiers
}

/// The check every stored password hash passes, imported or patched in: a
/// format `identity-password` verifies, with cost parameters it accepts.
pub(crate) fn check_hash(hash: &str) -> Result<(), Error> {
    identity_password::check_import(hash)
        .map_err(|e| Error::invalid(format!("{UNKNOWN_HASH_FORMAT} ({e})")))
}

/// The identifiers of the types an identity holds at most one of, which
/// Kratos identifies by the identity's id: TOTP and lookup codes.
fn owner_identifiers(identity_id: Uuid) -> Vec<String> {
    vec![identity_id.to_string()]
}

/// The format version each type's config is written in, as Kratos reports
/// it (its readers upgrade password, WebAuthn and code configs to 1).
fn config_version(kind: CredentialType) -> i64 {
    match kind {
        CredentialType::Password | CredentialType::Webauthn | CredentialType::Code => 1,
        _ => 0,
    }
}

/// The timestamps and version of a credential written over `old` (or new):
/// `created_at` and the version stay, and `updated_at` moves to `now` only
/// when the identifiers or the config changed.
fn stamp(credential: &mut Credential, old: Option<&Credential>, now: Timestamp) {
    match old {
        Some(old) => {
            credential.created_at = old.created_at;
            credential.version = old.version;
            credential.updated_at =
                if credential.config == old.config && credential.identifiers == old.identifiers {
                    old.updated_at
                } else {
                    now
                };
        }
        None => {
            credential.created_at = now;
            credential.updated_at = now;
        }
    }
}

/// Puts `config` (if given) and `identifiers` (if given) as the credential
/// of `kind`, creating it (with an empty config when none is given) or
/// changing it in place; `updated_at` follows [`stamp`]'s rule.
fn put(
    creds: &mut Credentials,
    kind: CredentialType,
    config: Option<Value>,
    identifiers: Option<Vec<String>>,
    now: Timestamp,
) {
    let identifiers = identifiers.map(canonical);
    match creds.get_mut(&kind) {
        Some(c) => {
            let mut changed = false;
            if let Some(config) = config
                && c.config.expose() != &config
            {
                c.config = CredentialConfig::new(config);
                changed = true;
            }
            if let Some(ids) = identifiers
                && c.identifiers != ids
            {
                c.identifiers = ids;
                changed = true;
            }
            if changed {
                c.updated_at = now;
            }
        }
        None => {
            let mut credential = Credential {
                kind,
                identifiers: identifiers.unwrap_or_default(),
                config: CredentialConfig::new(config.unwrap_or_else(|| Value::Object(Map::new()))),
                version: config_version(kind),
                created_at: now,
                updated_at: now,
            };
            stamp(&mut credential, None, now);
            creds.insert(kind, credential);
        }
    }
}

/// The credential types the traits derive identifiers for.
const DERIVED_TYPES: [CredentialType; 3] = [
    CredentialType::Password,
    CredentialType::Webauthn,
    CredentialType::Code,
];

/// Sets the schema-driven credentials (password, WebAuthn, code) to exactly
/// the identifiers the traits derive: a credential whose identifiers are
/// all gone is removed unless it still holds a config (a password hash, a
/// key); the code credential's config is the derived code addresses.
/// `false` when it left `creds` as they were (`true` when it may have
/// changed them).
pub(crate) fn apply_derived(creds: &mut Credentials, derived: &Derived, now: Timestamp) -> bool {
    let mut changed = false;
    for kind in DERIVED_TYPES {
        let derived_ids = derived.identifiers_of(kind);
        let none_derived = derived_ids.len() == 0;
        let stored = creds.get(&kind);
        match stored {
            Some(c) if none_derived && (c.config.is_empty() || kind == CredentialType::Code) => {
                creds.remove(&kind);
                changed = true;
                continue;
            }
            None if none_derived => continue,
            _ => {}
        }
        // What a write that changes nothing would rebuild only to compare
        // equal is compared in place (this runs on every write).
        let config = (kind == CredentialType::Code)
            .then(|| derived.code_addresses())
            .filter(|addresses| {
                !stored.is_some_and(|c| is_code_config(c.config.expose(), addresses.clone()))
            })
            .map(|addresses| json!({ "addresses": addresses.collect::<Vec<_>>() }));
        let ids =
            if stored.is_some_and(|c| is_canonical_form_of(&c.identifiers, derived_ids.clone())) {
                None
            } else {
                Some(canonical(derived_ids.map(str::to_owned).collect()))
            };
        if stored.is_some() && config.is_none() && ids.is_none() {
            continue;
        }
        put(creds, kind, config, ids, now);
        changed = true;
    }
    changed
}

/// Whether `config` is exactly `{"addresses": addresses}` as JSON (what
/// `json!({"addresses": addresses})` builds, compared without building it).
fn is_code_config<'a>(
    config: &Value,
    addresses: impl ExactSizeIterator<Item = CodeAddress<'a>>,
) -> bool {
    let Some(map) = config.as_object().filter(|m| m.len() == 1) else {
        return false;
    };
    let Some(Value::Array(items)) = member(map, "addresses") else {
        return false;
    };
    items.len() == addresses.len()
        && items.iter().zip(addresses).all(|(item, a)| {
            item.as_object().is_some_and(|o| {
                o.len() == 2
                    && member(o, "channel").and_then(Value::as_str) == Some(a.channel.as_str())
                    && member(o, "address").and_then(Value::as_str) == Some(a.address)
            })
        })
}

/// `map.get(key)` for the one- and two-member objects of a code config:
/// a look along them costs less than hashing the key.
fn member<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Whether `stored` equals `canonical(derived)` (of the identifiers
/// owned), without the copy: true when `derived` is already strictly
/// ascending (so sorting and de-duplicating leave it as it is) and equal to
/// `stored`.
fn is_canonical_form_of<'a>(
    stored: &[String],
    derived: impl ExactSizeIterator<Item = &'a str>,
) -> bool {
    stored.len() == derived.len()
        && stored.iter().zip(derived).all(|(s, d)| s == d)
        && stored.windows(2).all(|w| w[0] < w[1])
}

/// Brings the credentials a PATCH produced back under the rules: canonical
/// identifiers, a changed password hash that passes [`check_hash`], the
/// identifiers TOTP, lookup codes and passkeys must carry, and the
/// timestamps of [`stamp`] against what was stored.
pub(crate) fn settle_patched(
    creds: &mut Credentials,
    stored: &Identity,
    now: Timestamp,
) -> Result<(), Error> {
    for (kind, credential) in creds.iter_mut() {
        let old = stored.credentials.get(kind);
        credential.identifiers = canonical(std::mem::take(&mut credential.identifiers));
        if *kind == CredentialType::Password {
            let new_hash = credential.config.expose().get("hashed_password");
            let old_hash = old.and_then(|o| o.config.expose().get("hashed_password"));
            if let Some(h) = new_hash
                && Some(h) != old_hash
            {
                check_hash(
                    h.as_str()
                        .ok_or_else(|| Error::invalid(UNKNOWN_HASH_FORMAT))?,
                )?;
            }
        }
        match *kind {
            CredentialType::Totp | CredentialType::LookupSecret => {
                credential.identifiers = owner_identifiers(stored.id);
            }
            // The identifier follows the user handle when there is one;
            // a passkey patched in without one keeps what was patched (as
            // Kratos lets it).
            CredentialType::Passkey => {
                if let Some(h) = credential
                    .config
                    .expose()
                    .get("user_handle")
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty())
                {
                    credential.identifiers = vec![passkey_identifier(h)?];
                }
            }
            _ => {}
        }
        stamp(credential, old, now);
    }
    Ok(())
}

fn existing_array(creds: &Credentials, kind: CredentialType, field: &str) -> Vec<Value> {
    creds
        .get(&kind)
        .and_then(|c| c.config.expose().get(field))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Merges parsed imports into `creds` by the rules of SPEC §6.
/// Passwords must have been hashed already.
pub(crate) fn merge(
    creds: &mut Credentials,
    imports: Vec<Import>,
    identity_id: Uuid,
    now: Timestamp,
) -> Result<(), Error> {
    for import in imports {
        match import {
            Import::Password(p) => {
                let config = match p {
                    PasswordImport::Hashed(h) => json!({"hashed_password": h}),
                    PasswordImport::MigrationHook => json!({"use_password_migration_hook": true}),
                    PasswordImport::Plain(_) => {
                        return Err(Error::Internal {
                            message: "a plaintext password reached the merge unhashed".into(),
                            source: None,
                        });
                    }
                };
                put(creds, CredentialType::Password, Some(config), None, now);
            }
            Import::Providers(kind, providers) => {
                let mut merged = existing_array(creds, kind, "providers");
                for p in providers {
                    let same = |q: &Value| {
                        q.get("provider") == p.get("provider")
                            && q.get("subject") == p.get("subject")
                    };
                    if !merged.iter().any(same) {
                        merged.push(p);
                    }
                }
                let identifiers = merged
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{}",
                            p.get("provider")
                                .and_then(Value::as_str)
                                .unwrap_or_default(),
                            p.get("subject").and_then(Value::as_str).unwrap_or_default()
                        )
                    })
                    .collect();
                put(
                    creds,
                    kind,
                    Some(json!({"providers": merged})),
                    Some(identifiers),
                    now,
                );
            }
            Import::Totp(url) => {
                put(
                    creds,
                    CredentialType::Totp,
                    Some(json!({"totp_url": url})),
                    Some(owner_identifiers(identity_id)),
                    now,
                );
            }
            Import::Lookup(codes) => {
                let mut merged =
                    existing_array(creds, CredentialType::LookupSecret, "recovery_codes");
                merged.extend(codes);
                put(
                    creds,
                    CredentialType::LookupSecret,
                    Some(json!({"recovery_codes": merged})),
                    Some(owner_identifiers(identity_id)),
                    now,
                );
            }
            Import::Keys {
                kind,
                credentials,
                user_handle,
            } => {
                let mut merged = existing_array(creds, kind, "credentials");
                for mut key in credentials {
                    // A key without the flag is a second factor, as in Kratos.
                    if kind == CredentialType::Webauthn
                        && let Value::Object(fields) = &mut key
                    {
                        fields
                            .entry("is_passwordless")
                            .or_insert(Value::Bool(false));
                    }
                    match merged.iter_mut().find(|k| k.get("id") == key.get("id")) {
                        Some(slot) => *slot = key,
                        None => merged.push(key),
                    }
                }
                let stored_handle = creds
                    .get(&kind)
                    .and_then(|c| c.config.expose().get("user_handle"))
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned);
                let handle = match (user_handle.clone(), stored_handle, kind) {
                    (Some(h), _, _) | (None, Some(h), _) => Some(h),
                    // Kratos' WebAuthn user handle defaults to the identity
                    // id's bytes.
                    (None, None, CredentialType::Webauthn) => Some(
                        base64::engine::general_purpose::STANDARD.encode(identity_id.as_bytes()),
                    ),
                    (None, None, _) => None,
                };
                let mut config = Map::new();
                config.insert("credentials".into(), Value::Array(merged.clone()));
                if let Some(h) = &handle {
                    config.insert("user_handle".into(), json!(h));
                }
                let identifiers = if kind == CredentialType::Passkey {
                    let Some(h) = &handle else {
                        return Err(Error::invalid(
                            "Passkey credential import requires a non-empty user_handle. It must match the WebAuthn user handle stored on the authenticator.",
                        ));
                    };
                    if merged.is_empty() {
                        return Err(Error::invalid(
                            "Passkey credential import requires at least one entry in credentials.passkey.config.credentials.",
                        ));
                    }
                    // The identifier is the handle's bytes as text, which is
                    // what Kratos' passkey login looks the identity up by.
                    let mut identifiers = creds
                        .get(&kind)
                        .map(|c| c.identifiers.clone())
                        .unwrap_or_default();
                    let decoded = passkey_identifier(h)?;
                    if !identifiers.contains(&decoded) {
                        identifiers.push(decoded);
                    }
                    Some(identifiers)
                } else {
                    None
                };
                put(creds, kind, Some(Value::Object(config)), identifiers, now);
            }
        }
    }
    Ok(())
}

/// A passkey's identifier: its user handle (standard base64, as Kratos
/// writes bytes in JSON) decoded, the bytes read as text.
fn passkey_identifier(user_handle: &str) -> Result<String, Error> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(user_handle).ok())
        .ok_or_else(|| bad("passkey", "`user_handle` must be base64"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if text.is_empty() {
        return Err(bad("passkey", "`user_handle` must not decode to nothing"));
    }
    Ok(text)
}

/// Whether a body imports more than zero plaintext passwords.
pub(crate) fn has_plaintext(imports: &[Import]) -> bool {
    imports
        .iter()
        .any(|i| matches!(i, Import::Password(PasswordImport::Plain(_))))
}

/// How many first-factor credentials (ways to log in without another
/// factor) an identity holds, counted as Kratos counts them: a password
/// with an identifier and a hash (or the migration hook); each OIDC link
/// outside an organization; each passwordless WebAuthn key and each
/// passkey key when the credential has an identifier. SAML links, TOTP,
/// lookup codes and code login (off by default in Kratos) do not count.
pub(crate) fn first_factors(creds: &Credentials) -> usize {
    let has_identifier = |c: &Credential| c.identifiers.iter().any(|i| !i.is_empty());
    let keys = |c: &Credential| {
        c.config
            .expose()
            .get("credentials")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    creds
        .values()
        .map(|c| match c.kind {
            CredentialType::Password => {
                let config = c.config.expose();
                let hashed = config
                    .get("hashed_password")
                    .and_then(Value::as_str)
                    .is_some_and(|h| !h.is_empty());
                let hook = config.get("use_password_migration_hook") == Some(&Value::Bool(true));
                usize::from(has_identifier(c) && (hashed || hook))
            }
            CredentialType::Oidc => providers(c)
                .iter()
                .filter(|p| p.get("organization").is_none_or(Value::is_null))
                .filter(|p| c.identifiers.contains(&provider_identifier(p)))
                .count(),
            CredentialType::Webauthn if has_identifier(c) => keys(c)
                .iter()
                .filter(|k| k.get("is_passwordless") == Some(&Value::Bool(true)))
                .count(),
            CredentialType::Passkey if has_identifier(c) => keys(c).len(),
            _ => 0,
        })
        .sum()
}

fn providers(c: &Credential) -> Vec<Value> {
    c.config
        .expose()
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `provider:subject`, the identifier of an OIDC or SAML link.
fn provider_identifier(p: &Value) -> String {
    let part = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    let (provider, subject) = (part("provider"), part("subject"));
    if provider.is_empty() || subject.is_empty() {
        return String::new();
    }
    format!("{provider}:{subject}")
}

/// Deletes one credential of `creds` (or part of it) by Kratos' rules for
/// `DELETE /admin/identities/{id}/credentials/{type}`:
/// `totp` and `lookup_secret` go whole; `webauthn` loses its second-factor
/// keys (passwordless ones stay); `password` keeps its identifiers and
/// loses its hash; `oidc` and `saml` lose the one link `identifier` names;
/// the last first-factor credential cannot go; other types cannot be
/// deleted. A type the identity does not hold (or that does not exist) is
/// "not found".
pub(crate) fn delete(
    creds: &mut Credentials,
    kind_name: &str,
    identifier: Option<&str>,
    now: Timestamp,
) -> Result<(), Error> {
    let kind = CredentialType::parse(kind_name).filter(|k| creds.contains_key(k));
    let Some(kind) = kind else {
        return Err(Error::PartNotFound {
            reason: format!(
                "You tried to remove a {kind_name} but this user have no {kind_name} set up."
            ),
        });
    };
    match kind {
        CredentialType::Totp | CredentialType::LookupSecret => {
            creds.remove(&kind);
        }
        CredentialType::Webauthn => {
            let Some(credential) = creds.get_mut(&kind) else {
                return Ok(());
            };
            let mut config = credential.config.expose().clone();
            let Some(Value::Array(keys)) = config.get_mut("credentials") else {
                creds.remove(&kind);
                return Ok(());
            };
            let before = keys.len();
            keys.retain(|k| k.get("is_passwordless") == Some(&Value::Bool(true)));
            if keys.is_empty() {
                creds.remove(&kind);
            } else if keys.len() != before {
                credential.config = CredentialConfig::new(config);
                credential.updated_at = now;
            }
        }
        CredentialType::Password | CredentialType::Oidc | CredentialType::Saml => {
            if first_factors(creds) < 2 {
                return Err(Error::invalid(
                    "You cannot remove the last first factor credential.",
                ));
            }
            let Some(credential) = creds.get_mut(&kind) else {
                return Ok(());
            };
            if kind == CredentialType::Password {
                credential.config = CredentialConfig::empty();
                credential.updated_at = now;
                return Ok(());
            }
            let identifier = identifier.filter(|i| !i.is_empty()).ok_or_else(|| {
                Error::invalid("You must provide an identifier to delete this credential.")
            })?;
            let mut remaining = providers(credential);
            let before = remaining.len();
            remaining.retain(|p| provider_identifier(p) != identifier);
            if remaining.len() == before {
                return Err(Error::PartNotFound {
                    reason: format!(
                        "The identifier `{identifier}` was not found among OIDC credentials."
                    ),
                });
            }
            credential.identifiers = canonical(remaining.iter().map(provider_identifier).collect());
            credential.config = CredentialConfig::new(json!({ "providers": remaining }));
            credential.updated_at = now;
        }
        CredentialType::Passkey | CredentialType::Code => {
            return Err(Error::invalid(format!(
                "Credentials type {kind_name} cannot be deleted."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AddressVia;

    fn address(channel: AddressVia, address: &str) -> CodeAddress<'_> {
        CodeAddress { channel, address }
    }

    /// The in-place comparison agrees with building the config and
    /// comparing JSON, on every pair of a set of address lists.
    #[test]
    fn code_config_comparison_agrees_with_the_built_json() {
        let lists: Vec<Vec<CodeAddress>> = vec![
            vec![],
            vec![address(AddressVia::Email, "a@x.example")],
            vec![address(AddressVia::Sms, "a@x.example")],
            vec![address(AddressVia::Email, "b@x.example")],
            vec![
                address(AddressVia::Email, "a@x.example"),
                address(AddressVia::Sms, "+15550000000"),
            ],
            vec![
                address(AddressVia::Sms, "+15550000000"),
                address(AddressVia::Email, "a@x.example"),
            ],
        ];
        for stored in &lists {
            let config = json!({ "addresses": stored });
            for derived in &lists {
                assert_eq!(
                    is_code_config(&config, derived.iter().copied()),
                    config == json!({ "addresses": derived }),
                    "{stored:?} against {derived:?}"
                );
            }
        }
        let one = [address(AddressVia::Email, "a@x.example")];
        for other in [
            json!({"addresses": [{"channel": "email", "address": "a@x.example", "x": 1}]}),
            json!({"addresses": [{"channel": "email", "address": "a@x.example"}], "x": 1}),
            json!({"addresses": {"channel": "email", "address": "a@x.example"}}),
            json!(null),
            json!({}),
        ] {
            assert!(!is_code_config(&other, one.iter().copied()), "{other}");
        }
    }

    #[test]
    fn canonical_form_is_recognised_without_a_copy() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let d = |v: &'static [&'static str]| v.iter().copied();
        assert!(is_canonical_form_of(&s(&["a", "b"]), d(&["a", "b"])));
        assert!(is_canonical_form_of(&[], d(&[])));
        // Unsorted or repeated derived identifiers are not canonical as
        // they stand, so they are rebuilt (and then compared by `put`).
        assert!(!is_canonical_form_of(&s(&["a", "b"]), d(&["b", "a"])));
        assert!(!is_canonical_form_of(&s(&["a", "a"]), d(&["a", "a"])));
        assert!(!is_canonical_form_of(&s(&["a"]), d(&["a", "b"])));
        assert!(!is_canonical_form_of(&s(&["a", "b"]), d(&["a"])));
    }
}
