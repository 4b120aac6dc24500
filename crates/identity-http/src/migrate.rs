//! `POST /admin/identities/schema-migrations`: one page of a schema
//! migration, dry run or applied.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use identity_core::{
    Collision, ConflictField, MigrationEntry, MigrationOutcome, MigrationPage, PageSize,
    SchemaMigration,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiError, conflict_details, envelope_of};
use crate::extract::{RawBody, Route};
use crate::router::{AppState, Tenant};

const FIELDS: [&str; 5] = ["from", "to", "apply", "after", "page_size"];

/// The body: `{"from": "v1", "to": "v2", "apply": false, "after": null,
/// "page_size": 100}`. `from` and `to` are required; `apply` defaults to
/// `false`, `after` to the start, `page_size` to 250 (read as the list
/// reads it: zero or less is the default, past 500 is 500). Unknown
/// members are refused.
fn parse(value: Value) -> Result<SchemaMigration, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("invalid schema migration body: {why}"));
    let Value::Object(mut map) = value else {
        return Err(bad(
            "the body must be an object with `from` and `to`".to_owned()
        ));
    };
    if let Some(extra) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(format!("unknown field `{extra}`")));
    }
    let mut schema = |name: &str| match map.remove(name) {
        Some(Value::String(id)) => Ok(id),
        _ => Err(bad(format!("`{name}` must be a schema id (a string)"))),
    };
    let from = schema("from")?;
    let to = schema("to")?;
    let apply = match map.remove("apply") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(apply)) => apply,
        Some(_) => return Err(bad("`apply` must be `true` or `false`".to_owned())),
    };
    let after = match map.remove("after") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => Some(Uuid::parse_str(&text).map_err(|_| {
            bad(format!(
                "`after` must be the `next` cursor of an earlier page, not {text:?}"
            ))
        })?),
        Some(other) => {
            return Err(bad(format!(
                "`after` must be the `next` cursor of an earlier page, not {other}"
            )));
        }
    };
    let page_size = match map.remove("page_size") {
        None | Some(Value::Null) => PageSize::DEFAULT,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) if n <= 0 => PageSize::DEFAULT,
            Some(n) => PageSize::saturating(usize::try_from(n).unwrap_or(usize::MAX)),
            // Past i64 (a u64): as large as a page goes.
            None if n.as_u64().is_some() => PageSize::MAX,
            None => return Err(bad(format!("`page_size` must be an integer, not {n}"))),
        },
        Some(other) => return Err(bad(format!("`page_size` must be an integer, not {other}"))),
    };
    Ok(SchemaMigration::new(from, to)
        .with_apply(apply)
        .with_after(after)
        .with_page_size(page_size))
}

/// `POST /admin/identities/schema-migrations` → 200 with the page:
/// `{"from","to","applied","identities":[…],"next","counts":{…},"on_from_schema"}`.
/// A dry run (`"apply": false`) writes nothing and is marked
/// `X-Dry-Run: true`. An unknown schema, a malformed body or cursor is a
/// 400 in the Kratos envelope, before anything is read or written.
pub(crate) async fn migrate_schema(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: RawBody,
) -> Response {
    let request = body.json(Route::Batch).and_then(parse);
    let dry = request.as_ref().is_ok_and(|r| !r.apply);
    let answer = async {
        let page = state.manager.migrate_schema(tenant, request?).await?;
        Ok((StatusCode::OK, Json(page_json(&page))).into_response())
    }
    .await;
    crate::bulk::mark(dry, answer)
}

fn page_json(page: &MigrationPage) -> Value {
    let c = page.counts;
    json!({
        "from": page.from,
        "to": page.to,
        "applied": page.applied,
        "identities": page.entries.iter().map(migration_entry_json).collect::<Vec<_>>(),
        "next": page.next.map(|n| n.to_string()),
        "counts": {
            "scanned": c.scanned,
            "valid": c.valid,
            "invalid": c.invalid,
            "colliding": c.colliding,
            "moved": c.moved,
            "skipped": c.skipped,
            "rechecked": c.rechecked,
        },
        "on_from_schema": page.on_from_schema,
    })
}

/// One identity of a schema migration's page as the API answers it (an
/// element of `identities`): `id`, `version` (the one evaluated), `status`
/// (`valid`, `moved`, `unchanged`, `invalid`, `colliding`, `gone`,
/// `left_schema`, `contended`) with what goes with it (`new_version`;
/// `error` in the envelope's shape, with `details.violations`;
/// `collisions`; `schema_id`), `added` and `removed` values, `rechecked`.
///
/// ```
/// use identity_core::{MigrationEntry, MigrationOutcome};
///
/// let entry = MigrationEntry {
///     id: uuid::Uuid::nil(),
///     version: 3,
///     outcome: MigrationOutcome::Moved { version: 4 },
///     added: vec![],
///     removed: vec![],
///     rechecked: 0,
/// };
/// let json = identity_http::migration_entry_json(&entry);
/// assert_eq!(json["status"], "moved");
/// assert_eq!(json["new_version"], 4);
/// ```
pub fn migration_entry_json(entry: &MigrationEntry) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), json!(entry.id.to_string()));
    map.insert("version".into(), json!(entry.version));
    let status = match &entry.outcome {
        MigrationOutcome::Valid => "valid",
        MigrationOutcome::Moved { version } => {
            map.insert("new_version".into(), json!(version));
            "moved"
        }
        MigrationOutcome::Unchanged => "unchanged",
        MigrationOutcome::Invalid(error) => {
            map.insert("error".into(), envelope_of(error).1["error"].clone());
            "invalid"
        }
        MigrationOutcome::Colliding(collisions) => {
            let list: Vec<Value> = collisions.iter().map(collision_json).collect();
            map.insert("collisions".into(), Value::Array(list));
            "colliding"
        }
        MigrationOutcome::Gone => "gone",
        MigrationOutcome::LeftSchema { schema_id } => {
            map.insert("schema_id".into(), json!(schema_id));
            "left_schema"
        }
        MigrationOutcome::Contended => "contended",
    };
    map.insert("status".into(), json!(status));
    map.insert("added".into(), values_json(&entry.added));
    map.insert("removed".into(), values_json(&entry.removed));
    map.insert("rechecked".into(), json!(entry.rechecked));
    Value::Object(map)
}

fn values_json(values: &[ConflictField]) -> Value {
    Value::Array(values.iter().map(conflict_details).collect())
}

/// A collision: the value as a conflict's `details.conflict` names it,
/// and `identity_id`, the holder, when the store can tell.
fn collision_json(collision: &Collision) -> Value {
    let mut value = conflict_details(&collision.field);
    if let (Some(holder), Some(map)) = (collision.holder, value.as_object_mut()) {
        map.insert("identity_id".into(), json!(holder.to_string()));
    }
    value
}
