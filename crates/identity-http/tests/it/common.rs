//! Helpers of the router tests: a router over a fresh memory store, one-shot
//! requests, and a store that fails on purpose.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use identity_core::password::PasswordHasher;
use identity_core::{
    DynIdentityStore, Error, Identity, IdentityManager, IdentityStore, ListPage, ListQuery,
    ManagerConfig, SchemaRegistry, TenantId, ValidIdentity,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

pub(crate) const BASE_URL: &str = "http://identity.test";

/// The built-in schema of the binary, and a second one with a username.
pub(crate) fn schemas() -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    let default: Value = serde_json::from_str(include_str!(
        "../../../identity-server/schemas/default.schema.json"
    ))
    .unwrap();
    registry.register("default", default).unwrap();
    registry
        .register(
            "username",
            json!({
                "type": "object",
                "properties": {"traits": {"type": "object", "properties": {
                    "username": {"type": "string", "minLength": 1, "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}}}}
                }, "required": ["username"]}}
            }),
        )
        .unwrap();
    registry
}

pub(crate) fn manager(store: DynIdentityStore) -> IdentityManager {
    IdentityManager::builder(store, Arc::new(schemas()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .config(ManagerConfig::default().with_base_url(BASE_URL))
        .build()
}

/// The router with every default over a fresh memory store.
pub(crate) fn app() -> Router {
    identity_http::router(manager(Arc::new(identity_store_memory::MemoryStore::new())))
}

/// A response, its body parsed as JSON (`Value::Null` when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the Kratos envelope with this status, and returns `error`.
    pub(crate) fn envelope(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let error = &self.body["error"];
        assert_eq!(error["code"], status, "{}", self.text);
        assert!(error["message"].is_string(), "{}", self.text);
        assert!(error["status"].is_string(), "{}", self.text);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{:?}",
            self.headers
        );
        error
    }
}

/// Sends one request: a JSON body when `body` is given.
pub(crate) async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    raw(app, request.body(body).unwrap()).await
}

/// Sends a prepared request.
pub(crate) async fn raw(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub(crate) async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Method::GET, uri, &[], None).await
}

pub(crate) async fn post(app: &Router, uri: &str, body: &Value) -> Reply {
    send(app, Method::POST, uri, &[], Some(body)).await
}

/// Creates an identity with this email (and extra body fields); asserts 201.
pub(crate) async fn create(app: &Router, email: &str, extra: Value) -> Value {
    let mut body = json!({"schema_id": "default", "traits": {"email": email}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let reply = post(app, "/admin/identities", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// How [`FailingStore`] fails.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure {
    Unavailable,
    Internal,
    Panic,
}

/// A store whose every call fails the same way.
#[derive(Debug)]
pub(crate) struct FailingStore(pub Failure);

impl FailingStore {
    fn fail<T>(&self) -> Result<T, Error> {
        match self.0 {
            Failure::Unavailable => Err(Error::unavailable(
                "connection to db.internal:5432 refused",
                std::io::Error::other("password authentication failed for user admin"),
            )),
            Failure::Internal => Err(Error::internal(
                "SELECT config FROM identity_credentials failed",
                std::io::Error::other("secret-hash-material"),
            )),
            Failure::Panic => panic!("the store panicked on purpose"),
        }
    }
}

#[async_trait]
impl IdentityStore for FailingStore {
    async fn create(&self, _: TenantId, _: &ValidIdentity) -> Result<u64, Error> {
        self.fail()
    }
    async fn batch_create(
        &self,
        _: TenantId,
        _: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        self.fail()
    }
    async fn get(&self, _: TenantId, _: Uuid) -> Result<Arc<Identity>, Error> {
        self.fail()
    }
    async fn get_by_external_id(
        &self,
        _: TenantId,
        _: &identity_core::ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        self.fail()
    }
    async fn find_by_identifier(
        &self,
        _: TenantId,
        _: identity_core::CredentialType,
        _: &str,
    ) -> Result<Arc<Identity>, Error> {
        self.fail()
    }
    async fn find_create_conflict(
        &self,
        _: TenantId,
        _: &ValidIdentity,
    ) -> Result<Option<identity_core::ConflictField>, Error> {
        self.fail()
    }
    async fn update(&self, _: TenantId, _: &ValidIdentity, _: Option<u64>) -> Result<u64, Error> {
        self.fail()
    }
    async fn delete(&self, _: TenantId, _: Uuid, _: Option<u64>) -> Result<(), Error> {
        self.fail()
    }
    async fn list(&self, _: TenantId, _: &ListQuery) -> Result<ListPage, Error> {
        self.fail()
    }
    async fn count(&self, _: TenantId) -> Result<u64, Error> {
        self.fail()
    }
    async fn count_matching(&self, _: TenantId, _: &ListQuery) -> Result<u64, Error> {
        self.fail()
    }
    async fn changes(
        &self,
        _: TenantId,
        _: Option<identity_core::ChangeCursor>,
        _: identity_core::PageSize,
    ) -> Result<identity_core::ChangePage, Error> {
        self.fail()
    }
    async fn prune_changes(
        &self,
        _: TenantId,
        _: &identity_core::PruneChanges,
    ) -> Result<u64, Error> {
        self.fail()
    }
    async fn consumer_cursor(
        &self,
        _: TenantId,
        _: &str,
    ) -> Result<Option<identity_core::ChangeCursor>, Error> {
        self.fail()
    }
    async fn save_consumer_cursor(
        &self,
        _: TenantId,
        _: &str,
        _: identity_core::ChangeCursor,
    ) -> Result<(), Error> {
        self.fail()
    }
}

pub(crate) fn failing_app(failure: Failure) -> Router {
    identity_http::router(manager(Arc::new(FailingStore(failure))))
}
