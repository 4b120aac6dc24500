//! Hashing new passwords, configuration, and `needs_rehash`.

use identity_password::{
    Argon2Params, BcryptParams, HashFormat, HasherConfig, Password, PasswordErrorKind,
    PasswordHasher, check_import, verify, verify_password,
};

fn fast_bcrypt(cost: u32) -> PasswordHasher {
    PasswordHasher::insecure_with_config_for_tests(HasherConfig::Bcrypt(BcryptParams { cost }))
        .expect("a valid test configuration")
}

fn argon2(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2Params {
    Argon2Params {
        memory_kib,
        iterations,
        parallelism,
        ..Argon2Params::default()
    }
}

#[test]
fn the_default_is_argon2id_with_production_parameters() {
    let hasher = PasswordHasher::default();
    assert_eq!(
        hasher.config(),
        &HasherConfig::Argon2id(Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        })
    );
    assert_eq!(
        PasswordHasher::new(HasherConfig::default()).map_err(|e| e.kind()),
        Ok(hasher.clone())
    );
    let encoded = hasher.hash("production password").expect("hashes");
    assert!(
        encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{encoded}"
    );
    assert_eq!(
        verify("production password", &encoded).map_err(|e| e.kind()),
        Ok(true)
    );
    assert_eq!(check_import(&encoded).map_err(|e| e.kind()), Ok(()));
    assert!(!hasher.needs_rehash(&encoded));
}

#[test]
fn the_fast_profile_hashes_argon2id_that_verifies() {
    let hasher = PasswordHasher::insecure_fast_for_tests();
    let encoded = hasher.hash("pässwörd 🔑").expect("hashes");
    assert_eq!(HashFormat::identify(&encoded), Some(HashFormat::Argon2id));
    let fields: Vec<&str> = encoded.split('$').collect();
    assert_eq!(fields.len(), 6);
    assert_eq!(fields[2], "v=19");
    assert!(
        !fields[4].contains('=') && !fields[5].contains('='),
        "no padding: {encoded}"
    );
    assert_eq!(
        verify("pässwörd 🔑", &encoded).map_err(|e| e.kind()),
        Ok(true)
    );
    assert_eq!(
        verify("passwörd 🔑", &encoded).map_err(|e| e.kind()),
        Ok(false)
    );
    assert_eq!(
        verify_password(&Password::new("pässwörd 🔑"), &encoded).map_err(|e| e.kind()),
        Ok(true)
    );
    // Two hashes of one password differ by their salts.
    assert_ne!(hasher.hash("pässwörd 🔑").expect("hashes"), encoded);
}

#[test]
fn empty_passwords_are_refused() {
    for hasher in [PasswordHasher::insecure_fast_for_tests(), fast_bcrypt(4)] {
        assert_eq!(
            hasher.hash("").map_err(|e| e.kind()),
            Err(PasswordErrorKind::Empty)
        );
        assert_eq!(
            hasher
                .hash_password(&Password::new(""))
                .map_err(|e| e.kind()),
            Err(PasswordErrorKind::Empty)
        );
    }
}

#[test]
fn bcrypt_refuses_more_than_72_bytes_instead_of_truncating() {
    let hasher = fast_bcrypt(4);
    let max = "x".repeat(72);
    let encoded = hasher.hash(&max).expect("72 bytes are fine");
    assert!(encoded.starts_with("$2b$04$"), "{encoded}");
    assert_eq!(encoded.len(), 60);
    assert_eq!(verify(&max, &encoded).map_err(|e| e.kind()), Ok(true));
    assert_eq!(
        hasher.hash(&"x".repeat(73)).map_err(|e| e.kind()),
        Err(PasswordErrorKind::TooLong)
    );
    // 25 three-byte characters: 75 bytes although 25 chars.
    assert_eq!(
        hasher.hash(&"€".repeat(25)).map_err(|e| e.kind()),
        Err(PasswordErrorKind::TooLong)
    );
    // Verifying with a longer password is refused too: truncation would
    // make "x"*72 + anything match.
    assert_eq!(
        verify(&format!("{max}y"), &encoded).map_err(|e| e.kind()),
        Err(PasswordErrorKind::TooLong)
    );
}

