//! Ports of Kratos' `ory.sh/kratos` extension tests (ory/kratos commit
//! b86338da04a040247a07f46100a86dcfb3875909):
//! `identity/extension_credentials_test.go`,
//! `identity/extension_verification_test.go`,
//! `identity/extension_recovery_test.go` and the runner test
//! `schema/extension_test.go`.
//!
//! Kratos runs each extension while validating a bare document against a
//! stub schema under `identity/stub/extension/`; here the stubs are written
//! out again under `properties.traits` (same properties, types, formats and
//! extension settings), the traits are validated with
//! [`IdentitySchema::validate`], and what it derives is checked. Where
//! Kratos starts from an identity that already has credentials or
//! addresses ("existing"), the addresses are reconciled with
//! [`reconcile_verifiable`] / [`reconcile_recovery`] (what the manager does
//! after every write), and the credentials go through the manager: created
//! with traits that give the existing identifiers, then updated (PUT) with
//! the document.

use std::sync::Arc;

use identity_core::password::PasswordHasher;
use identity_core::{
    AddressVia, CreateIdentityBody, CredentialInclude, CredentialType, Derived, Error, ErrorKind,
    FixedClock, Identity, IdentityManager, Limits, RecoveryAddress, SchemaRegistry, SequentialIds,
    UpdateIdentityBody, VerifiableAddress, VerificationStatus, Violation,
};
use identity_core::{CodeAddress, DerivedAddress, IdentitySchema, Step};
use identity_core::{reconcile_recovery, reconcile_verifiable};
use identity_store_memory::MemoryStore;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ops_support::{T0, T1, TENANT, id, ts};

// ---------------------------------------------------------------------------
// The stub schemas, written out again under `properties.traits`.
// ---------------------------------------------------------------------------

fn schema(properties: Value) -> Value {
    json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
           "properties": {"traits": {"type": "object", "properties": properties}}})
}

/// A string trait with a `format` (if any) and an `ory.sh/kratos` setting.
fn string(format: Option<&str>, extension: Value) -> Value {
    let mut s = json!({"type": "string", "ory.sh/kratos": extension});
    if let Some(f) = format {
        s["format"] = json!(f);
    }
    s
}

fn array_of(item: Value) -> Value {
    json!({"type": "array", "items": item})
}

fn creds(types: &[&str]) -> Value {
    let mut c = serde_json::Map::new();
    for t in types {
        c.insert((*t).to_owned(), json!({"identifier": true}));
    }
    Value::Object(c)
}

/// `stub/extension/credentials/schema.json`: one email, a password identifier.
fn credentials_schema() -> Value {
    schema(json!({"email": string(Some("email"), json!({"credentials": creds(&["password"])}))}))
}

/// `stub/extension/credentials/multi.schema.json`: a list of emails
/// (password and WebAuthn identifiers) and a username (password identifier).
fn multi_schema() -> Value {
    schema(json!({
        "emails": array_of(string(Some("email"), json!({"credentials": creds(&["password", "webauthn"])}))),
        "username": string(None, json!({"credentials": creds(&["password"])}))
    }))
}

/// `stub/extension/credentials/webauthn.schema.json`.
fn webauthn_schema() -> Value {
    schema(json!({"email": string(Some("email"),
        json!({"credentials": creds(&["password", "webauthn"])}))}))
}

fn code(via: &str) -> Value {
    json!({"identifier": true, "via": via})
}

/// `stub/extension/credentials/code.schema.json`.
fn code_schema() -> Value {
    schema(json!({"email": string(Some("email"),
        json!({"credentials": {"password": {"identifier": true}, "code": code("email")}}))}))
}

/// `stub/extension/credentials/code-phone-email.schema.json`: three emails
/// and a phone, each a password, WebAuthn and code identifier.
fn code_phone_email_schema() -> Value {
    let on = |format: &str, via: &str| {
        string(
            Some(format),
            json!({"credentials": {"password": {"identifier": true},
                "webauthn": {"identifier": true}, "code": code(via)}}),
        )
    };
    schema(json!({
        "email": on("email", "email"),
        "email2": on("email", "email"),
        "email3": on("email", "email"),
        "phone": on("tel", "sms")
    }))
}

/// `stub/extension/credentials/email.schema.json` (Kratos' email preset):
/// every extension setting on one required email.
fn email_preset_schema() -> Value {
    let mut email = string(
        Some("email"),
        json!({
            "credentials": {"password": {"identifier": true}, "webauthn": {"identifier": true},
                "totp": {"account_name": true}, "code": code("email"),
                "passkey": {"display_name": true}},
            "recovery": {"via": "email"},
            "verification": {"via": "email"}
        }),
    );
    email["maxLength"] = json!(320);
    json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"email": email},
            "required": ["email"], "additionalProperties": false}}})
}

/// A local part of RFC 5322 `atext` and dots, as Japanese carriers issued
/// them (dots anywhere, e.g. `foo.@docomo.ne.jp`).
const CARRIER_LOCAL: &str = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+";

/// `stub/extension/credentials/code-no-validate.schema.json`: an email
/// under `format: no-validate`, a pattern admitting carrier addresses with
/// loose dots or ordinary dot-atom addresses; a code identifier via email.
fn code_no_validate_schema() -> Value {
    let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let pattern = format!(
        "^({CARRIER_LOCAL}@(docomo|softbank)\\.ne\\.jp|{atom}(\\.{atom})*@{label}(\\.{label})*)$"
    );
    let mut email = string(
        Some("no-validate"),
        json!({"credentials": {"code": code("email")}}),
    );
    email["pattern"] = json!(pattern);
    schema(json!({ "email": email }))
}

/// `stub/extension/recovery/email.schema.json` (and its twin
/// `recovery/schema.json`): emails and a username, recovery via email, no
/// `format`.
fn recovery_email_schema() -> Value {
    let recovery = json!({"recovery": {"via": "email"}});
    schema(json!({
        "emails": array_of(string(None, recovery.clone())),
        "username": string(None, recovery)
    }))
}

/// `stub/extension/recovery/no-validate.schema.json`: a docomo address
/// under `format: no-validate`, recovery via email.
fn recovery_no_validate_schema() -> Value {
    let mut email = string(Some("no-validate"), json!({"recovery": {"via": "email"}}));
    email["pattern"] = json!(format!("^{CARRIER_LOCAL}@docomo\\.ne\\.jp$"));
    schema(json!({ "email": email }))
}

/// `stub/extension/recovery/sms.schema.json`: a required telephone number
/// (`format: tel`, at least 3 characters) that is a password and code
/// identifier and a verification and recovery address via sms.
fn recovery_sms_schema() -> Value {
    let mut tel = string(
        Some("tel"),
        json!({
            "credentials": {"password": {"identifier": true}, "code": code("sms")},
            "verification": {"via": "sms"},
            "recovery": {"via": "sms"}
        }),
    );
    tel["minLength"] = json!(3);
    json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"telephoneNumber": tel},
            "required": ["telephoneNumber"], "additionalProperties": false}}})
}

