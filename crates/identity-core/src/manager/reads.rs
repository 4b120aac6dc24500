//! The reads: get, get by external id, find by identifier, list.

use std::sync::Arc;

use serde_json::Value;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{IdentityManager, LIST_IDS_MAX};
use crate::error::Error;
use crate::model::{CredentialType, ExternalId, Identity, State, TenantId};
use crate::observe::{Operation, observed};
use crate::search::TRAITS_PATTERN_MAX_DEPTH;
use crate::store::{ListFilter, ListQuery, PageSize};
use crate::{limits, normalize, text};

/// The filters and page of a list call: start from `default()` (every
/// identity, the first page) and set what you need with the `with_*`
/// methods. One of `ids`, `credentials_identifier`, `identifier_prefix` and
/// `organization_id` at a time (Kratos' rule); `state`, `schema_id` and
/// `traits` combine with any of them and with each other.
///
/// ```
/// use identity_core::{ListParams, PageSize};
/// let ten = PageSize::new(10).expect("within 1..=500");
/// let params = ListParams::default()
///     .with_credentials_identifier("ada@example.com")
///     .with_page_size(ten);
/// assert_eq!(params.page_size, Some(ten));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// Only these ids (at most 500).
    pub ids: Vec<Uuid>,
    /// Only identities with this exact credential identifier (normalised for
    /// `password`, `webauthn` and `code`; raw for the others).
    pub credentials_identifier: Option<String>,
    /// Only identities with an identifier starting with this.
    pub identifier_prefix: Option<String>,
    /// Only identities of this organization.
    pub organization_id: Option<Uuid>,
    /// Only identities in this state (combines with any filter).
    pub state: Option<State>,
    /// Only identities of this schema (combines with any filter).
    pub schema_id: Option<String>,
    /// Only identities whose traits contain this JSON object
    /// ([`json_contains`](crate::json_contains); combines with any filter).
    pub traits: Option<Value>,
    /// Page size: default 250.
    pub page_size: Option<PageSize>,
    /// The token of the page to read (from a previous page).
    pub page_token: Option<String>,
}

impl ListParams {
    /// Only these ids (at most 500).
    pub fn with_ids(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.ids = ids.into_iter().collect();
        self
    }

