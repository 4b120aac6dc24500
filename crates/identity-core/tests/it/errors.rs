//! Every error's kind and text (its HTTP status and Kratos envelope are
//! identity-http's, tested there).

use identity_core::{AddressVia, CredentialType, Error, ErrorKind, Violation};
use identity_core::{ConflictField, WriteOp};

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
    assert_eq!(
        err.violations()
            .iter()
            .map(Violation::reason_line)
            .collect::<Vec<_>>(),
        [
            "I[#/traits/email] S[#/properties/traits/properties/email/format] \"x\" is not valid \"email\"",
            "I[#/traits] S[#] value is nested deeper than the limit of 32 levels",
        ]
    );
}

#[test]
fn every_variant_has_its_kind_and_text() {
    let cases = [
        (
            Error::invalid("identity state is not valid"),
            ErrorKind::InvalidInput,
            "identity state is not valid",
        ),
        (
            Error::patch_failed("patch includes denied path: /id"),
            ErrorKind::InvalidInput,
            "patch includes denied path: /id",
        ),
        (
            Error::Schema("not a JSON Schema".into()),
            ErrorKind::Schema,
            "not a JSON Schema",
        ),
        (
            Error::NotFound,
            ErrorKind::NotFound,
            "unable to locate the resource",
        ),
        (
            Error::PartNotFound {
                reason: "no such credential".into(),
            },
            ErrorKind::NotFound,
            "no such credential",
        ),
        (
            Error::Conflict {
                field: ConflictField::Id,
                op: WriteOp::Create,
            },
            ErrorKind::Conflict,
            "conflict on id",
        ),
        (
            Error::VersionMismatch {
                expected: 1,
                actual: 2,
            },
            ErrorKind::VersionMismatch,
            "version mismatch: expected 1, found 2",
        ),
        (
            Error::unavailable("db busy", std::io::Error::other("SQLITE_BUSY")),
            ErrorKind::Unavailable,
            "storage unavailable: db busy",
        ),
        (
            Error::outcome_unknown(
                "create identity",
                std::io::Error::other("connection closed"),
            ),
            ErrorKind::OutcomeUnknown,
            "outcome of the write unknown: create identity",
        ),
        (
            Error::internal("bug", std::io::Error::other("SELECT secret FROM t")),
            ErrorKind::Internal,
            "internal error: bug",
        ),
    ];
    for (err, kind, text) in cases {
        assert_eq!((err.kind(), err.to_string()), (kind, text.to_owned()));
    }
    // The source stays a source: logged, never flattened into the text.
    let internal = Error::internal("bug", std::io::Error::other("SELECT secret FROM t"));
    assert_eq!(
        std::error::Error::source(&internal).map(ToString::to_string),
        Some("SELECT secret FROM t".to_owned())
    );
}

#[test]
fn conflicts_name_what_collided() {
    let field = ConflictField::CredentialIdentifier(CredentialType::Password, "a@b.example".into());
    let create = Error::Conflict {
        field,
        op: WriteOp::Create,
    };
    assert_eq!(
        create.to_string(),
        "conflict on password identifier \"a@b.example\""
    );
    let update = Error::Conflict {
        field: ConflictField::VerifiableAddress(AddressVia::Email, "a@b.example".into()),
        op: WriteOp::Update,
    };
    assert_eq!(
        update.to_string(),
        "conflict on verifiable address (email) \"a@b.example\""
    );
}

#[test]
fn structured_parts_are_read_through_accessors() {
    let patch = Error::patch_failed("patch includes denied path: /id");
    assert_eq!(
        (patch.reason(), patch.detail()),
        (
            Some("failed to apply JSON patch"),
            Some("patch includes denied path: /id")
        )
    );
    let part = Error::PartNotFound {
        reason: "no such credential".into(),
    };
    assert_eq!(
        (part.reason(), part.is_part_not_found()),
        (Some("no such credential"), true)
    );
    assert_eq!(
        (
            Error::NotFound.reason(),
            Error::NotFound.is_part_not_found()
        ),
        (None, false)
    );
    let conflict = Error::Conflict {
        field: ConflictField::ExternalId("e1".into()),
        op: WriteOp::Update,
    };
    assert_eq!(
        conflict.conflict(),
        Some((&ConflictField::ExternalId("e1".into()), WriteOp::Update))
    );
    let stale = Error::VersionMismatch {
        expected: 3,
        actual: 4,
    };
    assert_eq!((stale.versions(), stale.conflict()), (Some((3, 4)), None));
    assert_eq!(Error::invalid("bad state").reason(), Some("bad state"));
}