#[test]
fn bcrypt_hashes_verify_and_respect_the_cost() {
    let hasher = fast_bcrypt(5);
    let encoded = hasher.hash("Tr0ub4dor&3").expect("hashes");
    assert!(encoded.starts_with("$2b$05$"));
    assert_eq!(
        verify("Tr0ub4dor&3", &encoded).map_err(|e| e.kind()),
        Ok(true)
    );
    assert_eq!(
        verify("tr0ub4dor&3", &encoded).map_err(|e| e.kind()),
        Ok(false)
    );
    assert!(!hasher.needs_rehash(&encoded));
    assert!(fast_bcrypt(6).needs_rehash(&encoded));
    assert!(!fast_bcrypt(4).needs_rehash(&encoded));
    assert!(PasswordHasher::default().needs_rehash(&encoded));
}

#[test]
fn production_configuration_has_a_floor_and_a_ceiling() {
    let invalid = |config| PasswordHasher::new(config).map_err(|e| e.kind()).err();
    let bad = Some(PasswordErrorKind::InvalidConfig);
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(19_455, 2, 1))), bad);
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(19_456, 1, 1))), bad);
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(19_456, 2, 0))), bad);
    assert_eq!(
        invalid(HasherConfig::Argon2id(argon2(1_048_577, 2, 1))),
        bad
    );
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(19_456, 11, 1))), bad);
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(19_456, 2, 17))), bad);
    assert_eq!(
        invalid(HasherConfig::Argon2id(Argon2Params {
            salt_length: 8,
            ..Argon2Params::default()
        })),
        bad
    );
    assert_eq!(invalid(HasherConfig::Bcrypt(BcryptParams { cost: 9 })), bad);
    assert_eq!(
        invalid(HasherConfig::Bcrypt(BcryptParams { cost: 16 })),
        bad
    );
    assert_eq!(invalid(HasherConfig::Argon2id(argon2(65_536, 3, 4))), None);
    assert_eq!(invalid(HasherConfig::Bcrypt(BcryptParams::default())), None);
    assert_eq!(
        invalid(HasherConfig::Bcrypt(BcryptParams { cost: 10 })),
        None
    );
    assert_eq!(BcryptParams::default().cost, 12);
    // The test-only constructor drops the floor but keeps the algorithm's limits.
    let test_only = |config| {
        PasswordHasher::insecure_with_config_for_tests(config)
            .map_err(|e| e.kind())
            .err()
    };
    assert_eq!(
        test_only(HasherConfig::Bcrypt(BcryptParams { cost: 4 })),
        None
    );
    assert_eq!(
        test_only(HasherConfig::Bcrypt(BcryptParams { cost: 3 })),
        bad
    );
    assert_eq!(test_only(HasherConfig::Argon2id(argon2(8, 1, 1))), None);
    assert_eq!(test_only(HasherConfig::Argon2id(argon2(8, 1, 2))), bad);
}

