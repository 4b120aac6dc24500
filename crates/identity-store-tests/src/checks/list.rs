//! Listing: order, keyset pages, stability under inserts, filters.

use std::collections::BTreeSet;

use identity_core::{CredentialType, DynIdentityStore, Identity, ListFilter, ListQuery, TenantId};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{
    OTHER_TENANT, TENANT, credential, email, full_identity, id, identity, phone, valid,
    with_version,
};
use crate::support::{all, assert_ascending_after, create_ok, ids, size, walk};

/// The seed of a fixture id.
fn seed_of(id: Uuid) -> u64 {
    u64::try_from(id.as_u128()).expect("a fixture id")
}

/// One page of `filter`.
async fn page(
    store: &DynIdentityStore,
    tenant: TenantId,
    filter: ListFilter,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<u64>, bool) {
    let query = ListQuery::new(filter, after, size(limit));
    let page = store.list(tenant, &query).await.expect("list a page");
    assert_ascending_after(&crate::support::owned(&page.identities), after);
    (
        page.identities.iter().map(|i| seed_of(i.id)).collect(),
        page.has_more,
    )
}

/// The seeds of every identity matching `filter`, walking pages of `limit`.
async fn seeds(store: &DynIdentityStore, filter: ListFilter, limit: usize) -> Vec<u64> {
    walk(store, TENANT, filter, limit)
        .await
        .iter()
        .map(|i| seed_of(i.id))
        .collect()
}

/// List returns identities ascending by id whatever the insertion order,
/// in pages of at most `limit` starting strictly after `after` (which need
/// not be a stored id), with `has_more` telling exactly whether more follow.
pub async fn check_list_order_and_pages(store: DynIdentityStore) {
    let mut created = Vec::new();
    for i in 0..23u64 {
        let seed = ((i * 7) % 23 + 1) * 10;
        created.push(create_ok(&store, TENANT, &identity(seed, &email(seed))).await);
    }
    created.sort_by_key(|i| i.id);
    let expected: Vec<u64> = (1..=23).map(|s| s * 10).collect();

    let all_in_one = store
        .list(TENANT, &ListQuery::new(ListFilter::All, None, size(100)))
        .await
        .expect("one big page");
    assert_eq!(
        crate::support::owned(&all_in_one.identities),
        created,
        "whole identities, ascending by id"
    );
    assert!(!all_in_one.has_more);

    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let (seeds, has_more) = page(&store, TENANT, ListFilter::All, after, 5).await;
        after = seeds.last().map(|s| id(*s));
        pages.push((seeds, has_more));
        if !has_more {
            break;
        }
    }
    let sizes: Vec<(usize, bool)> = pages.iter().map(|(s, m)| (s.len(), *m)).collect();
    assert_eq!(
        sizes,
        vec![(5, true), (5, true), (5, true), (5, true), (3, false)]
    );
    let flat: Vec<u64> = pages.iter().flat_map(|(s, _)| s.iter().copied()).collect();
    assert_eq!(flat, expected);

    assert_eq!(
        page(&store, TENANT, ListFilter::All, None, 23).await,
        (expected.clone(), false)
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, None, 22).await,
        (expected[..22].to_vec(), true),
        "has_more when exactly one more follows"
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, Some(id(15)), 3).await,
        (vec![20, 30, 40], true),
        "after an id that is not stored"
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, Some(id(200)), 3).await,
        (vec![210, 220, 230], false),
        "a full last page has no more"
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, Some(id(230)), 3).await,
        (vec![], false)
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, Some(id(999)), 3).await,
        (vec![], false)
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::All, None, 1).await,
        (vec![10], true)
    );
}

/// A walk of pages stays consistent while identities are inserted between
/// and during page reads: ids strictly ascend (so none repeats), every
/// identity that existed when the walk began is returned, and so is every
/// identity inserted after the cursor before the next page is read.
pub async fn check_list_pages_stable_under_concurrent_inserts(store: DynIdentityStore) {
    let initial: Vec<u64> = (1..=30).map(|i| i * 1000).collect();
    // Inserted by a concurrent task while the walk goes on, half from the
    // top down and half from the bottom up.
    let background: Vec<u64> = (0..30)
        .flat_map(|i| [(30 - i) * 1000 + 250, i * 1000 + 750])
        .collect();
    for seed in &initial {
        create_ok(&store, TENANT, &identity(*seed, &email(*seed))).await;
    }
    let writer = {
        let store = store.clone();
        let background = background.clone();
        tokio::spawn(async move {
            for seed in background {
                create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
                tokio::task::yield_now().await;
            }
        })
    };

    let mut taken: BTreeSet<u64> = initial.iter().chain(&background).copied().collect();
    let mut must_see = BTreeSet::new();
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let (seeds, has_more) = page(&store, TENANT, ListFilter::All, after, 4).await;
        walked.extend(seeds.iter().copied());
        let Some(&cursor) = seeds.last() else { break };
        after = Some(id(cursor));
        if !has_more {
            break;
        }
        // One identity just after the cursor (the next page must return it)
        // and one just before (no page may return it).
        for (seed, after_cursor) in [(cursor + 1, true), (cursor - 1, false)] {
            if taken.insert(seed) {
                create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
                if after_cursor {
                    must_see.insert(seed);
                }
            }
        }
    }
    writer.await.expect("the concurrent writer");

    assert!(
        walked.windows(2).all(|w| w[0] < w[1]),
        "ids strictly ascend across pages (no duplicates): {walked:?}"
    );
    let walked_set: BTreeSet<u64> = walked.iter().copied().collect();
    for seed in initial.iter().chain(&must_see) {
        assert!(walked_set.contains(seed), "{seed} was skipped");
    }
    let everything: BTreeSet<u64> = all(&store, TENANT)
        .await
        .iter()
        .map(|i| seed_of(i.id))
        .collect();
    assert_eq!(everything, taken, "every insert landed");
    assert!(walked_set.is_subset(&everything));
}

