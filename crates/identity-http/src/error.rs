//! Errors as the Kratos admin API sends them: a status code and the envelope
//! `{"error":{"code","status","reason"?,"message","details"?}}`.
//!
//! The core carries no HTTP: the status of every core error kind is decided
//! here in [`status_of`], one `match` over [`ErrorKind`], and every
//! envelope in [`envelope_of`], another over the same kinds. Server-side
//! failures (5xx) answer with a generic body; the error itself, with its
//! source chain, goes to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use identity_core::{BatchOutcome, ConflictField, Error, ErrorKind, Violation, WriteOp};
use serde_json::{Value, json};

/// The error of every handler: a core error, or a failure of the HTTP
/// request itself (content type, body size, method) that never reached the
/// core.
#[derive(Debug)]
pub enum ApiError {
    /// An error of an identity operation.
    Core(Error),
    /// A request the HTTP layer refused before any identity operation.
    Http {
        /// The status to answer with (always 4xx).
        status: StatusCode,
        /// The Kratos `message`.
        message: &'static str,
        /// The Kratos `reason`: what exactly is wrong.
        reason: String,
    },
}

impl ApiError {
    /// A 400 "bad request" with this reason.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        ApiError::Core(Error::invalid(reason))
    }

    /// A 404 "not found".
    pub fn not_found() -> Self {
        ApiError::Core(Error::NotFound)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(e) => status_of(e.kind()),
            ApiError::Http { status, .. } => *status,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

/// The HTTP status of a core error kind (SPEC §8).
///
/// One exhaustive `match` with no wildcard: a new `ErrorKind` does not
/// compile until it is given a status here. The core carries no HTTP; this
/// is the only table.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Schema => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::VersionMismatch => StatusCode::PRECONDITION_FAILED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::OutcomeUnknown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Expired => StatusCode::GONE,
    }
}

/// The status and Kratos envelope of a core error:
/// `{"error":{"code","status","reason"?,"message","details"?}}`.
///
/// One exhaustive `match` over the error's [`ErrorKind`] decides every
/// body's `reason`, `message` and `details`. Server-side failures (5xx) answer
/// with a generic body only; the error itself, with its source chain, goes
/// to the log.
pub fn envelope_of(error: &Error) -> (StatusCode, Value) {
    let status = status_of(error.kind());
    if status.is_server_error() {
        tracing::error!(
            error = %error,
            kind = ?error.kind(),
            sources = %source_chain(error),
            "identity operation failed"
        );
    } else {
        tracing::debug!(error = %error, kind = ?error.kind(), "request refused");
    }
    (status, kratos_envelope(status, error))
}

/// The Kratos message of a 4xx or 5xx answer that has no more specific one.
const MALFORMED: &str = "The request was malformed or contained invalid parameters";
const UNAVAILABLE: &str = "The storage backend is unavailable, please try again later";
const OUTCOME_UNKNOWN: &str =
    "The write may or may not have happened: the storage backend failed while committing it";
const OUTCOME_UNKNOWN_REASON: &str = "The connection to the storage backend was lost after the write was sent, and whether it was applied could not be determined. Read the resource to find out before retrying: a blind retry may apply the write twice.";
const INTERNAL: &str = "An internal server error occurred, please contact the system administrator";

