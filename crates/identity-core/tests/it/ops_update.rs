//! Update (PUT, SPEC §5), merges (§6) and the Kratos incidents they prevent.

use identity_core::{
    CredentialInclude, CredentialType, Error, ErrorKind, State, UpdateIdentityBody,
};
use serde_json::{Value, json};

use crate::ops_support::{T0, T1, TENANT, env, ts};

fn body(v: Value) -> UpdateIdentityBody {
    UpdateIdentityBody::from_json(v).expect("body")
}

#[tokio::test]
async fn put_replaces_everything_but_credentials_and_organization() {
    let env = env();
    let org = uuid::Uuid::from_u128(99);
    let created = env
        .create(
            json!({"traits": {"email": "a@x.example", "newsletter": true}, "organization_id": org,
            "metadata_public": {"a": 1}, "metadata_admin": {"b": 2}, "external_id": "e1",
            "credentials": {"password": {"config": {"password": "pw-1"}}}}),
        )
        .await
        .expect("created");
    env.clock.set(ts(T1));
    let updated = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "a@x.example"}, "state": "active", "unknown": 1})),
            None,
        )
        .await
        .expect("updated");
    assert_eq!(updated.traits, json!({"email": "a@x.example"}));
    assert_eq!(
        (
            updated.metadata_public.clone(),
            updated.metadata_admin.clone(),
            updated.external_id.clone()
        ),
        (None, None, None)
    );
    assert_eq!(updated.organization_id, Some(org));
    assert_eq!(
        updated.state_changed_at.map(|t| t.to_string()).as_deref(),
        Some(T0)
    );
    assert_eq!(updated.updated_at.to_string(), T1);
    assert_eq!(updated.version, 2);
    // Credentials untouched: the hash is still there.
    assert_eq!(
        env.admin_json(&updated)["credentials"]["password"],
        env.admin_json(&created)["credentials"]["password"]
    );
    let inactive = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "a@x.example"}, "state": "inactive"})),
            None,
        )
        .await
        .expect("state");
    assert_eq!(inactive.state, State::Inactive);
    assert_eq!(
        inactive.state_changed_at.map(|t| t.to_string()).as_deref(),
        Some(T1)
    );
    let e = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "a@x.example"}, "state": "gone"})),
            None,
        )
        .await
        .expect_err("bad state");
    assert_eq!(e.to_string(), "identity state is not valid");
    // Omitted traits become {} and must pass the schema: email is required.
    let e = env
        .manager
        .update(TENANT, created.id, body(json!({})), None)
        .await
        .expect_err("no traits");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(
        env.manager.get(TENANT, created.id).await.expect("get"),
        inactive
    );
}

#[tokio::test]
async fn a_changed_email_no_longer_logs_in() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "old@x.example"}}))
        .await
        .expect("created");
    env.manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "new@x.example"}})),
            None,
        )
        .await
        .expect("updated");
    for kind in [
        CredentialType::Password,
        CredentialType::Webauthn,
        CredentialType::Code,
    ] {
        let e = env
            .manager
            .find_by_identifier(TENANT, kind, "old@x.example")
            .await
            .expect_err("old");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{kind}");
        let found = env
            .manager
            .find_by_identifier(TENANT, kind, "new@x.example")
            .await
            .expect("new");
        assert_eq!(found.id, created.id);
    }
    // The old address is free for someone else.
    env.create(json!({"traits": {"email": "old@x.example"}}))
        .await
        .expect("reuse");
}

#[tokio::test]
async fn removing_the_identifier_trait_removes_the_identifiers() {
    let env = env();
    let created = env
        .create(json!({"schema_id": "two-emails", "traits": {"primary": "p@x.example", "secondary": "s@x.example"},
            "credentials": {"password": {"config": {"password": "pw"}}}}))
        .await
        .expect("created");
    assert_eq!(
        created.identifiers(CredentialType::Password),
        ["p@x.example", "s@x.example"]
    );
    let updated = env
        .manager
        .update(TENANT, created.id, body(json!({"traits": {}})), None)
        .await
        .expect("updated");
    // Kratos would keep both; we keep the hash but no identifier logs in.
    assert_eq!(
        updated.identifiers(CredentialType::Password),
        [] as [String; 0]
    );
    assert!(updated.verifiable_addresses.is_empty());
}

