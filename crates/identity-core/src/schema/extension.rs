//! The `ory.sh/kratos` extension keyword: where it sits in a schema (found
//! once, at registration) and what it asks for.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::model::AddressVia;

/// The keyword's name.
pub(super) const KEYWORD: &str = "ory.sh/kratos";

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

impl Site {
    /// The schema location of the `format` next to the keyword (where a
    /// channel's check of the value is reported, whether or not the schema
    /// writes a `format` there).
    pub fn format_path(&self) -> String {
        let subschema = self
            .schema_path
            .strip_suffix(&format!("/{}", escape(KEYWORD)))
            .unwrap_or(&self.schema_path);
        format!("{subschema}/format")
    }
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

/// The most places the keyword may apply at in one schema (a `$ref` used
/// at many places applies at each of them).
pub const MAX_SITES: usize = 1_000;

/// The most `$ref`s followed one inside another on the way to a site.
pub const MAX_REF_DEPTH: usize = 64;

/// The most steps the search for sites may take: each step enters one
/// subschema on the way to a site. Bounds what a graph of shared `$ref`s
/// can cost (its paths multiply with its depth).
pub const MAX_WALK_STEPS: usize = 100_000;

/// How a subschema relates to its parent's instance.
#[derive(Debug, Clone)]
enum Edge {
    /// Applies to the parent's instance itself (`allOf`, `$ref`).
    Same,
    /// Applies to one step below it.
    Down(Step),
}

/// One subschema, found once however many ways lead to it.
struct Node<'a> {
    /// Its JSON Pointer in the schema document.
    at: String,
    value: &'a Value,
    /// (how it applies, the child, whether the edge is a `$ref`)
    edges: Vec<(Edge, usize, bool)>,
    /// Whether the keyword applies here or below.
    relevant: bool,
}

/// Finds every site of the keyword under `traits_schema` (the schema at
/// `/properties/traits` of `root`).
///
/// Without recursion: first every subschema reachable through
/// `properties`, `items`, `prefixItems`, `allOf` and local `$ref`s is found
/// once (keyed by its location, so a shared `$ref` is read once); then only
/// the subschemas that lead to the keyword are walked to list its sites,
/// within [`MAX_SITES`], [`MAX_REF_DEPTH`] and [`MAX_WALK_STEPS`]. A
/// `$ref` back to a subschema already on the way is not followed again.
pub(super) fn find_sites(root: &Value, traits_schema: &Value) -> Result<Vec<Site>, String> {
    let nodes = discover(root, traits_schema)?;
    enumerate(&nodes)
}

/// Every reachable subschema, each once, with the keyword parsed and the
/// conditional placements refused; then which of them lead to the keyword.
fn discover<'a>(root: &'a Value, traits_schema: &'a Value) -> Result<Vec<Node<'a>>, String> {
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut todo: Vec<usize> = Vec::new();
    let mut intern =
        |nodes: &mut Vec<Node<'a>>, todo: &mut Vec<usize>, at: String, value: &'a Value| {
            if let Some(&i) = index.get(&at) {
                return i;
            }
            let i = nodes.len();
            index.insert(at.clone(), i);
            nodes.push(Node {
                at,
                value,
                edges: Vec::new(),
                relevant: false,
            });
            todo.push(i);
            i
        };
    intern(
        &mut nodes,
        &mut todo,
        "/properties/traits".to_owned(),
        traits_schema,
    );
    while let Some(i) = todo.pop() {
        let value = nodes[i].value;
        let at = nodes[i].at.clone();
        let Some(obj) = value.as_object() else {
            continue;
        };
        let mut edges = Vec::new();
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                let child = intern(
                    &mut nodes,
                    &mut todo,
                    format!("{at}/properties/{}", escape(name)),
                    sub,
                );
                edges.push((Edge::Down(Step::Key(name.clone())), child, false));
            }
        }
        match obj.get("items") {
            Some(Value::Array(items)) => {
                for (n, sub) in items.iter().enumerate() {
                    let child = intern(&mut nodes, &mut todo, format!("{at}/items/{n}"), sub);
                    edges.push((Edge::Down(Step::Index(n)), child, false));
                }
            }
            Some(sub) => {
                let child = intern(&mut nodes, &mut todo, format!("{at}/items"), sub);
                edges.push((Edge::Down(Step::EachItem), child, false));
            }
            None => {}
        }
        if let Some(items) = obj.get("prefixItems").and_then(Value::as_array) {
            for (n, sub) in items.iter().enumerate() {
                let child = intern(&mut nodes, &mut todo, format!("{at}/prefixItems/{n}"), sub);
                edges.push((Edge::Down(Step::Index(n)), child, false));
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for (n, sub) in all.iter().enumerate() {
                let child = intern(&mut nodes, &mut todo, format!("{at}/allOf/{n}"), sub);
                edges.push((Edge::Same, child, false));
            }
        }
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            // A reference to another document cannot be resolved offline;
            // the compiler has already rejected the schema if it needed one.
            if let Some(fragment) = reference.strip_prefix('#') {
                let pointer = percent_decode(fragment);
                let Some(target) = root.pointer(&pointer) else {
                    return Err(format!("the $ref {reference:?} at {at} points nowhere"));
                };
                let child = intern(&mut nodes, &mut todo, pointer, target);
                edges.push((Edge::Same, child, true));
            }
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
        nodes[i].edges = edges;
    }
    // Which subschemas lead to the keyword: backwards from where it sits.
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for (_, child, _) in &node.edges {
            parents[*child].push(i);
        }
    }
    let mut todo: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.value.get(KEYWORD).is_some())
        .map(|(i, _)| i)
        .collect();
    while let Some(i) = todo.pop() {
        if nodes[i].relevant {
            continue;
        }
        nodes[i].relevant = true;
        todo.extend(parents[i].iter().copied().filter(|p| !nodes[*p].relevant));
    }
    Ok(nodes)
}

