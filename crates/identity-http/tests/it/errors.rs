//! The Kratos error envelope of every core error, as identity-http answers
//! it (the core carries no HTTP).

use identity_core::{AddressVia, CredentialType, Error, ErrorKind, Violation};
use identity_core::{ConflictField, WriteOp};
use identity_http::envelope_of;
use serde_json::{Value, json};

fn status(err: &Error) -> u16 {
    envelope_of(err).0.as_u16()
}

fn envelope(err: &Error) -> Value {
    envelope_of(err).1
}

#[test]
fn validation_errors_carry_reason_lines_and_structured_violations() {
    let err = Error::Validation(vec![
        Violation::new(
            "/traits/email",
            "/properties/traits/properties/email/format",
            r#""x" is not valid "email""#,
        ),
        Violation::at(
            "/traits",
            "value is nested deeper than the limit of 32 levels",
        ),
    ]);
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(status(&err), 400);
    assert_eq!(
        envelope(&err),
        json!({"error": {
            "code": 400,
            "status": "Bad Request",
            "reason": "I[#/traits/email] S[#/properties/traits/properties/email/format] \"x\" is not valid \"email\"\nI[#/traits] S[#] value is nested deeper than the limit of 32 levels",
            "details": {"violations": [
                {"instance_path": "/traits/email", "schema_path": "/properties/traits/properties/email/format", "message": "\"x\" is not valid \"email\""},
                {"instance_path": "/traits", "schema_path": "", "message": "value is nested deeper than the limit of 32 levels"}
            ]},
            "message": "The request was malformed or contained invalid parameters"
        }})
    );
}

#[test]
fn every_kind_has_its_status_and_message() {
    let cases = [
        (
            Error::invalid("identity state is not valid"),
            ErrorKind::InvalidInput,
            400,
        ),
        (Error::NotFound, ErrorKind::NotFound, 404),
        (
            Error::Conflict {
                field: ConflictField::Id,
                op: WriteOp::Create,
            },
            ErrorKind::Conflict,
            409,
        ),
        (
            Error::VersionMismatch {
                expected: 1,
                actual: 2,
            },
            ErrorKind::VersionMismatch,
            412,
        ),
        (
            Error::unavailable("db busy", std::io::Error::other("SQLITE_BUSY")),
            ErrorKind::Unavailable,
            503,
        ),
        (
            Error::outcome_unknown(
                "create identity",
                std::io::Error::other("connection closed"),
            ),
            ErrorKind::OutcomeUnknown,
            503,
        ),
        (
            Error::internal("bug", std::io::Error::other("SELECT secret FROM t")),
            ErrorKind::Internal,
            500,
        ),
    ];
    for (err, kind, code) in cases {
        assert_eq!(err.kind(), kind);
        assert_eq!(status(&err), code);
        assert_eq!(envelope(&err)["error"]["code"], json!(code));
    }
    assert_eq!(
        envelope(&Error::invalid("identity state is not valid")),
        json!({"error": {"code": 400, "status": "Bad Request",
            "reason": "identity state is not valid",
            "message": "The request was malformed or contained invalid parameters"}})
    );
    assert_eq!(
        envelope(&Error::NotFound),
        json!({"error": {"code": 404, "status": "Not Found", "message": "Unable to locate the resource"}})
    );
    let internal = envelope(&Error::internal(
        "bug",
        std::io::Error::other("SELECT secret FROM t"),
    ));
    assert!(!internal.to_string().contains("SELECT"), "{internal}");
}

#[test]
fn conflicts_name_what_collided_and_word_create_and_update_like_kratos() {
    let field = ConflictField::CredentialIdentifier(CredentialType::Password, "a@b.example".into());
    let create = Error::Conflict {
        field: field.clone(),
        op: WriteOp::Create,
    };
    assert_eq!(
        envelope(&create),
        json!({"error": {"code": 409, "status": "Conflict",
            "reason": "This identity conflicts with another identity that already exists.",
            "details": {"conflict": {"field": "credentials.identifiers", "type": "password", "value": "a@b.example"}},
            "message": "The resource could not be created due to a conflict"}})
    );
    let update = Error::Conflict {
        field: ConflictField::VerifiableAddress(AddressVia::Email, "a@b.example".into()),
        op: WriteOp::Update,
    };
    assert_eq!(
        envelope(&update),
        json!({"error": {"code": 409, "status": "Conflict",
            "details": {"conflict": {"field": "verifiable_addresses", "via": "email", "value": "a@b.example"}},
            "message": "Unable to insert or update resource because a resource with that value exists already"}})
    );
    assert_eq!(
        create.to_string(),
        "conflict on password identifier \"a@b.example\""
    );
}

