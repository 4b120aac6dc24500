//! Batch create, list, delete and events.

use identity_core::{BatchEntry, BatchOutcome, ChangeKind};
use identity_core::{CredentialType, ErrorKind, ListParams};
use serde_json::{Value, json};

use crate::ops_support::{TENANT, env, id};

fn entry(v: Value) -> Option<BatchEntry> {
    Some(serde_json::from_value(v).expect("entry"))
}

#[tokio::test]
async fn batch_results_are_per_entry_in_order_and_the_first_wins() {
    let env = env();
    env.create(json!({"traits": {"email": "taken@x.example"}}))
        .await
        .expect("stored");
    let p = |n: u128| uuid::Uuid::from_u128(0xff00 + n);
    let outcomes = env
        .manager
        .batch_create(
            TENANT,
            vec![
                entry(json!({"create": {"traits": {"email": "one@x.example"}}, "patch_id": p(1)})),
                entry(json!({"create": {"traits": {"email": "bad"}}, "patch_id": p(2)})),
                None,
                entry(json!({"create": {"traits": {"email": "ONE@x.example"}}})),
                entry(
                    json!({"create": {"traits": {"email": "taken@x.example"}}, "patch_id": p(5)}),
                ),
                entry(json!({"create": {"traits": {"email": "two@x.example"}}})),
            ],
        )
        .await
        .expect("batch");
    // (action, identity id, patch id, error kind) of each entry; their
    // Kratos JSON is identity-http's (its `batch` route tests).
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            BatchOutcome::Created { id, patch_id, .. } => ("create", Some(*id), *patch_id, None),
            BatchOutcome::Failed { error, patch_id } => {
                ("error", None, *patch_id, Some(error.kind()))
            }
            BatchOutcome::Skipped => ("skipped", None, None, None),
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("create", Some(id(4)), Some(p(1)), None),
            ("error", None, Some(p(2)), Some(ErrorKind::Validation)),
            ("skipped", None, None, None),
            ("error", None, None, Some(ErrorKind::Conflict)),
            ("error", None, Some(p(5)), Some(ErrorKind::Conflict)),
            ("create", Some(id(14)), None, None),
        ]
    );
    let page = env
        .manager
        .list(TENANT, ListParams::default())
        .await
        .expect("list");
    assert_eq!(page.identities.len(), 3);
}

#[tokio::test]
async fn batch_limits_apply_to_the_whole_request() {
    let env = env();
    let many: Vec<_> = (0..1001).map(|_| None).collect();
    let e = env
        .manager
        .batch_create(TENANT, many)
        .await
        .expect_err("too many");
    assert_eq!(
        e.to_string(),
        "The maximum number of identities per request that can be created or deleted at once is 1000."
    );
    let plain: Vec<_> = (0..201)
        .map(|i| {
            entry(
                json!({"create": {"traits": {"email": format!("u{i}@x.example")},
            "credentials": {"password": {"config": {"password": "pw"}}}}}),
            )
        })
        .collect();
    let e = env
        .manager
        .batch_create(TENANT, plain)
        .await
        .expect_err("too many plaintexts");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.to_string(),
        "The maximum number of identities per request that can be created with a plaintext password is 200."
    );
    let page = env
        .manager
        .list(TENANT, ListParams::default())
        .await
        .expect("list");
    assert!(page.identities.is_empty());
}