/// One place on the way to sites: a subschema, the instance path to it,
/// and the `$ref` targets followed to get there.
struct Frame {
    node: usize,
    path: Vec<Step>,
    refs: Vec<usize>,
}

/// Lists the sites, walking only subschemas that lead to the keyword.
fn enumerate(nodes: &[Node<'_>]) -> Result<Vec<Site>, String> {
    let mut sites = Vec::new();
    let mut steps = 0usize;
    let mut stack = vec![Frame {
        node: 0,
        path: Vec::new(),
        refs: Vec::new(),
    }];
    while let Some(frame) = stack.pop() {
        steps += 1;
        if steps > MAX_WALK_STEPS {
            return Err(format!(
                "its $refs lead to the {KEYWORD} keyword along more than {MAX_WALK_STEPS} paths"
            ));
        }
        let node = &nodes[frame.node];
        if let Some(ext) = node.value.get(KEYWORD) {
            let extension = parse(ext, &node.at)?;
            let format = node
                .value
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_owned);
            check_format(&extension, format.as_deref(), &node.at)?;
            if sites.len() == MAX_SITES {
                return Err(format!(
                    "the {KEYWORD} keyword applies at more than {MAX_SITES} places"
                ));
            }
            sites.push(Site {
                path: frame.path.clone(),
                extension,
                format,
                schema_path: format!("{}/{}", node.at, escape(KEYWORD)),
            });
        }
        // Children in reverse, so that they are visited in schema order.
        for (edge, child, is_ref) in node.edges.iter().rev() {
            if !nodes[*child].relevant || (*is_ref && frame.refs.contains(child)) {
                continue;
            }
            let mut refs = frame.refs.clone();
            if *is_ref {
                if refs.len() == MAX_REF_DEPTH {
                    return Err(format!(
                        "more than {MAX_REF_DEPTH} $refs are followed one inside another at {}",
                        node.at
                    ));
                }
                refs.push(*child);
            }
            let mut path = frame.path.clone();
            if let Edge::Down(step) = edge {
                path.push(step.clone());
            }
            stack.push(Frame {
                node: *child,
                path,
                refs,
            });
        }
    }
    Ok(sites)
}

/// Whether the keyword appears anywhere in `value` (iteratively: the
/// schema's depth was bounded at registration, but no recursion is needed).
fn mentions_keyword(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.contains_key(KEYWORD) {
                    return true;
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    false
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

/// A boolean setting of the keyword (`credentials.password.identifier`):
/// absent is false; anything but a boolean is refused, as Kratos' meta
/// schema refuses it (a typo such as `"identifier": "true"` must not turn
/// an identifier off in silence).
fn flag(map: &Map<String, Value>, path: &[&str], at: &str) -> Result<bool, String> {
    let mut current = map;
    for (i, key) in path.iter().enumerate() {
        match current.get(*key) {
            None => return Ok(false),
            Some(Value::Object(next)) if i + 1 < path.len() => current = next,
            Some(Value::Bool(b)) if i + 1 == path.len() => return Ok(*b),
            Some(other) if i + 1 == path.len() => {
                return Err(format!(
                    "{KEYWORD} at {at}: {}: expected boolean, but got {}",
                    path.join("."),
                    super::json_type(other)
                ));
            }
            Some(_) => return Ok(false),
        }
    }
    Ok(false)
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
    let code_identifier = flag(map, &["credentials", "code", "identifier"], at)?;
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
        password_identifier: flag(map, &["credentials", "password", "identifier"], at)?,
        webauthn_identifier: flag(map, &["credentials", "webauthn", "identifier"], at)?,
        code_via: if code_identifier { code_via } else { None },
        passkey_display_name: flag(map, &["credentials", "passkey", "display_name"], at)?,
        totp_account_name: flag(map, &["credentials", "totp", "account_name"], at)?,
        verification_via: via(map, &["verification", "via"], at)?,
        recovery_via: via(map, &["recovery", "via"], at)?,
        organization_email_domain: matcher.is_some(),
    })
}

fn check_format(ext: &Extension, format: Option<&str>, at: &str) -> Result<(), String> {
    let sms =
        ext.verification_via == Some(AddressVia::Sms) || ext.code_via == Some(AddressVia::Sms);
    if sms && !matches!(format, Some("tel" | "no-validate")) {
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
