//! The schema registry: identity schemas compiled once at registration, and
//! trait validation with derivation of identifiers and addresses.

mod derive;
mod extension;
mod formats;
mod message;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

pub use derive::{CodeAddress, Derived, DerivedAddress};
pub use extension::{Extension, MAX_REF_DEPTH, MAX_SITES, MAX_WALK_STEPS, Site, Step};
pub use formats::{
    EMAIL_LOCAL_MAX_LEN, EMAIL_MAX_LEN, is_valid_email, is_valid_tel, stock_email_rule,
};
pub(crate) use message::Pending;

use crate::error::Error;
use crate::limits::{BODY_MAX_DEPTH, dispose, extent};
use crate::model::CredentialType;

/// The deepest schema document registration takes (`serde_json`'s own
/// parser limit, so every schema read from text passes).
pub const SCHEMA_MAX_DEPTH: usize = BODY_MAX_DEPTH;

/// The most `$ref`s one schema may hold. The compiler's cost grows with
/// the square of a chain of references (20,000 take a second); identity
/// schemas use a handful.
pub const SCHEMA_MAX_REFS: usize = 1_000;

/// The schema id used when none is configured.
pub const DEFAULT_SCHEMA_ID: &str = "default";

/// A compiled identity schema.
pub struct IdentitySchema {
    id: String,
    raw: Value,
    validator: jsonschema::Validator,
    sites: Vec<Site>,
    declared_types: BTreeSet<CredentialType>,
}

impl fmt::Debug for IdentitySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySchema")
            .field("id", &self.id)
            .field("sites", &self.sites.len())
            .finish_non_exhaustive()
    }
}

impl IdentitySchema {
    /// Compiles `raw` as the identity schema `id`.
    ///
    /// Draft-07 applies when the schema names no `$schema`; `format` is
    /// asserted (`email`, `tel`, `date`, `time`, `date-time`, `uri`, `uuid`,
    /// ...; `no-validate` always passes); patterns use a linear-time regex
    /// engine; nothing is fetched over the network. A schema whose
    /// `properties.traits` is missing or not an object schema, or whose
    /// `ory.sh/kratos` keyword is misplaced or malformed, is rejected.
    pub fn compile(id: impl Into<String>, raw: Value) -> Result<Self, Error> {
        let id = id.into();
        let invalid = |why: String| Error::Schema(format!("invalid identity schema {id:?}: {why}"));
        // Before anything that recurses (the compiler, cloning, dropping).
        let raw = match extent(&raw, SCHEMA_MAX_DEPTH, usize::MAX) {
            Ok(_) => raw,
            Err(_) => {
                dispose(raw);
                return Err(invalid(format!(
                    "it is nested deeper than {SCHEMA_MAX_DEPTH} levels"
                )));
            }
        };
        if !raw.is_object() {
            return Err(invalid("a schema must be a JSON object".into()));
        }
        let refs = count_refs(&raw);
        if refs > SCHEMA_MAX_REFS {
            return Err(invalid(format!(
                "it holds {refs} $refs, more than the limit of {SCHEMA_MAX_REFS}"
            )));
        }
        let traits = raw
            .get("properties")
            .and_then(|p| p.get("traits"))
            .ok_or_else(|| invalid("it has no `properties.traits` schema".into()))?;
        check_traits_schema(traits).map_err(invalid)?;
        let mut options = jsonschema::options()
            .should_validate_formats(true)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .with_format("email", formats::is_valid_email)
            .with_format("tel", formats::is_valid_tel)
            .with_format("uuid", formats::is_valid_uuid)
            .with_format("no-validate", |_: &str| true);
        if raw.get("$schema").is_none() {
            options = options.with_draft(jsonschema::Draft::Draft7);
        }
        let validator = options.build(&raw).map_err(|e| invalid(e.to_string()))?;
        let sites = extension::find_sites(&raw, traits).map_err(invalid)?;
        let declared_types = sites
            .iter()
            .flat_map(|site| {
                let ext = &site.extension;
                [
                    ext.password_identifier.then_some(CredentialType::Password),
                    ext.webauthn_identifier.then_some(CredentialType::Webauthn),
                    ext.code_via.map(|_| CredentialType::Code),
                ]
            })
            .flatten()
            .collect();
        Ok(IdentitySchema {
            id,
            raw,
            validator,
            sites,
            declared_types,
        })
    }

    /// The schema id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The schema as registered.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// Where the `ory.sh/kratos` keyword sits, found at registration.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The schema-driven credential types (`password`, `webauthn`, `code`)
    /// this schema declares identifiers for, whether or not given traits
    /// hold any.
    pub fn declared_types(&self) -> &BTreeSet<CredentialType> {
        &self.declared_types
    }
}

/// How many objects of `schema` hold a `$ref` (iteratively: its depth was
/// bounded already, but nothing here needs recursion).
fn count_refs(schema: &Value) -> usize {
    let mut count = 0;
    let mut stack = vec![schema];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                count += usize::from(map.contains_key("$ref"));
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    count
}

