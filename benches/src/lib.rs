//! Criterion benchmarks of the identity stores live in `benches/`.

pub mod corpus;
pub mod sqlite_raw;
pub mod workers;

/// The validator `identity-core` compiles for a schema, rebuilt here with
/// the same options (its `email`, `tel` and `uuid` formats, the linear-time
/// regex engine), for the `is_valid` reference line: the core keeps its
/// own `jsonschema::Validator` out of its public API.
pub fn own_validator(raw: &serde_json::Value) -> jsonschema::Validator {
    let mut options = jsonschema::options()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .with_format("email", identity_core::is_valid_email)
        .with_format("tel", identity_core::is_valid_tel)
        .with_format("uuid", |v: &str| {
            v.len() == 36 && uuid::Uuid::try_parse(v).is_ok()
        })
        .with_format("no-validate", |_: &str| true);
    if raw.get("$schema").is_none() {
        options = options.with_draft(jsonschema::Draft::Draft7);
    }
    match options.build(raw) {
        Ok(v) => v,
        Err(e) => panic!("the shared schema compiles as identity-core compiles it: {e}"),
    }
}

/// The baseline validator of the validation benches: the schema compiled by
/// the stock `jsonschema` crate, with its own `format` checks asserted
/// (`email`, `uuid`, ...), its default regex engine and Draft-07 when the
/// schema names no `$schema`. Only the formats `jsonschema` does not know
/// are added, with the library's own checks (`tel`, and `no-validate` that
/// passes everything), so that the baseline does the same work on phone
/// numbers rather than skipping them.
pub fn bare_validator(raw: &serde_json::Value) -> jsonschema::Validator {
    let mut options = jsonschema::options()
        .should_validate_formats(true)
        .with_format("tel", identity_core::is_valid_tel)
        .with_format("no-validate", |_: &str| true);
    if raw.get("$schema").is_none() {
        options = options.with_draft(jsonschema::Draft::Draft7);
    }
    match options.build(raw) {
        Ok(v) => v,
        Err(e) => panic!("the shared schema compiles with stock jsonschema: {e}"),
    }
}