#[tokio::test]
async fn verification_survives_moving_an_address_between_fields() {
    let env = env();
    let created = env
        .create(
            json!({"schema_id": "two-emails", "traits": {"primary": "Me@X.example"},
            "verifiable_addresses": [{"value": "me@x.example", "via": "email", "verified": true}]}),
        )
        .await
        .expect("created");
    let before = created.verifiable_addresses[0].clone();
    assert!(before.verified);
    env.clock.set(ts(T1));
    let moved = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"schema_id": "two-emails", "traits": {"secondary": "ME@x.example"}})),
            None,
        )
        .await
        .expect("moved");
    assert_eq!(moved.verifiable_addresses, vec![before]);
}

#[tokio::test]
async fn a_no_op_put_changes_only_updated_at_and_version() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "n@x.example"}, "metadata_public": {"k": "v"},
            "credentials": {"oidc": {"config": {"providers": [{"provider": "g", "subject": "1"}]}}}}))
        .await
        .expect("created");
    env.clock.set(ts(T1));
    let same = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"schema_id": "default", "state": "active",
            "traits": {"email": "n@x.example"}, "metadata_public": {"k": "v"}})),
            None,
        )
        .await
        .expect("updated");
    let mut expected = created.clone();
    expected.updated_at = ts(T1);
    expected.version = 2;
    assert_eq!(same, std::sync::Arc::new(expected.clone()));
    assert_eq!(
        env.admin_json(&same)["credentials"],
        env.admin_json(&created)["credentials"]
    );
}

#[tokio::test]
async fn stale_versions_are_rejected_and_nothing_is_written() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "v@x.example"}}))
        .await
        .expect("created");
    env.manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "v@x.example"}, "metadata_admin": 1})),
            Some(1),
        )
        .await
        .expect("first writer");
    let e = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "w@x.example"}})),
            Some(1),
        )
        .await
        .expect_err("stale");
    assert_eq!(e.kind(), ErrorKind::VersionMismatch);
    assert!(
        matches!(
            e,
            Error::VersionMismatch {
                expected: 1,
                actual: 2
            }
        ),
        "{e:?}"
    );
    let stored = env.manager.get(TENANT, created.id).await.expect("get");
    assert_eq!(
        (stored.version, stored.traits["email"].as_str()),
        (2, Some("v@x.example"))
    );
    let e = env
        .manager
        .update(
            TENANT,
            uuid::Uuid::from_u128(12345),
            body(json!({"traits": {"email": "x@x.example"}})),
            None,
        )
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn credential_merges_on_put() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "c@x.example"}, "credentials": {
            "oidc": {"config": {"providers": [{"provider": "google", "subject": "1"}]}},
            "lookup_secret": {"config": {"codes": [{"code": "a"}]}},
            "webauthn": {"config": {"credentials": [{"id": "k1", "v": 1}], "user_handle": "h"}}}}))
        .await
        .expect("created");
    env.clock.set(ts(T1));
    // Re-importing the same OIDC pair is a no-op, not a conflict.
    let same = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "c@x.example"}, "credentials": {
            "oidc": {"config": {"providers": [{"provider": "google", "subject": "1"}]}}}})),
            None,
        )
        .await
        .expect("idempotent");
    assert_eq!(
        env.admin_json(&same)["credentials"]["oidc"],
        env.admin_json(&created)["credentials"]["oidc"]
    );
    let merged = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "c@x.example"}, "credentials": {
            "oidc": {"config": {"providers": [{"provider": "google", "subject": "2"}]}},
            "lookup_secret": {"config": {"codes": [{"code": "b"}]}},
            "webauthn": {"config": {"credentials": [{"id": "k1", "v": 2}, {"id": "k2"}]}},
            "password": {"config": {"password": "new-pw"}}}})),
            None,
        )
        .await
        .expect("merged");
    assert_eq!(
        merged.identifiers(CredentialType::Oidc),
        ["google:1", "google:2"]
    );
    let admin = env.admin_json(&merged);
    assert_eq!(
        admin["credentials"]["lookup_secret"]["config"],
        json!({"recovery_codes": [{"code": "a", "used_at": null}, {"code": "b", "used_at": null}]})
    );
    assert_eq!(
        admin["credentials"]["webauthn"]["config"],
        // Keys without the flag are second factors, as in Kratos.
        json!({"credentials": [{"id": "k1", "v": 2, "is_passwordless": false},
                               {"id": "k2", "is_passwordless": false}], "user_handle": "h"})
    );
    assert_eq!(admin["credentials"]["webauthn"]["created_at"], json!(T0));
    assert_eq!(admin["credentials"]["webauthn"]["updated_at"], json!(T1));
    assert_eq!(
        admin["credentials"]["password"]["identifiers"],
        json!(["c@x.example"])
    );
    let hash = admin["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .expect("hash");
    assert!(identity_core::password::verify("new-pw", hash).expect("verifies"));
    // Null credentials leave everything alone.
    let untouched = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "c@x.example"}, "credentials": null})),
            None,
        )
        .await
        .expect("untouched");
    assert_eq!(
        env.admin_json(&untouched)["credentials"],
        admin["credentials"]
    );
    assert_eq!(
        env.manager
            .to_json(&untouched, CredentialInclude::None)
            .get("credentials")
            .map(|c| c.as_object().map(|o| o.len())),
        Some(Some(5))
    );
}