/// Every variant's status and envelope keys, in Kratos' order; server-side
/// failures carry a generic body without the error's text.
#[test]
fn every_variant_has_one_envelope() {
    let cases: Vec<(Error, u16, &[&str])> = vec![
        (
            Error::Validation(vec![]),
            400,
            &["code", "status", "reason", "details", "message"],
        ),
        (
            Error::invalid("x"),
            400,
            &["code", "status", "reason", "message"],
        ),
        (
            Error::InvalidRequest {
                reason: Some("failed to apply JSON patch".into()),
                message: "patch includes denied path: /id".into(),
            },
            400,
            &["code", "status", "reason", "message"],
        ),
        (
            Error::InvalidRequest {
                reason: None,
                message: "unexpected end of input".into(),
            },
            400,
            &["code", "status", "message"],
        ),
        (
            Error::Schema("x".into()),
            400,
            &["code", "status", "reason", "message"],
        ),
        (Error::NotFound, 404, &["code", "status", "message"]),
        (
            Error::PartNotFound {
                reason: "no such credential".into(),
            },
            404,
            &["code", "status", "reason", "message"],
        ),
        (
            Error::VersionMismatch {
                expected: 1,
                actual: 2,
            },
            412,
            &["code", "status", "details", "message"],
        ),
        (
            Error::Unavailable {
                message: "pool timed out".into(),
                source: None,
            },
            503,
            &["code", "status", "message"],
        ),
        (
            Error::OutcomeUnknown {
                message: "SELECT secret FROM t failed".into(),
                source: Some(Box::new(std::io::Error::other("disk on fire"))),
            },
            503,
            &["code", "status", "reason", "details", "message"],
        ),
        (
            Error::Internal {
                message: "SELECT secret FROM t failed".into(),
                source: Some(Box::new(std::io::Error::other("disk on fire"))),
            },
            500,
            &["code", "status", "message"],
        ),
    ];
    for (err, code, keys) in cases {
        let (got, body) = envelope_of(&err);
        assert_eq!(got.as_u16(), code, "{err:?}");
        let inner = body["error"].as_object().unwrap();
        assert_eq!(inner.keys().collect::<Vec<_>>(), keys.to_vec(), "{err:?}");
        assert_eq!(inner["code"], json!(code));
        let text = body.to_string();
        assert!(!text.contains("SELECT") && !text.contains("disk"), "{text}");
    }
    let (_, patch) = envelope_of(&Error::patch_failed("patch includes denied path: /id"));
    assert_eq!(
        patch,
        json!({"error": {"code": 400, "status": "Bad Request",
            "reason": "failed to apply JSON patch",
            "message": "patch includes denied path: /id"}})
    );
    let (_, part) = envelope_of(&Error::PartNotFound {
        reason: "no such credential".into(),
    });
    assert_eq!(
        part,
        json!({"error": {"code": 404, "status": "Not Found",
            "reason": "no such credential",
            "message": "The requested resource could not be found"}})
    );
    let (_, unavailable) = envelope_of(&Error::Unavailable {
        message: "x".into(),
        source: None,
    });
    assert_eq!(
        unavailable,
        json!({"error": {"code": 503, "status": "Service Unavailable",
            "message": "The storage backend is unavailable, please try again later"}})
    );
    let (status, unknown) = envelope_of(&Error::outcome_unknown(
        "create identity",
        std::io::Error::other("connection closed"),
    ));
    assert_eq!(status.as_u16(), 503);
    assert_eq!(
        unknown,
        json!({"error": {"code": 503, "status": "Service Unavailable",
            "reason": "The connection to the storage backend was lost after the write was sent, and whether it was applied could not be determined. Read the resource to find out before retrying: a blind retry may apply the write twice.",
            "details": {"outcome": "unknown"},
            "message": "The write may or may not have happened: the storage backend failed while committing it"}})
    );
}