/// `stub/extension/verify/email.schema.json`: emails and a username,
/// verification via email, no `format`.
fn verify_email_schema() -> Value {
    let verification = json!({"verification": {"via": "email"}});
    schema(json!({
        "emails": array_of(string(None, verification.clone())),
        "username": string(None, verification)
    }))
}

/// `stub/extension/verify/phone.schema.json`: phones and a username, all
/// `format: tel`, verification via sms.
fn verify_phone_schema() -> Value {
    let verification = json!({"verification": {"via": "sms"}});
    schema(json!({
        "phones": array_of(string(Some("tel"), verification.clone())),
        "username": string(Some("tel"), verification)
    }))
}

/// `stub/extension/verify/missing-format.schema.json`: verification via sms
/// without a `format`.
fn verify_missing_format_schema() -> Value {
    schema(json!({"phone": string(None, json!({"verification": {"via": "sms"}}))}))
}

/// `stub/extension/verify/legacy-email-missing-format.schema.json`:
/// verification via email without a `format`.
fn verify_legacy_email_schema() -> Value {
    schema(json!({"email": string(None, json!({"verification": {"via": "email"}}))}))
}

/// `stub/extension/verify/no-validate.schema.json`: verification via sms
/// under the format `format` (the stub spells it `noformat`).
fn verify_no_validate_schema(format: &str) -> Value {
    schema(json!({"phone": string(Some(format), json!({"verification": {"via": "sms"}}))}))
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn compile(raw: Value) -> Arc<IdentitySchema> {
    let mut registry = SchemaRegistry::new();
    registry.register("default", raw).expect("registers");
    registry.resolve("").expect("default").clone()
}

/// Validates `traits` and returns what they derive.
fn derive(raw: Value, mut traits: Value) -> Result<Derived, Error> {
    compile(raw).validate(&mut traits, &Limits::default())
}

fn derived(raw: Value, traits: Value) -> Derived {
    derive(raw, traits).expect("valid traits")
}

fn violations(raw: Value, traits: Value) -> Vec<Violation> {
    let err = derive(raw, traits).expect_err("invalid traits");
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    err.violations().to_vec()
}

fn violation(instance_path: &str, schema_path: &str, message: &str) -> Violation {
    Violation::new(instance_path, schema_path, message)
}

fn code_address(channel: AddressVia, address: &str) -> CodeAddress<'_> {
    CodeAddress { channel, address }
}

/// A manager over the memory store whose default schema is `raw`.
fn manager(raw: Value) -> IdentityManager {
    let mut registry = SchemaRegistry::new();
    registry.register("default", raw).expect("registers");
    IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .clock(Arc::new(FixedClock::new(ts(T0))))
        .ids(Arc::new(SequentialIds::new()))
        .build()
}

/// An identity created with `existing` traits (which give the existing
/// credentials), then updated with `traits`.
async fn rederived(
    raw: Value,
    existing: Value,
    traits: Value,
) -> (IdentityManager, Identity, Identity) {
    let manager = manager(raw);
    let created = manager
        .create(
            TENANT,
            CreateIdentityBody::from_json(json!({ "traits": existing })).expect("body"),
        )
        .await
        .expect("created");
    let updated = manager
        .update(
            TENANT,
            created.id,
            UpdateIdentityBody::from_json(json!({ "traits": traits })).expect("body"),
            None,
        )
        .await
        .expect("updated");
    (
        manager,
        std::sync::Arc::unwrap_or_clone(created),
        std::sync::Arc::unwrap_or_clone(updated),
    )
}

fn code_config(manager: &IdentityManager, identity: &Identity) -> Value {
    manager.to_json(identity, CredentialInclude::All)["credentials"]["code"]["config"].clone()
}

// ---------------------------------------------------------------------------
// TestSchemaExtensionCredentials
// ---------------------------------------------------------------------------

/// Ports `TestSchemaExtensionCredentials/case=0`.
#[test]
fn credentials_case_00_password_identifier() {
    let d = derived(credentials_schema(), json!({"email": "foo@ory.sh"}));
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        ["foo@ory.sh"]
    );
}

/// The schema path of `format` on the items of `multi_schema`'s `emails`.
const EMAILS_FORMAT: &str = "/properties/traits/properties/emails/items/format";

/// The `format: email` violation of `multi_schema`'s `emails[index]`.
fn emails_violation(index: usize, message: &str) -> Violation {
    violation(&format!("/traits/emails/{index}"), EMAILS_FORMAT, message)
}

