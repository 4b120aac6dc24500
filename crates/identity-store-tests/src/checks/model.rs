//! Random operation sequences against a trivial model of the contract.

use std::collections::BTreeMap;
use std::sync::Arc;

use identity_core::{CredentialType, DynIdentityStore, ErrorKind, Identity, ListFilter, ListQuery};
use uuid::Uuid;

use crate::fixtures::{self, TENANT, ext, valid};

/// What the contract says a store holds: rows with versions, nothing else.
#[derive(Default)]
struct Model {
    rows: BTreeMap<Uuid, Identity>,
}

impl Model {
    fn collides(&self, candidate: &Identity, except: Option<Uuid>) -> bool {
        let keys = candidate.unique_keys();
        self.rows
            .values()
            .filter(|r| Some(r.id) != except)
            .any(|r| {
                let theirs = r.unique_keys();
                keys.iter().any(|k| theirs.contains(k))
            })
    }
}

const EMAILS: [&str; 5] = [
    "ada@example.com",
    "grace@example.com",
    "linus@example.com",
    "barbara@example.com",
    "alan@example.com",
];

fn candidate(seed: u64, email: usize, external: Option<u8>) -> Identity {
    let mut identity = fixtures::identity(seed, EMAILS[email]);
    identity.external_id = external.map(|e| ext(&format!("ext-{e}")));
    identity
}

fn kind<T>(result: &Result<T, identity_core::Error>) -> Option<ErrorKind> {
    result.as_ref().err().map(identity_core::Error::kind)
}

