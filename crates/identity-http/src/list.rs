//! `GET /admin/identities`: filters, keyset pagination with a `Link`
//! header, and Kratos' legacy `page`/`per_page` pagination.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use identity_core::manager::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use identity_core::{Identity, ListParams, TenantId};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::QueryPairs;
use crate::router::{AppState, Tenant};

/// The largest legacy page (`per_page`), as in Kratos.
pub const LEGACY_PER_PAGE_MAX: u64 = 500;

/// How far legacy pages reach: `page * per_page` may be at most this, as
/// in Kratos (past it, keyset paging is the way).
pub const LEGACY_MAX_ITEMS: u64 = 1_000;

/// The query keys that select a page; the others are kept in `Link` URLs.
const PAGE_KEYS: [&str; 4] = ["page_size", "page_token", "page", "per_page"];

pub(crate) async fn list_identities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let include = query.include_credential()?;
    let filters = filters(&query)?;
    // As Kratos decides it: `page_size` or `page_token` mean keyset paging;
    // otherwise `page` means the legacy pages; a lone `per_page` is a page
    // size.
    let legacy = !query.has("page_size") && !query.has("page_token") && query.has("page");
    let (identities, links) = if legacy {
        legacy_page(&state, tenant, &query, filters).await?
    } else {
        keyset_page(&state, tenant, &query, filters).await?
    };
    let body: Vec<Value> = identities
        .iter()
        .map(|i| state.manager.to_json(i, include.clone()))
        .collect();
    let mut headers = HeaderMap::new();
    for link in links {
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.append(header::LINK, value);
        }
    }
    Ok((StatusCode::OK, headers, Json(body)).into_response())
}

/// The filters of the query (the core refuses more than one).
fn filters(query: &QueryPairs) -> Result<ListParams, ApiError> {
    let ids = query
        .all("ids")
        .filter(|v| !v.is_empty())
        .map(|v| {
            Uuid::parse_str(v)
                .map_err(|_| ApiError::bad_request(format!("The id {v:?} in ids is not a UUID")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let non_empty = |key: &str| query.get(key).filter(|v| !v.is_empty()).map(str::to_owned);
    let organization_id = match non_empty("organization_id") {
        None => None,
        Some(v) => Some(Uuid::parse_str(&v).map_err(|_| {
            ApiError::bad_request(format!("The organization_id {v:?} is not a UUID"))
        })?),
    };
    Ok(ListParams {
        ids,
        credentials_identifier: non_empty("credentials_identifier"),
        identifier_prefix: non_empty("preview_credentials_identifier_similar"),
        organization_id,
        page_size: None,
        page_token: None,
    })
}

async fn keyset_page(
    state: &AppState,
    tenant: TenantId,
    query: &QueryPairs,
    mut params: ListParams,
) -> Result<(Vec<Identity>, Vec<String>), ApiError> {
    // A lone legacy `per_page` is read as the page size, as Kratos does.
    let size_key = if query.has("page_size") {
        "page_size"
    } else {
        "per_page"
    };
    let size = match query.integer(size_key)? {
        None => PAGE_SIZE_DEFAULT,
        Some(0) => return Err(ApiError::bad_request("page_size must be at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(PAGE_SIZE_MAX),
    };
    params.page_size = Some(size);
    params.page_token = query
        .get("page_token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let page = state.manager.list(tenant, params).await?;
    let size_text = size.to_string();
    let mut links = vec![link(query, &[("page_size", &size_text)], "first")];
    if let Some(token) = &page.next_page_token {
        links.push(link(
            query,
            &[("page_size", &size_text), ("page_token", token)],
            "next",
        ));
    }
    Ok((page.identities, links))
}

/// Kratos' deprecated `page` (0 is the first; missing or malformed is 0)
/// and `per_page` (default 250, clamped to 1..=500; malformed is the
/// default). As in Kratos, these pages reach only the first
/// [`LEGACY_MAX_ITEMS`] identities: a later page is refused (400) before
/// anything is read, so a request reads at most that many.
async fn legacy_page(
    state: &AppState,
    tenant: TenantId,
    query: &QueryPairs,
    filters: ListParams,
) -> Result<(Vec<Identity>, Vec<String>), ApiError> {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(PAGE_SIZE_DEFAULT as u64, |n| {
            n.clamp(1, LEGACY_PER_PAGE_MAX)
        });
    let page = query
        .get("page")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let skip = page.saturating_mul(per_page);
    if skip > LEGACY_MAX_ITEMS {
        return Err(ApiError::bad_request(
            "Legacy pagination is not supported for enumerating over 1000 items. Please switch to using page_token and page_size.",
        ));
    }
    let mut skipped = 0u64;
    let mut out: Vec<Identity> = Vec::new();
    let mut token: Option<String> = None;
    let more = loop {
        // Never ask for more than is still needed, so that a next-page
        // token always means "something follows what was taken".
        let want = (skip - skipped) + (per_page - out.len() as u64);
        let size = usize::try_from(want)
            .unwrap_or(usize::MAX)
            .clamp(1, PAGE_SIZE_MAX);
        let params = ListParams {
            page_size: Some(size),
            page_token: token.take(),
            ..filters.clone()
        };
        let fetched = state.manager.list(tenant, params).await?;
        for identity in fetched.identities {
            if skipped < skip {
                skipped += 1;
            } else {
                out.push(identity);
            }
        }
        token = fetched.next_page_token;
        if token.is_none() {
            break false;
        }
        if out.len() as u64 == per_page {
            break true;
        }
    };
    let per_page_text = per_page.to_string();
    let mut links = vec![legacy_link(query, 0, &per_page_text, "first")];
    if page > 0 {
        links.push(legacy_link(query, page - 1, &per_page_text, "prev"));
    }
    if more {
        links.push(legacy_link(query, page + 1, &per_page_text, "next"));
    }
    Ok((out, links))
}

fn legacy_link(query: &QueryPairs, page: u64, per_page: &str, rel: &str) -> String {
    let page = page.to_string();
    link(query, &[("page", &page), ("per_page", per_page)], rel)
}

/// `</admin/identities?<query>>; rel="<rel>"`, as Ory's keyset pagination
/// writes it: the request's other parameters kept, the page parameters
/// replaced, keys sorted (Go's `url.Values.Encode`).
fn link(query: &QueryPairs, page: &[(&str, &str)], rel: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .0
        .iter()
        .filter(|(k, _)| !PAGE_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(page.iter().copied())
        .collect();
    // Stable: repeated keys keep their order.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("</admin/identities?{encoded}>; rel=\"{rel}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> QueryPairs {
        QueryPairs(
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn link_keeps_filters_and_sorts_keys() {
        let q = pairs(&[
            ("page_token", "old"),
            ("include_credential", "password"),
            ("credentials_identifier", "a@b.c"),
            ("include_credential", "oidc"),
        ]);
        assert_eq!(
            link(&q, &[("page_size", "2"), ("page_token", "T")], "next"),
            "</admin/identities?credentials_identifier=a%40b.c&include_credential=password&include_credential=oidc&page_size=2&page_token=T>; rel=\"next\""
        );
    }

    #[test]
    fn legacy_link_spelling() {
        assert_eq!(
            legacy_link(&QueryPairs::default(), 3, "10", "prev"),
            "</admin/identities?page=3&per_page=10>; rel=\"prev\""
        );
    }
}
