//! The Kratos error envelope of every error kind.

use identity_core::{AddressVia, CredentialType, Error, ErrorKind, Violation};
use identity_core::{ConflictField, WriteOp};
use serde_json::json;

#[test]
fn validation_errors_carry_reason_lines_and_structured_violations() {
    let err = Error::Validation(vec![
        Violation {
            instance_path: "/traits/email".into(),
            schema_path: "/properties/traits/properties/email/format".into(),
            message: r#""x" is not valid "email""#.into(),
        },
        Violation::at(
            "/traits",
            "value is nested deeper than the limit of 32 levels",
        ),
    ]);
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.envelope(),
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
            Error::internal("bug", std::io::Error::other("SELECT secret FROM t")),
            ErrorKind::Internal,
            500,
        ),
    ];
    for (err, kind, status) in cases {
        assert_eq!(err.kind(), kind);
        assert_eq!(err.status(), status);
        assert_eq!(err.envelope()["error"]["code"], json!(status));
    }
    assert_eq!(
        Error::invalid("identity state is not valid").envelope(),
        json!({"error": {"code": 400, "status": "Bad Request",
            "reason": "identity state is not valid",
            "message": "The request was malformed or contained invalid parameters"}})
    );
    assert_eq!(
        Error::NotFound.envelope(),
        json!({"error": {"code": 404, "status": "Not Found", "message": "Unable to locate the resource"}})
    );
    let internal = Error::internal("bug", std::io::Error::other("SELECT secret FROM t")).envelope();
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
        create.envelope(),
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
        update.envelope(),
        json!({"error": {"code": 409, "status": "Conflict",
            "details": {"conflict": {"field": "verifiable_addresses", "via": "email", "value": "a@b.example"}},
            "message": "Unable to insert or update resource because a resource with that value exists already"}})
    );
    assert_eq!(
        create.to_string(),
        "conflict on password identifier \"a@b.example\""
    );
}
