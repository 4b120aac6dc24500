//! The admin router: routes, shared state, and the identity handlers.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_core::check_batch_len;
use identity_core::{
    BatchEntry, BatchOutcome, CreateIdentityBody, CredentialInclude, Error, Identity,
    IdentityManager, TenantId, UpdateIdentityBody,
};
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use crate::error::{ApiError, batch_outcome_json, generic};
use crate::extract::{
    CredentialPath, IdentityId, IfMatch, PathText, QueryPairs, RawBody, Route, etag,
};
use crate::{bulk, changes, list, meta, migrate};

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
    ("DELETE", "/admin/identities/{id}/credentials/{type}"),
    ("GET", "/admin/identities/by/external/{externalID}"),
    ("GET", "/admin/identities/changes"),
    ("POST", "/admin/identities/bulk"),
    ("POST", "/admin/identities/schema-migrations"),
    ("GET", "/schemas"),
    ("GET", "/schemas/{id}"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
    ("GET", "/version"),
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
    prefix: Option<String>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("manager", &self.manager)
            .field("body_limit", &self.body_limit)
            .field("prefix", &self.prefix)
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
            prefix: None,
        }
    }

    /// Serves every route under `prefix` (e.g. `/iam`: `PUT
    /// /iam/identities/{id}`, `GET /iam/admin/identities`); other paths
    /// answer 404 in the Kratos envelope. An empty prefix or `/` is none.
    /// (To mount the router in a larger app, [`Router::nest`] does the
    /// same.)
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let trimmed = prefix.trim_end_matches('/');
        self.prefix = if trimmed.is_empty() {
            None
        } else if trimmed.starts_with('/') {
            Some(trimmed.to_owned())
        } else {
            Some(format!("/{trimmed}"))
        };
        self
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

    /// The router: Kratos' admin paths (`/admin/identities…`), the same
    /// identity routes without the `/admin` prefix (`/identities…`, as
    /// Kratos' admin port answers both), `/schemas`, `/health/…`,
    /// `/version` and `/openapi.json`. Mount it at the root, or under any
    /// prefix with [`Router::nest`] (`Link` headers follow the path the
    /// request came in on).
    pub fn into_router(self) -> Router {
        let state = AppState {
            manager: self.manager,
            tenant: self.tenant,
        };
        let identities = || {
            Router::new()
                .route(
                    "/identities",
                    get(list::list_identities)
                        .post(create_identity)
                        .patch(batch_patch_identities),
                )
                .route(
                    "/identities/{id}",
                    get(get_identity)
                        .put(update_identity)
                        .patch(patch_identity)
                        .delete(delete_identity),
                )
                .route(
                    "/identities/{id}/credentials/{type}",
                    axum::routing::delete(delete_credential),
                )
                .route(
                    "/identities/by/external/{external_id}",
                    get(get_identity_by_external_id),
                )
                .route("/identities/changes", get(changes::list_changes))
                .route(
                    "/identities/bulk",
                    axum::routing::post(bulk::bulk_identities),
                )
                .route(
                    "/identities/schema-migrations",
                    axum::routing::post(migrate::migrate_schema),
                )
        };
        let routes = Router::new()
            .nest("/admin", identities())
            .merge(identities())
            .route("/schemas", get(meta::list_schemas))
            .route("/schemas/{id}", get(meta::get_schema))
            .route("/health/alive", get(meta::alive))
            .route("/health/ready", get(meta::ready))
            .route("/version", get(meta::version))
            .route("/openapi.json", get(meta::openapi))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        let routes = match &self.prefix {
            Some(prefix) => Router::new().nest(prefix, routes).fallback(not_found),
            None => routes,
        };
        routes
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

/// The answer to a create, PUT or PATCH: the identity (no credential
/// configs) with its ETag, and the region the request gave, echoed as
/// Kratos does (it is not stored).
fn written_response(
    state: &AppState,
    status: StatusCode,
    identity: &Identity,
    region: Option<&str>,
) -> Response {
    let mut body = state.manager.to_json(identity, CredentialInclude::None);
    if let (Some(region), Some(map)) = (region, body.as_object_mut()) {
        map.insert("region".into(), Value::String(region.to_owned()));
    }
    (status, [(header::ETAG, etag(identity))], Json(body)).into_response()
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

/// `POST /admin/identities[?dry_run=true]`: 201 and the identity; a dry
/// run answers the same (the identity it would create, `Location`
/// included) and writes nothing, marked `X-Dry-Run: true`.
async fn create_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: QueryPairs,
    body: RawBody,
) -> Result<Response, ApiError> {
    let dry = bulk::dry_run(&query)?;
    Ok(bulk::mark(dry, create_run(&state, tenant, body, dry).await))
}

async fn create_run(
    state: &AppState,
    tenant: TenantId,
    body: RawBody,
    dry: bool,
) -> Result<Response, ApiError> {
    // Kratos' strict decoder: what does not decode is the `message`.
    let body = CreateIdentityBody::from_json(body.json(Route::Create)?).map_err(|e| {
        Error::InvalidRequest {
            reason: None,
            message: e.to_string(),
        }
    })?;
    let region = body.region.clone().filter(|r| !r.is_empty());
    let identity = if dry {
        state.manager.create_dry_run(tenant, body).await?
    } else {
        state.manager.create(tenant, body).await?
    };
    let location = format!(
        "{}/admin/identities/{}",
        state.manager.base_url().trim_end_matches('/'),
        identity.id
    );
    let mut response = written_response(state, StatusCode::CREATED, &identity, region.as_deref());
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

/// `PATCH /admin/identities[?dry_run=true]`: the batch create, one result
/// per entry; a dry run answers the same and writes nothing, marked
/// `X-Dry-Run: true`.
async fn batch_patch_identities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: QueryPairs,
    body: RawBody,
) -> Result<Response, ApiError> {
    let dry = bulk::dry_run(&query)?;
    Ok(bulk::mark(dry, batch_run(&state, tenant, body, dry).await))
}

async fn batch_run(
    state: &AppState,
    tenant: TenantId,
    body: RawBody,
    dry: bool,
) -> Result<Response, ApiError> {
    let entries = match body.json(Route::Batch)? {
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
    check_batch_len(entries.len())?;
    let parsed: Vec<ParsedEntry> = entries.into_iter().map(parse_batch_entry).collect();
    let valid: Vec<Option<BatchEntry>> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let outcomes = if dry {
        state.manager.batch_create_dry_run(tenant, valid).await?
    } else {
        state.manager.batch_create(tenant, valid).await?
    };
    let mut outcomes = outcomes.into_iter();
    let mut results = Vec::with_capacity(parsed.len());
    for entry in parsed {
        let outcome = match entry {
            Ok(_) => outcomes.next().ok_or_else(|| Error::Internal {
                message: "batch create answered fewer outcomes than entries".to_owned(),
                source: None,
            })?,
            Err((error, patch_id)) => BatchOutcome::Failed { error, patch_id },
        };
        results.push(batch_outcome_json(&outcome));
    }
    Ok((StatusCode::OK, Json(json!({ "identities": results }))).into_response())
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
    body: RawBody,
) -> Result<Response, ApiError> {
    let body = UpdateIdentityBody::from_json(body.json(Route::Update)?)
        .map_err(|e| Error::invalid(format!("Unable to decode JSON payload: {e}")))?;
    let region = body.region.clone().filter(|r| !r.is_empty());
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    let identity = state.manager.update(tenant, id, body, expected).await?;
    Ok(written_response(
        &state,
        StatusCode::OK,
        &identity,
        region.as_deref(),
    ))
}

async fn patch_identity(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    IdentityId(id): IdentityId,
    if_match: IfMatch,
    body: RawBody,
) -> Result<Response, ApiError> {
    let patch = match body.json(Route::Patch) {
        Ok(patch) => patch,
        Err(error) => {
            // As in Kratos, a missing identity answers 404 before a body
            // that does not decode answers 400.
            state.manager.get(tenant, id).await?;
            return Err(error);
        }
    };
    // Kratos' `/region` operations: taken out, checked, echoed.
    let (patch, region) = take_region_ops(patch)?;
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    let identity = state.manager.patch(tenant, id, patch, expected).await?;
    Ok(written_response(
        &state,
        StatusCode::OK,
        &identity,
        region.as_deref(),
    ))
}

/// Takes the operations on `/region` out of a patch, as Kratos does before
/// applying it: only `add` and `replace` of a string that is a valid
/// region; the last one wins and is echoed in the answer (the region is
/// not stored, as in Kratos).
fn take_region_ops(patch: Value) -> Result<(Value, Option<String>), ApiError> {
    let Value::Array(ops) = patch else {
        return Ok((patch, None));
    };
    let mut region = None;
    let mut rest = Vec::with_capacity(ops.len());
    for op in ops {
        if op.get("path").and_then(Value::as_str) != Some("/region") {
            rest.push(op);
            continue;
        }
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        if kind != "add" && kind != "replace" {
            return Err(ApiError::bad_request(format!(
                "operation \"{kind}\" is not supported on /region"
            )));
        }
        let Some(value) = op.get("value").and_then(Value::as_str) else {
            return Err(ApiError::bad_request("failed to unmarshal"));
        };
        identity_core::check_region(value)?;
        region = Some(value.to_owned()).filter(|r| !r.is_empty());
    }
    Ok((Value::Array(rest), region))
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

/// `DELETE /admin/identities/{id}/credentials/{type}[?identifier=…]`: 204.
async fn delete_credential(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    CredentialPath(id, kind): CredentialPath,
    if_match: IfMatch,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let expected = if_match
        .expected_version(&state.manager, tenant, id)
        .await?;
    state
        .manager
        .delete_credential(tenant, id, &kind, query.get("identifier"), expected)
        .await?;
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
