//! A deterministic corpus of trait documents for the shared schemas: 90%
//! valid, 10% invalid in varied ways. Seeded, so every run measures the same
//! documents.

use serde_json::{Value, json};

/// How many documents a corpus holds.
pub const CORPUS_SIZE: usize = 10_000;

/// One generated document and whether it must validate.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The traits.
    pub traits: Value,
    /// Whether the schema accepts it.
    pub valid: bool,
}

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Linus", "Barbara", "Alan", "Edsger", "Margaret", "Donald", "Frances", "Ken",
    "Radia", "Tim",
];
const LAST: [&str; 10] = [
    "Lovelace", "Hopper", "Torvalds", "Liskov", "Turing", "Dijkstra", "Hamilton", "Knuth", "Allen",
    "Thompson",
];
const DOMAINS: [&str; 6] = [
    "example.com",
    "Example.ORG",
    "mail.example.net",
    "corp.example.co.uk",
    "x.example",
    "sub.domain.example.io",
];

fn email(rng: &mut fastrand::Rng, n: usize) -> String {
    let first = FIRST[rng.usize(..FIRST.len())];
    let last = LAST[rng.usize(..LAST.len())];
    let domain = DOMAINS[rng.usize(..DOMAINS.len())];
    match rng.u8(..4) {
        0 => format!("{first}.{last}{n}@{domain}"),
        1 => format!("{}{n}@{domain}", first.to_lowercase()),
        2 => format!(
            "{}_{}+tag{n}@{domain}",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        _ => format!("{}.{}.{n}@{domain}", first.to_uppercase(), last),
    }
}

fn phone(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..3) {
        0 => format!("+1 (650) 253-{:04}", rng.u32(0..10_000)),
        1 => format!("+44 20 7946 {:04}", rng.u32(0..10_000)),
        _ => format!("+49 30 {:08}", rng.u32(10_000_000..100_000_000)),
    }
}

fn valid(schema: &str, rng: &mut fastrand::Rng, n: usize) -> Value {
    match schema {
        "default" => {
            let mut t = json!({"email": email(rng, n)});
            if rng.bool() {
                t["name"] = json!({"first": FIRST[rng.usize(..FIRST.len())], "last": LAST[rng.usize(..LAST.len())]});
            }
            if rng.bool() {
                t["newsletter"] = json!(rng.bool());
            }
            t
        }
        "employee" => {
            let count = rng.usize(1..=3);
            let emails: Vec<String> = (0..count).map(|i| email(rng, n * 4 + i)).collect();
            let dept = ["engineering", "sales", "support"][rng.usize(..3)];
            let mut t = json!({"emails": emails, "department": dept});
            if rng.bool() {
                t["employee_id"] = json!(format!("E{:05}", rng.u32(0..100_000)));
            }
            t
        }
        "profile" => {
            let theme = ["dark", "light"][rng.usize(..2)];
            let lang = ["en", "de", "fr"][rng.usize(..3)];
            json!({
                "nickname": format!("{}{n}", FIRST[rng.usize(..FIRST.len())]),
                "preferences": {"theme": theme, "lang": lang,
                                "notifications": {"email": rng.bool(), "sms": rng.bool()}}
            })
        }
        "username-phone" => {
            let mut t = json!({"username": format!("{}_{n}", FIRST[rng.usize(..FIRST.len())])});
            if rng.bool() {
                t["phone"] = json!(phone(rng));
            }
            if rng.bool() {
                t["email"] = json!(email(rng, n));
            }
            t
        }
        other => panic!("no generator for schema {other}"),
    }
}

/// Breaks a valid document in one of several ways the schema rejects.
fn invalid(schema: &str, rng: &mut fastrand::Rng, n: usize) -> Value {
    let mut t = valid(schema, rng, n);
    let obj = t.as_object_mut().expect("object");
    let way = rng.u8(..4);
    match (schema, way) {
        (_, 0) => {
            obj.insert("unexpected".into(), json!(true));
        }
        ("default", 1) => {
            obj.insert("email".into(), json!(format!("not-an-email-{n}")));
        }
        ("default", 2) => {
            obj.insert("email".into(), json!(n));
        }
        ("default", _) => {
            obj.remove("email");
        }
        ("employee", 1) => {
            obj.insert("department".into(), json!("marketing"));
        }
        ("employee", 2) => {
            obj.insert("emails".into(), json!([]));
        }
        ("employee", _) => {
            obj.insert("employee_id".into(), json!(format!("X{n}")));
        }
        ("profile", 1) => {
            obj.insert("nickname".into(), json!("n".repeat(41)));
        }
        ("profile", _) => {
            obj.insert("preferences".into(), json!("dark"));
        }
        ("username-phone", 1) => {
            obj.insert("phone".into(), json!(format!("{n}")));
        }
        ("username-phone", 2) => {
            obj.insert("username".into(), json!("ab"));
        }
        ("username-phone", _) => {
            obj.remove("username");
        }
        (other, _) => panic!("no generator for schema {other}"),
    }
    t
}

/// The corpus of `size` documents for `schema`, from `seed`.
pub fn corpus(schema: &str, seed: u64, size: usize) -> Vec<Doc> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..size)
        .map(|n| {
            if rng.u8(..10) == 0 {
                Doc {
                    traits: invalid(schema, &mut rng, n),
                    valid: false,
                }
            } else {
                Doc {
                    traits: valid(schema, &mut rng, n),
                    valid: true,
                }
            }
        })
        .collect()
}

/// The shared schemas the corpus knows.
pub const SCHEMAS: [&str; 4] = ["default", "employee", "profile", "username-phone"];

/// `../shared/data` beside the project root (or `$IDENTITY_SHARED_DATA`).
pub fn shared_data() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("IDENTITY_SHARED_DATA") {
        return dir.into();
    }
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_validates_exactly_as_labelled() {
        let mut registry = identity_core::SchemaRegistry::new();
        for id in SCHEMAS {
            registry
                .register_file(id, shared_data().join(format!("schemas/{id}.schema.json")))
                .expect("registers");
        }
        let limits = identity_core::Limits::default();
        for id in SCHEMAS {
            let schema = registry.resolve(id).expect("registered");
            let docs = corpus(id, 7, 2_000);
            let invalid = docs.iter().filter(|d| !d.valid).count();
            assert!(
                (150..=250).contains(&invalid),
                "{id}: {invalid} invalid of 2000"
            );
            for (i, doc) in docs.into_iter().enumerate() {
                let mut traits = doc.traits.clone();
                let result = schema.validate(&mut traits, &limits);
                assert_eq!(
                    result.is_ok(),
                    doc.valid,
                    "{id} #{i}: {} -> {result:?}",
                    doc.traits
                );
            }
        }
        // Same seed, same corpus.
        assert_eq!(
            corpus("default", 7, 50)
                .iter()
                .map(|d| d.traits.clone())
                .collect::<Vec<_>>(),
            corpus("default", 7, 50)
                .iter()
                .map(|d| d.traits.clone())
                .collect::<Vec<_>>()
        );
    }
}
