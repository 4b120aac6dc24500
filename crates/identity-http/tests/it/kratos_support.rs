//! What the ports of Kratos' identity handler tests share: the router over a
//! fresh memory store with the fixture schemas registered under Kratos' ids,
//! Go's request helpers (`get`, `send`, `remove`), the wire form Go's request
//! structs marshal to, and snapshot-style comparisons.
//!
//! The cases are catalogued in `kratos-handler-cases.md` (Kratos commit
//! `b86338da`); the wire rules they rely on in `kratos-wire-details.md`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use identity_core::password::PasswordHasher;
use identity_core::{
    CredentialType, DynIdentityStore, Error, Identity, IdentityManager, IdentityStore, ListPage,
    ListQuery, ManagerConfig, SchemaRegistry, TenantId, Timestamp, ValidIdentity,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::common::{Reply, raw};

/// The public base URL: the prefix of every `schema_url`.
pub(crate) const BASE_URL: &str = "http://kratos.test";

/// Kratos' admin port answers both spellings of every identity route (its
/// `AddAdminPrefixIfNotPresentNegroni` rewrites `/identities...`). Cases
/// Kratos runs against both servers loop over these.
pub(crate) const PREFIXES: [&str; 2] = ["/admin/identities", "/identities"];

/// The admin spelling, for the cases Kratos runs against the admin server
/// only.
pub(crate) const ADMIN: &str = "/admin/identities";

/// herodot's default message of a 400.
pub(crate) const MALFORMED: &str = "The request was malformed or contained invalid parameters";

/// herodot's default message of a 404 raised with a reason.
pub(crate) const NOT_FOUND_DEFAULT: &str = "The requested resource could not be found";

/// The message of a 404 for a missing row.
pub(crate) const UNABLE_TO_LOCATE: &str = "Unable to locate the resource";

/// The message of a unique violation outside of `POST` (PUT, PATCH, batch
/// entries).
pub(crate) const EXISTS_ALREADY: &str =
    "Unable to insert or update resource because a resource with that value exists already";

/// Snapshot exclusions of `TestHandler` (`ignoreDefault`).
pub(crate) const IGNORE_DEFAULT: [&str; 5] = [
    "id",
    "schema_url",
    "state_changed_at",
    "created_at",
    "updated_at",
];

/// A bcrypt hash of `foobar` (cost 8), as Kratos' tests seed it.
pub(crate) const BCRYPT_FOOBAR: &str =
    "$2a$08$.cOYmAd.vCpDOoiVJrO5B.hjTLKQQ6cAK40u8uB.FnZDyPvVvQ9Q.";

/// Stands in for Go's `sharedBcryptTestHash`: a bcrypt-formatted string
/// that `validCreateIdentityBody` sends as a *plaintext* password (so it is
/// hashed again and counts toward the plaintext-password limit).
pub(crate) const SHARED_BCRYPT_TEST_HASH: &str =
    "$2a$04$0.WM8xKD3ufz8TWr.vpqvOt79FapHzAS9VBG/6dNcNUxHSxWrp8Pa";

/// Every credential type Kratos' `include_credential` accepts that these
/// tests store: asking for all of them reads what Kratos' tests read from
/// the database (`GetIdentityConfidential`).
const ALL_TYPES: [&str; 7] = [
    "password",
    "oidc",
    "saml",
    "totp",
    "lookup_secret",
    "webauthn",
    "passkey",
];

fn fixture(id: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/kratos/{id}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn registry(ids: &[&str]) -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    for id in ids {
        registry.register(*id, fixture(id)).unwrap();
    }
    registry
}

/// The store the port runs on, from `KRATOS_PORT_STORE`: `memory` (the
/// default), `sqlite` (a fresh file in a temporary directory) or
/// `postgres` (a fresh schema on the server `IDENTITY_TEST_POSTGRES_URL`
/// names). `.ci/run` runs the port on all three.
fn store() -> DynIdentityStore {
    match std::env::var("KRATOS_PORT_STORE").as_deref() {
        Ok("sqlite") => {
            let dir = tempfile::tempdir().unwrap().keep();
            let path = dir.join("kratos.db");
            Arc::new(
                identity_store_sqlite::SqliteStore::open(
                    path.to_str().unwrap(),
                    identity_store_sqlite::SqliteOptions::default(),
                )
                .unwrap(),
            )
        }
        Ok("postgres") => Arc::new(LazyPostgres::default()),
        Ok("memory") | Err(_) => Arc::new(identity_store_memory::MemoryStore::new()),
        Ok(other) => panic!("KRATOS_PORT_STORE={other:?}: expected memory, sqlite or postgres"),
    }
}

/// A PostgreSQL store in a schema of its own, connected on first use (the
/// routers are built outside async code).
#[derive(Debug, Default)]
struct LazyPostgres(tokio::sync::OnceCell<identity_store_postgres::PostgresStore>);

impl LazyPostgres {
    async fn store(&self) -> Result<&identity_store_postgres::PostgresStore, Error> {
        self.0
            .get_or_try_init(|| async {
                let url = std::env::var("IDENTITY_TEST_POSTGRES_URL")
                    .expect("KRATOS_PORT_STORE=postgres needs IDENTITY_TEST_POSTGRES_URL");
                let schema = format!("kratos_port_{}", Uuid::new_v4().simple());
                identity_store_postgres::PostgresStore::connect(
                    &url,
                    identity_store_postgres::PostgresOptions::default()
                        .with_schema(schema)
                        .with_max_connections(4),
                )
                .await
            })
            .await
    }
}

#[async_trait::async_trait]
impl IdentityStore for LazyPostgres {
    async fn create(&self, t: TenantId, i: &ValidIdentity) -> Result<u64, Error> {
        self.store().await?.create(t, i).await
    }
    async fn batch_create(
        &self,
        t: TenantId,
        i: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        self.store().await?.batch_create(t, i).await
    }
    async fn get(&self, t: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        self.store().await?.get(t, id).await
    }
    async fn get_by_external_id(
        &self,
        t: TenantId,
        e: &identity_core::ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        self.store().await?.get_by_external_id(t, e).await
    }
    async fn find_by_identifier(
        &self,
        t: TenantId,
        k: CredentialType,
        i: &str,
    ) -> Result<Arc<Identity>, Error> {
        self.store().await?.find_by_identifier(t, k, i).await
    }
    async fn find_create_conflict(
        &self,
        t: TenantId,
        i: &ValidIdentity,
    ) -> Result<Option<identity_core::ConflictField>, Error> {
        self.store().await?.find_create_conflict(t, i).await
    }
    async fn update(&self, t: TenantId, i: &ValidIdentity, v: Option<u64>) -> Result<u64, Error> {
        self.store().await?.update(t, i, v).await
    }
    async fn delete(&self, t: TenantId, id: Uuid, v: Option<u64>) -> Result<(), Error> {
        self.store().await?.delete(t, id, v).await
    }
    async fn list(&self, t: TenantId, q: &ListQuery) -> Result<ListPage, Error> {
        self.store().await?.list(t, q).await
    }
    async fn count(&self, t: TenantId) -> Result<u64, Error> {
        self.store().await?.count(t).await
    }
    async fn count_matching(&self, t: TenantId, q: &ListQuery) -> Result<u64, Error> {
        self.store().await?.count_matching(t, q).await
    }
    async fn changes(
        &self,
        t: TenantId,
        a: Option<identity_core::ChangeCursor>,
        l: identity_core::PageSize,
    ) -> Result<identity_core::ChangePage, Error> {
        self.store().await?.changes(t, a, l).await
    }
    async fn prune_changes(
        &self,
        t: TenantId,
        p: &identity_core::PruneChanges,
    ) -> Result<u64, Error> {
        self.store().await?.prune_changes(t, p).await
    }
    async fn consumer_cursor(
        &self,
        t: TenantId,
        c: &str,
    ) -> Result<Option<identity_core::ChangeCursor>, Error> {
        self.store().await?.consumer_cursor(t, c).await
    }
    async fn save_consumer_cursor(
        &self,
        t: TenantId,
        c: &str,
        k: identity_core::ChangeCursor,
    ) -> Result<(), Error> {
        self.store().await?.save_consumer_cursor(t, c, k).await
    }
}

fn router_over(schemas: SchemaRegistry) -> Router {
    let manager = IdentityManager::builder(store(), Arc::new(schemas))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .config(ManagerConfig::default().with_base_url(BASE_URL))
        .build();
    // Kratos wraps its admin handler in `http.MaxBytesHandler(5 MiB)`; the
    // batch cases send more than this router's 1 MiB default.
    identity_http::AdminApi::new(manager)
        .body_limit(5 * 1024 * 1024)
        .into_router()
}

/// `TestHandler`'s registry: `default` (the first, so the default schema),
/// `customer`, `multiple_emails` and `employee`.
pub(crate) fn app() -> Router {
    router_over(registry(&[
        "default",
        "customer",
        "multiple_emails",
        "employee",
    ]))
}

/// `TestHandler_Region`'s registry: `default` only.
pub(crate) fn region_app() -> Router {
    router_over(registry(&["default"]))
}

/// `schema_url` of a schema id: the public base URL, `/schemas/` and the id
/// in unpadded base64url.
pub(crate) fn schema_url(schema_id: &str) -> String {
    format!("{BASE_URL}/schemas/{}", b64url_nopad(schema_id.as_bytes()))
}

// --- requests -------------------------------------------------------------

async fn request(app: &Router, method: Method, uri: &str, body: Option<String>) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    // Go's `send` sets the JSON content type even without a body.
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, Body::from);
    raw(app, builder.body(body).unwrap()).await
}

