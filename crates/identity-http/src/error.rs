//! Errors as the Kratos admin API sends them: a status code and the envelope
//! `{"error":{"code","status","reason"?,"message","details"?}}`.
//!
//! The status of every core error kind is decided in [`status_of`], one
//! `match` over [`ErrorKind`]. Server-side failures (5xx) answer with a
//! generic body; the error itself, with its source chain, goes to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use identity_core::{Error, ErrorKind};
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
/// compile until it is given a status here (the `core_status_agrees` test
/// checks this table against core's own `Error::status()`).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Schema => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::VersionMismatch => StatusCode::PRECONDITION_FAILED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The envelope of a core error. 4xx bodies are core's Kratos envelope;
/// 5xx bodies are generic and the error is logged with its sources.
pub fn envelope_of(error: &Error) -> (StatusCode, Value) {
    let status = status_of(error.kind());
    if status.is_server_error() {
        tracing::error!(
            error = %error,
            kind = ?error.kind(),
            sources = %source_chain(error),
            "identity operation failed"
        );
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "The storage backend is unavailable, please try again later"
        } else {
            "An internal server error occurred, please contact the system administrator"
        };
        return (status, generic(status, message, None));
    }
    tracing::debug!(error = %error, kind = ?error.kind(), "request refused");
    let mut body = error.envelope();
    // The status code in the body is ours, so body and response agree even
    // if core's table and this crate's ever drift.
    if let Some(inner) = body.get_mut("error").and_then(Value::as_object_mut) {
        inner.insert("code".into(), json!(status.as_u16()));
    }
    (status, body)
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

    const KINDS: [ErrorKind; 8] = [
        ErrorKind::Validation,
        ErrorKind::InvalidInput,
        ErrorKind::Schema,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::VersionMismatch,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    #[test]
    fn status_of_every_kind() {
        let statuses: Vec<u16> = KINDS.iter().map(|k| status_of(*k).as_u16()).collect();
        assert_eq!(statuses, [400, 400, 400, 404, 409, 412, 503, 500]);
    }

    #[test]
    fn core_status_agrees() {
        let samples = [
            Error::Validation(vec![]),
            Error::invalid("x"),
            Error::Schema("x".into()),
            Error::NotFound,
            Error::Conflict {
                field: identity_core::ConflictField::Id,
                op: identity_core::WriteOp::Create,
            },
            Error::VersionMismatch {
                expected: 1,
                actual: 2,
            },
            Error::Unavailable {
                message: "x".into(),
                source: None,
            },
            Error::Internal {
                message: "x".into(),
                source: None,
            },
        ];
        for e in &samples {
            assert_eq!(status_of(e.kind()).as_u16(), e.status(), "{:?}", e.kind());
        }
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
