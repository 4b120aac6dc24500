//! Ports of Kratos' import tests (`identity/handler_import_test.go`,
//! `identity/handler_import_registry_test.go`) through the HTTP API.
//!
//! Kratos calls its import helpers on an in-memory identity; here the
//! "existing" credential is made by a `POST` import and the "update" by a
//! `PUT` import, and the result is read back with `include_credential`. What
//! a read adds to Kratos' in-memory snapshots follows its wire rules
//! (kratos-wire-details (f), (h)): identifiers sorted, TOTP and lookup
//! identifiers defaulted to the identity id, WebAuthn at version 1, SAML
//! providers without token fields.

use axum::Router;
use axum::http::Method;
use serde_json::{Value, json};

use crate::common::Reply;
use crate::kratos_support::*;

/// Kratos' organization of the OIDC/SAML import cases.
const ORG: &str = "e7e3cbae-04cc-45f3-ae52-ea749a2ffaff";

/// Traits every identity of these cases has (the `default` schema; no email,
/// so no password credential unless the case imports one).
fn traits() -> Value {
    json!({"bar": "import"})
}

/// `POST` with these credentials (Go's `IdentityWithCredentials` fields).
async fn create_with(app: &Router, traits: Value, creds: Value) -> Reply {
    let body = create_body(json!({"traits": traits, "credentials": credentials(creds)}));
    send(app, Method::POST, ADMIN, &body).await
}

/// `PUT` with the same traits and these credentials.
async fn update_with(app: &Router, id: &str, traits: Value, creds: Value) -> Reply {
    let body = update_body(json!({"traits": traits, "credentials": credentials(creds)}));
    send(app, Method::PUT, &format!("{ADMIN}/{id}"), &body).await
}

/// The stored credential of type `ct`.
async fn credential(app: &Router, id: &str, ct: &str) -> Value {
    let reply = get(app, &format!("{ADMIN}/{id}?include_credential={ct}")).await;
    let mut credential = expect(&reply, 200)["credentials"][ct].clone();
    except_nested_keys(&mut credential, &["created_at", "updated_at"]);
    credential
}

/// An OIDC provider as `include_credential=oidc` shows an import: empty
/// tokens, `organization` only when set.
fn oidc_out(subject: &str, provider: &str, org: Option<&str>) -> Value {
    let mut p = json!({"subject": subject, "provider": provider, "initial_id_token": "",
                       "initial_access_token": "", "initial_refresh_token": ""});
    if let Some(org) = org {
        p["organization"] = json!(org);
    }
    p
}

/// A SAML provider as `include_credential=saml` shows an import: no tokens.
fn saml_out(subject: &str, provider: &str, org: Option<&str>) -> Value {
    let mut p = json!({"subject": subject, "provider": provider});
    if let Some(org) = org {
        p["organization"] = json!(org);
    }
    p
}

/// One OIDC/SAML case: an optional existing provider (created), then the
/// imported ones (created, or `PUT` when there is an existing one).
async fn oidc_saml_case(
    ct: &str,
    existing: Option<(&str, &str)>,
    imported: Vec<(&str, &str, Option<&str>)>,
) {
    let app = app();
    let import = providers_import(
        imported
            .iter()
            .map(|(s, p, o)| provider(s, p, *o))
            .collect(),
    );
    let id = match existing {
        None => id_of(expect(
            &create_with(&app, traits(), json!({ct: import})).await,
            201,
        )),
        Some((subject, name)) => {
            let first = providers_import(vec![provider(subject, name, None)]);
            let id = id_of(expect(
                &create_with(&app, traits(), json!({ct: first})).await,
                201,
            ));
            expect(
                &update_with(&app, &id, traits(), json!({ct: import})).await,
                200,
            );
            id
        }
    };
    let out = if ct == "oidc" { oidc_out } else { saml_out };
    let all: Vec<(&str, &str, Option<&str>)> = existing
        .map(|(s, p)| (s, p, None))
        .into_iter()
        .chain(imported)
        .collect();
    let mut identifiers: Vec<String> = all.iter().map(|(s, p, _)| format!("{p}:{s}")).collect();
    // Identifiers are sorted on read.
    identifiers.sort();
    let providers: Vec<Value> = all.iter().map(|(s, p, o)| out(s, p, *o)).collect();
    assert_eq!(
        credential(&app, &id, ct).await,
        json!({
            "type": ct,
            "identifiers": identifiers,
            "config": {"providers": providers},
            "version": 0
        })
    );
}

