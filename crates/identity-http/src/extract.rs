//! Request extractors that answer with the Kratos envelope when they refuse
//! a request: the JSON body, the identity id in the path, `If-Match`, and
//! the raw query pairs.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use identity_core::{
    CredentialInclude, CredentialType, Error, Identity, IdentityManager, TenantId,
};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// A request body, read whole: its content type (when it has content),
/// size and read time checked, not yet decoded (each route decodes it with
/// its own words for a failure, as Kratos does: see [`Route`]).
///
/// Refuses with the Kratos envelope: 415 when a non-empty body's content
/// type is not JSON, 413 when the body exceeds the router's limit, 408
/// when a body read timeout (tower-http's `RequestBodyTimeoutLayer`, as
/// `identity-server` installs it) passed.
#[derive(Debug)]
pub(crate) struct RawBody(Bytes);

/// The routes that take a JSON body, for Kratos' placement of decoding
/// errors in its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /identities`: the decoder's text as `message`.
    Create,
    /// `PUT /identities/{id}`: `reason` `Unable to decode …`.
    Update,
    /// `PATCH /identities/{id}`: reason `failed to unmarshal JSON patch`,
    /// the decoder's text as `message`.
    Patch,
    /// `PATCH /identities` (batch): the decoder's text as `message`.
    Batch,
}

impl RawBody {
    /// The body as JSON, or the route's refusal when it is empty or does
    /// not parse.
    pub(crate) fn json(&self, route: Route) -> Result<Value, ApiError> {
        let blank = self.0.iter().all(u8::is_ascii_whitespace);
        let parsed = if blank {
            Err(None)
        } else {
            serde_json::from_slice(&self.0).map_err(Some)
        };
        parsed.map_err(|e: Option<serde_json::Error>| {
            let text = e.map_or_else(
                || "unexpected end of JSON input".to_owned(),
                |e| e.to_string(),
            );
            let error = match route {
                Route::Update if blank => Error::invalid(
                    "Unable to decode HTTP Request Body because its HTTP Header \"Content-Length\" is zero.",
                ),
                Route::Update => Error::invalid(format!("Unable to decode JSON payload: {text}")),
                Route::Patch => Error::InvalidRequest {
                    reason: Some("failed to unmarshal JSON patch".to_owned()),
                    message: text,
                },
                Route::Create | Route::Batch => Error::InvalidRequest {
                    reason: None,
                    message: text,
                },
            };
            ApiError::Core(error)
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared_json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if timed_out(&rejection) {
                ApiError::Http {
                    status: StatusCode::REQUEST_TIMEOUT,
                    message: "The request body was not received in time",
                    reason: "The client sent the request body too slowly".to_owned(),
                }
            } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Http {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    message: "The request body is too large",
                    reason: "The request body exceeds the configured size limit".to_owned(),
                }
            } else {
                ApiError::Http {
                    status: StatusCode::BAD_REQUEST,
                    message: "The request was malformed or contained invalid parameters",
                    reason: format!("Unable to read the request body: {}", rejection.body_text()),
                }
            }
        })?;
        // An empty body has no content type to check; the route says what
        // an empty body means.
        if !declared_json && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::Http {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "The request's Content-Type is not supported",
                reason: "Expected a request body with Content-Type: application/json".to_owned(),
            });
        }
        Ok(RawBody(bytes))
    }
}

/// `application/json`, `application/json; charset=utf-8`, and the
/// `+json` types (`application/json-patch+json`, ...).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The `{id}` of an identity route. A value that is not a UUID is "not
/// found" (404), as in Kratos (SPEC §8).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdentityId(pub(crate) Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdentityId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        Uuid::parse_str(&raw)
            .map(IdentityId)
            .map_err(|_| ApiError::not_found())
    }
}

/// The `{id}` and `{type}` of `/identities/{id}/credentials/{type}`. An id
/// that is not a UUID, or a type that does not decode, is "not found".
#[derive(Debug, Clone)]
pub(crate) struct CredentialPath(pub(crate) Uuid, pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for CredentialPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((id, kind)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
        Ok(CredentialPath(id, kind))
    }
}

/// A text path parameter (`/schemas/{id}`, `/by/external/{external_id}`).
/// A value that does not decode (bad percent-encoding, not UTF-8) names
/// nothing that exists: "not found" (404) in the Kratos envelope, never
/// axum's plain-text rejection.
#[derive(Debug, Clone)]
pub(crate) struct PathText(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathText(text))
            .map_err(|_| ApiError::not_found())
    }
}

/// Whether a body could not be read because the server's body read
/// timeout (tower-http's `RequestBodyTimeoutLayer`) passed.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The strong entity tag of an identity version: `"<version>"`.
pub(crate) fn etag(identity: &Identity) -> HeaderValue {
    // Digits and quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{}\"", identity.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The `If-Match` precondition of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IfMatch {
    /// No header, or `*`: Kratos' behaviour, the last writer wins.
    Any,
    /// The versions of the entity tags given. Tags that are not ours (weak
    /// tags, which never match strongly, or foreign values) are dropped, so
    /// this may be empty: then nothing can match.
    Versions(Vec<u64>),
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut versions = Vec::new();
        let mut any_header = false;
        for value in parts.headers.get_all(header::IF_MATCH) {
            any_header = true;
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request("The If-Match header is not valid text"))?;
            for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if tag == "*" {
                    return Ok(IfMatch::Any);
                }
                if let Some(v) = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<u64>().ok())
                {
                    versions.push(v);
                }
            }
        }
        Ok(if any_header {
            IfMatch::Versions(versions)
        } else {
            IfMatch::Any
        })
    }
}

impl IfMatch {
    /// The version a conditional write expects: `None` for no condition.
    /// With several tags, the one matching the stored version is chosen
    /// (the write itself stays conditional on it, so this is race-free).
    pub(crate) async fn expected_version(
        &self,
        manager: &IdentityManager,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<u64>, ApiError> {
        match self {
            IfMatch::Any => Ok(None),
            IfMatch::Versions(v) if v.len() == 1 => Ok(Some(v[0])),
            IfMatch::Versions(v) => {
                let stored = manager.get(tenant, id).await?;
                if v.contains(&stored.version) {
                    Ok(Some(stored.version))
                } else {
                    Err(ApiError::Core(Error::VersionMismatch {
                        expected: v.first().copied().unwrap_or(0),
                        actual: stored.version,
                    }))
                }
            }
        }
    }
}

/// The decoded pairs of the query string, in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryPairs(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl QueryPairs {
    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, as Go's `Query().Get` reads it.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present at all.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The `include_credential` values as a [`CredentialInclude`]; a value
    /// Kratos does not accept is a 400 in its words. Kratos' types this
    /// library has no credentials of (`link_recovery`, `code_recovery`,
    /// `deviceauthn`) are accepted and include nothing.
    pub(crate) fn include_credential(&self) -> Result<CredentialInclude, ApiError> {
        const NONE_HERE: [&str; 3] = ["link_recovery", "code_recovery", "deviceauthn"];
        let mut kinds = std::collections::BTreeSet::new();
        let mut asked = false;
        for value in self.all("include_credential") {
            asked = true;
            if NONE_HERE.contains(&value) {
                continue;
            }
            let kind = CredentialType::parse(value).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid value `{value}` for parameter `include_credential`."
                ))
            })?;
            kinds.insert(kind);
        }
        if asked && kinds.is_empty() {
            return Ok(CredentialInclude::Only(kinds));
        }
        Ok(if kinds.is_empty() {
            CredentialInclude::None
        } else {
            CredentialInclude::Only(kinds)
        })
    }
}