#[test]
fn configuration_is_serde_data() {
    let config: HasherConfig =
        serde_json::from_str(r#"{"algorithm":"argon2id","memory_kib":65536,"iterations":3}"#)
            .expect("deserializes");
    assert_eq!(
        config,
        HasherConfig::Argon2id(Argon2Params {
            memory_kib: 65_536,
            iterations: 3,
            ..Argon2Params::default()
        })
    );
    let config: HasherConfig =
        serde_json::from_str(r#"{"algorithm":"bcrypt"}"#).expect("deserializes");
    assert_eq!(config, HasherConfig::Bcrypt(BcryptParams { cost: 12 }));
    assert!(serde_json::from_str::<HasherConfig>(r#"{"algorithm":"md5"}"#).is_err());
    let round_trip: HasherConfig =
        serde_json::from_value(serde_json::to_value(HasherConfig::default()).expect("serializes"))
            .expect("deserializes");
    assert_eq!(round_trip, HasherConfig::default());
}

#[test]
fn needs_rehash_compares_algorithm_and_every_parameter() {
    let fast = PasswordHasher::insecure_fast_for_tests();
    let weak = fast.hash("pw").expect("hashes");
    assert!(!fast.needs_rehash(&weak));
    assert!(PasswordHasher::default().needs_rehash(&weak));

    let hasher = |p: Argon2Params| {
        PasswordHasher::insecure_with_config_for_tests(HasherConfig::Argon2id(p)).expect("valid")
    };
    let current = hasher(argon2(256, 2, 2));
    let same = current.hash("pw").expect("hashes");
    assert!(!current.needs_rehash(&same));
    // Stronger stored parameters need no rehash; any weaker one does.
    assert!(!hasher(argon2(128, 1, 1)).needs_rehash(&same));
    assert!(hasher(argon2(512, 2, 2)).needs_rehash(&same));
    assert!(hasher(argon2(256, 3, 2)).needs_rehash(&same));
    assert!(hasher(argon2(256, 2, 4)).needs_rehash(&same));
    assert!(
        hasher(Argon2Params {
            key_length: 64,
            ..argon2(256, 2, 2)
        })
        .needs_rehash(&same)
    );
    // Another algorithm or variant, or garbage, always needs a rehash.
    assert!(current.needs_rehash(&same.replacen("$argon2id$", "$argon2i$", 1)));
    assert!(current.needs_rehash(&fast_bcrypt(4).hash("pw").expect("hashes")));
    assert!(current.needs_rehash("{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"));
    assert!(current.needs_rehash("not a hash"));
    assert!(current.needs_rehash("$argon2id$v=19$m=0,t=2,p=2$c2FsdHNhbHQ$a2V5a2V5"));
}

#[test]
fn hasher_is_clone_and_debug_without_secrets() {
    let hasher = PasswordHasher::insecure_fast_for_tests();
    let copy = hasher.clone();
    assert_eq!(copy, hasher);
    let debug = format!("{hasher:?}");
    assert!(debug.contains("Argon2id"), "{debug}");
}

/// A dry run's hash refuses what `hash` refuses and is otherwise a string
/// of the same format and length, which verifies nothing.
#[test]
fn dry_run_hash_answers_what_hash_would_without_hashing() {
    let argon =
        PasswordHasher::insecure_with_config_for_tests(HasherConfig::Argon2id(argon2(64, 1, 1)))
            .expect("a valid test configuration");
    for hasher in [argon, fast_bcrypt(4)] {
        let real = hasher.hash("hunter2").expect("hash");
        let dry = hasher.dry_run_hash("hunter2").expect("dry run");
        assert_eq!(dry.len(), real.len(), "{dry} vs {real}");
        assert_eq!(dry.split('$').nth(1), real.split('$').nth(1), "the format");
        // Argon2id: the version; bcrypt: the cost.
        assert_eq!(
            dry.split('$').nth(2),
            real.split('$').nth(2),
            "the parameters"
        );
        if dry.starts_with("$argon2id$") {
            assert_eq!(dry.split('$').nth(3), real.split('$').nth(3), "the costs");
        }
        check_import(&dry).expect("the dry-run string parses as an import");
        assert!(
            !verify("hunter2", &dry).expect("verify"),
            "verifies nothing"
        );
        for refused in ["", &"x".repeat(73)] {
            assert_eq!(
                hasher.dry_run_hash(refused).err().map(|e| e.kind()),
                hasher.hash(refused).err().map(|e| e.kind()),
                "the same answer for a {}-byte password",
                refused.len()
            );
        }
    }
}