    /// Only identities with this exact credential identifier.
    pub fn with_credentials_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.credentials_identifier = Some(identifier.into());
        self
    }

    /// Only identities with an identifier starting with this.
    pub fn with_identifier_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.identifier_prefix = Some(prefix.into());
        self
    }

    /// Only identities of this organization.
    pub fn with_organization_id(mut self, organization_id: Uuid) -> Self {
        self.organization_id = Some(organization_id);
        self
    }

    /// Only identities in this state.
    pub fn with_state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only identities of this schema.
    pub fn with_schema_id(mut self, schema_id: impl Into<String>) -> Self {
        self.schema_id = Some(schema_id.into());
        self
    }

    /// Only identities whose traits contain `pattern`, a JSON object
    /// (`{"department": "eng"}`; nested objects and arrays as PostgreSQL's
    /// `@>` reads them).
    pub fn with_traits(mut self, pattern: Value) -> Self {
        self.traits = Some(pattern);
        self
    }

    /// Whether a search criterion (`state`, `schema_id`, `traits`) is set.
    pub fn has_criteria(&self) -> bool {
        self.state.is_some() || self.schema_id.is_some() || self.traits.is_some()
    }

    /// The page size (default 250).
    pub fn with_page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// The page to read: the token of a previous page, or none for the
    /// first.
    pub fn with_page_token(mut self, token: Option<String>) -> Self {
        self.page_token = token;
        self
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPage {
    /// The identities, ascending by id.
    pub identities: Vec<Arc<Identity>>,
    /// The token of the next page, when there is one.
    pub next_page_token: Option<String>,
}

/// The credential types a `credentials_identifier` search matches, as in
/// Kratos: password, WebAuthn and code identifiers (normalised), OIDC and
/// SAML ones (exact). TOTP, lookup-secret and passkey identifiers are not
/// searchable.
pub const SEARCHABLE_TYPES: [CredentialType; 5] = [
    CredentialType::Password,
    CredentialType::Webauthn,
    CredentialType::Code,
    CredentialType::Oidc,
    CredentialType::Saml,
];

/// The page token for "after this id": the id itself, as Kratos' keyset
/// pagination writes it (the first page's token is the nil UUID).
pub fn encode_page_token(after: Uuid) -> String {
    after.to_string()
}

/// Decodes a page token; a malformed one is invalid input (Kratos' words).
pub fn decode_page_token(token: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(token)
        .map_err(|_| Error::invalid("The page token is invalid, do not craft your own page tokens"))
}

impl IdentityManager {
    /// The identity with this id.
    pub async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        let get =
            self.inner.store.get(tenant, id).instrument(
                tracing::info_span!("identity.get", tenant = %tenant, identity.id = %id),
            );
        observed(Operation::Get, get).await
    }

    /// The identity with this external id; a text no external id can be
    /// (empty, too long) is [`Error::NotFound`] too.
    pub async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Arc<Identity>, Error> {
        let get = async {
            let Ok(external_id) = ExternalId::new(external_id) else {
                return Err(Error::NotFound);
            };
            self.inner
                .store
                .get_by_external_id(tenant, &external_id)
                .instrument(tracing::info_span!("identity.get_by_external_id", tenant = %tenant))
                .await
        };
        observed(Operation::GetByExternalId, get).await
    }

    /// The identity holding this identifier of this type; the identifier is
    /// normalised as the type's identifiers are stored.
    pub async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error> {
        let find = async {
            let normalised = normalize::credential_identifier(kind, identifier);
            self.inner
                .store
                .find_by_identifier(tenant, kind, &normalised)
                .instrument(
                    tracing::info_span!("identity.find_by_identifier", tenant = %tenant, kind = %kind),
                )
                .await
        };
        observed(Operation::FindByIdentifier, find).await
    }

    /// One page of identities, ascending by id (SPEC §8).
    pub async fn list(&self, tenant: TenantId, params: ListParams) -> Result<IdentityPage, Error> {
        let list = async {
            let query = self.list_query(params)?;
            let page = self
                .inner
                .store
                .list(tenant, &query)
                .instrument(tracing::info_span!("identity.list", tenant = %tenant))
                .await?;
            let next_page_token = match (page.has_more, page.identities.last()) {
                (true, Some(last)) => Some(encode_page_token(last.id)),
                _ => None,
            };
            Ok(IdentityPage {
                identities: page.identities,
                next_page_token,
            })
        };
        observed(Operation::List, list).await
    }

    /// How many identities match `params`' filter and criteria, over every
    /// page (its page size and token are ignored): the total count of a
    /// search.
    pub async fn count(&self, tenant: TenantId, params: ListParams) -> Result<u64, Error> {
        let count = async {
            let query = self.list_query(params.with_page_token(None))?;
            self.inner
                .store
                .count_matching(tenant, &query)
                .instrument(tracing::info_span!("identity.count", tenant = %tenant))
                .await
        };
        observed(Operation::Count, count).await
    }

    /// The store query of `params`, checked: one filter, at most
    /// [`LIST_IDS_MAX`] ids, a page token this library wrote, a traits
    /// pattern that is an object within the limits.
    fn list_query(&self, mut params: ListParams) -> Result<ListQuery, Error> {
        // First: a refused pattern must be dropped by the check, which
        // never recurses, not with the other parameters on an early error.
        let traits = match params.traits.take() {
            Some(pattern) => Some(self.check_traits_pattern(pattern)?),
            None => None,
        };
        let filters = usize::from(!params.ids.is_empty())
            + usize::from(params.credentials_identifier.is_some())
            + usize::from(params.identifier_prefix.is_some())
            + usize::from(params.organization_id.is_some());
        if filters > 1 {
            return Err(Error::invalid(
                "You cannot combine multiple filters in this API",
            ));
        }
        let filter = if !params.ids.is_empty() {
            if params.ids.len() > LIST_IDS_MAX {
                return Err(Error::invalid(format!(
                    "The number of ids to filter must not exceed {LIST_IDS_MAX}."
                )));
            }
            ListFilter::Ids(params.ids)
        } else if let Some(raw) = params.credentials_identifier {
            ListFilter::CredentialIdentifier(
                SEARCHABLE_TYPES
                    .into_iter()
                    .map(|kind| (kind, normalize::credential_identifier(kind, &raw)))
                    .collect(),
            )
        } else if let Some(prefix) = params.identifier_prefix {
            if prefix.is_empty() {
                return Err(Error::invalid("the identifier prefix must not be empty"));
            }
            // The types Kratos searches, each with the prefix as its
            // identifiers are stored: folded for password, WebAuthn and
            // code, as given for OIDC and SAML.
            let folded = normalize::identifier_like(&prefix);
            ListFilter::IdentifierPrefix(
                SEARCHABLE_TYPES
                    .into_iter()
                    .map(|kind| {
                        let p = if kind.is_schema_driven() {
                            folded.clone()
                        } else {
                            prefix.clone()
                        };
                        (kind, p)
                    })
                    .filter(|(_, p)| !p.is_empty())
                    .collect(),
            )
        } else if let Some(org) = params.organization_id {
            ListFilter::OrganizationId(org)
        } else {
            ListFilter::All
        };
        let limit = params.page_size.unwrap_or_default();
        let after = match params.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(decode_page_token(token)?).filter(|id| !id.is_nil()),
        };
        let mut query = ListQuery::new(filter, after, limit);
        if let Some(state) = params.state {
            query = query.with_state(state);
        }
        if let Some(schema_id) = params.schema_id {
            text::search_text(&schema_id, "the schema id")?;
            query = query.with_schema_id(schema_id);
        }
        if let Some(pattern) = traits {
            query = query.with_traits(pattern);
        }
        Ok(query)
    }

    /// A traits pattern is a JSON object, NUL-free, within the size limit
    /// and no deeper than the depth limit and [`TRAITS_PATTERN_MAX_DEPTH`].
    /// A pattern too deep is dropped without recursion (a caller's value
    /// may be nested far deeper than a stack allows).
    fn check_traits_pattern(&self, pattern: Value) -> Result<Value, Error> {
        let limits = self.inner.config.limits;
        let depth = limits.max_depth.min(TRAITS_PATTERN_MAX_DEPTH);
        let pattern = limits::refuse_deeper_than(pattern, depth, "the traits filter")?;
        if !pattern.is_object() {
            return Err(Error::invalid("the traits filter must be a JSON object"));
        }
        limits
            .check(&pattern, "")
            .map_err(|v| Error::invalid(format!("the traits filter: {}", v.message())))?;
        text::search_json(&pattern, "the traits filter")?;
        Ok(pattern)
    }
}
