//! The admin router: routes, shared state, and the identity handlers.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_core::manager::BATCH_MAX;
use identity_core::{
    BatchEntry, BatchOutcome, CreateIdentityBody, CredentialInclude, Error, Identity,
    IdentityManager, TenantId, UpdateIdentityBody,
};
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use crate::error::{ApiError, envelope_of, generic};
use crate::extract::{IdentityId, IfMatch, JsonBody, PathText, QueryPairs, etag};
use crate::{list, meta};

/// The default limit on request bodies: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Decides the tenant of a request from its head (headers, URI,
/// extensions set by the embedding server's own middleware). An error
/// refuses the request with that error's status and envelope.
pub type TenantResolver = dyn Fn(&Parts) -> Result<TenantId, Error> + Send + Sync;

/// Every (method, path) the router serves, in the OpenAPI document's
/// spelling. The `openapi` tests check the document against this list and
/// this list against the router.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/identities"),
    ("POST", "/admin/identities"),
    ("PATCH", "/admin/identities"),
    ("GET", "/admin/identities/{id}"),
    ("PUT", "/admin/identities/{id}"),
    ("PATCH", "/admin/identities/{id}"),
    ("DELETE", "/admin/identities/{id}"),
    ("GET", "/admin/identities/by/external/{externalID}"),
    ("GET", "/schemas"),
    ("GET", "/schemas/{id}"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
];

/// Builds the Kratos-compatible admin [`Router`] over an
/// [`IdentityManager`].
///
/// ```
/// # use std::sync::Arc;
/// # use identity_core::{IdentityManager, SchemaRegistry, TenantId};
/// # let store: identity_core::DynIdentityStore = Arc::new(identity_store_memory::MemoryStore::new());
/// # let manager = IdentityManager::builder(store, Arc::new(SchemaRegistry::new())).build();
/// let router = identity_http::AdminApi::new(manager)
///     .tenant(|_parts| Ok(TenantId::DEFAULT))
///     .body_limit(512 * 1024)
///     .into_router();
/// # let _: axum::Router = router;
/// ```
pub struct AdminApi {
    manager: IdentityManager,
    tenant: Arc<TenantResolver>,
    body_limit: usize,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("manager", &self.manager)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// The API over `manager`, serving the default tenant with a 1 MiB body
    /// limit.
    pub fn new(manager: IdentityManager) -> Self {
        AdminApi {
            manager,
            tenant: Arc::new(|_: &Parts| Ok(TenantId::DEFAULT)),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// How the tenant of a request is decided (default: always the default
    /// tenant).
    pub fn tenant(
        mut self,
        resolver: impl Fn(&Parts) -> Result<TenantId, Error> + Send + Sync + 'static,
    ) -> Self {
        self.tenant = Arc::new(resolver);
        self
    }

    /// The largest request body accepted, in bytes; larger bodies get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The router. Mount it at the root: the paths are Kratos' own
    /// (`/admin/identities`, `/schemas`, `/health/...`).
    pub fn into_router(self) -> Router {
        let state = AppState {
            manager: self.manager,
            tenant: self.tenant,
        };
        Router::new()
            .route(
                "/admin/identities",
                get(list::list_identities)
                    .post(create_identity)
                    .patch(batch_patch_identities),
            )
            .route(
                "/admin/identities/{id}",
                get(get_identity)
                    .put(update_identity)
                    .patch(patch_identity)
                    .delete(delete_identity),
            )
            .route(
                "/admin/identities/by/external/{external_id}",
                get(get_identity_by_external_id),
            )
            .route("/schemas", get(meta::list_schemas))
            .route("/schemas/{id}", get(meta::get_schema))
            .route("/health/alive", get(meta::alive))
            .route("/health/ready", get(meta::ready))
            .route("/openapi.json", get(meta::openapi))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(CatchPanicLayer::custom(panicked))
            .with_state(state)
    }
}

/// The router over `manager` with every default (default tenant, 1 MiB
/// bodies).
pub fn router(manager: IdentityManager) -> Router {
    AdminApi::new(manager).into_router()
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) manager: IdentityManager,
    tenant: Arc<TenantResolver>,
}

/// The tenant of the request, from the embedder's resolver.
pub(crate) struct Tenant(pub(crate) TenantId);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        (state.tenant)(parts).map(Tenant).map_err(ApiError::Core)
    }
}

/// An identity as JSON with its ETag.
pub(crate) fn identity_response(
    state: &AppState,
    status: StatusCode,
    identity: &Identity,
    include: CredentialInclude,
) -> Response {
    let body = state.manager.to_json(identity, include);
    (status, [(header::ETAG, etag(identity))], Json(body)).into_response()
}