/// Ports TestImportCredentialsOIDCSAML/OIDC new credential without organization.
#[tokio::test]
async fn oidc_new_credential_without_organization() {
    oidc_saml_case("oidc", None, vec![("12345", "github", None)]).await;
}

/// Ports TestImportCredentialsOIDCSAML/OIDC new credential with organization.
#[tokio::test]
async fn oidc_new_credential_with_organization() {
    oidc_saml_case("oidc", None, vec![("12345", "github", Some(ORG))]).await;
}

/// Ports TestImportCredentialsOIDCSAML/OIDC update credential without organization.
#[tokio::test]
async fn oidc_update_credential_without_organization() {
    oidc_saml_case(
        "oidc",
        Some(("67890", "google")),
        vec![("12345", "github", None)],
    )
    .await;
}

/// Ports TestImportCredentialsOIDCSAML/OIDC update credential with organization.
#[tokio::test]
async fn oidc_update_credential_with_organization() {
    oidc_saml_case(
        "oidc",
        Some(("67890", "google")),
        vec![("12345", "github", Some(ORG))],
    )
    .await;
}

/// Ports TestImportCredentialsOIDCSAML/OIDC update with multiple providers.
#[tokio::test]
async fn oidc_update_with_multiple_providers() {
    oidc_saml_case(
        "oidc",
        Some(("67890", "google")),
        vec![("12345", "github", Some(ORG)), ("abcdef", "gitlab", None)],
    )
    .await;
}

/// Ports TestImportCredentialsOIDCSAML/SAML new credential without organization.
#[tokio::test]
async fn saml_new_credential_without_organization() {
    oidc_saml_case("saml", None, vec![("user123", "okta", None)]).await;
}

/// Ports TestImportCredentialsOIDCSAML/SAML new credential with organization.
#[tokio::test]
async fn saml_new_credential_with_organization() {
    oidc_saml_case("saml", None, vec![("user123", "okta", Some(ORG))]).await;
}

/// Ports TestImportCredentialsOIDCSAML/SAML update credential without organization.
#[tokio::test]
async fn saml_update_credential_without_organization() {
    oidc_saml_case(
        "saml",
        Some(("user456", "onelogin")),
        vec![("user123", "okta", None)],
    )
    .await;
}

/// Ports TestImportCredentialsOIDCSAML/SAML update credential with organization.
#[tokio::test]
async fn saml_update_credential_with_organization() {
    oidc_saml_case(
        "saml",
        Some(("user456", "onelogin")),
        vec![("user123", "okta", Some(ORG))],
    )
    .await;
}

/// Ports TestImportCredentialsOIDCSAML/SAML update with multiple providers.
#[tokio::test]
async fn saml_update_with_multiple_providers() {
    oidc_saml_case(
        "saml",
        Some(("user456", "onelogin")),
        vec![("user123", "okta", Some(ORG)), ("user789", "auth0", None)],
    )
    .await;
}

fn recovery_codes(codes: &[&str]) -> Value {
    let codes: Vec<Value> = codes
        .iter()
        .map(|c| json!({"code": c, "used_at": null}))
        .collect();
    json!({ "recovery_codes": codes })
}