#[tokio::test]
async fn list_pages_and_filters() {
    let env = env();
    let org = uuid::Uuid::from_u128(77);
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = json!({"traits": {"email": format!("user{i}@x.example")}});
        if i % 2 == 0 {
            body["organization_id"] = json!(org);
        }
        ids.push(env.create(body).await.expect("created").id);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = env
            .manager
            .list(
                TENANT,
                ListParams::default()
                    .with_page_size(identity_core::PageSize::new(2).expect("size"))
                    .with_page_token(token.clone()),
            )
            .await
            .expect("page");
        assert!(page.identities.len() <= 2);
        seen.extend(page.identities.iter().map(|i| i.id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
    let by = |p: ListParams| {
        let m = env.manager.clone();
        async move {
            m.list(TENANT, p)
                .await
                .map(|p| p.identities.into_iter().map(|i| i.id).collect::<Vec<_>>())
        }
    };
    assert_eq!(
        by(ListParams::default().with_credentials_identifier(" USER3@x.example"))
            .await
            .expect("ci"),
        [ids[3]]
    );
    assert_eq!(
        by(ListParams::default().with_identifier_prefix("USER"))
            .await
            .expect("prefix"),
        ids
    );
    assert_eq!(
        by(ListParams::default().with_organization_id(org))
            .await
            .expect("org"),
        [ids[0], ids[2], ids[4]]
    );
    // As in Kratos, TOTP, lookup-secret and passkey identifiers are not
    // searchable: an identity's TOTP identifier is its id.
    let totp = env
        .create(json!({"traits": {"email": "totp@x.example"},
            "credentials": {"totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DP"}}}}))
        .await
        .expect("totp");
    let id_text = totp.id.to_string();
    assert_eq!(
        totp.identifiers(CredentialType::Totp),
        std::slice::from_ref(&id_text)
    );
    for found in [
        by(ListParams::default().with_identifier_prefix(&id_text[..8])).await,
        by(ListParams::default().with_credentials_identifier(id_text.clone())).await,
    ] {
        assert_eq!(found.expect("searched"), Vec::<uuid::Uuid>::new());
    }
    assert_eq!(
        by(ListParams::default().with_ids([ids[4], ids[1]]))
            .await
            .expect("ids"),
        [ids[1], ids[4]]
    );
    let e = by(ListParams::default()
        .with_ids([ids[0]])
        .with_organization_id(org))
    .await
    .expect_err("two filters");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = by(ListParams::default().with_page_token(Some("garbage".into())))
        .await
        .expect_err("token");
    assert_eq!(
        e.to_string(),
        "The page token is invalid, do not craft your own page tokens"
    );
    let e = by(ListParams::default().with_ids(vec![ids[0]; 501]))
        .await
        .expect_err("too many ids");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn delete_frees_identifiers_and_events_follow_every_commit() {
    let env = env();
    let who = env
        .create(json!({"traits": {"email": "d@x.example"}, "external_id": "x1"}))
        .await
        .expect("created");
    env.manager
        .update(TENANT, who.id, identity_core::UpdateIdentityBody::from_json(json!({"traits": {"email": "d@x.example"}, "state": "inactive", "external_id": "x1"})).expect("body"), None)
        .await
        .expect("updated");
    let e = env
        .manager
        .delete(TENANT, who.id, Some(1))
        .await
        .expect_err("stale");
    assert_eq!(e.kind(), ErrorKind::VersionMismatch);
    env.manager
        .delete(TENANT, who.id, None)
        .await
        .expect("deleted");
    let e = env.manager.get(TENANT, who.id).await.expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = env
        .manager
        .delete(TENANT, who.id, None)
        .await
        .expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = env
        .manager
        .get_by_external_id(TENANT, "x1")
        .await
        .expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    env.create(json!({"traits": {"email": "d@x.example"}, "external_id": "x1"}))
        .await
        .expect("reuse");

    let changes = env.changes().await;
    let summary: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                c.kind,
                c.identity_id == who.id,
                c.fields.names().collect::<Vec<_>>(),
                c.version,
            )
        })
        .collect();
    assert_eq!(
        changes.iter().map(|c| c.cursor.get()).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        summary,
        vec![
            (
                ChangeKind::Created,
                true,
                vec![
                    "schema_id",
                    "state",
                    "traits",
                    "credentials",
                    "verifiable_addresses",
                    "recovery_addresses",
                    "external_id"
                ],
                1
            ),
            (ChangeKind::Updated, true, vec!["state"], 2),
            (ChangeKind::Deleted, true, vec![], 3),
            (
                ChangeKind::Created,
                false,
                vec![
                    "schema_id",
                    "state",
                    "traits",
                    "credentials",
                    "verifiable_addresses",
                    "recovery_addresses",
                    "external_id"
                ],
                1
            ),
        ]
    );
}
