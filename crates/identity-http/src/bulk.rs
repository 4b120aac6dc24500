//! `POST /admin/identities/bulk` (delete or set the state of many
//! identities), and the `dry_run` query parameter of the create routes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use identity_core::{
    BulkEntry, BulkOutcome, BulkResult, Error, State as IdentityState, check_bulk_len,
};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, envelope_of};
use crate::extract::{QueryPairs, RawBody, Route};
use crate::router::{AppState, Tenant};

/// The header a dry run's answer carries (`true`), whatever its status.
pub const DRY_RUN_HEADER: HeaderName = HeaderName::from_static("x-dry-run");

/// Whether the request asks for a dry run: `dry_run=true`. Absent or
/// `false` is a real run; any other value, or values that disagree, a 400.
pub(crate) fn dry_run(query: &QueryPairs) -> Result<bool, ApiError> {
    let mut asked = None;
    for value in query.all("dry_run") {
        let this = match value {
            "true" => true,
            "false" => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid value `{other}` for parameter `dry_run`: expected `true` or `false`."
                )));
            }
        };
        if asked.is_some_and(|a| a != this) {
            return Err(ApiError::bad_request(
                "The parameter `dry_run` is given twice with different values.",
            ));
        }
        asked = Some(this);
    }
    Ok(asked.unwrap_or(false))
}

/// The answer of a run, marked with `X-Dry-Run: true` when it was a dry
/// run (errors included: they are what the real run would answer).
pub(crate) fn mark(dry: bool, answer: Result<Response, ApiError>) -> Response {
    let mut response = answer.into_response();
    if dry {
        response
            .headers_mut()
            .insert(DRY_RUN_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// The body of `POST /admin/identities/bulk`: the action, the state (for
/// `set_state`), the entries. Unknown members are refused.
struct BulkBody {
    action: String,
    state: Option<String>,
    identities: Vec<BulkEntry>,
}

impl BulkBody {
    fn parse(value: Value) -> Result<BulkBody, ApiError> {
        let Value::Object(mut map) = value else {
            return Err(ApiError::bad_request(
                "the body must be an object with an action and an identities array",
            ));
        };
        if let Some(extra) = map
            .keys()
            .find(|k| !["action", "state", "identities"].contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(format!(
                "invalid bulk body: unknown field `{extra}`"
            )));
        }
        let action = match map.remove("action") {
            Some(Value::String(action)) => action,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid bulk body: `action` must be `delete` or `set_state`",
                ));
            }
        };
        let state = match map.remove("state") {
            None | Some(Value::Null) => None,
            Some(Value::String(state)) => Some(state),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid bulk body: `state` must be a string",
                ));
            }
        };
        let entries = match map.remove("identities") {
            Some(Value::Array(entries)) => entries,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid bulk body: `identities` must be an array",
                ));
            }
        };
        // The limit first, in the words of the batch's.
        check_bulk_len(entries.len())?;
        let identities = entries
            .into_iter()
            .enumerate()
            .map(|(n, entry)| {
                serde_json::from_value::<BulkEntry>(entry).map_err(|e| {
                    ApiError::bad_request(format!("invalid bulk body: identities[{n}]: {e}"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(BulkBody {
            action,
            state,
            identities,
        })
    }
}

/// `POST /admin/identities/bulk`: `{"action": "delete" | "set_state",
/// "state": "active" | "inactive", "identities": [{"id", "expected_version"?}]}`
/// → 200 `{"identities": [{"id", "status", …}]}`, one result per entry in
/// order. A malformed body, an unknown action, a missing or invalid state,
/// or more than 1,000 entries refuse the whole request with 400 before
/// anything is written.
pub(crate) async fn bulk_identities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: RawBody,
) -> Result<Response, ApiError> {
    let body = BulkBody::parse(body.json(Route::Batch)?)?;
    let results = match (body.action.as_str(), body.state.as_deref()) {
        ("delete", None) => state.manager.bulk_delete(tenant, body.identities).await?,
        ("delete", Some(_)) => {
            return Err(ApiError::bad_request(
                "`state` is only for the action `set_state`.",
            ));
        }
        ("set_state", Some(text)) => {
            let target = match text {
                "active" => IdentityState::Active,
                "inactive" => IdentityState::Inactive,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "The supplied state ('{other}') was not valid. Valid states are ('active', 'inactive')."
                    )));
                }
            };
            state
                .manager
                .bulk_set_state(tenant, target, body.identities)
                .await?
        }
        ("set_state", None) => {
            return Err(ApiError::bad_request(
                "The action `set_state` needs a `state`.",
            ));
        }
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "Unknown action `{other}`: expected `delete` or `set_state`."
            )));
        }
    };
    let results: Vec<Value> = results.iter().map(result_json).collect();
    Ok((StatusCode::OK, Json(json!({ "identities": results }))).into_response())
}

/// One entry's result: `id`, `status` (`deleted`, `updated`, `unchanged`,
/// `not_found`, `version_mismatch`, `failed`) and what goes with it
/// (`version`; `expected_version` and `actual_version`; `error`, in the
/// envelope's shape).
fn result_json(result: &BulkResult) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(result.id.to_string()));
    let status = match &result.outcome {
        BulkOutcome::Deleted => "deleted",
        BulkOutcome::Updated { version } => {
            map.insert("version".into(), json!(version));
            "updated"
        }
        BulkOutcome::Unchanged { version } => {
            map.insert("version".into(), json!(version));
            "unchanged"
        }
        BulkOutcome::NotFound => "not_found",
        BulkOutcome::VersionMismatch { expected, actual } => {
            map.insert("expected_version".into(), json!(expected));
            map.insert("actual_version".into(), json!(actual));
            "version_mismatch"
        }
        BulkOutcome::Failed(error) => {
            map.insert("error".into(), failed_error(error));
            "failed"
        }
    };
    map.insert("status".into(), Value::String(status.to_owned()));
    Value::Object(map)
}

fn failed_error(error: &Error) -> Value {
    envelope_of(error).1["error"].clone()
}