fn kratos_envelope(status: StatusCode, error: &Error) -> Value {
    // (reason, message, details) of each kind, the way Kratos words them:
    // one exhaustive match, no `_` arm, so a new kind forces a decision.
    let reason = error.reason().map(str::to_owned);
    let (reason, message, details): (Option<String>, &str, Option<Value>) = match error.kind() {
        ErrorKind::Validation => {
            let violations = error.violations();
            (
                Some(
                    violations
                        .iter()
                        .map(Violation::reason_line)
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                MALFORMED,
                Some(json!({ "violations": violations })),
            )
        }
        ErrorKind::InvalidInput | ErrorKind::Schema => {
            (reason, error.detail().unwrap_or(MALFORMED), None)
        }
        // Kratos' persister's words for a missing row; its handler's
        // (herodot's default) for a missing part of one.
        ErrorKind::NotFound if error.is_part_not_found() => {
            (reason, "The requested resource could not be found", None)
        }
        ErrorKind::NotFound => (None, "Unable to locate the resource", None),
        ErrorKind::Conflict => match error.conflict() {
            Some((field, WriteOp::Create)) => (
                Some("This identity conflicts with another identity that already exists.".to_owned()),
                "The resource could not be created due to a conflict",
                Some(json!({ "conflict": conflict_details(field) })),
            ),
            Some((field, WriteOp::Update)) => (
                None,
                "Unable to insert or update resource because a resource with that value exists already",
                Some(json!({ "conflict": conflict_details(field) })),
            ),
            None => (None, "The resource could not be created due to a conflict", None),
        },
        ErrorKind::VersionMismatch => (
            None,
            "The identity was modified since it was read; read it again and retry",
            error
                .versions()
                .map(|(expected, actual)| json!({"expected_version": expected, "actual_version": actual})),
        ),
        ErrorKind::Unavailable => (None, UNAVAILABLE, None),
        // A 503 like Unavailable (Kratos has no such answer), worded so
        // that a client does not retry blindly; `details.outcome` lets a
        // program tell it from a plain 503.
        ErrorKind::OutcomeUnknown => (
            Some(OUTCOME_UNKNOWN_REASON.to_owned()),
            OUTCOME_UNKNOWN,
            Some(json!({"outcome": "unknown"})),
        ),
        ErrorKind::Internal => (None, INTERNAL, None),
        ErrorKind::Expired => match error {
            Error::CursorExpired {
                after,
                pruned_through,
            } => (
                Some(format!(
                    "The changes after cursor {after} were pruned (through cursor {pruned_through}); read again without a cursor or from cursor {pruned_through}, knowing that changes were missed."
                )),
                "The requested resource is no longer available",
                Some(json!({
                    "after": after.to_string(),
                    "pruned_through": pruned_through.to_string(),
                })),
            ),
            _ => (None, "The requested resource is no longer available", None),
        },
    };
    let mut body = serde_json::Map::new();
    body.insert("code".into(), json!(status.as_u16()));
    body.insert(
        "status".into(),
        json!(status.canonical_reason().unwrap_or("Error")),
    );
    if let Some(reason) = reason {
        body.insert("reason".into(), json!(reason));
    }
    if let Some(details) = details {
        body.insert("details".into(), details);
    }
    body.insert("message".into(), json!(message));
    json!({ "error": body })
}

/// The `details.conflict` object of a conflict: which field collided, and
/// its value.
pub(crate) fn conflict_details(field: &ConflictField) -> Value {
    match field {
        ConflictField::Id => json!({"field": "id"}),
        ConflictField::ExternalId(v) => json!({"field": "external_id", "value": v}),
        ConflictField::CredentialIdentifier(t, v) => {
            json!({"field": "credentials.identifiers", "type": t.as_str(), "value": v})
        }
        ConflictField::VerifiableAddress(via, v) => {
            json!({"field": "verifiable_addresses", "via": via.as_str(), "value": v})
        }
        ConflictField::RecoveryAddress(via, v) => {
            json!({"field": "recovery_addresses", "via": via.as_str(), "value": v})
        }
    }
}

/// Kratos' JSON of one batch-create outcome: `{"action":"create",
/// "identity","patch_id"?}`, `{"action":"error","error",...}` or `null`.
/// A failed entry's conflict is worded as an update's (no reason, "Unable
/// to insert or update resource …"), as Kratos does; server-side failures
/// are generic and logged, as for a whole request.
pub(crate) fn batch_outcome_json(outcome: &BatchOutcome) -> Value {
    let mut map = serde_json::Map::new();
    let patch_id = match outcome {
        BatchOutcome::Created { id, patch_id, .. } => {
            map.insert("action".into(), "create".into());
            map.insert("identity".into(), Value::String(id.to_string()));
            patch_id
        }
        BatchOutcome::Failed { error, patch_id } => {
            map.insert("action".into(), "error".into());
            let (_, envelope) = match error.conflict() {
                Some((field, _)) => envelope_of(&Error::Conflict {
                    field: field.clone(),
                    op: WriteOp::Update,
                }),
                None => envelope_of(error),
            };
            map.insert("error".into(), envelope["error"].clone());
            patch_id
        }
        BatchOutcome::Skipped => return Value::Null,
    };
    if let Some(p) = patch_id {
        map.insert("patch_id".into(), Value::String(p.to_string()));
    }
    Value::Object(map)
}

/// `{"error":{"code","status","message","reason"?}}`.
pub(crate) fn generic(status: StatusCode, message: &str, reason: Option<&str>) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert("code".into(), json!(status.as_u16()));
    inner.insert(
        "status".into(),
        json!(status.canonical_reason().unwrap_or("Error")),
    );
    if let Some(reason) = reason {
        inner.insert("reason".into(), json!(reason));
    }
    inner.insert("message".into(), json!(message));
    json!({ "error": inner })
}

fn source_chain(error: &Error) -> String {
    let mut chain = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(source) = next {
        chain.push(source.to_string());
        next = source.source();
    }
    chain.join(": ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Core(e) => envelope_of(e),
            ApiError::Http {
                status,
                message,
                reason,
            } => {
                tracing::debug!(status = status.as_u16(), reason, "request refused");
                (*status, generic(*status, message, Some(reason)))
            }
        };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ErrorKind; 10] = [
        ErrorKind::Validation,
        ErrorKind::InvalidInput,
        ErrorKind::Schema,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::VersionMismatch,
        ErrorKind::Unavailable,
        ErrorKind::OutcomeUnknown,
        ErrorKind::Internal,
        ErrorKind::Expired,
    ];

    #[test]
    fn status_of_every_kind() {
        let statuses: Vec<u16> = KINDS.iter().map(|k| status_of(*k).as_u16()).collect();
        assert_eq!(statuses, [400, 400, 400, 404, 409, 412, 503, 503, 500, 410]);
    }

    #[test]
    fn server_errors_are_generic() {
        let e = Error::internal(
            "SELECT secret FROM t failed",
            std::io::Error::other("disk on fire"),
        );
        let (status, body) = envelope_of(&e);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = body.to_string();
        assert!(!text.contains("SELECT"), "{text}");
        assert!(!text.contains("disk"), "{text}");
        assert_eq!(body["error"]["code"], 500);
    }
}