/// The `Ids` filter returns the stored identities among the ids, ascending
/// and once each, whatever the order and repetitions of the request.
pub async fn check_list_filter_ids(store: DynIdentityStore) {
    for seed in 1..=10 {
        create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
    }
    create_ok(&store, OTHER_TENANT, &identity(11, &email(11))).await;
    let filter = ListFilter::Ids(vec![id(7), id(3), id(3), id(99), id(9), id(11)]);
    assert_eq!(seeds(&store, filter.clone(), 10).await, vec![3, 7, 9]);
    assert_eq!(seeds(&store, filter.clone(), 1).await, vec![3, 7, 9]);
    assert_eq!(
        page(&store, TENANT, filter.clone(), None, 2).await,
        (vec![3, 7], true)
    );
    assert_eq!(
        page(&store, TENANT, filter.clone(), Some(id(7)), 2).await,
        (vec![9], false)
    );
    assert_eq!(
        page(&store, TENANT, filter.clone(), Some(id(9)), 2).await,
        (vec![], false)
    );
    assert_eq!(
        seeds(&store, ListFilter::Ids(vec![]), 10).await,
        Vec::<u64>::new()
    );
    let whole = walk(&store, TENANT, ListFilter::Ids(vec![id(4)]), 10).await;
    assert_eq!(whole, vec![with_version(&identity(4, &email(4)), 1)]);
}

/// The `CredentialIdentifier` filter returns identities holding any of the
/// exact (type, identifier) pairs; an identifier under another type does
/// not match.
pub async fn check_list_filter_credential_identifier(store: DynIdentityStore) {
    for seed in 1..=6 {
        create_ok(&store, TENANT, &full_identity(seed, &email(seed))).await;
    }
    let filter = ListFilter::CredentialIdentifier(vec![
        (CredentialType::Password, email(3)),
        (CredentialType::Oidc, "google:5-subject".to_owned()),
        (CredentialType::Password, "google:5-subject".to_owned()),
        (CredentialType::Oidc, email(4)),
        (CredentialType::Code, phone(6)),
        (CredentialType::Password, email(3)),
        (CredentialType::Password, "user1@example.co".to_owned()),
    ]);
    assert_eq!(seeds(&store, filter.clone(), 10).await, vec![3, 5, 6]);
    assert_eq!(seeds(&store, filter.clone(), 1).await, vec![3, 5, 6]);
    assert_eq!(
        page(&store, TENANT, filter.clone(), Some(id(3)), 1).await,
        (vec![5], true)
    );
    let totp = ListFilter::CredentialIdentifier(vec![(CredentialType::Totp, id(2).to_string())]);
    assert_eq!(seeds(&store, totp, 10).await, vec![2]);
    let none = ListFilter::CredentialIdentifier(vec![]);
    assert_eq!(seeds(&store, none, 10).await, Vec::<u64>::new());
    assert_eq!(
        page(&store, OTHER_TENANT, filter, None, 10).await,
        (vec![], false)
    );
}

