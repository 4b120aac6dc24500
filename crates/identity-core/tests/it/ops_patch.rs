//! JSON Patch (SPEC §9).

use identity_core::{CredentialType, ErrorKind, Identity};
use serde_json::{Value, json};

use crate::ops_support::{Env, T0, T1, TENANT, env, ts};

async fn seeded(env: &Env) -> Identity {
    env.create(json!({"traits": {"email": "p@x.example"},
        "credentials": {"password": {"config": {"password": "pw"}},
                        "oidc": {"config": {"providers": [{"provider": "g", "subject": "1"}]}}}}))
        .await
        .expect("created")
}

async fn patch(env: &Env, who: &Identity, ops: Value) -> Result<Identity, identity_core::Error> {
    env.manager
        .patch(TENANT, who.id, ops, None)
        .await
        .map(std::sync::Arc::unwrap_or_clone)
}

#[tokio::test]
async fn add_creates_missing_parents_and_replace_acts_as_add() {
    let env = env();
    let who = seeded(&env).await;
    env.clock.set(ts(T1));
    let patched = patch(
        &env,
        &who,
        json!([
            {"op": "add", "path": "/metadata_admin/notes", "value": "vip"},
            {"op": "replace", "path": "/metadata_public/tier", "value": 2},
            {"op": "add", "path": "/traits/newsletter", "value": true}
        ]),
    )
    .await
    .expect("patched");
    assert_eq!(patched.metadata_admin, Some(json!({"notes": "vip"})));
    assert_eq!(patched.metadata_public, Some(json!({"tier": 2})));
    assert_eq!(
        patched.traits,
        json!({"email": "p@x.example", "newsletter": true})
    );
    assert_eq!(patched.updated_at.to_string(), T1);
    // Credentials are byte-identical after a patch of other paths.
    assert_eq!(
        env.admin_json(&patched)["credentials"],
        env.admin_json(&who)["credentials"]
    );
    assert_eq!(patched.verifiable_addresses, who.verifiable_addresses);
}

#[tokio::test]
async fn denied_paths_fail_the_whole_patch() {
    let env = env();
    let who = seeded(&env).await;
    for (op, path) in [
        (json!({"op": "replace", "path": "/id", "value": "x"}), "/id"),
        (
            json!({"op": "remove", "path": "/credentials"}),
            "/credentials",
        ),
        (
            json!({"op": "add", "path": "/credentials/oidc/config/providers/-", "value": {}}),
            "/credentials/oidc/config/providers/-",
        ),
        (
            json!({"op": "remove", "path": "/credentials/saml"}),
            "/credentials/saml",
        ),
        (
            json!({"op": "replace", "path": "/state_changed_at", "value": T1}),
            "/state_changed_at",
        ),
        (
            json!({"op": "replace", "path": "/created_at", "value": T1}),
            "/created_at",
        ),
        (
            json!({"op": "replace", "path": "/updated_at", "value": T1}),
            "/updated_at",
        ),
        (
            json!({"op": "replace", "path": "/schema_url", "value": "x"}),
            "/schema_url",
        ),
        (
            json!({"op": "copy", "from": "/credentials/oidc/config", "path": "/metadata_public/leak"}),
            "/credentials/oidc/config",
        ),
        (json!({"op": "replace", "path": "", "value": {}}), ""),
    ] {
        let ops = json!([{"op": "add", "path": "/metadata_admin", "value": 1}, op]);
        let e = patch(&env, &who, ops).await.expect_err(path);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), format!("patch includes denied path: {path}"));
    }
    assert_eq!(
        env.manager.get(TENANT, who.id).await.expect("get"),
        std::sync::Arc::new(who.clone())
    );
}

#[tokio::test]
async fn move_copy_and_test_work_and_a_failed_test_aborts_everything() {
    let env = env();
    let who = seeded(&env).await;
    let patched = patch(
        &env,
        &who,
        json!([
            {"op": "test", "path": "/traits/email", "value": "p@x.example"},
            {"op": "add", "path": "/metadata_public", "value": {"a": 1}},
            {"op": "copy", "from": "/metadata_public/a", "path": "/metadata_admin/b"},
            {"op": "move", "from": "/metadata_public/a", "path": "/metadata_public/c"}
        ]),
    )
    .await
    .expect("patched");
    assert_eq!(patched.metadata_public, Some(json!({"c": 1})));
    assert_eq!(patched.metadata_admin, Some(json!({"b": 1})));
    let e = patch(
        &env,
        &patched,
        json!([
            {"op": "replace", "path": "/metadata_public", "value": "changed"},
            {"op": "test", "path": "/traits/email", "value": "other@x.example"}
        ]),
    )
    .await
    .expect_err("test fails");
    assert_eq!(
        e.to_string(),
        "patch test operation failed at /traits/email"
    );
    assert_eq!(
        env.manager.get(TENANT, who.id).await.expect("get"),
        std::sync::Arc::new(patched.clone())
    );
    let e = patch(&env, &who, json!({"op": "add"}))
        .await
        .expect_err("not an array");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = patch(&env, &who, json!([{"op": "frobnicate", "path": "/traits"}]))
        .await
        .expect_err("bad op");
    assert!(e.to_string().starts_with("invalid JSON Patch"), "{e}");
}