/// `GET`, no body.
pub(crate) async fn get(app: &Router, uri: &str) -> Reply {
    request(app, Method::GET, uri, None).await
}

/// `DELETE`, no body.
pub(crate) async fn remove(app: &Router, uri: &str) -> Reply {
    request(app, Method::DELETE, uri, None).await
}

/// A JSON body (Go's `send` with a value it marshals).
pub(crate) async fn send(app: &Router, method: Method, uri: &str, body: &Value) -> Reply {
    request(app, method, uri, Some(body.to_string())).await
}

/// A raw body with the JSON content type (Go's `send` with an `io.Reader`).
/// The empty string is Go's `send` with a nil body: `Content-Type:
/// application/json` and `Content-Length: 0`.
pub(crate) async fn send_raw(app: &Router, method: Method, uri: &str, body: &str) -> Reply {
    request(app, method, uri, Some(body.to_owned())).await
}

/// Asserts the status (Go's `require.EqualValues(code, res.StatusCode)`)
/// and returns the parsed body.
#[track_caller]
pub(crate) fn expect(reply: &Reply, status: u16) -> &Value {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "expected {status}, got {}: {}",
        reply.status,
        reply.text
    );
    &reply.body
}

/// `POST {prefix}` with `body`; asserts 201 and returns the identity.
pub(crate) async fn create(app: &Router, prefix: &str, body: &Value) -> Value {
    let reply = send(app, Method::POST, prefix, body).await;
    expect(&reply, 201).clone()
}