#[tokio::test]
async fn a_new_schema_re_validates_and_re_derives() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "s@x.example"}}))
        .await
        .expect("created");
    let e = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"schema_id": "username-phone", "traits": {"email": "s@x.example"}})),
            None,
        )
        .await
        .expect_err("username required");
    assert_eq!(e.kind(), ErrorKind::Validation);
    let moved = env
        .manager
        .update(
            TENANT,
            created.id,
            body(json!({"schema_id": "username-phone",
            "traits": {"username": "Sam", "phone": "+1 650 253 0000"}})),
            None,
        )
        .await
        .expect("moved");
    assert_eq!(moved.schema_id, "username-phone");
    assert_eq!(moved.identifiers(CredentialType::Password), ["sam"]);
    assert_eq!(moved.identifiers(CredentialType::Code), ["+16502530000"]);
    assert!(!moved.credentials.contains_key(&CredentialType::Webauthn));
    assert_eq!(moved.recovery_addresses[0].value, "+16502530000");
}

/// A store that lets another writer in once: the first `update` it sees
/// first bumps the stored identity (a concurrent PUT that sets
/// `metadata_admin`), then forwards, so the manager's conditional write
/// loses the race and must rebuild its change from a re-read.
#[derive(Debug)]
struct RacingStore {
    inner: identity_store_memory::MemoryStore,
    raced: std::sync::atomic::AtomicBool,
    /// The other writer: a manager over the same memory (clones share it).
    other: std::sync::OnceLock<identity_core::IdentityManager>,
}

#[async_trait::async_trait]
impl identity_core::IdentityStore for RacingStore {
    async fn create(
        &self,
        t: identity_core::TenantId,
        i: &identity_core::ValidIdentity,
    ) -> Result<u64, Error> {
        self.inner.create(t, i).await
    }
    async fn batch_create(
        &self,
        t: identity_core::TenantId,
        i: &[identity_core::ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        self.inner.batch_create(t, i).await
    }
    async fn get(
        &self,
        t: identity_core::TenantId,
        id: uuid::Uuid,
    ) -> Result<std::sync::Arc<identity_core::Identity>, Error> {
        self.inner.get(t, id).await
    }
    async fn get_by_external_id(
        &self,
        t: identity_core::TenantId,
        e: &identity_core::ExternalId,
    ) -> Result<std::sync::Arc<identity_core::Identity>, Error> {
        self.inner.get_by_external_id(t, e).await
    }
    async fn find_by_identifier(
        &self,
        t: identity_core::TenantId,
        k: CredentialType,
        i: &str,
    ) -> Result<std::sync::Arc<identity_core::Identity>, Error> {
        self.inner.find_by_identifier(t, k, i).await
    }
    async fn find_create_conflict(
        &self,
        t: identity_core::TenantId,
        i: &identity_core::ValidIdentity,
    ) -> Result<Option<identity_core::ConflictField>, Error> {
        self.inner.find_create_conflict(t, i).await
    }
    async fn update(
        &self,
        t: identity_core::TenantId,
        i: &identity_core::ValidIdentity,
        v: Option<u64>,
    ) -> Result<u64, Error> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let other = self.other.get().expect("the other writer");
            let ops =
                json!([{"op": "replace", "path": "/metadata_admin", "value": {"other": "writer"}}]);
            other.patch(t, i.identity().id, ops, None).await?;
        }
        self.inner.update(t, i, v).await
    }
    async fn delete(
        &self,
        t: identity_core::TenantId,
        id: uuid::Uuid,
        v: Option<u64>,
    ) -> Result<(), Error> {
        self.inner.delete(t, id, v).await
    }
    async fn changes(
        &self,
        t: identity_core::TenantId,
        a: Option<identity_core::ChangeCursor>,
        l: identity_core::PageSize,
    ) -> Result<identity_core::ChangePage, Error> {
        self.inner.changes(t, a, l).await
    }
    async fn prune_changes(
        &self,
        t: identity_core::TenantId,
        p: &identity_core::PruneChanges,
    ) -> Result<u64, Error> {
        self.inner.prune_changes(t, p).await
    }
    async fn consumer_cursor(
        &self,
        t: identity_core::TenantId,
        c: &str,
    ) -> Result<Option<identity_core::ChangeCursor>, Error> {
        self.inner.consumer_cursor(t, c).await
    }
    async fn save_consumer_cursor(
        &self,
        t: identity_core::TenantId,
        c: &str,
        k: identity_core::ChangeCursor,
    ) -> Result<(), Error> {
        self.inner.save_consumer_cursor(t, c, k).await
    }
    async fn list(
        &self,
        t: identity_core::TenantId,
        q: &identity_core::ListQuery,
    ) -> Result<identity_core::ListPage, Error> {
        self.inner.list(t, q).await
    }
    async fn count(&self, t: identity_core::TenantId) -> Result<u64, Error> {
        self.inner.count(t).await
    }
    async fn count_matching(
        &self,
        t: identity_core::TenantId,
        q: &identity_core::ListQuery,
    ) -> Result<u64, Error> {
        self.inner.count_matching(t, q).await
    }
}

