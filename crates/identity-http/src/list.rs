//! `GET /admin/identities`: filters, search criteria (`state`,
//! `schema_id`, `traits`), keyset pagination with a `Link` header, Kratos'
//! legacy `page`/`per_page` pagination, and the total count
//! (`X-Total-Count`, on legacy pages and when `include_total=true`).

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use identity_core::{CredentialInclude, Identity, ListParams, TenantId};
use identity_core::{PAGE_SIZE_DEFAULT, PageSize, encode_page_token};
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
    OriginalUri(uri): OriginalUri,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let include = query.include_credential()?;
    let filters = filters(&query)?;
    let searching = filters.has_criteria();
    let include_total = include_total(&query)?;
    // As Kratos: a plain list carries no `credentials` member; a list by
    // credential identifier (or with configs asked for) does.
    let with_credentials = include != CredentialInclude::None
        || filters.credentials_identifier.is_some()
        || filters.identifier_prefix.is_some();
    let page = Pager {
        path: uri.path(),
        query: &query,
    };
    // As Kratos decides it: `page_size` or `page_token` mean keyset paging;
    // otherwise `page` means the legacy pages; a lone `per_page` is a page
    // size.
    let legacy = !query.has("page_size") && !query.has("page_token") && query.has("page");
    let mut headers = HeaderMap::new();
    let (identities, links) = if legacy {
        let by_identifier = filters.credentials_identifier.is_some();
        let (identities, total) = legacy_page(&state, tenant, &query, filters).await?;
        // Kratos counts the tenant, not the filter, except for a lookup by
        // credential identifier, where it counts the page. A search (which
        // Kratos does not have) counts what it matches, so that its links
        // reach its last page.
        let total = if by_identifier && !searching {
            identities.len() as u64
        } else {
            total
        };
        headers.insert("x-total-count", HeaderValue::from(total));
        let links = page.legacy_links(total);
        (identities, links)
    } else {
        if include_total {
            let total = state.manager.count(tenant, filters.clone()).await?;
            headers.insert("x-total-count", HeaderValue::from(total));
        }
        keyset_page(&state, tenant, &page, filters).await?
    };
    let body: Vec<Value> = identities
        .iter()
        .map(|i| {
            let mut json = state.manager.to_json(i, include.clone());
            if !with_credentials && let Some(map) = json.as_object_mut() {
                map.remove("credentials");
            }
            json
        })
        .collect();
    // One `Link` header, its links comma-joined, as ory/x writes it (a
    // client that reads the first header value sees every link).
    if let Ok(value) = HeaderValue::from_str(&links.join(",")) {
        headers.insert(header::LINK, value);
    }
    Ok((StatusCode::OK, headers, Json(body)).into_response())
}

/// The filters of the query (the core refuses more than one), with
/// Kratos' wording for malformed values.
fn filters(query: &QueryPairs) -> Result<ListParams, ApiError> {
    let uuid = |key: &str, v: &str| {
        Uuid::parse_str(v).map_err(|_| {
            ApiError::bad_request(format!("Invalid UUID value `{v}` for parameter `{key}`."))
        })
    };
    let ids = query
        .all("ids")
        .filter(|v| !v.is_empty())
        .map(|v| uuid("ids", v))
        .collect::<Result<Vec<_>, _>>()?;
    let non_empty = |key: &str| query.get(key).filter(|v| !v.is_empty()).map(str::to_owned);
    let organization_id = match non_empty("organization_id") {
        None => None,
        Some(v) => Some(uuid("organization_id", &v)?),
    };
    let mut params = ListParams::default().with_ids(ids);
    if let Some(identifier) = non_empty("credentials_identifier") {
        params = params.with_credentials_identifier(identifier);
    }
    if let Some(prefix) = non_empty("preview_credentials_identifier_similar") {
        params = params.with_identifier_prefix(prefix);
    }
    if let Some(organization_id) = organization_id {
        params = params.with_organization_id(organization_id);
    }
    if let Some(state) = non_empty("state") {
        let state = identity_core::State::parse(&state).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid value `{state}` for parameter `state`: expected `active` or `inactive`."
            ))
        })?;
        params = params.with_state(state);
    }
    if let Some(schema_id) = non_empty("schema_id") {
        params = params.with_schema_id(schema_id);
    }
    if let Some(traits) = non_empty("traits") {
        // serde_json refuses nesting past 128 levels while parsing; the
        // core bounds the pattern's size and depth further.
        let pattern: Value = serde_json::from_str(&traits).map_err(|e| {
            ApiError::bad_request(format!("The parameter `traits` must be a JSON object: {e}"))
        })?;
        if !pattern.is_object() {
            return Err(ApiError::bad_request(
                "The parameter `traits` must be a JSON object.",
            ));
        }
        params = params.with_traits(pattern);
    }
    Ok(params)
}

