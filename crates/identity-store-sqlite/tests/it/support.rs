//! Fixtures, store factories and the helpers the child-process tests share.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use identity_core::{
    AddressVia, CredentialType, Identity, IdentityStore, IdentityStoreExt, ListFilter, TenantId,
    ValidIdentity,
};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use uuid::Uuid;

/// The environment variable that puts a re-executed test binary in a child
/// mode (its value: `<mode>:<database path>[:<argument>]`).
pub(crate) const CHILD_ENV: &str = "IDENTITY_STORE_SQLITE_CHILD";

pub(crate) const T0: &str = "2026-03-04T05:06:07.123456Z";
pub(crate) const T1: &str = "2026-03-05T06:07:08.654321Z";

/// A fresh file-backed store in its own temporary directory.
pub(crate) fn file_store() -> (SqliteStore, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("identities.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path"), SqliteOptions::default())
        .expect("open store");
    (store, dir, path)
}

/// A consistent identity: its email appears in the traits, as the password
/// and code identifier, and as a verifiable and a recovery address.
pub(crate) fn person(id: Uuid, email: &str) -> Identity {
    from_json(json!({
        "id": id,
        "schema_id": "default",
        "state": "active",
        "state_changed_at": T0,
        "traits": {"email": email, "name": {"first": "Ada", "last": "Lovelace"}},
        "credentials": {
            "password": {
                "type": "password",
                "identifiers": [email],
                "config": {"hashed_password": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"},
                "version": 0,
                "created_at": T0,
                "updated_at": T0
            },
            "code": {
                "type": "code",
                "identifiers": [email],
                "config": {"addresses": [{"channel": "email", "address": email}]},
                "version": 1,
                "created_at": T0,
                "updated_at": T0
            }
        },
        "verifiable_addresses": [{
            "id": Uuid::new_v4(), "value": email, "verified": false, "via": "email",
            "status": "pending", "created_at": T0, "updated_at": T0
        }],
        "recovery_addresses": [{
            "id": Uuid::new_v4(), "value": email, "via": "email",
            "created_at": T0, "updated_at": T0
        }],
        "metadata_public": {"plan": "pro"},
        "created_at": T0,
        "updated_at": T0
    }))
}

/// An identity using every part of the model: every credential type,
/// several identifiers, sms and email addresses, a verified address,
/// metadata, an organization and an external id.
pub(crate) fn rich(id: Uuid, tag: &str) -> Identity {
    let email = format!("{tag}@example.com");
    let work = format!("{tag}.work@example.org");
    let phone = format!(
        "+4915{:09}",
        tag.len() * 1_000 + tag.bytes().map(u32::from).sum::<u32>() as usize
    );
    from_json(json!({
        "id": id,
        "schema_id": "customer",
        "state": "inactive",
        "state_changed_at": T1,
        "traits": {"email": email, "work": work, "phone": phone, "tags": ["a", "b"], "Casing": "KeptAsGiven"},
        "credentials": {
            "password": {"type": "password", "identifiers": [email, phone], "config": {"hashed_password": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}, "version": 0, "created_at": T0, "updated_at": T1},
            "oidc": {"type": "oidc", "identifiers": [format!("google:{tag}"), format!("github:{tag}")], "config": {"providers": [{"provider": "google", "subject": tag}, {"provider": "github", "subject": tag, "organization": null}]}, "version": 0, "created_at": T0, "updated_at": T0},
            "totp": {"type": "totp", "identifiers": [id.to_string()], "config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}, "version": 0, "created_at": T1, "updated_at": T1},
            "lookup_secret": {"type": "lookup_secret", "identifiers": [id.to_string()], "config": {"recovery_codes": [{"code": "abc", "used_at": null}]}, "version": 0, "created_at": T0, "updated_at": T0},
            "webauthn": {"type": "webauthn", "identifiers": [email], "config": {"credentials": [{"id": "a2V5", "public_key": "cGs="}], "user_handle": "aGFuZGxl"}, "version": 1, "created_at": T0, "updated_at": T0},
            "code": {"type": "code", "identifiers": [email, work, phone], "config": {}, "version": 1, "created_at": T0, "updated_at": T0}
        },
        "verifiable_addresses": [
            {"id": Uuid::new_v4(), "value": email, "verified": true, "via": "email", "status": "completed", "verified_at": T1, "created_at": T0, "updated_at": T1},
            {"id": Uuid::new_v4(), "value": work, "verified": false, "via": "email", "status": "sent", "created_at": T0, "updated_at": T0},
            {"id": Uuid::new_v4(), "value": phone, "verified": false, "via": "sms", "status": "pending", "created_at": T0, "updated_at": T0}
        ],
        "recovery_addresses": [
            {"id": Uuid::new_v4(), "value": email, "via": "email", "created_at": T0, "updated_at": T0},
            {"id": Uuid::new_v4(), "value": phone, "via": "sms", "created_at": T0, "updated_at": T0}
        ],
        "metadata_public": {"nested": {"list": [1, 2.5, null, "x"]}},
        "metadata_admin": {"note": "vip", "ünïcödé": "✓"},
        "organization_id": Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        "external_id": format!("ext-{tag}"),
        "created_at": "1999-12-31T23:59:59.999999Z",
        "updated_at": T1
    }))
}

pub(crate) fn from_json(value: Value) -> Identity {
    serde_json::from_value(value).expect("fixture deserializes")
}

pub(crate) fn valid(identity: &Identity) -> ValidIdentity {
    ValidIdentity::new_for_tests(identity.clone()).expect("a valid fixture")
}

/// `identity` as the store returns it after a write that gave `version`.
pub(crate) fn at(identity: &Identity, version: u64) -> Identity {
    Identity {
        version,
        ..identity.clone()
    }
}

/// `identity` moved to another email: traits, identifiers and both
/// addresses change together (the addresses get new ids, as the core
/// would give them).
pub(crate) fn moved(identity: &Identity, email: &str, updated_at: &str) -> Identity {
    let mut next = identity.clone();
    next.traits["email"] = json!(email);
    for kind in [CredentialType::Password, CredentialType::Code] {
        if let Some(c) = next.credentials.get_mut(&kind) {
            c.identifiers = vec![email.to_owned()];
        }
    }
    for a in &mut next.verifiable_addresses {
        a.id = Uuid::new_v4();
        a.value = email.to_owned();
    }
    for a in &mut next.recovery_addresses {
        a.id = Uuid::new_v4();
        a.value = email.to_owned();
    }
    next.updated_at = identity_core::Timestamp::parse(updated_at).expect("timestamp");
    next
}

/// Panics unless `identity` is whole: the email of its traits is its only
/// password and code identifier and its only verifiable and recovery
/// address.
pub(crate) fn assert_whole(identity: &Identity) {
    let email = identity.traits["email"].as_str().expect("email trait");
    let want = vec![email.to_owned()];
    assert_eq!(
        identity.identifiers(CredentialType::Password),
        want,
        "{identity:?}"
    );
    assert_eq!(
        identity.identifiers(CredentialType::Code),
        want,
        "{identity:?}"
    );
    let verifiable: Vec<_> = identity
        .verifiable_addresses
        .iter()
        .map(|a| (a.via, a.value.clone()))
        .collect();
    assert_eq!(
        verifiable,
        vec![(AddressVia::Email, email.to_owned())],
        "{identity:?}"
    );
    let recovery: Vec<_> = identity
        .recovery_addresses
        .iter()
        .map(|a| (a.via, a.value.clone()))
        .collect();
    assert_eq!(
        recovery,
        vec![(AddressVia::Email, email.to_owned())],
        "{identity:?}"
    );
}

/// Every identity of the default tenant.
pub(crate) async fn all(store: &SqliteStore) -> Vec<Identity> {
    store
        .list_all(TenantId::DEFAULT, ListFilter::All)
        .await
        .expect("list all")
        .into_iter()
        .map(std::sync::Arc::unwrap_or_clone)
        .collect()
}

/// The file passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
pub(crate) fn assert_file_sound(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open raw");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(dangling, 0, "rows whose parent is gone");
}

/// Re-executes this test binary, running only `test` in child `mode`.
pub(crate) fn spawn_child(test: &str, mode: &str) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// The child mode this process runs in, if it is a child.
pub(crate) fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Writes one line to stdout and flushes it: once it is out, the parent
/// counts the write it reports as acknowledged.
pub(crate) fn report(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| out.flush())
        .expect("report to parent");
}

/// A small deterministic generator (xorshift64*), seeded per test.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// A seed that differs between runs (the tests print it).
pub(crate) fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(42)
}

pub(crate) fn store_at(path: &Path) -> SqliteStore {
    SqliteStore::open(path.to_str().expect("utf-8 path"), SqliteOptions::default())
        .expect("open store")
}

pub(crate) async fn get(store: &SqliteStore, id: Uuid) -> Identity {
    std::sync::Arc::unwrap_or_clone(store.get(TenantId::DEFAULT, id).await.expect("get"))
}