/// The JSON type of a value as Kratos' validator names it (every number a
/// `number`).
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_traits_schema(traits: &Value) -> Result<(), String> {
    let Some(obj) = traits.as_object() else {
        return Err("`properties.traits` must be an object schema".into());
    };
    let type_ok = match obj.get("type") {
        None => true,
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        Some(_) => false,
    };
    if type_ok {
        Ok(())
    } else {
        Err("`properties.traits` must be an object schema (\"type\": \"object\")".into())
    }
}

/// The registered identity schemas, by id.
///
/// ```
/// use identity_core::SchemaRegistry;
/// use serde_json::json;
///
/// let mut registry = SchemaRegistry::new();
/// registry.register("default", json!({
///     "properties": {"traits": {"type": "object", "properties": {
///         "email": {"type": "string", "format": "email",
///                   "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
///     }}}
/// })).unwrap();
/// assert_eq!(registry.resolve("").unwrap().id(), "default");
/// // The base64url form of an id resolves to it too.
/// assert_eq!(registry.resolve("ZGVmYXVsdA").unwrap().id(), "default");
/// ```
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    /// By id in a B-tree: every write looks its schema up, and a handful
    /// of string comparisons cost less than hashing the id.
    schemas: BTreeMap<String, Arc<IdentitySchema>>,
    order: Vec<String>,
    default_id: String,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        SchemaRegistry::new()
    }
}

impl SchemaRegistry {
    /// An empty registry whose default id is `"default"`.
    pub fn new() -> Self {
        SchemaRegistry {
            schemas: BTreeMap::new(),
            order: Vec::new(),
            default_id: DEFAULT_SCHEMA_ID.to_owned(),
        }
    }

    /// Sets the id an empty schema id resolves to.
    pub fn set_default_id(&mut self, id: impl Into<String>) {
        self.default_id = id.into();
    }

    /// The id an empty schema id resolves to.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// Compiles and registers a schema; replaces one of the same id.
    pub fn register(&mut self, id: impl Into<String>, schema: Value) -> Result<(), Error> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::Schema("a schema id must not be empty".into()));
        }
        let compiled = IdentitySchema::compile(id.clone(), schema)?;
        if self
            .schemas
            .insert(id.clone(), Arc::new(compiled))
            .is_none()
        {
            self.order.push(id);
        }
        Ok(())
    }

    /// Reads a schema from a JSON file and registers it.
    pub fn register_file(
        &mut self,
        id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<(), Error> {
        let id = id.into();
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|e| {
            Error::Schema(format!(
                "cannot read identity schema {id:?} from {}: {e}",
                path.display()
            ))
        })?;
        let value = serde_json::from_slice(&text).map_err(|e| {
            Error::Schema(format!(
                "identity schema {id:?} in {} is not JSON: {e}",
                path.display()
            ))
        })?;
        self.register(id, value)
    }

    /// Registers a schema from a URL: `base64://<base64 of the JSON>` or
    /// `file://<path>`. Network URLs are refused: nothing is fetched.
    pub fn register_url(&mut self, id: impl Into<String>, url: &str) -> Result<(), Error> {
        let id = id.into();
        if let Some(encoded) = url.strip_prefix("base64://") {
            let bytes = decode_base64_lenient(encoded).ok_or_else(|| {
                Error::Schema(format!(
                    "identity schema {id:?}: the base64:// URL is not valid base64"
                ))
            })?;
            let value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Schema(format!(
                    "identity schema {id:?}: the base64:// URL does not hold JSON: {e}"
                ))
            })?;
            return self.register(id, value);
        }
        if let Some(path) = url.strip_prefix("file://") {
            return self.register_file(id, path);
        }
        Err(Error::Schema(format!(
            "identity schema {id:?}: only base64:// and file:// URLs are supported (nothing is fetched over the network)"
        )))
    }

    /// The schema of this id, or of the id whose base64url form this is.
    pub fn get(&self, id: &str) -> Option<&Arc<IdentitySchema>> {
        if let Some(s) = self.schemas.get(id) {
            return Some(s);
        }
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id.as_bytes())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        self.schemas.get(&decoded)
    }

    /// Resolves a schema id as create does: empty means the default; an
    /// unknown id is an invalid-input error `Unable to find JSON Schema ID: <id>`.
    pub fn resolve(&self, id: &str) -> Result<&Arc<IdentitySchema>, Error> {
        let wanted = if id.is_empty() {
            self.default_id.as_str()
        } else {
            id
        };
        self.get(wanted)
            .ok_or_else(|| Error::invalid(format!("Unable to find JSON Schema ID: {wanted}")))
    }

    /// The registered schemas, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<IdentitySchema>> {
        self.order.iter().filter_map(|id| self.schemas.get(id))
    }

    /// How many schemas are registered.
    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }
}

fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text.as_bytes()).ok())
}