/// A PUT without an expected version that loses a race re-reads and
/// writes again, with exactly what its body said: the body's traits,
/// metadata and external id are moved into the first attempt and taken
/// back from it for the second, never lost or mixed with the other
/// writer's.
#[tokio::test]
async fn put_that_loses_a_race_writes_its_body_on_the_retry() {
    let store = std::sync::Arc::new(RacingStore {
        inner: identity_store_memory::MemoryStore::new(),
        raced: std::sync::atomic::AtomicBool::new(true),
        other: std::sync::OnceLock::new(),
    });
    let registry = std::sync::Arc::new(crate::ops_support::registry());
    let build = |store: identity_core::DynIdentityStore| {
        identity_core::IdentityManager::builder(store, registry.clone())
            .hasher(identity_core::password::PasswordHasher::insecure_fast_for_tests())
            .build()
    };
    let manager = build(store.clone());
    store
        .other
        .set(build(std::sync::Arc::new(store.inner.clone())))
        .expect("set once");
    let created = manager
        .create(
            TENANT,
            identity_core::CreateIdentityBody::from_json(json!({
                "traits": {"email": "a@x.example"}, "external_id": "e1",
                "metadata_admin": {"mine": 0},
                "credentials": {"password": {"config": {"password": "pw-1"}}}
            }))
            .expect("body"),
        )
        .await
        .expect("created");
    store
        .raced
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let updated = manager
        .update(
            TENANT,
            created.id,
            body(
                json!({"traits": {"email": "b@x.example"}, "external_id": "e2",
                "metadata_public": {"p": 1}, "metadata_admin": {"mine": 1}}),
            ),
            None,
        )
        .await
        .expect("the retry succeeds");
    // Created at 1, the other writer's 2, ours 3.
    assert_eq!(updated.version, 3);
    assert_eq!(updated.traits, json!({"email": "b@x.example"}));
    assert_eq!(updated.metadata_public, Some(json!({"p": 1})));
    assert_eq!(updated.metadata_admin, Some(json!({"mine": 1})));
    assert_eq!(updated.external_id.as_ref().map(|e| e.as_str()), Some("e2"));
    assert_eq!(
        updated.identifiers(CredentialType::Password),
        vec!["b@x.example".to_owned()]
    );
    let stored = manager.get(TENANT, created.id).await.expect("stored");
    assert_eq!(stored, updated);
    // And with an expected version, the lost race is the caller's to see.
    store
        .raced
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let err = manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "c@x.example"}})),
            Some(3),
        )
        .await
        .expect_err("a conditional PUT does not retry");
    assert_eq!(err.kind(), ErrorKind::VersionMismatch);
    let stored = manager.get(TENANT, created.id).await.expect("stored");
    assert_eq!(stored.version, 4);
    assert_eq!(stored.metadata_admin, Some(json!({"other": "writer"})));
    assert_eq!(stored.traits, json!({"email": "b@x.example"}));
}