/// The `IdentifierPrefix` filter returns identities with an identifier of
/// the paired type that starts with the paired prefix, for any pair:
/// case-sensitively, with `%` and `_` taken literally, never matching
/// inside an identifier, nor an identifier of another type.
pub async fn check_list_filter_identifier_prefix(store: DynIdentityStore) {
    let with = |seed: u64, password: &str, extra: Option<(CredentialType, &str)>| {
        let mut i = identity(seed, password);
        if let Some((kind, identifier)) = extra {
            i.credentials
                .insert(kind, credential(kind, &[identifier], json!({})));
        }
        i
    };
    let people: [Identity; 7] = [
        with(1, "alice@a.com", None),
        with(2, "alfred@b.com", None),
        with(
            3,
            "carol@c.com",
            Some((CredentialType::Oidc, "alpha:carol")),
        ),
        with(
            4,
            "bob@d.com",
            Some((CredentialType::Webauthn, "sal@x.com")),
        ),
        with(5, "under_score@e.com", None),
        with(6, "underxscore@f.com", None),
        with(7, "100%real@g.com", None),
    ];
    for person in &people {
        create_ok(&store, TENANT, person).await;
    }
    // Each prefix paired with the three types the fixtures hold.
    let prefixes = |p: &[&str]| {
        ListFilter::IdentifierPrefix(
            p.iter()
                .flat_map(|s| {
                    [
                        CredentialType::Password,
                        CredentialType::Oidc,
                        CredentialType::Webauthn,
                    ]
                    .map(|kind| (kind, (*s).to_owned()))
                })
                .collect(),
        )
    };
    let cases: [(&[&str], Vec<u64>); 12] = [
        (&["al"], vec![1, 2, 3]),
        (&["al", "alice"], vec![1, 2, 3]),
        (&["bo", "zz"], vec![4]),
        (&["sal"], vec![4]),
        (&["AL"], vec![]),
        (&["under_"], vec![5]),
        (&["under"], vec![5, 6]),
        (&["1%"], vec![]),
        (&["100%"], vec![7]),
        (&["alice@a.com"], vec![1]),
        (&["alice@a.com!"], vec![]),
        (&[], vec![]),
    ];
    for (p, expected) in cases {
        assert_eq!(
            seeds(&store, prefixes(p), 10).await,
            expected,
            "prefixes {p:?}"
        );
    }
    // Only the paired type matches.
    let typed =
        |kind: CredentialType, p: &str| ListFilter::IdentifierPrefix(vec![(kind, p.to_owned())]);
    assert_eq!(
        seeds(&store, typed(CredentialType::Oidc, "alpha:"), 10).await,
        vec![3]
    );
    assert_eq!(
        seeds(&store, typed(CredentialType::Password, "alpha:"), 10).await,
        Vec::<u64>::new()
    );
    assert_eq!(
        seeds(&store, typed(CredentialType::Password, "sal"), 10).await,
        Vec::<u64>::new()
    );
    assert_eq!(seeds(&store, prefixes(&["al"]), 1).await, vec![1, 2, 3]);
    assert_eq!(
        page(&store, TENANT, prefixes(&["al"]), Some(id(1)), 1).await,
        (vec![2], true)
    );
    assert_eq!(
        page(&store, OTHER_TENANT, prefixes(&["al"]), None, 10).await,
        (vec![], false)
    );
}

/// The `OrganizationId` filter returns the organization's identities and
/// follows updates that move an identity.
pub async fn check_list_filter_organization(store: DynIdentityStore) {
    let (org1, org2) = (id(101), id(102));
    let mut people = Vec::new();
    for seed in 1..=6 {
        let mut i = identity(seed, &email(seed));
        i.organization_id = match seed {
            1 | 3 | 5 => Some(org1),
            2 => Some(org2),
            _ => None,
        };
        create_ok(&store, TENANT, &i).await;
        people.push(i);
    }
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(org1), 10).await,
        vec![1, 3, 5]
    );
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(org1), 2).await,
        vec![1, 3, 5]
    );
    assert_eq!(
        page(&store, TENANT, ListFilter::OrganizationId(org1), None, 2).await,
        (vec![1, 3], true)
    );
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(org2), 10).await,
        vec![2]
    );
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(id(103)), 10).await,
        Vec::<u64>::new()
    );

    let mut moved = people[2].clone();
    moved.organization_id = Some(org2);
    store
        .update(TENANT, &valid(moved), Some(1))
        .await
        .expect("move 3 to org2");
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(org1), 10).await,
        vec![1, 5]
    );
    assert_eq!(
        seeds(&store, ListFilter::OrganizationId(org2), 10).await,
        vec![2, 3]
    );
    assert_eq!(
        page(
            &store,
            OTHER_TENANT,
            ListFilter::OrganizationId(org1),
            None,
            10
        )
        .await,
        (vec![], false)
    );
    assert_eq!(
        ids(&all(&store, TENANT).await),
        (1..=6).map(id).collect::<Vec<_>>()
    );
}

/// `count` answers how many identities each tenant holds: zero on an empty
/// store, one more per create (single or batch), one less per delete, and
/// nothing of another tenant's.
pub async fn check_count(store: DynIdentityStore) {
    let count = |t| {
        let store = store.clone();
        async move { store.count(t).await.expect("count") }
    };
    assert_eq!(count(TENANT).await, 0, "an empty store");
    for seed in 1..=3 {
        create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
    }
    create_ok(&store, OTHER_TENANT, &identity(9, &email(9))).await;
    let batch: Vec<_> = (4..=5)
        .map(|seed| valid(identity(seed, &email(seed))))
        .collect();
    let results = store.batch_create(TENANT, &batch).await.expect("batch");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(count(TENANT).await, 5, "three creates and a batch of two");
    assert_eq!(count(OTHER_TENANT).await, 1, "the other tenant's own");
    store.delete(TENANT, id(2), None).await.expect("delete");
    assert_eq!(count(TENANT).await, 4, "after a delete");
}