/// `include_total`: whether a keyset page carries `X-Total-Count` (the
/// count of every identity the filters and criteria match). `true`/`1` or
/// `false`/`0`; empty is false.
fn include_total(query: &QueryPairs) -> Result<bool, ApiError> {
    match query.get("include_total").unwrap_or("") {
        "true" | "1" => Ok(true),
        "" | "false" | "0" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "Invalid value `{other}` for parameter `include_total`: expected `true` or `false`."
        ))),
    }
}

/// The request's path and query, from which page links are made.
struct Pager<'a> {
    path: &'a str,
    query: &'a QueryPairs,
}

impl Pager<'_> {
    /// `<path?query>; rel="<rel>"`, as ory/x writes a link: the request's
    /// other parameters kept, the page parameters replaced, keys sorted
    /// (Go's `url.Values.Encode`).
    fn link(&self, page: &[(&str, &str)], rel: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .query
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
        format!("<{}?{encoded}>; rel=\"{rel}\"", self.path)
    }

    /// The links of a legacy page, by ory/x's rules (`pagepagination`):
    /// from the page, the page size and the total.
    fn legacy_links(&self, total: u64) -> Vec<String> {
        let per_page = self.legacy_per_page();
        let page = self.legacy_page();
        let link = |page: i128, per_page: u64, rel: &str| {
            let (page, per_page) = (page.to_string(), per_page.to_string());
            self.link(&[("page", &page), ("per_page", &per_page)], rel)
        };
        let (total, ipp) = (i128::from(total), i128::from(per_page));
        let offset = i128::from(page) * ipp;
        let last_offset = if total % ipp == 0 {
            total - ipp
        } else {
            (total / ipp) * ipp
        };
        let page = i128::from(page);
        if total == 0 {
            return vec![
                link(0, per_page, "first"),
                link(1, per_page, "next"),
                link(-1, per_page, "prev"),
            ];
        }
        if offset >= last_offset {
            if total <= ipp {
                return vec![link(0, u64::try_from(total).unwrap_or(per_page), "first")];
            }
            return vec![
                link(0, per_page, "first"),
                link((last_offset - ipp) / ipp, per_page, "prev"),
            ];
        }
        if offset < ipp {
            return vec![
                link(1, per_page, "next"),
                link(last_offset / ipp, per_page, "last"),
            ];
        }
        vec![
            link(0, per_page, "first"),
            link(page + 1, per_page, "next"),
            link(page - 1, per_page, "prev"),
            link(last_offset / ipp, per_page, "last"),
        ]
    }

    /// `per_page`: default 250, clamped to 1..=500, malformed is the default.
    fn legacy_per_page(&self) -> u64 {
        self.query
            .get("per_page")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(PAGE_SIZE_DEFAULT as u64, |n| {
                n.clamp(1, LEGACY_PER_PAGE_MAX)
            })
    }

    /// `page`: 0 is the first; missing or malformed is 0.
    fn legacy_page(&self) -> u64 {
        self.query
            .get("page")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    }
}

/// The page size in query parameter `key`, as ory/x reads it: absent,
/// empty, zero or less is the default; past the maximum is the maximum;
/// not an integer is a 400.
pub(crate) fn page_size(query: &QueryPairs, key: &str) -> Result<PageSize, ApiError> {
    match query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(PageSize::DEFAULT),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n <= 0 => Ok(PageSize::DEFAULT),
            Ok(n) => Ok(PageSize::saturating(
                usize::try_from(n).unwrap_or(usize::MAX),
            )),
            Err(_) => Err(ApiError::bad_request(format!(
                "The parameter {key} must be an integer, not {v:?}"
            ))),
        },
    }
}