async fn create_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let body = CreateIdentityBody::from_json(body)?;
    let identity = state.manager.create(tenant, body).await?;
    let location = format!(
        "{}/admin/identities/{}",
        state.manager.base_url().trim_end_matches('/'),
        identity.id
    );
    let mut response = identity_response(
        &state,
        StatusCode::CREATED,
        &identity,
        CredentialInclude::None,
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// One input of a batch: parsed, or refused with the caller's patch id.
type ParsedEntry = Result<Option<BatchEntry>, (Error, Option<Uuid>)>;

fn parse_batch_entry(entry: Value) -> ParsedEntry {
    match &entry {
        Value::Null => return Ok(None),
        // Kratos skips an entry without `create` and answers null for it.
        Value::Object(o) if o.get("create").is_none_or(Value::is_null) => return Ok(None),
        _ => {}
    }
    let patch_id = entry
        .get("patch_id")
        .and_then(Value::as_str)
        .and_then(|p| Uuid::parse_str(p).ok());
    serde_json::from_value::<BatchEntry>(entry)
        .map(Some)
        .map_err(|e| {
            (
                Error::invalid(format!("invalid batch entry: {e}")),
                patch_id,
            )
        })
}

async fn batch_patch_identities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let entries = match body {
        Value::Object(mut map) => match map.remove("identities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(ApiError::bad_request("identities must be an array")),
        },
        _ => {
            return Err(ApiError::bad_request(
                "the body must be an object with an identities array",
            ));
        }
    };
    if entries.len() > BATCH_MAX {
        return Err(ApiError::bad_request(format!(
            "a batch may hold at most {BATCH_MAX} identities, not {}",
            entries.len()
        )));
    }
    let parsed: Vec<ParsedEntry> = entries.into_iter().map(parse_batch_entry).collect();
    let valid: Vec<Option<BatchEntry>> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut outcomes = state.manager.batch_create(tenant, valid).await?.into_iter();
    let mut results = Vec::with_capacity(parsed.len());
    for entry in parsed {
        let outcome = match entry {
            Ok(_) => outcomes.next().ok_or_else(|| Error::Internal {
                message: "batch create answered fewer outcomes than entries".to_owned(),
                source: None,
            })?,
            Err((error, patch_id)) => BatchOutcome::Failed { error, patch_id },
        };
        results.push(outcome_json(&outcome));
    }
    Ok((StatusCode::OK, Json(json!({ "identities": results }))).into_response())
}

/// Core's JSON of a batch outcome, with server-side failures made generic
/// (and logged) as for a whole request.
fn outcome_json(outcome: &BatchOutcome) -> Value {
    let mut value = outcome.to_json();
    if let BatchOutcome::Failed { error, .. } = outcome {
        let (status, envelope) = envelope_of(error);
        if status.is_server_error()
            && let Some(map) = value.as_object_mut()
        {
            map.insert("error".into(), envelope["error"].clone());
        }
    }
    value
}

async fn get_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    IdentityId(id): IdentityId,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let include = query.include_credential()?;
    let identity = state.manager.get(tenant, id).await?;
    Ok(identity_response(
        &state,
        StatusCode::OK,
        &identity,
        include,
    ))
}

async fn get_identity_by_external_id(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    PathText(external_id): PathText,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let include = query.include_credential()?;
    let identity = state
        .manager
        .get_by_external_id(tenant, &external_id)
        .await?;
    Ok(identity_response(
        &state,
        StatusCode::OK,
        &identity,
        include,
    ))
}

async fn update_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    IdentityId(id): IdentityId,
    if_match: IfMatch,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let body = UpdateIdentityBody::from_json(body)?;
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    let identity = state.manager.update(tenant, id, body, expected).await?;
    Ok(identity_response(
        &state,
        StatusCode::OK,
        &identity,
        CredentialInclude::None,
    ))
}

async fn patch_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    IdentityId(id): IdentityId,
    if_match: IfMatch,
    JsonBody(patch): JsonBody,
) -> Result<Response, ApiError> {
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    let identity = state.manager.patch(tenant, id, patch, expected).await?;
    Ok(identity_response(
        &state,
        StatusCode::OK,
        &identity,
        CredentialInclude::None,
    ))
}

async fn delete_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    IdentityId(id): IdentityId,
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    state.manager.delete(tenant, id, expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::Http {
        status: StatusCode::NOT_FOUND,
        message: "Unable to locate the resource",
        reason: format!("No route matches {method} {}", uri.path()),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::Http {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "The requested HTTP method is not allowed on this resource",
        reason: "See /openapi.json for the methods of each route".to_owned(),
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    (
        status,
        Json(generic(
            status,
            "An internal server error occurred, please contact the system administrator",
            None,
        )),
    )
        .into_response()
}