#[tokio::test]
async fn state_is_validated_and_bumps_state_changed_at() {
    let env = env();
    let who = seeded(&env).await;
    let e = patch(
        &env,
        &who,
        json!([{"op": "replace", "path": "/state", "value": "banned"}]),
    )
    .await
    .expect_err("bad state");
    // Kratos' placement: the specific reason, the general message.
    match &e {
        identity_core::Error::InvalidRequest { reason, message } => {
            assert_eq!(
                reason.as_deref(),
                Some(
                    "The supplied state ('banned') was not valid. Valid states are ('active', 'inactive')."
                )
            );
            assert_eq!(message, "identity state is not valid");
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
    env.clock.set(ts(T1));
    let off = patch(
        &env,
        &who,
        json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
    )
    .await
    .expect("inactive");
    assert_eq!(
        off.state_changed_at.map(|t| t.to_string()).as_deref(),
        Some(T1)
    );
    let same = patch(
        &env,
        &off,
        json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
    )
    .await
    .expect("same");
    assert_eq!(same.state_changed_at, off.state_changed_at);
    let changes = env.changes().await;
    let last_two: Vec<Vec<&str>> = changes
        .iter()
        .rev()
        .take(2)
        .map(|c| c.fields.names().collect())
        .collect();
    assert_eq!(last_two, [vec![], vec!["state"]]);
    assert_eq!(T0, who.state_changed_at.expect("set").to_string());
}

#[tokio::test]
async fn patched_hashes_must_be_supported_and_types_must_match_keys() {
    let env = env();
    let who = seeded(&env).await;
    let e = patch(&env, &who, json!([{"op": "replace", "path": "/credentials/password/config/hashed_password", "value": "letmein"}]))
        .await
        .expect_err("unsupported");
    assert!(
        e.to_string()
            .starts_with(identity_core::UNKNOWN_HASH_FORMAT),
        "{e}"
    );
    let bcrypt = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";
    env.clock.set(ts(T1));
    let ok = patch(&env, &who, json!([{"op": "replace", "path": "/credentials/password/config/hashed_password", "value": bcrypt}]))
        .await
        .expect("supported");
    let admin = env.admin_json(&ok);
    assert_eq!(
        admin["credentials"]["password"]["config"]["hashed_password"],
        bcrypt
    );
    assert_eq!(admin["credentials"]["password"]["updated_at"], T1);
    assert_eq!(admin["credentials"]["password"]["created_at"], T0);
    assert_eq!(admin["credentials"]["oidc"]["updated_at"], T0);
    let e = patch(
        &env,
        &who,
        json!([{"op": "replace", "path": "/credentials/password/type", "value": "totp"}]),
    )
    .await
    .expect_err("type");
    assert_eq!(
        e.to_string(),
        r#"credentials.password.type must equal "password", got "totp""#
    );
}

#[tokio::test]
async fn patched_addresses_survive_while_the_traits_produce_them() {
    let env = env();
    let who = seeded(&env).await;
    let verified = patch(
        &env,
        &who,
        json!([
            {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
            {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}
        ]),
    )
    .await
    .expect("verified");
    let a = &verified.verifiable_addresses[0];
    assert_eq!((a.id, a.verified), (who.verifiable_addresses[0].id, true));
    let moved = patch(
        &env,
        &verified,
        json!([{"op": "replace", "path": "/traits/email", "value": "q@x.example"}]),
    )
    .await
    .expect("moved");
    assert_eq!(moved.verifiable_addresses.len(), 1);
    assert!(!moved.verifiable_addresses[0].verified);
    assert_eq!(moved.identifiers(CredentialType::Password), ["q@x.example"]);
}

#[tokio::test]
async fn a_patch_cannot_nest_a_credential_config_past_the_depth_limit() {
    // Found by fuzzing: `add` creates every missing parent, so a long path
    // under a config nested it deeper than JSON readers (serde_json stops at
    // 128 levels) read back, and the stored identity could not be read.
    let env = env();
    let who = seeded(&env).await;
    let deep = format!("/credentials/password/config{}", "/x".repeat(40));
    let err = patch(&env, &who, json!([{"op": "add", "path": deep, "value": 1}]))
        .await
        .expect_err("too deep");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        format!("the patch path {deep} is nested deeper than the limit of 32 levels")
    );
    // A shallower path with a value that nests past the limit from there.
    let path = format!("/credentials/password/config{}", "/x".repeat(20));
    let mut value = json!(1);
    for _ in 0..13 {
        value = json!({ "y": value });
    }
    let err = patch(
        &env,
        &who,
        json!([{"op": "add", "path": path, "value": value}]),
    )
    .await
    .expect_err("value too deep");
    assert_eq!(
        err.to_string(),
        format!("the value at {path} is nested deeper than the limit allows there (12 levels)")
    );
    // Nothing changed, and the identity still reads back.
    let stored = env.manager.get(TENANT, who.id).await.expect("reads back");
    assert_eq!(stored, std::sync::Arc::new(who.clone()));
    // Within the limit the same kind of patch is accepted and reads back.
    let shallow = format!("/credentials/password/config{}", "/x".repeat(20));
    let patched = patch(
        &env,
        &who,
        json!([{"op": "add", "path": shallow, "value": 1}]),
    )
    .await
    .expect("patched");
    let stored = env.manager.get(TENANT, who.id).await.expect("reads back");
    assert_eq!(stored, std::sync::Arc::new(patched.clone()));
}
