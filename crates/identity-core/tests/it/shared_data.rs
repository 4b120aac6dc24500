//! Every shared schema registers; every shared trait document validates (or
//! fails) as expected.json says, with exactly the derived values it lists.

use std::collections::BTreeSet;

use identity_core::CredentialType;
use identity_core::{ErrorKind, Limits};
use serde_json::Value;

use crate::support::{read_json, shared_data, shared_registry};

#[test]
fn every_shared_schema_registers() {
    let registry = shared_registry();
    let ids: BTreeSet<&str> = registry.iter().map(|s| s.id()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["default", "employee", "profile", "username-phone"])
    );
}

fn as_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| serde_json::to_string(x).expect("json"))
        .collect()
}

#[test]
fn every_shared_document_meets_its_expectation() {
    let registry = shared_registry();
    let expected = read_json(&shared_data().join("traits/expected.json"));
    let expected = expected.as_object().expect("object");
    let mut checked = 0;
    for (name, want) in expected {
        if name.starts_with('_') {
            continue;
        }
        let schema = registry
            .resolve(want["schema"].as_str().expect("schema id"))
            .expect("registered");
        let mut traits = read_json(&shared_data().join("traits").join(name));
        let before = traits.clone();
        let result = schema.validate(&mut traits, &Limits::default());
        assert_eq!(traits, before, "{name}: traits must be left untouched");
        let file_says_valid = name.contains("/valid-");
        assert_eq!(want["valid"].as_bool(), Some(file_says_valid), "{name}");
        if file_says_valid {
            let derived = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut got_ids = serde_json::Map::new();
            for kind in CredentialType::ALL {
                let list: Vec<&str> = derived.identifiers_of(kind).collect();
                if !list.is_empty() {
                    got_ids.insert(kind.as_str().to_owned(), serde_json::json!(list));
                }
            }
            let want_ids = want["identifiers"].as_object().expect("identifiers");
            assert_eq!(
                got_ids.keys().collect::<BTreeSet<_>>(),
                want_ids.keys().collect::<BTreeSet<_>>(),
                "{name}: identifier types"
            );
            for (kind, list) in want_ids {
                assert_eq!(as_set(&got_ids[kind]), as_set(list), "{name}: {kind}");
                assert_eq!(
                    got_ids[kind].as_array().map(Vec::len),
                    list.as_array().map(Vec::len),
                    "{name}: {kind} has duplicates"
                );
            }
            let code =
                serde_json::to_value(derived.code_addresses().collect::<Vec<_>>()).expect("json");
            assert_eq!(as_set(&code), as_set(&want["code_addresses"]), "{name}");
            let ver = serde_json::to_value(derived.verifiable_addresses().collect::<Vec<_>>())
                .expect("json");
            assert_eq!(
                as_set(&ver),
                as_set(&want["verifiable_addresses"]),
                "{name}"
            );
            let rec = serde_json::to_value(derived.recovery_addresses().collect::<Vec<_>>())
                .expect("json");
            assert_eq!(as_set(&rec), as_set(&want["recovery_addresses"]), "{name}");
        } else {
            let err = result.expect_err(name);
            assert_eq!(err.kind(), ErrorKind::Validation, "{name}: {err}");
            let paths: BTreeSet<&str> =
                err.violations().iter().map(|v| v.instance_path()).collect();
            for path in want["violations_at"].as_array().expect("paths") {
                let path = path.as_str().expect("string");
                assert!(
                    paths.contains(path),
                    "{name}: no violation at {path}; got {paths:?}"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn derived_code_credential_lists_sorted_addresses() {
    let registry = shared_registry();
    let schema = registry.resolve("username-phone").expect("registered");
    let mut traits = serde_json::json!({"username": "x_y", "phone": "+44 20 7946 0958"});
    let derived = schema
        .validate(&mut traits, &Limits::default())
        .expect("valid");
    assert_eq!(
        derived
            .identifiers_of(CredentialType::Code)
            .collect::<Vec<_>>(),
        ["+442079460958"]
    );
    assert_eq!(
        serde_json::to_value(derived.code_addresses().collect::<Vec<_>>()).expect("json"),
        serde_json::json!([{"channel": "sms", "address": "+442079460958"}])
    );
}
