//! The `ory.sh/kratos` extension keyword: where it sits in a schema (found
//! once, at registration) and what it asks for.

use serde_json::{Map, Value};

use crate::model::AddressVia;

/// The keyword's name.
pub const KEYWORD: &str = "ory.sh/kratos";

/// What one occurrence of the keyword asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    /// `credentials.password.identifier: true`.
    pub password_identifier: bool,
    /// `credentials.webauthn.identifier: true`.
    pub webauthn_identifier: bool,
    /// `credentials.code.identifier: true` with its `via`.
    pub code_via: Option<AddressVia>,
    /// `credentials.passkey.display_name: true`.
    pub passkey_display_name: bool,
    /// `credentials.totp.account_name: true`.
    pub totp_account_name: bool,
    /// `verification.via`.
    pub verification_via: Option<AddressVia>,
    /// `recovery.via`.
    pub recovery_via: Option<AddressVia>,
    /// `organizations.matcher: "email_domain"`.
    pub organization_email_domain: bool,
}

/// One step from a value to a child value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// One array item.
    Index(usize),
    /// Every array item.
    EachItem,
}

/// A place in the traits where the keyword applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The path from the traits value to the values it applies to.
    pub path: Vec<Step>,
    /// What it asks for.
    pub extension: Extension,
    /// The `format` next to it, if any.
    pub format: Option<String>,
    /// The schema location of the keyword (for error messages).
    pub schema_path: String,
}

/// Keywords under which the extension cannot be applied unconditionally:
/// whether their subschemas apply depends on the instance.
const CONDITIONAL: [&str; 13] = [
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "additionalProperties",
    "additionalItems",
    "dependencies",
    "dependentSchemas",
    "contains",
    "propertyNames",
];

/// Finds every site of the keyword under `traits_schema` (the schema at
/// `/properties/traits` of `root`).
pub fn find_sites(root: &Value, traits_schema: &Value) -> Result<Vec<Site>, String> {
    let mut walker = Walker {
        root,
        sites: Vec::new(),
        ref_stack: Vec::new(),
    };
    walker.walk(
        traits_schema,
        &mut Vec::new(),
        "/properties/traits".to_owned(),
    )?;
    Ok(walker.sites)
}

struct Walker<'a> {
    root: &'a Value,
    sites: Vec<Site>,
    ref_stack: Vec<String>,
}

impl Walker<'_> {
    fn walk(&mut self, node: &Value, path: &mut Vec<Step>, at: String) -> Result<(), String> {
        let Some(obj) = node.as_object() else {
            return Ok(());
        };
        if let Some(ext) = obj.get(KEYWORD) {
            let extension = parse(ext, &at)?;
            let format = obj.get("format").and_then(Value::as_str).map(str::to_owned);
            check_format(&extension, format.as_deref(), &at)?;
            self.sites.push(Site {
                path: path.clone(),
                extension,
                format,
                schema_path: format!("{at}/{}", escape(KEYWORD)),
            });
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                path.push(Step::Key(name.clone()));
                self.walk(sub, path, format!("{at}/properties/{}", escape(name)))?;
                path.pop();
            }
        }
        match obj.get("items") {
            Some(Value::Array(items)) => {
                for (i, sub) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    self.walk(sub, path, format!("{at}/items/{i}"))?;
                    path.pop();
                }
            }
            Some(sub) => {
                path.push(Step::EachItem);
                self.walk(sub, path, format!("{at}/items"))?;
                path.pop();
            }
            None => {}
        }
        if let Some(items) = obj.get("prefixItems").and_then(Value::as_array) {
            for (i, sub) in items.iter().enumerate() {
                path.push(Step::Index(i));
                self.walk(sub, path, format!("{at}/prefixItems/{i}"))?;
                path.pop();
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for (i, sub) in all.iter().enumerate() {
                self.walk(sub, path, format!("{at}/allOf/{i}"))?;
            }
        }
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            self.follow_ref(reference, path, &at)?;
        }
        for keyword in CONDITIONAL {
            if let Some(sub) = obj.get(keyword)
                && mentions_keyword(sub)
            {
                return Err(format!(
                    "the {KEYWORD} keyword at {at}/{keyword} is not supported: it sits under `{keyword}`, \
                     whose subschemas apply only to some instances; move it to a property schema"
                ));
            }
        }
        Ok(())
    }

    fn follow_ref(
        &mut self,
        reference: &str,
        path: &mut Vec<Step>,
        at: &str,
    ) -> Result<(), String> {
        let Some(fragment) = reference.strip_prefix('#') else {
            // A reference to another document cannot be resolved offline; the
            // compiler has already rejected the schema if it needed one.
            return Ok(());
        };
        if self.ref_stack.iter().any(|r| r == reference) {
            return Ok(());
        }
        let pointer = percent_decode(fragment);
        let Some(target) = self.root.pointer(&pointer) else {
            return Err(format!("the $ref {reference:?} at {at} points nowhere"));
        };
        self.ref_stack.push(reference.to_owned());
        let result = self.walk(target, path, pointer);
        self.ref_stack.pop();
        result
    }
}