/// PUTs that keep the stored values (the memory store then trusts the
/// manager that the keys are the row's, without comparing them) leave the
/// indexes right: the values still find the identity, and a later PUT that
/// changes them frees the old ones and claims the new.
#[tokio::test]
async fn puts_keeping_their_values_then_changing_them_keep_the_indexes() {
    let env = env();
    let created = env
        .create(json!({"traits": {"email": "k@x.example"}, "external_id": "k-1"}))
        .await
        .expect("created");
    for n in 0..3 {
        let kept = env
            .manager
            .update(
                TENANT,
                created.id,
                body(
                    json!({"traits": {"email": "k@x.example"}, "external_id": "k-1",
                    "metadata_admin": {"n": n}}),
                ),
                None,
            )
            .await
            .expect("kept");
        assert_eq!(kept.version, 2 + n);
        let found = env
            .manager
            .find_by_identifier(TENANT, CredentialType::Password, "k@x.example")
            .await
            .expect("found");
        assert_eq!((found.id, found.version), (created.id, 2 + n));
    }
    let e = env
        .create(json!({"traits": {"email": "k@x.example"}}))
        .await
        .expect_err("taken");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    env.manager
        .update(
            TENANT,
            created.id,
            body(json!({"traits": {"email": "l@x.example"}, "external_id": "k-1"})),
            None,
        )
        .await
        .expect("changed");
    let e = env
        .manager
        .find_by_identifier(TENANT, CredentialType::Password, "k@x.example")
        .await
        .expect_err("old");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let found = env
        .manager
        .find_by_identifier(TENANT, CredentialType::Code, "l@x.example")
        .await
        .expect("new");
    assert_eq!((found.id, found.version), (created.id, 5));
    env.create(json!({"traits": {"email": "k@x.example"}}))
        .await
        .expect("the old address is free");
}

/// A PUT compares what it replaces with the stored values once, before the
/// limits: traits and metadata equal to the stored ones passed the limits
/// when they were written and are not measured again, so a manager whose
/// limits were lowered since still accepts a PUT that keeps them; anything
/// the PUT changes is measured against the limits in force.
#[tokio::test]
async fn put_measures_only_what_it_changes_against_the_limits() {
    use std::sync::Arc;

    use identity_core::password::PasswordHasher;
    use identity_core::{IdentityManager, Limits, ManagerConfig};
    use identity_store_memory::MemoryStore;

    let store = Arc::new(MemoryStore::new());
    let manager = |limits: Limits| {
        IdentityManager::builder(store.clone(), Arc::new(crate::ops_support::registry()))
            .hasher(PasswordHasher::insecure_fast_for_tests())
            .config(ManagerConfig::default().with_limits(limits))
            .build()
    };
    // 90 characters: within the schema's `maxLength`, over the lowered
    // limits below once the traits are written as JSON.
    let big = "y".repeat(90);
    let traits = json!({"email": "a@x.example", "name": {"first": big, "last": "L"}});
    let metadata = json!({"notes": big});
    let created = manager(Limits::default())
        .create(
            TENANT,
            identity_core::CreateIdentityBody::from_json(json!({
                "traits": traits, "metadata_public": metadata, "metadata_admin": metadata
            }))
            .expect("body"),
        )
        .await
        .expect("created under the default limits");
    let strict = manager(Limits::default().with_max_json_bytes(64));
    let put = |traits: &Value, public: &Value, admin: &Value| {
        body(json!({"traits": traits, "metadata_public": public, "metadata_admin": admin}))
    };
    let kept = strict
        .update(TENANT, created.id, put(&traits, &metadata, &metadata), None)
        .await
        .expect("nothing changed: nothing measured");
    assert_eq!(kept.version, created.version + 1);
    assert_eq!(
        (&kept.traits, &kept.metadata_public),
        (&traits, &Some(metadata.clone()))
    );

    let longer = json!({"notes": format!("{big}!")});
    let mut other_traits = traits.clone();
    other_traits["name"]["last"] = json!("M");
    for (body, path) in [
        (put(&other_traits, &metadata, &metadata), "/traits"),
        (put(&traits, &longer, &metadata), "/metadata_public"),
        (put(&traits, &metadata, &longer), "/metadata_admin"),
    ] {
        let e = strict
            .update(TENANT, created.id, body, None)
            .await
            .expect_err("a changed value over the limits");
        assert_eq!(e.kind(), ErrorKind::Validation, "{path}");
        let paths: Vec<&str> = e.violations().iter().map(|v| v.instance_path()).collect();
        assert_eq!(paths, [path]);
    }
    // A value the PUT keeps may not smuggle a deep one past the depth
    // limit either: the stored traits bound the comparison, and a deeper
    // body differs from them.
    let mut deep = json!("leaf");
    for _ in 0..100 {
        deep = json!({ "d": deep });
    }
    let e = strict
        .update(TENANT, created.id, put(&deep, &metadata, &metadata), None)
        .await
        .expect_err("too deep");
    assert_eq!(e.kind(), ErrorKind::Validation);
    let unchanged = strict.get(TENANT, created.id).await.expect("get");
    assert_eq!(unchanged.version, kept.version);
}