/// Ports `TestSchemaExtensionCredentials/case=1`: emoji survive, duplicates
/// go, the username is lowercased.
#[test]
fn credentials_case_01_emoji_and_duplicates() {
    // Divergence 23: `format: email` refuses an emoji in the local part,
    // which Kratos accepts (and keeps in the identifier).
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["foo😀@ory.sh", "foo😀@ory.sh", "bar@ory.sh"], "username": "Foo🥳🖐baR"}),
        ),
        vec![
            emails_violation(0, r#""foo😀@ory.sh" is not valid "email""#),
            emails_violation(1, r#""foo😀@ory.sh" is not valid "email""#),
        ]
    );
    // The rest of the case with ASCII emails: duplicates go, the username
    // (emoji included) is lowercased.
    let d = derived(
        multi_schema(),
        json!({"emails": ["foo@ory.sh", "foo@ory.sh", "bar@ory.sh"], "username": "Foo🥳🖐baR"}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        ["foo@ory.sh", "bar@ory.sh", "foo🥳🖐bar"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=2`: WebAuthn identifiers come
/// from the emails only.
#[test]
fn credentials_case_02_webauthn_from_emails() {
    // Divergence 23: `format: email` refuses a non-ASCII local part
    // (`föo@ory.sh`), which Kratos accepts.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["föo@ory.sh", "föo@ory.sh", "bar@ory.sh"], "username": "foobar"}),
        ),
        vec![
            emails_violation(0, r#""föo@ory.sh" is not valid "email""#),
            emails_violation(1, r#""föo@ory.sh" is not valid "email""#),
        ]
    );
    // The rest of the case with ASCII emails.
    let d = derived(
        multi_schema(),
        json!({"emails": ["foo@ory.sh", "foo@ory.sh", "bar@ory.sh"], "username": "foobar"}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Webauthn)
            .collect::<Vec<_>>(),
        ["foo@ory.sh", "bar@ory.sh"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=3`: existing password
/// identifiers are replaced by the derived, lowercased ones.
#[tokio::test]
async fn credentials_case_03_existing_password_identifiers_replaced() {
    // Divergence 23: `format: email` refuses a non-ASCII local part
    // (`FÖÖ@ory.sh`), which Kratos accepts and lowercases; the update is
    // refused and the stored identifiers stay.
    let refusing = manager(multi_schema());
    let existing = refusing
        .create(
            TENANT,
            CreateIdentityBody::from_json(json!({"traits": {"username": "not-foo@ory.sh"}}))
                .expect("body"),
        )
        .await
        .expect("created");
    let err = refusing
        .update(
            TENANT,
            existing.id,
            UpdateIdentityBody::from_json(
                json!({"traits": {"emails": ["FÖÖ@ory.sh", "bar@ory.sh"], "username": "foobär"}}),
            )
            .expect("body"),
            None,
        )
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    assert_eq!(
        err.violations().to_vec(),
        vec![emails_violation(0, r#""FÖÖ@ory.sh" is not valid "email""#)]
    );
    assert_eq!(
        refusing
            .get(TENANT, existing.id)
            .await
            .expect("stored")
            .identifiers(CredentialType::Password),
        ["not-foo@ory.sh"]
    );

    // The rest of the case with ASCII emails.
    let (_, created, updated) = rederived(
        multi_schema(),
        json!({"username": "not-foo@ory.sh"}),
        json!({"emails": ["FOO@ory.sh", "bar@ory.sh"], "username": "foobär"}),
    )
    .await;
    assert_eq!(
        created.identifiers(CredentialType::Password),
        ["not-foo@ory.sh"]
    );
    // Stored identifiers are in Kratos' read order (sorted); Kratos' test
    // compares them as a set.
    assert_eq!(
        updated.identifiers(CredentialType::Password),
        ["bar@ory.sh", "foo@ory.sh", "foobär"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=4`.
#[test]
fn credentials_case_04_webauthn_identifier() {
    let d = derived(webauthn_schema(), json!({"email": "foo@ory.sh"}));
    assert_eq!(
        d.identifiers_of(CredentialType::Webauthn)
            .collect::<Vec<_>>(),
        ["foo@ory.sh"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=5`.
#[tokio::test]
async fn credentials_case_05_existing_webauthn_identifiers_replaced() {
    let (_, created, updated) = rederived(
        webauthn_schema(),
        json!({"email": "not-foo@ory.sh"}),
        json!({"email": "FOO@ory.sh"}),
    )
    .await;
    assert_eq!(
        created.identifiers(CredentialType::Webauthn),
        ["not-foo@ory.sh"]
    );
    assert_eq!(
        updated.identifiers(CredentialType::Webauthn),
        ["foo@ory.sh"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=6` and its snapshot (the code
/// credential's config).
#[test]
fn credentials_case_06_code_identifier_and_address() {
    let d = derived(code_schema(), json!({"email": "foo@ory.sh"}));
    assert_eq!(
        d.identifiers_of(CredentialType::Code).collect::<Vec<_>>(),
        ["foo@ory.sh"]
    );
    assert_eq!(
        d.code_addresses().collect::<Vec<_>>(),
        vec![code_address(AddressVia::Email, "foo@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=7` and its snapshot.
#[tokio::test]
async fn credentials_case_07_existing_code_identifiers_replaced() {
    let (manager, created, updated) = rederived(
        code_schema(),
        json!({"email": "not-foo@ory.sh"}),
        json!({"email": "FOO@ory.sh"}),
    )
    .await;
    assert_eq!(
        created.identifiers(CredentialType::Code),
        ["not-foo@ory.sh"]
    );
    assert_eq!(updated.identifiers(CredentialType::Code), ["foo@ory.sh"]);
    assert_eq!(
        code_config(&manager, &updated),
        json!({"addresses": [{"channel": "email", "address": "foo@ory.sh"}]})
    );
}

/// Ports `TestSchemaExtensionCredentials/case=8` and its snapshot: the
/// existing code config's addresses are replaced too. (Kratos' existing
/// credential also lists `foo@ory.sh`; this schema can give one identifier
/// only, so the existing one is `not-foo@ory.sh`.)
#[tokio::test]
async fn credentials_case_08_existing_code_config_replaced() {
    let (manager, created, updated) = rederived(
        code_schema(),
        json!({"email": "not-foo@ory.sh"}),
        json!({"email": "FOO@ory.sh"}),
    )
    .await;
    assert_eq!(
        code_config(&manager, &created),
        json!({"addresses": [{"channel": "email", "address": "not-foo@ory.sh"}]})
    );
    assert_eq!(updated.identifiers(CredentialType::Code), ["foo@ory.sh"]);
    assert_eq!(
        code_config(&manager, &updated),
        json!({"addresses": [{"channel": "email", "address": "foo@ory.sh"}]})
    );
}

/// The code credential of cases 9 to 12; its config lists sms first (`+`
/// sorts before letters), then the emails, by address.
async fn code_phone_email_case(
    existing: Value,
    traits: Value,
    identifiers: &[&str],
    addresses: Value,
) {
    let (manager, created, updated) = rederived(code_phone_email_schema(), existing, traits).await;
    // Stored identifiers are in Kratos' read order (sorted); Kratos' test
    // compares them as a set.
    assert_eq!(
        created.identifiers(CredentialType::Code),
        ["foo@ory.sh", "not-foo@ory.sh"]
    );
    assert_eq!(updated.identifiers(CredentialType::Code), identifiers);
    assert_eq!(
        code_config(&manager, &updated),
        json!({ "addresses": addresses })
    );
}

/// Ports `TestSchemaExtensionCredentials/case=9` and its snapshot.
#[tokio::test]
async fn credentials_case_09_code_phone_and_email() {
    code_phone_email_case(
        json!({"email": "not-foo@ory.sh", "email2": "foo@ory.sh"}),
        json!({"email": "FOO@ory.sh", "phone": "+49 176 671 11 638"}),
        &["+4917667111638", "foo@ory.sh"],
        json!([{"channel": "sms", "address": "+4917667111638"},
               {"channel": "email", "address": "foo@ory.sh"}]),
    )
    .await;
}

/// Ports `TestSchemaExtensionCredentials/case=10` (the same inputs as case
/// 9) and its snapshot.
#[tokio::test]
async fn credentials_case_10_code_phone_and_email_again() {
    code_phone_email_case(
        json!({"email": "not-foo@ory.sh", "email2": "foo@ory.sh"}),
        json!({"email": "FOO@ory.sh", "phone": "+49 176 671 11 638"}),
        &["+4917667111638", "foo@ory.sh"],
        json!([{"channel": "sms", "address": "+4917667111638"},
               {"channel": "email", "address": "foo@ory.sh"}]),
    )
    .await;
}

/// Ports `TestSchemaExtensionCredentials/case=11` and its snapshot: one
/// email under two traits is one identifier and one address. (Kratos'
/// existing identifier `fOo@ory.sh` is stored normalised here.)
#[tokio::test]
async fn credentials_case_11_code_duplicate_email_traits() {
    code_phone_email_case(
        json!({"email": "not-foo@ory.sh", "email2": "fOo@ory.sh"}),
        json!({"email": "FOO@ory.sh", "email2": "FOO@ory.sh", "phone": "+49 176 671 11 638"}),
        &["+4917667111638", "foo@ory.sh"],
        json!([{"channel": "sms", "address": "+4917667111638"},
               {"channel": "email", "address": "foo@ory.sh"}]),
    )
    .await;
}

/// Ports `TestSchemaExtensionCredentials/case=12` and its snapshot.
#[tokio::test]
async fn credentials_case_12_code_three_emails_and_phone() {
    code_phone_email_case(
        json!({"email": "not-foo@ory.sh", "email2": "fOo@ory.sh"}),
        json!({"email": "FOO@ory.sh", "email2": "FOO@ory.sh", "email3": "bar@ory.sh",
               "phone": "+49 176 671 11 638"}),
        &["+4917667111638", "bar@ory.sh", "foo@ory.sh"],
        json!([{"channel": "sms", "address": "+4917667111638"},
               {"channel": "email", "address": "bar@ory.sh"},
               {"channel": "email", "address": "foo@ory.sh"}]),
    )
    .await;
}

/// Ports `TestSchemaExtensionCredentials/case=13` and its snapshot: Kratos'
/// email preset.
#[tokio::test]
async fn credentials_case_13_email_preset_code_replaced() {
    let (manager, created, updated) = rederived(
        email_preset_schema(),
        json!({"email": "foo@ory.sh"}),
        json!({"email": "bar@ory.sh"}),
    )
    .await;
    assert_eq!(
        code_config(&manager, &created),
        json!({"addresses": [{"channel": "email", "address": "foo@ory.sh"}]})
    );
    assert_eq!(updated.identifiers(CredentialType::Code), ["bar@ory.sh"]);
    assert_eq!(
        code_config(&manager, &updated),
        json!({"addresses": [{"channel": "email", "address": "bar@ory.sh"}]})
    );
}

/// Ports `TestSchemaExtensionCredentials/case=14`: password identifiers
/// from emails and a phone (in E.164).
#[test]
fn credentials_case_14_password_from_emails_and_phone() {
    let d = derived(
        code_phone_email_schema(),
        json!({"email": "foo@ory.sh", "email2": "foo@ory.sh", "email3": "bar@ory.sh",
               "phone": "+49 176 671 11 638"}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        ["foo@ory.sh", "bar@ory.sh", "+4917667111638"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=15`: an existing phone
/// identifier ends up in E.164.
#[tokio::test]
async fn credentials_case_15_existing_phone_identifier_normalised() {
    let traits = json!({"email": "foo@ory.sh", "phone": "+49 176 671 11 638"});
    let (_, _, updated) = rederived(code_phone_email_schema(), traits.clone(), traits).await;
    // Stored identifiers are in Kratos' read order (sorted).
    assert_eq!(
        updated.identifiers(CredentialType::Password),
        ["+4917667111638", "foo@ory.sh"]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=16`: an emoji in the domain is
/// not an email.
#[test]
fn credentials_case_16_emoji_domain_is_invalid() {
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["bar@o😶ry.sh"], "username": "Foo🥳🖐baR"})
        ),
        vec![violation(
            "/traits/emails/0",
            "/properties/traits/properties/emails/items/format",
            r#""bar@o😶ry.sh" is not valid "email""#
        )]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=17`: a non-ASCII domain is not
/// an email.
#[test]
fn credentials_case_17_non_ascii_domain_is_invalid() {
    assert_eq!(
        violations(webauthn_schema(), json!({"email": "foo@öry.sh"})),
        vec![violation(
            "/traits/email",
            "/properties/traits/properties/email/format",
            r#""foo@öry.sh" is not valid "email""#
        )]
    );
}

fn multi_password(emails: &[String], username: &str, expected: &[&str]) {
    let d = derived(
        multi_schema(),
        json!({"emails": emails, "username": username}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        expected
    );
}

/// Ports `TestSchemaExtensionCredentials/case=18`: a zero-width space in an
/// email.
#[test]
fn credentials_case_18_zero_width_space_in_email() {
    // Divergence 23: `format: email` refuses the zero-width space, which
    // Kratos accepts and strips.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["ad\u{200B}min@ory.sh"], "username": "zwsp-email"}),
        ),
        vec![emails_violation(
            0,
            "\"ad\u{200B}min@ory.sh\" is not valid \"email\""
        )]
    );
    // The username with an ASCII email.
    multi_password(
        &["admin@ory.sh".into()],
        "zwsp-email",
        &["admin@ory.sh", "zwsp-email"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=19`: ZWSP, ZWJ and a soft
/// hyphen in one email.
#[test]
fn credentials_case_19_several_invisibles_in_email() {
    // Divergence 23: `format: email` refuses the zero-width space, the
    // zero-width joiner and the soft hyphen, which Kratos accepts and strips.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["a\u{200B}d\u{200D}mi\u{00AD}n@ory.sh"], "username": "multi-email"}),
        ),
        vec![emails_violation(
            0,
            "\"a\u{200B}d\u{200D}mi\u{00AD}n@ory.sh\" is not valid \"email\""
        )]
    );
    // The username with an ASCII email.
    multi_password(
        &["admin@ory.sh".into()],
        "multi-email",
        &["admin@ory.sh", "multi-email"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=20`: a BOM prefix and a word
/// joiner in an email.
#[test]
fn credentials_case_20_bom_and_word_joiner_in_email() {
    // Divergence 23: `format: email` refuses the BOM and the word joiner,
    // which Kratos accepts and strips.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["\u{FEFF}admin\u{2060}@ory.sh"], "username": "bom-email"}),
        ),
        vec![emails_violation(
            0,
            "\"\u{FEFF}admin\u{2060}@ory.sh\" is not valid \"email\""
        )]
    );
    // The username with an ASCII email.
    multi_password(
        &["admin@ory.sh".into()],
        "bom-email",
        &["admin@ory.sh", "bom-email"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=21`: a right-to-left override
/// in an email.
#[test]
fn credentials_case_21_rlo_in_email() {
    // Divergence 23: `format: email` refuses the right-to-left override,
    // which Kratos accepts and strips.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["ad\u{202E}min@ory.sh"], "username": "rlo-email"}),
        ),
        vec![emails_violation(
            0,
            "\"ad\u{202E}min@ory.sh\" is not valid \"email\""
        )]
    );
    // The username with an ASCII email.
    multi_password(
        &["admin@ory.sh".into()],
        "rlo-email",
        &["admin@ory.sh", "rlo-email"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=22`: a zero-width space in a
/// username.
#[test]
fn credentials_case_22_zero_width_space_in_username() {
    multi_password(
        &["zwsp-user@ory.sh".into()],
        "ad\u{200B}min",
        &["zwsp-user@ory.sh", "admin"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=23`: ZWNJ, combining grapheme
/// joiner, Hangul filler and VS16 in a username.
#[test]
fn credentials_case_23_default_ignorables_in_username() {
    multi_password(
        &["multi-user@ory.sh".into()],
        "a\u{200C}d\u{034F}m\u{3164}i\u{FE0F}n",
        &["multi-user@ory.sh", "admin"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=24`: RLO, word joiner and soft
/// hyphen around a username.
#[test]
fn credentials_case_24_bidi_and_joiners_around_username() {
    multi_password(
        &["rlo-user@ory.sh".into()],
        "\u{202E}ad\u{2060}min\u{00AD}",
        &["rlo-user@ory.sh", "admin"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=25`: two differently poisoned
/// spellings of one email are one identifier.
#[test]
fn credentials_case_25_poisoned_variants_dedupe() {
    // Divergence 23: `format: email` refuses both poisoned spellings (a
    // zero-width space, a soft hyphen), which Kratos accepts, strips and
    // dedupes.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["ad\u{200B}min@ory.sh", "ad\u{00AD}min@ory.sh"], "username": "dedup"}),
        ),
        vec![
            emails_violation(0, "\"ad\u{200B}min@ory.sh\" is not valid \"email\""),
            emails_violation(1, "\"ad\u{00AD}min@ory.sh\" is not valid \"email\""),
        ]
    );
    // The rest of the case with ASCII emails: two spellings of one email
    // (differing in case) are one identifier.
    multi_password(
        &["admin@ory.sh".into(), "ADMIN@ory.sh".into()],
        "dedup",
        &["admin@ory.sh", "dedup"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=26`: NFKC does not fold a
/// Cyrillic `а` (U+0430) into a Latin `a`.
#[test]
fn credentials_case_26_cyrillic_username_stays_distinct() {
    multi_password(
        &["homoglyph@ory.sh".into()],
        "\u{0430}dmin",
        &["homoglyph@ory.sh", "\u{0430}dmin"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=27`: two emails differing by a
/// confusable letter are two identifiers.
#[test]
fn credentials_case_27_confusable_emails_stay_distinct() {
    // Divergence 23: `format: email` refuses the email with a Cyrillic `а`
    // (U+0430) in its local part, which Kratos accepts as an identifier of
    // its own; the two emails cannot be confused.
    assert_eq!(
        violations(
            multi_schema(),
            json!({"emails": ["admin@ory.sh", "\u{0430}dmin@ory.sh"], "username": "confusable-emails"}),
        ),
        vec![emails_violation(
            1,
            "\"\u{0430}dmin@ory.sh\" is not valid \"email\""
        )]
    );
    // The username with the ASCII email.
    multi_password(
        &["admin@ory.sh".into()],
        "confusable-emails",
        &["admin@ory.sh", "confusable-emails"],
    );
}

/// Ports `TestSchemaExtensionCredentials/case=28` and its snapshot: a
/// carrier address under `format: no-validate`.
#[test]
fn credentials_case_28_no_validate_carrier_address() {
    let d = derived(
        code_no_validate_schema(),
        json!({"email": "foo.@docomo.ne.jp"}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Code).collect::<Vec<_>>(),
        ["foo.@docomo.ne.jp"]
    );
    assert_eq!(
        d.code_addresses().collect::<Vec<_>>(),
        vec![code_address(AddressVia::Email, "foo.@docomo.ne.jp")]
    );
}

/// Ports `TestSchemaExtensionCredentials/case=29` and its snapshot: the
/// same, uppercase, is lowercased.
#[test]
fn credentials_case_29_no_validate_carrier_address_lowercased() {
    let d = derived(
        code_no_validate_schema(),
        json!({"email": "FOO.@docomo.ne.jp"}),
    );
    assert_eq!(
        d.identifiers_of(CredentialType::Code).collect::<Vec<_>>(),
        ["foo.@docomo.ne.jp"]
    );
    assert_eq!(
        d.code_addresses().collect::<Vec<_>>(),
        vec![code_address(AddressVia::Email, "foo.@docomo.ne.jp")]
    );
}

/// Ports `TestSchemaExtensionCredentialsCodeNoValidateAddress`: the stored
/// code address is the normalised one a login-code lookup compares with.
#[tokio::test]
async fn credentials_code_no_validate_address() {
    let manager = manager(code_no_validate_schema());
    let created = manager
        .create(
            TENANT,
            CreateIdentityBody::from_json(json!({"traits": {"email": "FOO.@docomo.ne.jp"}}))
                .expect("body"),
        )
        .await
        .expect("created");
    assert_eq!(
        code_config(&manager, &created),
        json!({"addresses": [{"channel": "email", "address": "foo.@docomo.ne.jp"}]})
    );
    let found = manager
        .find_by_identifier(TENANT, CredentialType::Code, "FOO.@docomo.ne.jp")
        .await
        .expect("found by its code identifier");
    assert_eq!(found.id, created.id);
}

// ---------------------------------------------------------------------------
// TestSchemaExtensionVerification
// ---------------------------------------------------------------------------

fn existing_id(n: u128) -> Uuid {
    Uuid::from_u128(0xE000 + n)
}

/// An address the identity had before (created at T0).
fn had(n: u128, via: AddressVia, value: &str, verified: bool) -> VerifiableAddress {
    VerifiableAddress {
        id: existing_id(n),
        value: value.into(),
        verified,
        via,
        status: if verified {
            VerificationStatus::Completed
        } else {
            VerificationStatus::Pending
        },
        verified_at: verified.then(|| ts(T0)),
        created_at: ts(T0),
        updated_at: ts(T0),
    }
}

/// A new address, the `n`th id handed out (at T1).
fn new_verifiable(n: u128, via: AddressVia, value: &str) -> VerifiableAddress {
    VerifiableAddress {
        id: id(n),
        value: value.into(),
        verified: false,
        via,
        status: VerificationStatus::Pending,
        verified_at: None,
        created_at: ts(T1),
        updated_at: ts(T1),
    }
}

/// The verifiable addresses `traits` give an identity that had `existing`.
fn verifiable(raw: Value, traits: Value, existing: &[VerifiableAddress]) -> Vec<VerifiableAddress> {
    let d = derived(raw, traits);
    reconcile_verifiable(
        d.verifiable_addresses(),
        existing,
        ts(T1),
        &SequentialIds::new(),
    )
}

use AddressVia::{Email, Sms};

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// create new address`.
#[test]
fn verification_email_creates_new_address() {
    assert_eq!(
        verifiable(
            verify_email_schema(),
            json!({"username": "foo@ory.sh"}),
            &[]
        ),
        vec![new_verifiable(1, Email, "foo@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// create new address because new and existing doesn't match`.
#[test]
fn verification_email_replaces_unmatched_address() {
    assert_eq!(
        verifiable(
            verify_email_schema(),
            json!({"username": "foo@ory.sh"}),
            &[had(1, Email, "bar@ory.sh", false)]
        ),
        vec![new_verifiable(1, Email, "foo@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// find existing address in case of match`.
#[test]
fn verification_email_keeps_matching_address() {
    assert_eq!(
        verifiable(
            verify_email_schema(),
            json!({"emails": ["baz@ory.sh", "foo@ory.sh"]}),
            &[
                had(1, Email, "foo@ory.sh", true),
                had(2, Email, "bar@ory.sh", true)
            ]
        ),
        vec![
            new_verifiable(1, Email, "baz@ory.sh"),
            had(1, Email, "foo@ory.sh", true)
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// return only one address in case of duplication`.
#[test]
fn verification_email_duplicates_are_one_address() {
    assert_eq!(
        verifiable(
            verify_email_schema(),
            json!({"emails": ["foo@ory.sh", "foo@ory.sh", "baz@ory.sh"]}),
            &[
                had(1, Email, "foo@ory.sh", true),
                had(2, Email, "bar@ory.sh", true)
            ]
        ),
        vec![
            had(1, Email, "foo@ory.sh", true),
            new_verifiable(1, Email, "baz@ory.sh")
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// return error for malformed input`: a trait verified via email without a
/// `format` must be an email (Divergence 5 agrees with Kratos here).
#[test]
fn verification_email_malformed_input() {
    assert_eq!(
        violations(
            verify_email_schema(),
            json!({"emails": ["foo@ory.sh", "bar@ory.sh"], "username": "foobar"})
        ),
        vec![violation(
            "/traits/username",
            "/properties/traits/properties/username/format",
            r#""foobar" is not valid "email""#
        )]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=email:must
/// merge email addresses from multiple attributes`.
#[test]
fn verification_email_merges_attributes() {
    assert_eq!(
        verifiable(
            verify_email_schema(),
            json!({"emails": ["foo@ory.sh", "bar@ory.sh", "bar@ory.sh"], "username": "foobar@ory.sh"}),
            &[]
        ),
        vec![
            new_verifiable(1, Email, "foo@ory.sh"),
            new_verifiable(2, Email, "bar@ory.sh"),
            new_verifiable(3, Email, "foobar@ory.sh")
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// create new address`.
#[test]
fn verification_phone_creates_new_address() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"username": "+18004444444"}),
            &[]
        ),
        vec![new_verifiable(1, Sms, "+18004444444")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// create new address because new and existing doesn't match`.
#[test]
fn verification_phone_replaces_unmatched_address() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"username": "+18004444444"}),
            &[had(1, Sms, "+442087599036", false)]
        ),
        vec![new_verifiable(1, Sms, "+18004444444")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// find existing addresses in case of match`.
#[test]
fn verification_phone_keeps_matching_address() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"phones": ["+18004444444", "+442087599036"]}),
            &[
                had(1, Sms, "+442087599036", true),
                had(2, Sms, "+380634872774", true)
            ]
        ),
        vec![
            new_verifiable(1, Sms, "+18004444444"),
            had(1, Sms, "+442087599036", true)
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// return only one address in case of duplication`.
#[test]
fn verification_phone_duplicates_are_one_address() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"phones": ["+18004444444", "+18004444444", "+442087599036"]}),
            &[
                had(1, Sms, "+18004444444", false),
                had(2, Sms, "+380634872774", true)
            ]
        ),
        vec![
            had(1, Sms, "+18004444444", false),
            new_verifiable(1, Sms, "+442087599036")
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// merge phones from multiple attributes`.
#[test]
fn verification_phone_merges_attributes() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"phones": ["+18004444444", "+18004444444", "+442087599036"],
                   "username": "+380634872774"}),
            &[]
        ),
        vec![
            new_verifiable(1, Sms, "+18004444444"),
            new_verifiable(2, Sms, "+442087599036"),
            new_verifiable(3, Sms, "+380634872774")
        ]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:must
/// return error for malformed input`. Kratos adds the extension's own
/// "can not be normalized" line under the format violation; here the
/// extension reads only traits that passed validation (SPEC §2), so the
/// format violation is the one reported.
#[test]
fn verification_phone_malformed_input() {
    assert_eq!(
        violations(
            verify_phone_schema(),
            json!({"phones": ["+18004444444", "+18004444444", "12112112"],
                   "username": "+380634872774"})
        ),
        vec![violation(
            "/traits/phones/2",
            "/properties/traits/properties/phones/items/format",
            r#""12112112" is not valid "tel""#
        )]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=missing
/// format returns an error`. SPEC §2: verification via sms without a
/// `format` is a schema error, refused at registration rather than at
/// every validation.
#[test]
fn verification_sms_without_format_is_a_schema_error() {
    let err = SchemaRegistry::new()
        .register("default", verify_missing_format_schema())
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Schema);
    assert_eq!(
        err.to_string(),
        "invalid identity schema \"default\": ory.sh/kratos at /properties/traits/properties/phone: \
         a value verified via sms needs `\"format\": \"tel\"` (or `\"format\": \"no-validate\"` to opt out of checking)"
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=missing
/// format works for email if format is missing`.
#[test]
fn verification_email_without_format_works() {
    assert_eq!(
        verifiable(
            verify_legacy_email_schema(),
            json!({"email": "user@ory.sh"}),
            &[]
        ),
        vec![new_verifiable(1, Email, "user@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=format:
/// no-validate works`. The test's name says `no-validate`, its stub says
/// `noformat` (a format nobody defines): Kratos treats any format other
/// than `email` and `tel` as "take the value as it is". Both are checked,
/// the name's first (it works); the stub's is refused here.
#[test]
fn verification_sms_under_no_validate_works() {
    let got = derive(
        verify_no_validate_schema("no-validate"),
        json!({"phone": "not a phone number"}),
    )
    .map(|d| reconcile_verifiable(d.verifiable_addresses(), &[], ts(T1), &SequentialIds::new()))
    .map_err(|e| e.to_string());
    assert_eq!(
        got,
        Ok(vec![new_verifiable(1, Sms, "not a phone number")]),
        "format no-validate"
    );

    // Divergence 24: a value verified via sms needs `"format": "tel"` or
    // `"format": "no-validate"`; the stub's `noformat` is refused at
    // registration (Kratos takes the value as it is).
    let err = SchemaRegistry::new()
        .register("default", verify_no_validate_schema("noformat"))
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Schema);
    assert_eq!(
        err.to_string(),
        "invalid identity schema \"default\": ory.sh/kratos at /properties/traits/properties/phone: \
         a value verified via sms needs `\"format\": \"tel\"` (or `\"format\": \"no-validate\"` to opt out of checking)"
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:should
/// parse +16453331111`.
#[test]
fn verification_phone_parses_16453331111() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"phones": ["+16453331111"]}),
            &[]
        ),
        vec![new_verifiable(1, Sms, "+16453331111")]
    );
}

/// Ports `TestSchemaExtensionVerification/address verification/case=phone:should
/// normalize +1 (645) 333-1111 to +16453331111`.
#[test]
fn verification_phone_normalises_to_e164() {
    assert_eq!(
        verifiable(
            verify_phone_schema(),
            json!({"phones": ["+1 (645) 333-1111"]}),
            &[]
        ),
        vec![new_verifiable(1, Sms, "+16453331111")]
    );
}

/// Ports `TestSchemaExtensionVerification_PreservesVerifiedWhenExistingValueIsNotNormalized`:
/// an address stored before normalisation (`+49 0176 67111638`, trunk
/// prefix and all) still matches its trait and stays verified; its value
/// becomes the E.164 form.
#[test]
fn verification_keeps_verified_address_stored_unnormalised() {
    let raw = "+49 0176 67111638";
    let existing = had(1, Sms, raw, true);
    let got = verifiable(
        verify_phone_schema(),
        json!({ "username": raw }),
        std::slice::from_ref(&existing),
    );
    assert_eq!(
        got,
        vec![VerifiableAddress {
            value: "+4917667111638".into(),
            updated_at: ts(T1),
            ..existing
        }]
    );
}

fn derived_address(via: AddressVia, value: &str) -> DerivedAddress<'_> {
    DerivedAddress { via, value }
}

/// Ports `TestMergeVerifiableAddresses/case=empty base`: nothing derived,
/// nothing kept.
#[test]
fn merge_verifiable_addresses_empty_base() {
    let got = reconcile_verifiable(
        [],
        &[had(1, Email, "override@ory.sh", false)],
        ts(T1),
        &SequentialIds::new(),
    );
    assert_eq!(got, Vec::<VerifiableAddress>::new());
}

/// Ports `TestMergeVerifiableAddresses/case=no overlap`.
#[test]
fn merge_verifiable_addresses_no_overlap() {
    let got = reconcile_verifiable(
        [derived_address(Email, "base@ory.sh")],
        &[had(1, Email, "override@ory.sh", false)],
        ts(T1),
        &SequentialIds::new(),
    );
    assert_eq!(got, vec![new_verifiable(1, Email, "base@ory.sh")]);
}

/// Ports `TestMergeVerifiableAddresses/case=overrides`: a stored address
/// replaces the derived one only on the same channel. (Kratos' channels
/// `no match` and `wrong via` cannot be written here: the channel mismatch
/// is email against sms.)
#[test]
fn merge_verifiable_addresses_overrides() {
    let got = reconcile_verifiable(
        [
            derived_address(Email, "base@ory.sh"),
            derived_address(Email, "common-1-is-overwritten@ory.sh"),
            derived_address(Sms, "common-2-is-ignored@ory.sh"),
        ],
        &[
            had(1, Email, "common-1-is-overwritten@ory.sh", true),
            had(2, Email, "common-2-is-ignored@ory.sh", false),
            had(3, Email, "override-only-is-ignored@ory.sh", false),
        ],
        ts(T1),
        &SequentialIds::new(),
    );
    assert_eq!(
        got,
        vec![
            new_verifiable(1, Email, "base@ory.sh"),
            had(1, Email, "common-1-is-overwritten@ory.sh", true),
            new_verifiable(2, Sms, "common-2-is-ignored@ory.sh"),
        ]
    );
}

// ---------------------------------------------------------------------------
// TestSchemaExtensionRecovery
// ---------------------------------------------------------------------------

fn had_recovery(n: u128, via: AddressVia, value: &str) -> RecoveryAddress {
    RecoveryAddress {
        id: existing_id(n),
        value: value.into(),
        via,
        created_at: ts(T0),
        updated_at: ts(T0),
    }
}

fn new_recovery(n: u128, via: AddressVia, value: &str) -> RecoveryAddress {
    RecoveryAddress {
        id: id(n),
        value: value.into(),
        via,
        created_at: ts(T1),
        updated_at: ts(T1),
    }
}

/// The recovery addresses `traits` give an identity that had `existing`.
fn recovery(raw: Value, traits: Value, existing: &[RecoveryAddress]) -> Vec<RecoveryAddress> {
    let d = derived(raw, traits);
    reconcile_recovery(
        d.recovery_addresses(),
        existing,
        ts(T1),
        &SequentialIds::new(),
    )
}

/// Ports `TestSchemaExtensionRecovery/case=0 description=valid email, no existing`.
#[test]
fn recovery_case_00_valid_email_no_existing() {
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"username": "foo@ory.sh"}),
            &[]
        ),
        vec![new_recovery(1, Email, "foo@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=1 description=valid email, some
/// existing, no overlap`.
#[test]
fn recovery_case_01_valid_email_existing_without_overlap() {
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"username": "foo@ory.sh"}),
            &[had_recovery(1, Email, "bar@ory.sh")]
        ),
        vec![new_recovery(1, Email, "foo@ory.sh")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=2 description=valid emails, some
/// existing, overlap`.
#[test]
fn recovery_case_02_valid_emails_existing_with_overlap() {
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"emails": ["baz@ory.sh", "foo@ory.sh"]}),
            &[
                had_recovery(1, Email, "foo@ory.sh"),
                had_recovery(2, Email, "bar@ory.sh")
            ]
        ),
        vec![
            new_recovery(1, Email, "baz@ory.sh"),
            had_recovery(1, Email, "foo@ory.sh")
        ]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=3 description=valid emails, no
/// existing, overlap` (its table does give existing addresses).
#[test]
fn recovery_case_03_duplicate_emails_with_existing() {
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"emails": ["foo@ory.sh", "foo@ory.sh", "baz@ory.sh"]}),
            &[
                had_recovery(1, Email, "foo@ory.sh"),
                had_recovery(2, Email, "bar@ory.sh")
            ]
        ),
        vec![
            had_recovery(1, Email, "foo@ory.sh"),
            new_recovery(1, Email, "baz@ory.sh")
        ]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=4 description=invalid email`
/// (Divergence 5 agrees with Kratos here: recovery via email without a
/// `format` needs an email).
#[test]
fn recovery_case_04_invalid_email() {
    assert_eq!(
        violations(
            recovery_email_schema(),
            json!({"emails": ["foo@ory.sh", "bar@ory.sh"], "username": "foobar"})
        ),
        vec![violation(
            "/traits/username",
            "/properties/traits/properties/username/format",
            r#""foobar" is not valid "email""#
        )]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=5 description=valid emails, no existing`.
#[test]
fn recovery_case_05_valid_emails_no_existing() {
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"emails": ["foo@ory.sh", "bar@ory.sh", "bar@ory.sh"], "username": "foobar@ory.sh"}),
            &[]
        ),
        vec![
            new_recovery(1, Email, "foo@ory.sh"),
            new_recovery(2, Email, "bar@ory.sh"),
            new_recovery(3, Email, "foobar@ory.sh")
        ]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=6 description=valid phone number
/// normalization`.
#[test]
fn recovery_case_06_phone_normalised() {
    assert_eq!(
        recovery(
            recovery_sms_schema(),
            json!({"telephoneNumber": "+33 6 12 34 56 78"}),
            &[]
        ),
        vec![new_recovery(1, Sms, "+33612345678")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=7 description=valid phone number,
/// no existing`.
#[test]
fn recovery_case_07_valid_phone_no_existing() {
    assert_eq!(
        recovery(
            recovery_sms_schema(),
            json!({"telephoneNumber": "+68672098006"}),
            &[]
        ),
        vec![new_recovery(1, Sms, "+68672098006")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=8 description=valid phone number,
/// some existing, no overlap`.
#[test]
fn recovery_case_08_valid_phone_existing_without_overlap() {
    assert_eq!(
        recovery(
            recovery_sms_schema(),
            json!({"telephoneNumber": "+68672098006"}),
            &[had_recovery(1, Sms, "+12 345 67890123")]
        ),
        vec![new_recovery(1, Sms, "+68672098006")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=9 description=valid phone number,
/// some existing, overlap`.
#[test]
fn recovery_case_09_valid_phone_existing_with_overlap() {
    assert_eq!(
        recovery(
            recovery_sms_schema(),
            json!({"telephoneNumber": "+68672098006"}),
            &[
                had_recovery(1, Sms, "+68672098006"),
                had_recovery(2, Sms, "+33 07856952")
            ]
        ),
        vec![had_recovery(1, Sms, "+68672098006")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=10 description=invalid phone
/// number`. Kratos repeats the failure from the extension ("is not valid
/// "tel" for "sms""); here the extension reads only traits that passed
/// validation (SPEC §2).
#[test]
fn recovery_case_10_invalid_phone() {
    assert_eq!(
        violations(recovery_sms_schema(), json!({"telephoneNumber": "foobar"})),
        vec![violation(
            "/traits/telephoneNumber",
            "/properties/traits/properties/telephoneNumber/format",
            r#""foobar" is not valid "tel""#
        )]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=11 description=phone number that
/// fails normalization` (as case 10).
#[test]
fn recovery_case_11_phone_too_short() {
    assert_eq!(
        violations(recovery_sms_schema(), json!({"telephoneNumber": "+1234"})),
        vec![violation(
            "/traits/telephoneNumber",
            "/properties/traits/properties/telephoneNumber/format",
            r#""+1234" is not valid "tel""#
        )]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=13 description=break_glass null
/// preserved on existing recovery address`: the existing record is kept as
/// it was. (Case 12, a non-null `break_glass_for_organization`, has no
/// equivalent: recovery addresses here carry no such field.)
#[test]
fn recovery_case_13_existing_record_kept_as_is() {
    let existing = had_recovery(1, Email, "foo@ory.sh");
    assert_eq!(
        recovery(
            recovery_email_schema(),
            json!({"username": "foo@ory.sh"}),
            std::slice::from_ref(&existing)
        ),
        vec![existing]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=14 description=docomo email under
/// no-validate is accepted`.
#[test]
fn recovery_case_14_carrier_address_under_no_validate() {
    assert_eq!(
        recovery(
            recovery_no_validate_schema(),
            json!({"email": "foo.@docomo.ne.jp"}),
            &[]
        ),
        vec![new_recovery(1, Email, "foo.@docomo.ne.jp")]
    );
}

/// Ports `TestSchemaExtensionRecovery/case=15 description=docomo email under
/// no-validate is normalized`.
#[test]
fn recovery_case_15_carrier_address_lowercased() {
    assert_eq!(
        recovery(
            recovery_no_validate_schema(),
            json!({"email": "FOO.@docomo.ne.jp"}),
            &[]
        ),
        vec![new_recovery(1, Email, "foo.@docomo.ne.jp")]
    );
}

/// Ports `TestSchemaExtensionRecovery_PreservesExistingRecordWhenValueIsNotNormalized`:
/// a record stored before normalisation keeps its id; its value becomes
/// the E.164 form. (Its `break_glass_for_organization` half has no
/// equivalent here.)
#[test]
fn recovery_keeps_record_stored_unnormalised() {
    let raw = "+49 0176 67111638";
    let existing = had_recovery(1, Sms, raw);
    assert_eq!(
        recovery(
            recovery_sms_schema(),
            json!({ "telephoneNumber": raw }),
            std::slice::from_ref(&existing)
        ),
        vec![RecoveryAddress {
            value: "+4917667111638".into(),
            updated_at: ts(T1),
            ..existing
        }]
    );
}

// ---------------------------------------------------------------------------
// schema/extension_test.go: TestExtensionRunner
// ---------------------------------------------------------------------------

fn runner_extension() -> Value {
    json!({"credentials": {"password": {"identifier": true}, "totp": {"account_name": true}}})
}

/// Ports `TestExtensionRunner/method=get identifier/case=0`: the identifier,
/// and where the TOTP account name comes from (this library records the
/// setting at its site; it derives no account-name values).
#[test]
fn runner_get_identifier_case_0() {
    let raw = schema(json!({"email": string(Some("email"), runner_extension())}));
    let compiled = compile(raw.clone());
    let sites: Vec<(Vec<Step>, bool, bool)> = compiled
        .sites()
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                s.extension.password_identifier,
                s.extension.totp_account_name,
            )
        })
        .collect();
    assert_eq!(sites, vec![(vec![Step::Key("email".into())], true, true)]);
    let d = derived(raw, json!({"email": "foo@ory.sh"}));
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        ["foo@ory.sh"]
    );
}

/// Ports `TestExtensionRunner/method=get identifier/case=1`: the same under
/// array items.
#[test]
fn runner_get_identifier_case_1() {
    let raw = schema(json!({"emails": array_of(string(Some("email"), runner_extension()))}));
    let compiled = compile(raw.clone());
    let sites: Vec<(Vec<Step>, bool, bool)> = compiled
        .sites()
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                s.extension.password_identifier,
                s.extension.totp_account_name,
            )
        })
        .collect();
    assert_eq!(
        sites,
        vec![(vec![Step::Key("emails".into()), Step::EachItem], true, true)]
    );
    let d = derived(raw, json!({"emails": ["foo@ory.sh", "bar@ory.sh"]}));
    assert_eq!(
        d.identifiers_of(CredentialType::Password)
            .collect::<Vec<_>>(),
        ["foo@ory.sh", "bar@ory.sh"]
    );
}

/// Ports `TestExtensionRunner/method=applies meta schema`: an `identifier`
/// that is not a boolean is refused when the schema is compiled.
#[test]
fn runner_applies_meta_schema() {
    let raw = schema(json!({"email": string(Some("email"),
        json!({"credentials": {"password": {"identifier": 0}}}))}));
    let err = SchemaRegistry::new()
        .register("default", raw)
        .expect_err("identifier must be a boolean");
    assert_eq!(err.kind(), ErrorKind::Schema);
    assert!(
        err.to_string().contains("expected boolean, but got number"),
        "{err}"
    );
}
