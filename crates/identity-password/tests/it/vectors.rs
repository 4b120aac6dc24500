//! Every vector verifies with its password and not with a wrong one.

use std::collections::BTreeMap;

use identity_password::{HashFormat, check_import, is_supported, verify};

use crate::support::load;

#[test]
fn every_vector_verifies_with_the_right_password_only() {
    let mut failures = Vec::new();
    for v in &load().vectors {
        let right = verify(&v.password, &v.hash);
        let wrong = verify(&v.wrong, &v.hash);
        if !matches!(right, Ok(true)) || !matches!(wrong, Ok(false)) {
            failures.push(format!(
                "{} ({}): right={right:?} wrong={wrong:?} hash={}",
                v.format, v.note, v.hash
            ));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn every_vector_passes_check_import_and_is_recognised_as_its_format() {
    for v in &load().vectors {
        assert_eq!(
            check_import(&v.hash).map_err(|e| e.kind()),
            Ok(()),
            "{}",
            v.note
        );
        assert!(is_supported(&v.hash), "{}", v.note);
        let format = HashFormat::identify(&v.hash).map(HashFormat::as_str);
        assert_eq!(format, Some(v.format.as_str()), "{}", v.note);
    }
}

#[test]
fn there_are_at_least_three_vectors_per_format_with_distinct_hashes() {
    let mut per_format: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for v in &load().vectors {
        per_format.entry(&v.format).or_default().push(&v.hash);
    }
    let expected = [
        "argon2i",
        "argon2id",
        "bcrypt",
        "firescrypt",
        "hmac",
        "md5",
        "md5-crypt",
        "pbkdf2",
        "salted-sha",
        "scrypt",
        "sha256-crypt",
        "sha512-crypt",
        "ssha",
    ];
    assert_eq!(per_format.keys().copied().collect::<Vec<_>>(), expected);
    for (format, hashes) in per_format {
        assert!(hashes.len() >= 3, "{format} has {} vectors", hashes.len());
        let mut distinct = hashes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), hashes.len(), "{format} repeats a hash");
    }
}

#[test]
fn unicode_and_one_kib_passwords_are_covered() {
    let vectors = &load().vectors;
    assert!(vectors.iter().any(|v| v.password.len() == 1024));
    assert!(
        vectors
            .iter()
            .any(|v| v.password.chars().any(|c| c as u32 > 0xFFFF))
    );
    // Every format but bcrypt (72-byte limit) has a 1 KiB vector.
    for format in [
        "argon2id",
        "argon2i",
        "md5-crypt",
        "sha256-crypt",
        "sha512-crypt",
        "ssha",
        "salted-sha",
        "md5",
    ] {
        assert!(
            vectors
                .iter()
                .any(|v| v.format == format && v.password.len() == 1024),
            "{format} lacks a 1 KiB password vector"
        );
    }
}

#[test]
fn error_vectors_fail_with_their_kind() {
    let errors = &load().errors;
    assert!(!errors.is_empty());
    for e in errors {
        assert_eq!(
            verify(&e.password, &e.hash).map_err(|err| err.kind()),
            Err(e.kind),
            "{} ({})",
            e.format,
            e.note
        );
        // The hash itself is fine to import.
        assert_eq!(check_import(&e.hash).map_err(|err| err.kind()), Ok(()));
    }
}

#[test]
fn an_empty_password_is_an_error_for_every_vector() {
    for v in &load().vectors {
        assert_eq!(
            verify("", &v.hash).map_err(|e| e.kind()),
            Err(identity_password::PasswordErrorKind::Empty),
            "{}",
            v.note
        );
    }
}
