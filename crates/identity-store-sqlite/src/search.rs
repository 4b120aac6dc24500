//! List and count statements: a filter, the search criteria, and the
//! `identity_traits_contain` SQL function that answers the traits criterion.
//!
//! SQLite has no containment operator, so the store registers the core's
//! rule ([`identity_core::json_contains`]) as a deterministic SQL function
//! on every connection: the criterion stays in the statement, so `LIMIT`,
//! keyset paging and `COUNT(*)` stay exact, and the rule is the one every
//! store follows. The pattern is parsed once per statement (SQLite keeps it
//! as the argument's auxiliary data); each candidate row's traits are
//! parsed to test it, after the cheaper criteria (state, schema) and the
//! filter have narrowed the rows.

use identity_core::{ListFilter, ListQuery, ListQueryParts, json_contains, sql};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::{Value, json};

/// The name of the containment function in SQL.
const CONTAINS: &str = "identity_traits_contain";

/// Registers `identity_traits_contain(traits, pattern)` on `conn`: 1 when
/// the JSON text `traits` contains the JSON text `pattern`, else 0.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        CONTAINS,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        traits_contain,
    )
}

fn traits_contain(ctx: &mut Context<'_>) -> rusqlite::Result<bool> {
    let pattern = ctx.get_or_create_aux(1, |v: ValueRef<'_>| -> Result<Value, BoxError> {
        Ok(serde_json::from_slice(v.as_bytes()?)?)
    })?;
    let traits: Value = match ctx.get_raw(0) {
        ValueRef::Text(text) => serde_json::from_slice(text)
            .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?,
        _ => return Ok(false),
    };
    Ok(json_contains(&traits, &pattern))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A statement and its positional arguments (`?1`, `?2`, … in order).
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) args: Vec<SqlValue>,
}

impl Statement {
    fn arg(&mut self, value: SqlValue) -> usize {
        self.args.push(value);
        self.args.len()
    }

    pub(crate) fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, SqlValue>> {
        params_from_iter(self.args.iter())
    }
}

/// What the statement returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Select {
    /// One page: `version, doc` of up to `limit + 1` rows after `after`.
    Page,
    /// `COUNT(*)` of every matching row.
    Count,
}

/// The statement of a page or a count of `query` in `tenant`.
pub(crate) fn statement(tenant: &[u8; 16], query: &ListQuery, select: Select) -> Statement {
    // Every part named: a new criterion must be answered here.
    let ListQueryParts {
        filter,
        after,
        limit,
        state,
        schema_id,
        traits,
    } = query.parts();
    let mut s = Statement {
        sql: String::from(match select {
            Select::Page => "SELECT version, doc FROM identities WHERE nid = ?1",
            Select::Count => "SELECT COUNT(*) FROM identities WHERE nid = ?1",
        }),
        args: vec![SqlValue::Blob(tenant.to_vec())],
    };
    if select == Select::Page
        && let Some(after) = after
    {
        let n = s.arg(SqlValue::Blob(after.as_bytes().to_vec()));
        s.sql.push_str(&format!(" AND id > ?{n}"));
    }
    filter_condition(&mut s, filter);
    if let Some(state) = state {
        let n = s.arg(SqlValue::Text(state.as_str().to_owned()));
        s.sql.push_str(&format!(" AND state = ?{n}"));
    }
    if let Some(schema_id) = schema_id {
        let n = s.arg(SqlValue::Text(schema_id.to_owned()));
        s.sql.push_str(&format!(" AND schema_id = ?{n}"));
    }
    if let Some(pattern) = traits {
        let n = s.arg(SqlValue::Text(pattern.to_string()));
        s.sql.push_str(&format!(" AND {CONTAINS}(traits, ?{n})"));
    }
    if select == Select::Page {
        // One more than asked tells whether more follow.
        let take = i64::try_from(limit.get() + 1).unwrap_or(i64::MAX);
        let n = s.arg(SqlValue::Integer(take));
        s.sql.push_str(&format!(" ORDER BY id LIMIT ?{n}"));
    }
    s
}

/// Appends the filter's condition (and its JSON argument).
fn filter_condition(s: &mut Statement, filter: &ListFilter) {
    match filter {
        ListFilter::All => {}
        ListFilter::OrganizationId(org) => {
            let n = s.arg(SqlValue::Blob(org.as_bytes().to_vec()));
            s.sql.push_str(&format!(" AND organization_id = ?{n}"));
        }
        ListFilter::Ids(ids) => {
            let hex = ids.iter().map(|id| json!(id.simple().to_string()));
            let n = s.arg(SqlValue::Text(json_array(hex.collect())));
            s.sql.push_str(&format!(
                " AND id IN (SELECT unhex(value) FROM json_each(?{n}))"
            ));
        }
        ListFilter::CredentialIdentifier(pairs) => {
            let pairs = pairs
                .iter()
                .map(|(kind, value)| json!([kind.as_str(), value]));
            let n = s.arg(SqlValue::Text(json_array(pairs.collect())));
            s.sql.push_str(&format!(
                " AND pk IN (\
                   SELECT ci.identity_pk FROM json_each(?{n}) AS j \
                   JOIN credential_identifiers AS ci ON ci.nid = ?1 \
                     AND ci.type = json_extract(j.value, '$[0]') \
                     AND ci.identifier = json_extract(j.value, '$[1]'))"
            ));
        }
        ListFilter::IdentifierPrefix(prefixes) => {
            // Every type is listed so that the (nid, type, identifier) index
            // serves a range scan per type.
            let bounds = prefixes
                .iter()
                .map(|(kind, p)| json!([kind.as_str(), p, sql::prefix_upper_bound(p)]));
            let n = s.arg(SqlValue::Text(json_array(bounds.collect())));
            s.sql.push_str(&format!(
                " AND pk IN (\
                   SELECT ci.identity_pk FROM json_each(?{n}) AS j \
                   JOIN credential_identifiers AS ci ON ci.nid = ?1 \
                     AND ci.type = json_extract(j.value, '$[0]') \
                     AND ci.identifier >= json_extract(j.value, '$[1]') \
                     AND (json_extract(j.value, '$[2]') IS NULL \
                          OR ci.identifier < json_extract(j.value, '$[2]')))"
            ));
        }
    }
}

fn json_array(items: Vec<Value>) -> String {
    Value::Array(items).to_string()
}