/// `PATCH {prefix}/{id}` with these operations.
pub(crate) async fn patch(app: &Router, prefix: &str, id: &str, ops: Value) -> Reply {
    send(app, Method::PATCH, &format!("{prefix}/{id}"), &ops).await
}

/// What Kratos' tests read from the database: the identity with every
/// credential config (`GET /admin/identities/{id}?include_credential=…`).
pub(crate) async fn confidential(app: &Router, id: &str) -> Value {
    let query: Vec<String> = ALL_TYPES
        .iter()
        .map(|t| format!("include_credential={t}"))
        .collect();
    let reply = get(app, &format!("{ADMIN}/{id}?{}", query.join("&"))).await;
    expect(&reply, 200).clone()
}

/// The `id` of an identity.
#[track_caller]
pub(crate) fn id_of(identity: &Value) -> String {
    identity["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {identity}"))
        .to_owned()
}

// --- errors ---------------------------------------------------------------

/// Asserts the status and the whole Kratos error object. `details` is left
/// out of the comparison: the project adds `details.violations` and
/// `details.conflict` (divergences 3 and 4), Kratos sends none here.
#[track_caller]
pub(crate) fn assert_error(reply: &Reply, status: u16, expected: &Value) {
    expect(reply, status);
    let mut error = reply.body["error"].clone();
    if let Some(map) = error.as_object_mut() {
        map.remove("details");
    }
    assert_eq!(&error, expected, "error body: {}", reply.text);
}

