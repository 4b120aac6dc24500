#![doc = include_str!("../README.md")]

mod bulk;
mod changes;
mod error;
mod extract;
mod list;
mod meta;
mod migrate;
#[cfg(feature = "metrics")]
mod observe;
mod router;

pub use bulk::DRY_RUN_HEADER;
pub use error::{ApiError, envelope_of, status_of};
pub use list::{LEGACY_MAX_ITEMS, LEGACY_PER_PAGE_MAX};
pub use meta::OPENAPI_JSON;
pub use migrate::migration_entry_json;
#[cfg(feature = "metrics")]
pub use observe::{
    RequestMetrics, RequestMetricsFuture, RequestMetricsLayer, UNMATCHED_ROUTE, describe_metrics,
};
pub use router::{AdminApi, DEFAULT_BODY_LIMIT, ROUTES, TenantResolver, router};