async fn keyset_page(
    state: &AppState,
    tenant: TenantId,
    pager: &Pager<'_>,
    mut params: ListParams,
) -> Result<(Vec<Arc<Identity>>, Vec<String>), ApiError> {
    let query = pager.query;
    // A lone legacy `per_page` is read as the page size, as Kratos does.
    let size_key = if query.has("page_size") {
        "page_size"
    } else {
        "per_page"
    };
    let size = page_size(query, size_key)?;
    params.page_size = Some(size);
    params.page_token = query
        .get("page_token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let page = state.manager.list(tenant, params).await?;
    let size_text = size.get().to_string();
    let first = encode_page_token(Uuid::nil());
    let mut links = vec![pager.link(
        &[("page_size", &size_text), ("page_token", &first)],
        "first",
    )];
    if let Some(token) = &page.next_page_token {
        links.push(pager.link(&[("page_size", &size_text), ("page_token", token)], "next"));
    }
    Ok((page.identities, links))
}

/// Kratos' deprecated `page` and `per_page` (see [`Pager`]). As in Kratos,
/// these pages reach only the first [`LEGACY_MAX_ITEMS`] identities: a
/// later page is refused (400) before anything is read, so a request reads
/// at most that many. Answers the page and the tenant's identity count, or,
/// for a search, the count of what it matches.
async fn legacy_page(
    state: &AppState,
    tenant: TenantId,
    query: &QueryPairs,
    filters: ListParams,
) -> Result<(Vec<Arc<Identity>>, u64), ApiError> {
    let pager = Pager { path: "", query };
    let per_page = pager.legacy_per_page();
    let page = pager.legacy_page();
    let skip = page.saturating_mul(per_page);
    if skip > LEGACY_MAX_ITEMS {
        return Err(ApiError::bad_request(
            "Legacy pagination is not supported for enumerating over 1000 items. Please switch to using page_token and page_size.",
        ));
    }
    let mut skipped = 0u64;
    let mut out: Vec<Arc<Identity>> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // Never ask for more than is still needed.
        let want = (skip - skipped) + (per_page - out.len() as u64);
        let size = PageSize::saturating(usize::try_from(want).unwrap_or(usize::MAX));
        let params = filters
            .clone()
            .with_page_size(size)
            .with_page_token(token.take());
        let fetched = state.manager.list(tenant, params).await?;
        for identity in fetched.identities {
            if skipped < skip {
                skipped += 1;
            } else {
                out.push(identity);
            }
        }
        token = fetched.next_page_token;
        if token.is_none() || out.len() as u64 == per_page {
            break;
        }
    }
    let searching = filters.has_criteria();
    let total = if searching {
        state.manager.count(tenant, filters).await?
    } else {
        state.manager.store().count(tenant).await?
    };
    Ok((out, total))
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
        let pager = Pager {
            path: "/admin/identities",
            query: &q,
        };
        assert_eq!(
            pager.link(&[("page_size", "2"), ("page_token", "T")], "next"),
            "</admin/identities?credentials_identifier=a%40b.c&include_credential=password&include_credential=oidc&page_size=2&page_token=T>; rel=\"next\""
        );
    }

    /// ory/x's page links for 500 identities, 10 a page, as Kratos' own
    /// test reads them.
    #[test]
    fn legacy_links_follow_ory_x() {
        let links = |page: &str, total: u64| {
            let q = pairs(&[("page", page), ("per_page", "10")]);
            Pager {
                path: "/admin/identities",
                query: &q,
            }
            .legacy_links(total)
            .join(",")
        };
        assert_eq!(
            links("0", 500),
            "</admin/identities?page=1&per_page=10>; rel=\"next\",</admin/identities?page=49&per_page=10>; rel=\"last\""
        );
        assert_eq!(
            links("49", 500),
            "</admin/identities?page=0&per_page=10>; rel=\"first\",</admin/identities?page=48&per_page=10>; rel=\"prev\""
        );
        assert_eq!(
            links("3", 500),
            "</admin/identities?page=0&per_page=10>; rel=\"first\",</admin/identities?page=4&per_page=10>; rel=\"next\",</admin/identities?page=2&per_page=10>; rel=\"prev\",</admin/identities?page=49&per_page=10>; rel=\"last\""
        );
        assert_eq!(
            links("0", 7),
            "</admin/identities?page=0&per_page=7>; rel=\"first\""
        );
        assert_eq!(
            links("0", 0),
            "</admin/identities?page=0&per_page=10>; rel=\"first\",</admin/identities?page=1&per_page=10>; rel=\"next\",</admin/identities?page=-1&per_page=10>; rel=\"prev\""
        );
    }
}