/// Runs seeded random sequences of create, update, delete, get, find,
/// get-by-external-id and list (with conflicting identifiers and stale
/// versions) and compares every observable result with the model: error
/// kinds, versions, whole identities and list pages.
pub async fn check_model_sequences(store: DynIdentityStore) {
    // How often each outcome was seen, so the sequences provably exercise
    // successes, conflicts, stale versions and missing rows.
    let mut outcomes: std::collections::HashMap<Option<ErrorKind>, usize> = Default::default();
    for sequence in 0..6u64 {
        let mut rng = fastrand::Rng::with_seed(0x5eed_0000 + sequence);
        let mut model = Model::default();
        for step in 0..45 {
            let seed = 1_000 * (sequence + 1) + rng.u64(1..=8);
            let id = fixtures::id(seed);
            let at = format!("sequence {sequence}, step {step}");
            match rng.u8(..7) {
                0 => {
                    let c = candidate(
                        seed,
                        rng.usize(..EMAILS.len()),
                        rng.bool().then(|| rng.u8(..3)),
                    );
                    let expected = if model.rows.contains_key(&id) || model.collides(&c, None) {
                        Some(ErrorKind::Conflict)
                    } else {
                        None
                    };
                    let got = store.create(TENANT, &valid(c.clone())).await;
                    assert_eq!(kind(&got), expected, "{at}: create {id}: {got:?}");
                    *outcomes.entry(expected).or_default() += 1;
                    if let Ok(v) = got {
                        assert_eq!(v, 1, "{at}: a create returns version 1");
                        model.rows.insert(id, fixtures::with_version(&c, 1));
                    }
                }
                1 => {
                    let stored = model.rows.get(&id).cloned();
                    let stale = rng.u8(..3) == 0;
                    let c = match (&stored, stale) {
                        // A stale write that could not conflict: only the version is wrong.
                        (Some(s), true) => s.clone(),
                        _ => candidate(
                            seed,
                            rng.usize(..EMAILS.len()),
                            rng.bool().then(|| rng.u8(..3)),
                        ),
                    };
                    let expected_version = match (&stored, stale, rng.bool()) {
                        (Some(s), true, _) => Some(s.version + 7),
                        (Some(s), false, true) => Some(s.version),
                        _ => None,
                    };
                    let expected = match &stored {
                        None => Some(ErrorKind::NotFound),
                        Some(_) if stale => Some(ErrorKind::VersionMismatch),
                        Some(_) if model.collides(&c, Some(id)) => Some(ErrorKind::Conflict),
                        Some(_) => None,
                    };
                    let got = store
                        .update(TENANT, &valid(c.clone()), expected_version)
                        .await;
                    assert_eq!(kind(&got), expected, "{at}: update {id}: {got:?}");
                    *outcomes.entry(expected).or_default() += 1;
                    if let (Ok(v), Some(s)) = (got, stored) {
                        assert_eq!(v, s.version + 1, "{at}: an update bumps the version by one");
                        model.rows.insert(id, fixtures::with_version(&c, v));
                    }
                }
                2 => {
                    let stored = model.rows.get(&id).cloned();
                    let stale = rng.u8(..3) == 0;
                    let expected_version = stored
                        .as_ref()
                        .map(|s| if stale { s.version + 3 } else { s.version });
                    let expected_version = if rng.bool() || stale {
                        expected_version
                    } else {
                        None
                    };
                    let expected = match &stored {
                        None => Some(ErrorKind::NotFound),
                        Some(_) if stale => Some(ErrorKind::VersionMismatch),
                        Some(_) => None,
                    };
                    let got = store.delete(TENANT, id, expected_version).await;
                    assert_eq!(kind(&got), expected, "{at}: delete {id}: {got:?}");
                    *outcomes.entry(expected).or_default() += 1;
                    if got.is_ok() {
                        model.rows.remove(&id);
                    }
                }
                3 => {
                    let got = store.get(TENANT, id).await;
                    match model.rows.get(&id) {
                        Some(want) => assert_eq!(got.as_deref().ok(), Some(want), "{at}: get {id}"),
                        None => assert_eq!(kind(&got), Some(ErrorKind::NotFound), "{at}: get {id}"),
                    }
                }
                4 => {
                    let email = EMAILS[rng.usize(..EMAILS.len())];
                    let got = store
                        .find_by_identifier(TENANT, CredentialType::Password, email)
                        .await;
                    let want = model.rows.values().find(|r| {
                        r.identifiers(CredentialType::Password)
                            .iter()
                            .any(|i| i == email)
                    });
                    match want {
                        Some(want) => {
                            assert_eq!(got.as_deref().ok(), Some(want), "{at}: find {email}")
                        }
                        None => {
                            assert_eq!(kind(&got), Some(ErrorKind::NotFound), "{at}: find {email}")
                        }
                    }
                }
                5 => {
                    let external = ext(&format!("ext-{}", rng.u8(..3)));
                    let got = store.get_by_external_id(TENANT, &external).await;
                    let want = model
                        .rows
                        .values()
                        .find(|r| r.external_id.as_ref() == Some(&external));
                    match want {
                        Some(want) => {
                            assert_eq!(got.as_deref().ok(), Some(want), "{at}: by external id")
                        }
                        None => assert_eq!(
                            kind(&got),
                            Some(ErrorKind::NotFound),
                            "{at}: by external id"
                        ),
                    }
                }
                _ => {
                    let limit = rng.usize(1..5);
                    let mut after = None;
                    let mut seen = Vec::new();
                    loop {
                        let page = store
                            .list(
                                TENANT,
                                &ListQuery::new(
                                    ListFilter::All,
                                    after,
                                    crate::support::size(limit),
                                ),
                            )
                            .await
                            .expect("list");
                        assert!(page.identities.len() <= limit, "{at}: page over its limit");
                        after = page.identities.last().map(|i| i.id);
                        seen.extend(page.identities.into_iter().map(Arc::unwrap_or_clone));
                        if !page.has_more {
                            break;
                        }
                        assert!(
                            seen.len() <= model.rows.len(),
                            "{at}: list returns more than stored"
                        );
                    }
                    let want: Vec<Identity> = model.rows.values().cloned().collect();
                    assert_eq!(seen, want, "{at}: list walk with pages of {limit}");
                }
            }
        }
        for id in model.rows.keys() {
            store.delete(TENANT, *id, None).await.expect("cleanup");
        }
    }
    for outcome in [
        None,
        Some(ErrorKind::Conflict),
        Some(ErrorKind::VersionMismatch),
        Some(ErrorKind::NotFound),
    ] {
        assert!(
            outcomes.get(&outcome).copied().unwrap_or(0) >= 3,
            "the sequences hit {outcome:?} only {outcomes:?}"
        );
    }
}
