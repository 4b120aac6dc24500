//! Search: the criteria of a list query (state, schema, traits
//! containment), alone, together, with every filter and with paging, and
//! the count of what they match.

use identity_core::{
    CredentialType, DynIdentityStore, Identity, ListFilter, ListQuery, State, TenantId,
};
use serde_json::{Value, json};

use crate::fixtures::{ORGANIZATION, OTHER_TENANT, TENANT, email, id, identity, valid};
use crate::support::{assert_ascending_after, create_ok, owned, size};

/// The seeds of the searched tenant, and of the other tenant (built by the
/// same rule, so that every search would match some of them if it leaked).
const SEEDS: std::ops::RangeInclusive<u64> = 1..=20;
const OTHER_SEEDS: std::ops::RangeInclusive<u64> = 101..=112;

/// The identity of `seed`: inactive when `seed % 3 == 0`; schema
/// `employee` when even, `customer` when odd; in [`ORGANIZATION`] up to 8;
/// traits with a department (`eng` when `seed % 4 == 0`, `ops` when 1,
/// `sales` otherwise), a level (`seed % 5`, a number), tags
/// (`["t<seed % 3>", "all"]`), an address (`Paris` up to 10 and for 101 to
/// 106, `Lyon` beyond), `remote` (odd seeds), and a list of projects
/// objects.
fn searchable(seed: u64) -> Identity {
    let mut i = identity(seed, &email(seed));
    i.state = if seed.is_multiple_of(3) {
        State::Inactive
    } else {
        State::Active
    };
    i.schema_id = if seed.is_multiple_of(2) {
        "employee"
    } else {
        "customer"
    }
    .to_owned();
    i.organization_id = (seed <= 8).then_some(ORGANIZATION);
    let department = match seed % 4 {
        0 => "eng",
        1 => "ops",
        _ => "sales",
    };
    let city = if seed <= 10 || (101..=106).contains(&seed) {
        "Paris"
    } else {
        "Lyon"
    };
    i.traits = json!({
        "email": email(seed),
        "department": department,
        "level": seed % 5,
        "tags": [format!("t{}", seed % 3), "all"],
        "address": {"city": city, "zip": format!("{:05}", seed * 7)},
        "remote": seed % 2 == 1,
        "projects": [{"name": format!("p{}", seed % 2), "role": "dev"}],
    });
    i
}

