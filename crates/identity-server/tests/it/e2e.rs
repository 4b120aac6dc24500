//! The real `identity-server` binary on a SQLite file, driven by Ory's own
//! Rust client (`ory-kratos-client` 26.2.0): every response must
//! deserialize into Ory's models and carry the values the SPEC demands.
//! Then a graceful shutdown with a request in flight, a restart on the same
//! file, and everything read back.

use std::time::Duration;

use ory_kratos_client::apis::Error as OryError;
use ory_kratos_client::apis::identity_api as api;
use ory_kratos_client::models;
use serde_json::{Value, json};

use crate::server::{BASE_URL, Server};

fn create_body(email: &str) -> models::CreateIdentityBody {
    models::CreateIdentityBody::new("default".to_owned(), json!({ "email": email }))
}

fn with_password(
    mut body: models::CreateIdentityBody,
    password: &str,
) -> models::CreateIdentityBody {
    body.credentials = Some(Box::new(models::IdentityWithCredentials {
        password: Some(Box::new(models::IdentityWithCredentialsPassword {
            config: Some(Box::new(models::IdentityWithCredentialsPasswordConfig {
                password: Some(password.to_owned()),
                ..Default::default()
            })),
        })),
        ..Default::default()
    }));
    body
}

/// The status and Ory error body of a failed call.
fn failure<T: std::fmt::Debug>(error: OryError<T>) -> (u16, models::ErrorGeneric) {
    match error {
        OryError::ResponseError(r) => {
            let body: models::ErrorGeneric = serde_json::from_str(&r.content)
                .unwrap_or_else(|e| panic!("not an Ory error body ({e}): {}", r.content));
            (r.status.as_u16(), body)
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

fn is_rfc3339_micros(text: &Option<String>) -> bool {
    let Some(t) = text else { return false };
    // 2024-01-02T03:04:05.123456Z
    t.len() == 27 && t.ends_with('Z') && t.as_bytes()[19] == b'.'
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ory_client_against_the_binary_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let mut server = Server::start(&database);
    server.wait_ready().await;
    let config = server.config();
    let http = reqwest::Client::new();

    // Create, with a plaintext password hashed by production Argon2id.
    let mut body = with_password(
        create_body("Ada@Example.com"),
        "correct horse battery staple",
    );
    body.external_id = Some("crm-1".to_owned());
    body.metadata_public = Some(Some(json!({"plan": "pro"})));
    let ada = api::create_identity(&config, Some(body)).await.unwrap();
    assert_eq!(ada.schema_id, "default");
    assert_eq!(ada.schema_url, format!("{BASE_URL}/schemas/ZGVmYXVsdA"));
    assert_eq!(ada.state, Some(models::identity::StateEnum::Active));
    assert_eq!(ada.traits, Some(json!({"email": "Ada@Example.com"})));
    assert_eq!(ada.external_id.as_deref(), Some("crm-1"));
    assert_eq!(ada.metadata_public, Some(Some(json!({"plan": "pro"}))));
    assert_eq!(ada.metadata_admin, Some(None));
    assert_eq!(ada.organization_id, Some(None));
    assert!(is_rfc3339_micros(&ada.created_at), "{:?}", ada.created_at);
    assert!(is_rfc3339_micros(&ada.state_changed_at));
    let creds = ada.credentials.clone().unwrap();
    let password = &creds["password"];
    assert_eq!(
        password.r#type,
        Some(models::identity_credentials::TypeEnum::Password)
    );
    assert_eq!(
        password.identifiers,
        Some(vec!["ada@example.com".to_owned()])
    );
    assert_eq!(password.config, None);
    assert_eq!(
        creds["code"].identifiers,
        Some(vec!["ada@example.com".to_owned()])
    );
    let verifiable = ada.verifiable_addresses.clone().unwrap();
    assert_eq!(verifiable.len(), 1);
    assert_eq!(verifiable[0].value, "ada@example.com");
    assert_eq!(
        verifiable[0].via,
        models::verifiable_identity_address::ViaEnum::Email
    );
    assert_eq!(
        (verifiable[0].verified, verifiable[0].status.as_str()),
        (false, "pending")
    );
    let recovery = ada.recovery_addresses.clone().unwrap();
    assert_eq!(
        (recovery[0].value.as_str(), recovery[0].via.as_str()),
        ("ada@example.com", "email")
    );

    // Read by id (with the password config) and by external id.
    let with_config = api::get_identity(&config, &ada.id, Some(vec!["password".to_owned()]))
        .await
        .unwrap();
    let hash = with_config.credentials.as_ref().unwrap()["password"]
        .config
        .as_ref()
        .unwrap()["hashed_password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    let by_external = api::get_identity_by_external_id(&config, "crm-1", None)
        .await
        .unwrap();
    assert_eq!(by_external, ada);

    // The raw response: ETag, and the schema_url path resolves.
    let response = http
        .get(format!("{}/admin/identities/{}", server.base, ada.id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let schema_path = ada.schema_url.strip_prefix(BASE_URL).unwrap();
    let schema: Value = http
        .get(format!("{}{schema_path}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["properties"]["traits"]["required"], json!(["email"]));
    let schema = api::get_identity_schema(&config, "default").await.unwrap();
    assert_eq!(schema["properties"]["traits"]["required"], json!(["email"]));
    let schemas = api::list_identity_schemas(&config, None, None, None, None)
        .await
        .unwrap();
    assert_eq!(schemas.len(), 1);
    assert_eq!(schemas[0].id, "default");

    // A conflicting create: 409 with Kratos' reason, as Ory's error model.
    let (status, error) = failure(
        api::create_identity(&config, Some(create_body("ADA@example.com")))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 409);
    assert_eq!(
        error.error.reason.as_deref(),
        Some("This identity conflicts with another identity that already exists.")
    );
    // A validation error: 400.
    let (status, error) = failure(
        api::create_identity(&config, Some(create_body("not-an-email")))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert!(error.error.reason.unwrap().starts_with("I[#/traits/email]"));

    // PUT: everything but credentials replaced.
    let mut update = models::UpdateIdentityBody::new(
        "default".to_owned(),
        models::update_identity_body::StateEnum::Inactive,
        json!({"email": "ada@example.org", "name": {"first": "Ada"}}),
    );
    update.external_id = Some("crm-1".to_owned());
    update.metadata_admin = Some(Some(json!({"tier": 2})));
    let updated = api::update_identity(&config, &ada.id, Some(update))
        .await
        .unwrap();
    assert_eq!(updated.state, Some(models::identity::StateEnum::Inactive));
    assert_ne!(updated.state_changed_at, ada.state_changed_at);
    assert_eq!(updated.metadata_public, Some(None));
    assert_eq!(updated.metadata_admin, Some(Some(json!({"tier": 2}))));
    assert_eq!(
        updated.credentials.as_ref().unwrap()["password"].identifiers,
        Some(vec!["ada@example.org".to_owned()])
    );
    assert_eq!(updated.created_at, ada.created_at);

    // PATCH (JSON Patch).
    let patched = api::patch_identity(
        &config,
        &ada.id,
        Some(vec![
            models::JsonPatch {
                op: "add".to_owned(),
                path: "/metadata_public/notes".to_owned(),
                value: Some(Some(json!("vip"))),
                from: None,
            },
            models::JsonPatch {
                op: "replace".to_owned(),
                path: "/state".to_owned(),
                value: Some(Some(json!("active"))),
                from: None,
            },
        ]),
    )
    .await
    .unwrap();
    assert_eq!(patched.metadata_public, Some(Some(json!({"notes": "vip"}))));
    assert_eq!(patched.state, Some(models::identity::StateEnum::Active));
    let (status, error) = failure(
        api::patch_identity(
            &config,
            &ada.id,
            Some(vec![models::JsonPatch::new(
                "remove".to_owned(),
                "/id".to_owned(),
            )]),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(status, 400);
    // Kratos' placement: the general reason, the specific message.
    assert_eq!(
        error.error.reason.as_deref(),
        Some("failed to apply JSON patch")
    );
    assert_eq!(error.error.message, "patch includes denied path: /id");

    // If-Match with a stale ETag: 412, nothing written.
    let response = http
        .put(format!("{}/admin/identities/{}", server.base, ada.id))
        .header("if-match", "\"1\"")
        .json(&json!({"traits": {"email": "stale@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 412);
    let error: models::ErrorGeneric = response.json().await.unwrap();
    assert_eq!(error.error.code, Some(412));

    // Batch create: per-entry results in order.
    let patch_ids: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let entries = ["grace@example.com", "not an email", "alan@example.com"]
        .iter()
        .zip(&patch_ids)
        .map(|(email, patch_id)| models::IdentityPatch {
            create: Some(Box::new(create_body(email))),
            patch_id: Some(patch_id.clone()),
        })
        .collect();
    let batch = api::batch_patch_identities(
        &config,
        Some(models::PatchIdentitiesBody {
            identities: Some(entries),
        }),
    )
    .await
    .unwrap();
    let results = batch.identities.unwrap();
    use models::identity_patch_response::ActionEnum;
    let actions: Vec<_> = results.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            Some(ActionEnum::Create),
            Some(ActionEnum::Error),
            Some(ActionEnum::Create)
        ]
    );
    for (result, patch_id) in results.iter().zip(&patch_ids) {
        assert_eq!(result.patch_id.as_ref(), Some(patch_id));
    }
    assert_eq!(
        results[1].error.clone().flatten().unwrap()["code"],
        json!(400)
    );
    let grace = results[0].identity.clone().unwrap();
    let alan = results[2].identity.clone().unwrap();

    // List: keyset pages through Ory's client, the Link header raw.
    let all = api::list_identities(
        &config, None, None, None, None, None, None, None, None, None, None,
    )
    .await
    .unwrap();
    let mut ids: Vec<String> = all.iter().map(|i| i.id.clone()).collect();
    let mut expected = vec![ada.id.clone(), grace.clone(), alan.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let response = http
        .get(format!("{}/admin/identities?page_size=2", server.base))
        .send()
        .await
        .unwrap();
    // One Link header, its links comma-joined (ory/x).
    let link = response.headers().get("link").unwrap().to_str().unwrap();
    let next = link
        .split(",<")
        .find(|l| l.ends_with("rel=\"next\""))
        .unwrap();
    let token = next
        .split("page_token=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap();
    let page2 = api::list_identities(
        &config,
        None,
        None,
        Some(2),
        Some(token),
        None,
        None,
        None,
        None,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(page2.len(), 1);
    assert_eq!(page2[0].id, expected[2]);
    let found = api::list_identities(
        &config,
        None,
        None,
        None,
        None,
        None,
        None,
        Some("GRACE@example.com"),
        None,
        Some(vec!["password".to_owned()]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, grace);
    let by_ids = api::list_identities(
        &config,
        None,
        None,
        None,
        None,
        None,
        Some(vec![grace.clone(), alan.clone()]),
        None,
        None,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(by_ids.len(), 2);
    let legacy = api::list_identities(
        &config,
        Some(2),
        Some(1),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(legacy.len(), 1);

    // Delete, then 404 in Ory's error model.
    api::delete_identity(&config, &alan).await.unwrap();
    let (status, error) = failure(api::get_identity(&config, &alan, None).await.unwrap_err());
    assert_eq!(status, 404);
    assert_eq!(error.error.message, "Unable to locate the resource");
    let (status, _) = failure(
        api::get_identity(&config, "not-a-uuid", None)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
    ids.retain(|i| *i != alan);

    // What the restart must give back, as read now.
    let before = api::list_identities(
        &config,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(vec!["password".to_owned(), "code".to_owned()]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(before.len(), 2);

    // Graceful shutdown: a batch hashing 24 Argon2id passwords is in
    // flight when SIGTERM arrives, and still gets its answer.
    let slow_entries: Vec<models::IdentityPatch> = (0..24)
        .map(|i| models::IdentityPatch {
            create: Some(Box::new(with_password(
                create_body(&format!("late{i}@example.com")),
                "a long enough password",
            ))),
            patch_id: None,
        })
        .collect();
    let slow_config = config.clone();
    let in_flight = tokio::spawn(async move {
        api::batch_patch_identities(
            &slow_config,
            Some(models::PatchIdentitiesBody {
                identities: Some(slow_entries),
            }),
        )
        .await
    });
    // Wait until the server has the request (its log shows no request line
    // until the response, so give the connection time to be accepted).
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = tokio::task::block_in_place(|| server.terminate());
    let late = in_flight.await.unwrap().unwrap();
    assert!(status.success(), "exit {status}:\n{}", server.logs());
    let late = late.identities.unwrap();
    assert_eq!(late.len(), 24);
    assert!(
        late.iter().all(|r| r.action == Some(ActionEnum::Create)),
        "{late:?}"
    );
    let logs = server.logs();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("identity-server stopped"), "{logs}");
    // The batch finished after the signal: it was in flight, not refused.
    let lines: Vec<&str> = logs.lines().collect();
    let signal = lines
        .iter()
        .position(|l| l.contains("shutting down"))
        .unwrap();
    let batch = lines
        .iter()
        .rposition(|l| {
            l.contains("method=PATCH route=/admin/identities}") && l.contains("status=200")
        })
        .unwrap();
    assert!(signal < batch, "{logs}");
    // One line per request, with its status.
    let request_lines = logs
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .count();
    assert!(request_lines >= 20, "{logs}");
    assert!(logs.contains("status=412"), "{logs}");
    drop(server);

    // Restart on the same file: everything is back, byte for byte.
    let mut server = Server::start(&database);
    server.wait_ready().await;
    let config = server.config();
    let after = api::list_identities(
        &config,
        None,
        Some(0),
        None,
        None,
        None,
        Some(ids.clone()),
        None,
        None,
        Some(vec!["password".to_owned(), "code".to_owned()]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(after, before);
    let all = api::list_identities(
        &config,
        Some(1000),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 26);
    let again = api::get_identity(&config, &ada.id, Some(vec!["password".to_owned()]))
        .await
        .unwrap();
    assert_eq!(
        again.credentials.as_ref().unwrap()["password"]
            .config
            .as_ref()
            .unwrap()["hashed_password"],
        json!(hash)
    );
    let response = http
        .get(format!("{}/admin/identities/{}", server.base, ada.id))
        .send()
        .await
        .unwrap();
    // created, PUT, PATCH: version 3.
    assert_eq!(response.headers()["etag"], "\"3\"");
    let status = tokio::task::block_in_place(|| server.terminate());
    assert!(status.success());
}

/// `identity-server --path-prefix /iam` serves the seed API's
/// `PUT /iam/identities/{id}` (and everything else under the prefix).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_path_prefix_flag() {
    let mut server = Server::start_with("memory:", &["--path-prefix", "/iam"]);
    server.wait_ready_under("/iam").await;
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{}/iam/identities", server.base))
        .json(&json!({"traits": {"email": "prefix@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let reply = http
        .put(format!("{}/iam/identities/{id}", server.base))
        .json(&json!({"traits": {"email": "prefix2@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let reply = http
        .get(format!("{}/admin/identities/{id}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404, "nothing is served outside the prefix");
    let status = tokio::task::block_in_place(|| server.terminate());
    assert_eq!(status.code(), Some(0));
}
