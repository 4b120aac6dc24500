//! Registers the shared default schema, validates a trait document and
//! prints what the `ory.sh/kratos` extension derives from it.
//!
//! `cargo run -p identity-core --example quickstart`

use identity_core::{CredentialType, Limits, SchemaRegistry};
use serde_json::json;

fn main() -> Result<(), identity_core::Error> {
    let mut registry = SchemaRegistry::new();
    registry.register(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                    "credentials": {"password": {"identifier": true},
                                    "code": {"identifier": true, "via": "email"}},
                    "verification": {"via": "email"},
                    "recovery": {"via": "email"}}},
                "phone": {"type": "string", "format": "tel", "ory.sh/kratos": {
                    "verification": {"via": "sms"}}},
                "name": {"type": "string"}
            }, "required": ["email"], "additionalProperties": false}}
        }),
    )?;
    let schema = registry.resolve("")?;

    let mut traits =
        json!({"email": "Ada.Lovelace@Example.COM", "phone": "+44 20 7946 0958", "name": "Ada"});
    let derived = schema.validate(&mut traits, &Limits::default())?;
    for kind in CredentialType::ALL {
        let identifiers: Vec<&str> = derived.identifiers_of(kind).collect();
        if !identifiers.is_empty() {
            println!("{kind} identifiers: {identifiers:?}");
        }
    }
    for a in derived.verifiable_addresses() {
        println!("verifiable address: {} via {}", a.value, a.via.as_str());
    }
    for a in derived.recovery_addresses() {
        println!("recovery address:   {} via {}", a.value, a.via.as_str());
    }

    let mut bad = json!({"email": "not-an-email", "name": 7});
    if let Err(e) = schema.validate(&mut bad, &Limits::default()) {
        println!("invalid document:");
        for v in e.violations() {
            println!("  {}", v.reason_line());
        }
    }
    Ok(())
}