async fn seed_both_tenants(store: &DynIdentityStore) {
    for seed in SEEDS.rev() {
        create_ok(store, TENANT, &searchable(seed)).await;
    }
    let batch: Vec<_> = OTHER_SEEDS.map(|s| valid(searchable(s))).collect();
    let results = store
        .batch_create(OTHER_TENANT, &batch)
        .await
        .expect("batch");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// The seeds matching `query` (from its `after`), walking pages of
/// `limit`: checks that each page ascends after the last, holds at most
/// `limit`, and is full exactly when more follow.
async fn walk(
    store: &DynIdentityStore,
    tenant: TenantId,
    query: &ListQuery,
    limit: usize,
) -> Vec<u64> {
    let mut seeds = Vec::new();
    let mut after = query.after;
    loop {
        let mut q = query.clone();
        q.after = after;
        q.limit = size(limit);
        let page = store.list(tenant, &q).await.expect("list a page");
        assert_ascending_after(&owned(&page.identities), after);
        assert!(page.identities.len() <= limit, "at most limit: {q:?}");
        if page.has_more {
            assert_eq!(page.identities.len(), limit, "full when more follow: {q:?}");
        }
        after = page.identities.last().map(|i| i.id);
        seeds.extend(
            page.identities
                .iter()
                .map(|i| u64::try_from(i.id.as_u128()).expect("a fixture id")),
        );
        if !page.has_more {
            return seeds;
        }
    }
}

fn all() -> ListQuery {
    ListQuery::new(ListFilter::All, None, size(500))
}

fn filtered(filter: ListFilter) -> ListQuery {
    ListQuery::new(filter, None, size(500))
}

/// Asserts `query` selects exactly `expected` in `tenant`: in one page, in
/// pages of 1, 2 and 3 (so a page boundary falls inside the matching set),
/// and in the count, which ignores the query's `after` and `limit`.
async fn assert_search(
    store: &DynIdentityStore,
    tenant: TenantId,
    query: ListQuery,
    expected: &[u64],
) {
    for limit in [500, 3, 2, 1] {
        assert_eq!(
            walk(store, tenant, &query, limit).await,
            expected,
            "{query:?} in pages of {limit}"
        );
    }
    let mut paged = query.clone();
    paged.after = Some(id(1));
    paged.limit = size(1);
    for q in [query.clone(), paged] {
        let count = store.count_matching(tenant, &q).await.expect("count");
        assert_eq!(count, expected.len() as u64, "count of {q:?}");
    }
}

fn seeds_where(range: std::ops::RangeInclusive<u64>, keep: impl Fn(u64) -> bool) -> Vec<u64> {
    range.filter(|s| keep(*s)).collect()
}

/// State and schema select exactly their identities, alone and together,
/// combined with every filter, across pages and in the count; another
/// tenant's identities never show.
pub async fn check_search_state_and_schema(store: DynIdentityStore) {
    seed_both_tenants(&store).await;
    let inactive = |s: u64| s.is_multiple_of(3);
    let employee = |s: u64| s.is_multiple_of(2);
    assert_search(&store, TENANT, all(), &seeds_where(SEEDS, |_| true)).await;
    assert_search(
        &store,
        TENANT,
        all().with_state(State::Inactive),
        &seeds_where(SEEDS, inactive),
    )
    .await;
    assert_search(
        &store,
        TENANT,
        all().with_state(State::Active),
        &seeds_where(SEEDS, |s| !inactive(s)),
    )
    .await;
    assert_search(
        &store,
        TENANT,
        all().with_schema_id("employee"),
        &seeds_where(SEEDS, employee),
    )
    .await;
    assert_search(&store, TENANT, all().with_schema_id("employe"), &[]).await;
    assert_search(
        &store,
        TENANT,
        all().with_state(State::Inactive).with_schema_id("employee"),
        &[6, 12, 18],
    )
    .await;
    // With each filter.
    assert_search(
        &store,
        TENANT,
        filtered(ListFilter::OrganizationId(ORGANIZATION)).with_schema_id("customer"),
        &[1, 3, 5, 7],
    )
    .await;
    assert_search(
        &store,
        TENANT,
        filtered(ListFilter::Ids((1..=9).chain([105]).map(id).collect()))
            .with_state(State::Inactive),
        &[3, 6, 9],
    )
    .await;
    let identifiers = [4, 6, 7, 104]
        .map(|s| (CredentialType::Password, email(s)))
        .to_vec();
    assert_search(
        &store,
        TENANT,
        filtered(ListFilter::CredentialIdentifier(identifiers)).with_schema_id("employee"),
        &[4, 6],
    )
    .await;
    assert_search(
        &store,
        TENANT,
        filtered(ListFilter::IdentifierPrefix(vec![(
            CredentialType::Password,
            "user1".to_owned(),
        )]))
        .with_state(State::Active),
        &[1, 10, 11, 13, 14, 16, 17, 19],
    )
    .await;
    // The other tenant sees its own only.
    assert_search(
        &store,
        OTHER_TENANT,
        all().with_state(State::Inactive).with_schema_id("employee"),
        &[102, 108],
    )
    .await;
}

/// Traits containment follows `json_contains` (PostgreSQL's `@>`):
/// top-level and nested keys, arrays as sets of elements, numbers by
/// value, a scalar never matching an array; with the other criteria, the
/// filters and paging; per tenant.
pub async fn check_search_traits_containment(store: DynIdentityStore) {
    seed_both_tenants(&store).await;
    let t = |pattern: Value| all().with_traits(pattern);
    let cases: Vec<(Value, Vec<u64>)> = vec![
        (json!({}), seeds_where(SEEDS, |_| true)),
        (json!({"department": "eng"}), vec![4, 8, 12, 16, 20]),
        (json!({"department": "Eng"}), vec![]),
        (json!({"level": 2}), vec![2, 7, 12, 17]),
        (json!({"level": 2.0}), vec![2, 7, 12, 17]),
        (json!({"level": "2"}), vec![]),
        (json!({"remote": true}), seeds_where(SEEDS, |s| s % 2 == 1)),
        (json!({"address": {"city": "Paris"}}), (1..=10).collect()),
        (json!({"address": {}}), seeds_where(SEEDS, |_| true)),
        (json!({"address": {"zip": "00070"}}), vec![10]),
        (json!({"tags": ["all"]}), seeds_where(SEEDS, |_| true)),
        (
            json!({"tags": ["all", "t0", "all"]}),
            vec![3, 6, 9, 12, 15, 18],
        ),
        (json!({"tags": []}), seeds_where(SEEDS, |_| true)),
        (json!({"tags": "all"}), vec![]),
        (json!({"tags": ["t0", "t1"]}), vec![]),
        (
            json!({"projects": [{"role": "dev", "name": "p1"}]}),
            seeds_where(SEEDS, |s| s % 2 == 1),
        ),
        (json!({"projects": [{"name": "p2"}]}), vec![]),
        (json!({"projects": {"name": "p1"}}), vec![]),
        (json!({"missing": null}), vec![]),
        (
            json!({"department": "eng", "address": {"city": "Lyon"}}),
            vec![12, 16, 20],
        ),
    ];
    for (pattern, expected) in cases {
        assert_search(&store, TENANT, t(pattern), &expected).await;
    }
    // With the other criteria and with a filter.
    assert_search(
        &store,
        TENANT,
        t(json!({"department": "eng"})).with_state(State::Inactive),
        &[12],
    )
    .await;
    assert_search(
        &store,
        TENANT,
        t(json!({"tags": ["t1"]}))
            .with_schema_id("customer")
            .with_state(State::Active),
        &[1, 7, 13, 19],
    )
    .await;
    assert_search(
        &store,
        TENANT,
        filtered(ListFilter::OrganizationId(ORGANIZATION))
            .with_traits(json!({"department": "eng"})),
        &[4, 8],
    )
    .await;
    // Per tenant.
    assert_search(
        &store,
        OTHER_TENANT,
        t(json!({"department": "eng", "address": {"city": "Paris"}})),
        &[104],
    )
    .await;
}

/// A search sees the stored identity: after an update or a delete, it
/// selects by the new state, schema and traits.
pub async fn check_search_follows_writes(store: DynIdentityStore) {
    seed_both_tenants(&store).await;
    let eng = || all().with_traits(json!({"department": "eng"}));
    assert_search(&store, TENANT, eng(), &[4, 8, 12, 16, 20]).await;
    let mut five = searchable(5);
    five.traits["department"] = json!("eng");
    five.state = State::Inactive;
    five.schema_id = "contractor".to_owned();
    store
        .update(TENANT, &valid(five), Some(1))
        .await
        .expect("update");
    store.delete(TENANT, id(8), None).await.expect("delete");
    assert_search(&store, TENANT, eng(), &[4, 5, 12, 16, 20]).await;
    assert_search(&store, TENANT, all().with_schema_id("contractor"), &[5]).await;
    assert_search(&store, TENANT, eng().with_state(State::Inactive), &[5, 12]).await;
    assert_search(
        &store,
        TENANT,
        all().with_traits(json!({"department": "ops"})),
        &[1, 9, 13, 17],
    )
    .await;
}
