//! Loading `vectors/vectors.json`.

use std::sync::OnceLock;

use identity_password::PasswordErrorKind;
use serde_json::Value;

pub(crate) struct Vector {
    pub format: String,
    pub note: String,
    pub hash: String,
    pub password: String,
    pub wrong: String,
}

pub(crate) struct ErrorCase {
    pub format: String,
    pub note: String,
    pub hash: String,
    pub password: String,
    pub kind: PasswordErrorKind,
}

pub(crate) struct Malformed {
    pub format: String,
    pub note: String,
    pub hash: String,
    pub kind: PasswordErrorKind,
}

pub(crate) struct Vectors {
    pub vectors: Vec<Vector>,
    pub errors: Vec<ErrorCase>,
    pub malformed: Vec<Malformed>,
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key} is not a string: {v}"))
        .to_owned()
}

pub(crate) fn kind(name: &str) -> PasswordErrorKind {
    match name {
        "unsupported_format" => PasswordErrorKind::UnsupportedFormat,
        "malformed_hash" => PasswordErrorKind::MalformedHash,
        "parameters_out_of_bounds" => PasswordErrorKind::ParametersOutOfBounds,
        "too_long" => PasswordErrorKind::TooLong,
        "empty" => PasswordErrorKind::Empty,
        other => panic!("unknown error kind in vectors.json: {other}"),
    }
}

pub(crate) fn load() -> &'static Vectors {
    static VECTORS: OnceLock<Vectors> = OnceLock::new();
    VECTORS.get_or_init(|| {
        let root: Value = serde_json::from_str(include_str!("../../vectors/vectors.json"))
            .expect("vectors.json is valid JSON");
        let list = |key: &str| root[key].as_array().expect("an array").clone();
        Vectors {
            vectors: list("vectors")
                .iter()
                .map(|v| Vector {
                    format: s(v, "format"),
                    note: s(v, "note"),
                    hash: s(v, "hash"),
                    password: s(v, "password"),
                    wrong: s(v, "wrong"),
                })
                .collect(),
            errors: list("errors")
                .iter()
                .map(|v| ErrorCase {
                    format: s(v, "format"),
                    note: s(v, "note"),
                    hash: s(v, "hash"),
                    password: s(v, "password"),
                    kind: kind(&s(v, "kind")),
                })
                .collect(),
            malformed: list("malformed")
                .iter()
                .map(|v| Malformed {
                    format: s(v, "format"),
                    note: s(v, "note"),
                    hash: s(v, "hash"),
                    kind: kind(&s(v, "kind")),
                })
                .collect(),
        }
    })
}