/// A herodot 400 with this reason and the default message.
pub(crate) fn bad_request(reason: &str) -> Value {
    json!({"code": 400, "status": "Bad Request", "reason": reason, "message": MALFORMED})
}

/// A herodot 400 with this message and no reason (decoder errors, patch
/// errors carry their reason separately: see [`bad_request_both`]).
pub(crate) fn bad_request_message(message: &str) -> Value {
    json!({"code": 400, "status": "Bad Request", "message": message})
}

/// A herodot 400 with both a reason and a specific message.
pub(crate) fn bad_request_both(reason: &str, message: &str) -> Value {
    json!({"code": 400, "status": "Bad Request", "reason": reason, "message": message})
}

/// The 404 of a missing row.
pub(crate) fn not_found() -> Value {
    json!({"code": 404, "status": "Not Found", "message": UNABLE_TO_LOCATE})
}

/// A herodot 404 with this reason and the default message.
pub(crate) fn not_found_reason(reason: &str) -> Value {
    json!({"code": 404, "status": "Not Found", "reason": reason, "message": NOT_FOUND_DEFAULT})
}

/// The 409 of a unique violation outside `POST`.
pub(crate) fn conflict_exists() -> Value {
    json!({"code": 409, "status": "Conflict", "message": EXISTS_ALREADY})
}

// --- Go's request structs on the wire ---------------------------------------

fn merge(mut base: Value, fields: Value) -> Value {
    if let (Some(b), Value::Object(f)) = (base.as_object_mut(), fields) {
        for (k, v) in f {
            b.insert(k, v);
        }
    }
    base
}

/// `identity.CreateIdentityBody{…}` as Go's `json.Marshal` writes it: the
/// non-`omitempty` fields always present (`"traits":null` when unset),
/// `metadata_admin`, `external_id` and `region` only when given.
pub(crate) fn create_body(fields: Value) -> Value {
    merge(
        json!({
            "schema_id": "",
            "traits": null,
            "credentials": null,
            "verifiable_addresses": null,
            "recovery_addresses": null,
            "metadata_public": null,
            "state": "",
            "organization_id": null
        }),
        fields,
    )
}

/// `identity.UpdateIdentityBody{…}` on the wire.
pub(crate) fn update_body(fields: Value) -> Value {
    merge(
        json!({
            "schema_id": "",
            "traits": null,
            "credentials": null,
            "metadata_public": null,
            "state": ""
        }),
        fields,
    )
}

/// `identity.IdentityWithCredentials{…}` on the wire: every type present,
/// `null` when unset.
pub(crate) fn credentials(fields: Value) -> Value {
    merge(
        json!({
            "password": null,
            "oidc": null,
            "saml": null,
            "totp": null,
            "webauthn": null,
            "passkey": null,
            "lookup_secret": null
        }),
        fields,
    )
}

