//! `GET /admin/identities/changes`: the tenant's change feed, by cursor.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use identity_core::ChangeCursor;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::QueryPairs;
use crate::router::{AppState, Tenant};

/// `?after=<cursor>&page_size=<n>`: up to `page_size` changes (default 250,
/// at most 500) after `after` (from the oldest kept when absent), as
/// `{"changes":[…],"next":"<cursor>"}`. An empty `changes` comes with the
/// same `next` when nothing is new; a cursor before the retained changes is
/// 410 Gone.
pub(crate) async fn list_changes(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let after = match query.get("after").filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<ChangeCursor>().map_err(|_| {
            ApiError::bad_request(format!(
                "The parameter after must be the next cursor of an earlier page, not {text:?}"
            ))
        })?),
    };
    // Read as the identity list reads its page size.
    let size = crate::list::page_size(&query, "page_size")?;
    let page = state.manager.changes(tenant, after, size).await?;
    Ok(Json(json!({
        "changes": page.changes,
        "next": page.next.to_string(),
    }))
    .into_response())
}