/// Ports TestImportLookupSecretCredentials/new lookup secret credential.
#[tokio::test]
async fn lookup_secret_new_credential() {
    let app = app();
    let reply = create_with(
        &app,
        traits(),
        json!({"lookup_secret": lookup_import(&["code1", "code2"])}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    assert_eq!(
        credential(&app, &id, "lookup_secret").await,
        json!({
            "type": "lookup_secret",
            "identifiers": [id],
            "config": recovery_codes(&["code1", "code2"]),
            "version": 0
        })
    );
}

/// Ports TestImportLookupSecretCredentials/update existing lookup secret credential.
#[tokio::test]
async fn lookup_secret_update_existing_credential() {
    let app = app();
    let reply = create_with(
        &app,
        traits(),
        json!({"lookup_secret": lookup_import(&["existing-code"])}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    let reply = update_with(
        &app,
        &id,
        traits(),
        json!({"lookup_secret": lookup_import(&["new-code1", "new-code2"])}),
    )
    .await;
    expect(&reply, 200);
    assert_eq!(
        credential(&app, &id, "lookup_secret").await,
        json!({
            "type": "lookup_secret",
            "identifiers": [id],
            "config": recovery_codes(&["existing-code", "new-code1", "new-code2"]),
            "version": 0
        })
    );
}

/// `cred1`, `cred2`, `cred1Updated`, `cred3` of the WebAuthn and passkey
/// cases.
fn key(id: &str, public_key: &str) -> Value {
    webauthn_key(id.as_bytes(), public_key.as_bytes())
}

/// The WebAuthn and passkey merge cases: create with `first` (and
/// `first_handle`), `PUT` `second` (and `second_handle`) when given, and
/// compare the stored credential.
async fn keys_case(
    ct: &str,
    first: (Vec<Value>, &str),
    second: Option<(Vec<Value>, Option<&str>)>,
    expected_keys: Vec<Value>,
    expected_handle: &str,
    expected_identifiers: Value,
    expected_version: u64,
) {
    let app = app();
    let (keys, handle) = first;
    let reply = create_with(
        &app,
        traits(),
        json!({ct: keys_import(keys, Some(handle.as_bytes()))}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    if let Some((keys, handle)) = second {
        let reply = update_with(
            &app,
            &id,
            traits(),
            json!({ct: keys_import(keys, handle.map(str::as_bytes))}),
        )
        .await;
        expect(&reply, 200);
    }
    assert_eq!(
        credential(&app, &id, ct).await,
        json!({
            "type": ct,
            "identifiers": expected_identifiers,
            "config": {"credentials": expected_keys, "user_handle": b64(expected_handle.as_bytes())},
            "version": expected_version
        })
    );
}

/// Ports TestImportPasskeyCredentials/new passkey credentials.
#[tokio::test]
async fn passkey_new_credentials() {
    keys_case(
        "passkey",
        (vec![key("cred1", "pk1"), key("cred2", "pk2")], "user1"),
        None,
        vec![key("cred1", "pk1"), key("cred2", "pk2")],
        "user1",
        json!(["user1"]),
        0,
    )
    .await;
}

/// Ports TestImportPasskeyCredentials/update existing credentials - add new, update existing.
#[tokio::test]
async fn passkey_update_existing_credentials_add_new_update_existing() {
    keys_case(
        "passkey",
        (
            vec![key("cred1", "pk1"), key("cred2", "pk2")],
            "existingUser",
        ),
        Some((vec![key("cred1", "pk1-updated"), key("cred3", "pk3")], None)),
        vec![
            key("cred1", "pk1-updated"),
            key("cred2", "pk2"),
            key("cred3", "pk3"),
        ],
        "existingUser",
        json!(["existingUser"]),
        0,
    )
    .await;
}

/// Ports TestImportPasskeyCredentials/new user handle added to identifiers.
#[tokio::test]
async fn passkey_new_user_handle_added_to_identifiers() {
    keys_case(
        "passkey",
        (vec![key("cred1", "pk1")], "existingUser"),
        Some((vec![key("cred2", "pk2")], Some("newUser"))),
        vec![key("cred1", "pk1"), key("cred2", "pk2")],
        "newUser",
        json!(["existingUser", "newUser"]),
        0,
    )
    .await;
}

const PASSKEY_NO_HANDLE: &str = "Passkey credential import requires a non-empty user_handle. It must match the WebAuthn user handle stored on the authenticator.";

/// Ports TestImportPasskeyCredentials/case=rejects import without user_handle on a new credential.
#[tokio::test]
async fn passkey_rejects_import_without_user_handle_on_a_new_credential() {
    let app = app();
    let reply = create_with(
        &app,
        traits(),
        json!({"passkey": keys_import(vec![key("cred1", "pk1")], None)}),
    )
    .await;
    assert_error(&reply, 400, &bad_request(PASSKEY_NO_HANDLE));
    let reply = get(&app, ADMIN).await;
    assert_eq!(expect(&reply, 200), &json!([]));
}

/// Ports TestImportPasskeyCredentials/case=rejects import without user_handle when previous credential also lacks one.
/// The existing passkey without a handle is written with a `PATCH` (an import
/// refuses it).
#[tokio::test]
async fn passkey_rejects_import_without_user_handle_when_previous_credential_also_lacks_one() {
    let app = app();
    let reply = create_with(&app, traits(), json!({})).await;
    let id = id_of(expect(&reply, 201));
    let reply = patch(
        &app,
        ADMIN,
        &id,
        json!([{"op": "add", "path": "/credentials/passkey", "value": {
            "type": "passkey",
            "identifiers": [],
            "config": {"credentials": [key("cred1", "pk1")]}
        }}]),
    )
    .await;
    expect(&reply, 200);
    let before = credential(&app, &id, "passkey").await;

    let reply = update_with(
        &app,
        &id,
        traits(),
        json!({"passkey": keys_import(vec![key("cred2", "pk2")], None)}),
    )
    .await;
    assert_error(&reply, 400, &bad_request(PASSKEY_NO_HANDLE));
    assert_eq!(credential(&app, &id, "passkey").await, before);
}

/// Ports TestImportPasskeyCredentials/case=rejects import without any credentials.
#[tokio::test]
async fn passkey_rejects_import_without_any_credentials() {
    let app = app();
    let reply = create_with(
        &app,
        traits(),
        json!({"passkey": keys_import(vec![], Some(b"user1"))}),
    )
    .await;
    assert_error(
        &reply,
        400,
        &bad_request(
            "Passkey credential import requires at least one entry in credentials.passkey.config.credentials.",
        ),
    );
}

/// Ports TestImportWebAuthnCredentials/new webauthn credentials (an import adds no identifier; a read shows version 1).
#[tokio::test]
async fn webauthn_new_credentials() {
    keys_case(
        "webauthn",
        (vec![key("cred1", "pk1"), key("cred2", "pk2")], "user1"),
        None,
        vec![key("cred1", "pk1"), key("cred2", "pk2")],
        "user1",
        json!([]),
        1,
    )
    .await;
}

/// Ports TestImportWebAuthnCredentials/update existing credentials - add new, update existing.
#[tokio::test]
async fn webauthn_update_existing_credentials_add_new_update_existing() {
    keys_case(
        "webauthn",
        (
            vec![key("cred1", "pk1"), key("cred2", "pk2")],
            "existingUser",
        ),
        Some((vec![key("cred1", "pk1-updated"), key("cred3", "pk3")], None)),
        vec![
            key("cred1", "pk1-updated"),
            key("cred2", "pk2"),
            key("cred3", "pk3"),
        ],
        "existingUser",
        json!([]),
        1,
    )
    .await;
}

/// Ports TestImportWebAuthnCredentials/override existing user handle.
#[tokio::test]
async fn webauthn_override_existing_user_handle() {
    keys_case(
        "webauthn",
        (vec![key("cred1", "pk1")], "existingUser"),
        Some((vec![key("cred2", "pk2")], Some("newUser"))),
        vec![key("cred1", "pk1"), key("cred2", "pk2")],
        "newUser",
        json!([]),
        1,
    )
    .await;
}

const TOTP_OLD: &str = "otpauth://totp/Example:alice@example.com?secret=OLDSECRET&issuer=Example";
const TOTP_NEW: &str = "otpauth://totp/Example:alice@example.com?secret=NEWSECRET&issuer=Example";

/// Ports TestImportTOTPCredentials/new totp credential.
#[tokio::test]
async fn totp_new_credential() {
    let app = app();
    let url = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let reply = create_with(
        &app,
        traits(),
        json!({"totp": {"config": {"totp_url": url}}}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    assert_eq!(
        credential(&app, &id, "totp").await,
        json!({"type": "totp", "identifiers": [id], "config": {"totp_url": url}, "version": 0})
    );
}

/// Ports TestImportTOTPCredentials/update existing totp credential.
#[tokio::test]
async fn totp_update_existing_credential() {
    let app = app();
    let reply = create_with(
        &app,
        traits(),
        json!({"totp": {"config": {"totp_url": TOTP_OLD}}}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    let reply = update_with(
        &app,
        &id,
        traits(),
        json!({"totp": {"config": {"totp_url": TOTP_NEW}}}),
    )
    .await;
    expect(&reply, 200);
    assert_eq!(
        credential(&app, &id, "totp").await,
        json!({"type": "totp", "identifiers": [id], "config": {"totp_url": TOTP_NEW}, "version": 0})
    );
}

/// The traits of the password cases: an email, so the credential has an
/// identifier as every password credential made through the API does.
fn password_traits() -> Value {
    json!({"email": "password-import@ory.sh"})
}

/// Ports TestImportCredentialsPassword/import clear text password.
#[tokio::test]
async fn password_import_clear_text_password() {
    let app = app();
    let reply = create_with(
        &app,
        password_traits(),
        json!({"password": password_import("", "password123")}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    let stored = credential(&app, &id, "password").await;
    let config = stored["config"].as_object().unwrap();
    assert_eq!(config.len(), 1, "{stored}");
    assert_password("password123", &config["hashed_password"]);
    assert!(config.get("use_password_migration_hook").is_none());
}

/// Ports TestImportCredentialsPassword/import hashed password.
#[tokio::test]
async fn password_import_hashed_password() {
    let app = app();
    let hash = "$2a$10$JCU0ELjU1TCnFbV2jLi7huEQjVWZG0HzXQq/BWZyO30XR6DJxwN72";
    let reply = create_with(
        &app,
        password_traits(),
        json!({"password": password_import(hash, "")}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    assert_eq!(
        credential(&app, &id, "password").await["config"],
        json!({"hashed_password": hash})
    );
}

/// Ports TestImportCredentialsPassword/import with password migration hook.
#[tokio::test]
async fn password_import_with_password_migration_hook() {
    let app = app();
    let reply = create_with(
        &app,
        password_traits(),
        json!({"password": {"config": {"hashed_password": "", "password": "",
                                       "use_password_migration_hook": true}}}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    assert_eq!(
        credential(&app, &id, "password").await["config"],
        json!({"use_password_migration_hook": true})
    );
}

/// Ports TestImportCredentialsPassword/update existing password credential (the existing hash is an imported bcrypt hash: an import refuses Kratos' `old-hash`).
#[tokio::test]
async fn password_update_existing_password_credential() {
    let app = app();
    let old = BCRYPT_FOOBAR;
    let reply = create_with(
        &app,
        password_traits(),
        json!({"password": password_import(old, "")}),
    )
    .await;
    let id = id_of(expect(&reply, 201));
    let reply = update_with(
        &app,
        &id,
        password_traits(),
        json!({"password": password_import("", "new-password")}),
    )
    .await;
    expect(&reply, 200);
    let stored = credential(&app, &id, "password").await;
    let hash = &stored["config"]["hashed_password"];
    assert_ne!(hash, old);
    assert_password("new-password", hash);
}

/// A create of `TestBatchImport_RegionWireThrough`.
fn region_body(region: &str) -> Value {
    let mut body = create_body(json!({"schema_id": "default", "traits": {"bar": "baz"}}));
    if !region.is_empty() {
        body["region"] = json!(region);
    }
    body
}

/// `TestBatchImport_RegionWireThrough`: the region reaches the identity
/// built from a create body. The API shows it in the `POST` answer; the
/// batch answer carries no identity, so there the entry must be created.
async fn region_wire_through(region: &str) {
    let app = app();
    let created = create(&app, ADMIN, &region_body(region)).await;
    if region.is_empty() {
        assert!(created.get("region").is_none(), "{created}");
    } else {
        assert_eq!(created["region"], region);
    }
    let reply = send(
        &app,
        Method::PATCH,
        ADMIN,
        &json!({"identities": [batch_entry(region_body(region), None)]}),
    )
    .await;
    let body = expect(&reply, 200);
    assert_eq!(body["identities"][0]["action"], "create", "{body}");
}

/// Ports TestBatchImport_RegionWireThrough/region eu-central is propagated.
#[tokio::test]
async fn region_eu_central_is_propagated() {
    region_wire_through("eu-central").await;
}

/// Ports TestBatchImport_RegionWireThrough/region us-west is propagated.
#[tokio::test]
async fn region_us_west_is_propagated() {
    region_wire_through("us-west").await;
}

/// Ports TestBatchImport_RegionWireThrough/empty region is preserved as empty.
#[tokio::test]
async fn empty_region_is_preserved_as_empty() {
    region_wire_through("").await;
}