/// A password import: `{"config":{"hashed_password":…,"password":…}}`.
pub(crate) fn password_import(hashed_password: &str, password: &str) -> Value {
    json!({"config": {"hashed_password": hashed_password, "password": password}})
}

/// One OIDC or SAML provider of an import.
pub(crate) fn provider(subject: &str, provider: &str, organization: Option<&str>) -> Value {
    json!({"subject": subject, "provider": provider, "organization": organization})
}

/// An OIDC or SAML import of these providers.
pub(crate) fn providers_import(providers: Vec<Value>) -> Value {
    json!({"config": {"providers": providers}})
}

/// A lookup-secret import of these codes (`RecoveryCode{Code: c}`).
pub(crate) fn lookup_import(codes: &[&str]) -> Value {
    let codes: Vec<Value> = codes
        .iter()
        .map(|c| json!({"code": c, "used_at": null}))
        .collect();
    json!({"config": {"codes": codes}})
}

/// `identity.CredentialWebAuthn{ID: id, PublicKey: public_key}` on the wire
/// (`[]byte` as standard base64, zero values present, `authenticator` nil).
pub(crate) fn webauthn_key(id: &[u8], public_key: &[u8]) -> Value {
    json!({
        "id": b64(id),
        "public_key": b64(public_key),
        "attestation_type": "",
        "display_name": "",
        "added_at": "0001-01-01T00:00:00Z",
        "is_passwordless": false
    })
}

/// A WebAuthn or passkey import: `{"config":{"credentials":…,"user_handle":…}}`
/// (`user_handle` is a `[]byte`: `null` when unset).
pub(crate) fn keys_import(keys: Vec<Value>, user_handle: Option<&[u8]>) -> Value {
    json!({"config": {"credentials": keys, "user_handle": user_handle.map(b64)}})
}

/// `identity.VerifiableAddress{…}` on the wire.
pub(crate) fn verifiable_address(value: &str, verified: bool, via: &str, status: &str) -> Value {
    json!({
        "id": "00000000-0000-0000-0000-000000000000",
        "value": value,
        "verified": verified,
        "via": via,
        "status": status,
        "created_at": "0001-01-01T00:00:00Z",
        "updated_at": "0001-01-01T00:00:00Z"
    })
}

/// `identity.RecoveryAddress{…}` on the wire.
pub(crate) fn recovery_address(value: &str, via: &str) -> Value {
    json!({
        "id": "00000000-0000-0000-0000-000000000000",
        "value": value,
        "via": via,
        "created_at": "0001-01-01T00:00:00Z",
        "updated_at": "0001-01-01T00:00:00Z"
    })
}

/// One entry of `identity.BatchPatchIdentitiesBody`.
pub(crate) fn batch_entry(create: Value, patch_id: Option<&str>) -> Value {
    json!({"create": create, "patch_id": patch_id})
}

/// The emails of `validCreateIdentityBody(prefix, i)`.
pub(crate) fn valid_emails(prefix: &str, i: usize) -> Vec<String> {
    (0..4).map(|j| format!("{prefix}-{i}-{j}@ory.sh")).collect()
}

/// Go's `validCreateIdentityBody(t, prefix, i, plainPassword)`.
pub(crate) fn valid_create_identity_body(prefix: &str, i: usize, plain_password: bool) -> Value {
    let emails = valid_emails(prefix, i);
    let statuses = ["pending", "sent", "completed"];
    let verifiable: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(j, e)| verifiable_address(e, j.is_multiple_of(2), "email", statuses[j % 3]))
        .collect();
    let recovery: Vec<Value> = emails
        .iter()
        .map(|e| recovery_address(e, "email"))
        .collect();
    let password = if plain_password {
        format!("password-{i}")
    } else {
        SHARED_BCRYPT_TEST_HASH.to_owned()
    };
    let mut body = create_body(json!({
        "schema_id": "multiple_emails",
        "traits": {"emails": emails, "username": emails[0]},
        "credentials": credentials(json!({"password": password_import("", &password)})),
        "verifiable_addresses": verifiable,
        "recovery_addresses": recovery,
        "metadata_public": {format!("public-{i}"): "public"},
        "metadata_admin": {format!("admin-{i}"): "admin"},
        "state": "active"
    }));
    if i.is_multiple_of(2) {
        body["external_id"] = json!(format!("external-id-{prefix}-{i}"));
    }
    body
}