fn mentions_keyword(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key(KEYWORD) || map.values().any(mentions_keyword),
        Value::Array(items) => items.iter().any(mentions_keyword),
        _ => false,
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits make one byte: hi * 16 + lo < 256.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn flag(map: &Map<String, Value>, path: &[&str]) -> bool {
    let mut current = map;
    for (i, key) in path.iter().enumerate() {
        match current.get(*key) {
            Some(Value::Object(next)) if i + 1 < path.len() => current = next,
            Some(Value::Bool(b)) if i + 1 == path.len() => return *b,
            _ => return false,
        }
    }
    false
}

fn via(map: &Map<String, Value>, path: &[&str], at: &str) -> Result<Option<AddressVia>, String> {
    let mut current = map;
    for (i, key) in path.iter().enumerate() {
        match current.get(*key) {
            Some(Value::Object(next)) if i + 1 < path.len() => current = next,
            Some(Value::String(s)) if i + 1 == path.len() => {
                return AddressVia::parse(s).map(Some).ok_or_else(|| {
                    format!(
                        "{KEYWORD} at {at}: {} must be \"email\" or \"sms\", not {s:?}",
                        path.join(".")
                    )
                });
            }
            None => return Ok(None),
            Some(_) => {
                return Err(format!(
                    "{KEYWORD} at {at}: {} has the wrong type",
                    path.join(".")
                ));
            }
        }
    }
    Ok(None)
}

fn parse(ext: &Value, at: &str) -> Result<Extension, String> {
    let Some(map) = ext.as_object() else {
        return Err(format!("{KEYWORD} at {at} must be an object"));
    };
    let code_identifier = flag(map, &["credentials", "code", "identifier"]);
    let code_via = via(map, &["credentials", "code", "via"], at)?;
    if code_identifier && code_via.is_none() {
        return Err(format!(
            "{KEYWORD} at {at}: credentials.code.identifier needs credentials.code.via (\"email\" or \"sms\")"
        ));
    }
    let matcher = map
        .get("organizations")
        .and_then(|o| o.get("matcher"))
        .and_then(Value::as_str);
    if let Some(m) = matcher
        && m != "email_domain"
    {
        return Err(format!(
            "{KEYWORD} at {at}: organizations.matcher must be \"email_domain\", not {m:?}"
        ));
    }
    Ok(Extension {
        password_identifier: flag(map, &["credentials", "password", "identifier"]),
        webauthn_identifier: flag(map, &["credentials", "webauthn", "identifier"]),
        code_via: if code_identifier { code_via } else { None },
        passkey_display_name: flag(map, &["credentials", "passkey", "display_name"]),
        totp_account_name: flag(map, &["credentials", "totp", "account_name"]),
        verification_via: via(map, &["verification", "via"], at)?,
        recovery_via: via(map, &["recovery", "via"], at)?,
        organization_email_domain: matcher.is_some(),
    })
}

fn check_format(ext: &Extension, format: Option<&str>, at: &str) -> Result<(), String> {
    let sms =
        ext.verification_via == Some(AddressVia::Sms) || ext.code_via == Some(AddressVia::Sms);
    if sms && format.is_none() {
        return Err(format!(
            "{KEYWORD} at {at}: a value verified via sms needs `\"format\": \"tel\"` \
             (or `\"format\": \"no-validate\"` to opt out of checking)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_sites_through_properties_items_refs_and_all_of() {
        let root = json!({
            "definitions": {"mail": {"type": "string", "format": "email",
                "ory.sh/kratos": {"verification": {"via": "email"}}}},
            "properties": {"traits": {"type": "object", "properties": {
                "a": {"$ref": "#/definitions/mail"},
                "list": {"type": "array", "items": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}},
                "b": {"allOf": [{"ory.sh/kratos": {"recovery": {"via": "email"}}}]}
            }}}
        });
        let traits = &root["properties"]["traits"];
        let sites = find_sites(&root, traits).expect("supported");
        assert_eq!(sites.len(), 3);
        assert_eq!(sites[0].path, vec![Step::Key("a".into())]);
        assert_eq!(sites[0].extension.verification_via, Some(AddressVia::Email));
        assert_eq!(sites[0].format.as_deref(), Some("email"));
        assert_eq!(sites[0].schema_path, "/definitions/mail/ory.sh~1kratos");
        assert_eq!(
            sites[1].path,
            vec![Step::Key("list".into()), Step::EachItem]
        );
        assert!(sites[1].extension.password_identifier);
        assert_eq!(sites[2].path, vec![Step::Key("b".into())]);
        assert_eq!(sites[2].extension.recovery_via, Some(AddressVia::Email));
    }

    #[test]
    fn rejects_conditional_placement_bad_via_and_sms_without_format() {
        let root = json!({"properties": {"traits": {"anyOf": [
            {"properties": {"x": {"ory.sh/kratos": {"verification": {"via": "email"}}}}}
        ]}}});
        let err = find_sites(&root, &root["properties"]["traits"]).expect_err("anyOf");
        assert!(err.contains("anyOf"), "{err}");

        let root = json!({"properties": {"traits": {"properties": {
            "x": {"ory.sh/kratos": {"verification": {"via": "pigeon"}}}}}}});
        let err = find_sites(&root, &root["properties"]["traits"]).expect_err("bad via");
        assert!(err.contains("\"pigeon\""), "{err}");

        let root = json!({"properties": {"traits": {"properties": {
            "x": {"type": "string", "ory.sh/kratos": {"verification": {"via": "sms"}}}}}}});
        let err = find_sites(&root, &root["properties"]["traits"]).expect_err("sms");
        assert!(err.contains("format"), "{err}");
    }

    #[test]
    fn recursive_refs_terminate() {
        let root = json!({
            "definitions": {"node": {"type": "object", "properties": {
                "email": {"type": "string", "ory.sh/kratos": {"recovery": {"via": "email"}}},
                "child": {"$ref": "#/definitions/node"}}}},
            "properties": {"traits": {"$ref": "#/definitions/node"}}
        });
        let sites = find_sites(&root, &root["properties"]["traits"]).expect("ok");
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].path, vec![Step::Key("email".into())]);
    }
}
