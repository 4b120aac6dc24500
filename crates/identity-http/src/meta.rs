//! The routes around the identities: schemas, health, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use identity_core::{ErrorKind, TenantId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::PathText;
use crate::router::AppState;

/// The OpenAPI 3 document of the router (kept beside the code; the
/// `openapi` tests check it against [`crate::ROUTES`] and the router).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /schemas`: `[{"id", "schema"}]` in registration order.
pub(crate) async fn list_schemas(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .manager
        .schemas()
        .iter()
        .map(|s| json!({ "id": s.id(), "schema": s.raw() }))
        .collect();
    Json(Value::Array(list))
}

/// `GET /schemas/{id}`: the raw schema. `id` is the schema id or its
/// base64url form (what `schema_url` carries).
pub(crate) async fn get_schema(
    State(state): State<AppState>,
    PathText(id): PathText,
) -> Result<Json<Value>, ApiError> {
    state
        .manager
        .schemas()
        .get(&id)
        .map(|s| Json(s.raw().clone()))
        .ok_or_else(ApiError::not_found)
}

/// `GET /health/alive`: the process answers.
pub(crate) async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the store answers a read. Kratos' body on failure
/// is `{"errors":{"<check>":"<message>"}}`; the message here is generic and
/// the error goes to the log.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    // A read of an id that never exists: NotFound proves the store works.
    match state
        .manager
        .store()
        .get(TenantId::DEFAULT, Uuid::nil())
        .await
    {
        Ok(_) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Json(json!({ "status": "ok" })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, kind = ?e.kind(), "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "errors": { "database": "the identity store is not available" } })),
            )
                .into_response()
        }
    }
}

/// `GET /version`: `{"version": "<this crate's version>"}` (Kratos answers
/// its own version the same way).
pub(crate) async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