// --- snapshots ----------------------------------------------------------------

/// `snapshotx.ExceptNestedKeys`: removes every member with one of these
/// names, at any depth.
pub(crate) fn except_nested_keys(value: &mut Value, keys: &[&str]) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for k in keys {
                    map.remove(*k);
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// `snapshotx.ExceptPaths`: removes the member at each dotted path.
pub(crate) fn except_paths(value: &mut Value, paths: &[&str]) {
    for path in paths {
        let mut segments: Vec<&str> = path.split('.').collect();
        let Some(last) = segments.pop() else {
            continue;
        };
        let mut cursor = Some(&mut *value);
        for s in segments {
            cursor = cursor.and_then(|c| c.get_mut(s));
        }
        if let Some(Value::Object(map)) = cursor {
            map.remove(last);
        }
    }
}

/// The identity as Kratos' snapshot compares it: without the nested
/// `ignoreDefault` keys and these extra ones.
pub(crate) fn snapshot(identity: &Value, extra_nested: &[&str]) -> Value {
    let mut v = identity.clone();
    except_nested_keys(&mut v, &IGNORE_DEFAULT);
    except_nested_keys(&mut v, extra_nested);
    v
}

/// The keys of a JSON object, sorted.
pub(crate) fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Go's `assertJSONArrayElementsMatch`: equal as multisets of strings.
#[track_caller]
pub(crate) fn assert_elements_match(expected: &[String], actual: &Value) {
    let mut actual: Vec<String> = actual
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {actual}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let mut expected = expected.to_vec();
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected);
}

/// Whether `password` matches the stored hash (Go's `hash.Compare`).
#[track_caller]
pub(crate) fn assert_password(password: &str, hashed: &Value) {
    let hashed = hashed
        .as_str()
        .unwrap_or_else(|| panic!("no hashed_password: {hashed}"));
    assert!(
        identity_core::password::verify(password, hashed).unwrap(),
        "{password:?} does not match {hashed}"
    );
}

/// Asserts that an RFC 3339 timestamp is within 5 s of now (testify's
/// `WithinDuration(time.Now(), …, 5*time.Second)`).
#[track_caller]
pub(crate) fn assert_recent(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    let at = Timestamp::parse(text).unwrap_or_else(|| panic!("not RFC 3339: {text}"));
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap();
    assert!(
        (now - at.unix_micros()).abs() <= 5_000_000,
        "{text} is not within 5s of now"
    );
}

/// A fresh random UUID as text.
pub(crate) fn uuid() -> String {
    Uuid::new_v4().to_string()
}

// --- base64 -------------------------------------------------------------------

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Go's encoding of `[]byte` in JSON).
pub(crate) fn b64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64url_nopad(bytes: &[u8]) -> String {
    b64(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

#[test]
fn base64_matches_go() {
    assert_eq!(b64(b"cred1"), "Y3JlZDE=");
    assert_eq!(b64(b"user-handle-1"), "dXNlci1oYW5kbGUtMQ==");
    assert_eq!(b64(b"pk1"), "cGsx");
    assert_eq!(
        schema_url("default"),
        format!("{BASE_URL}/schemas/ZGVmYXVsdA")
    );
    assert_eq!(
        schema_url("multiple_emails"),
        format!("{BASE_URL}/schemas/bXVsdGlwbGVfZW1haWxz")
    );
}
