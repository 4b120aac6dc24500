//! Malformed, out-of-bounds and unsupported hashes: exact error kinds, and
//! no panic on any mutation of a valid hash.

use identity_password::{PasswordError, PasswordErrorKind, check_import, is_supported, verify};

use crate::support::load;

/// `check_import` must reject exactly what `verify` rejected (`verified`,
/// for a non-empty password of at most 72 bytes), with the same kind.
pub(crate) fn assert_consistent(verified: &Result<bool, PasswordError>, encoded: &str) {
    let verified = verified.as_ref().map(|_| ()).map_err(|e| e.kind());
    let imported = check_import(encoded).map_err(|e| e.kind());
    assert_eq!(
        imported, verified,
        "check_import and verify disagree on {encoded}"
    );
}

#[test]
fn malformed_vectors_fail_check_import_and_verify_with_their_kind() {
    let mut failures = Vec::new();
    for m in &load().malformed {
        let import = check_import(&m.hash).map_err(|e| e.kind());
        let verified = verify("password", &m.hash).map_err(|e| e.kind());
        if import != Err(m.kind) || verified != Err(m.kind) {
            failures.push(format!(
                "{} ({}): check_import={import:?} verify={verified:?} want {:?}: {}",
                m.format, m.note, m.kind, m.hash
            ));
        }
        assert_eq!(
            is_supported(&m.hash),
            m.kind != PasswordErrorKind::UnsupportedFormat,
            "{}",
            m.note
        );
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn every_format_has_malformed_and_out_of_bounds_cases() {
    let malformed = &load().malformed;
    for format in [
        "bcrypt",
        "argon2id",
        "pbkdf2",
        "scrypt",
        "firescrypt",
        "md5-crypt",
        "sha256-crypt",
        "sha512-crypt",
        "ssha",
        "salted-sha",
        "md5",
        "hmac",
    ] {
        assert!(
            malformed
                .iter()
                .any(|m| m.format == format && m.kind == PasswordErrorKind::MalformedHash),
            "{format} has no malformed case"
        );
    }
    for format in [
        "bcrypt",
        "argon2id",
        "pbkdf2",
        "scrypt",
        "firescrypt",
        "sha256-crypt",
        "sha512-crypt",
    ] {
        assert!(
            malformed
                .iter()
                .any(|m| m.format == format && m.kind == PasswordErrorKind::ParametersOutOfBounds),
            "{format} has no out-of-bounds case"
        );
    }
}

/// Every prefix of every vector, and every single-character corruption, is
/// an error or a mismatch: never a panic, never a match. (One exception by
/// design: PBKDF2 and scrypt output is prefix-stable and the decoded key's
/// length counts, so a key truncated to 16 bytes or more still matches.)
#[test]
fn truncations_and_corruptions_never_panic_or_match() {
    for v in &load().vectors {
        let hash = &v.hash;
        let last_field = hash.rfind('$').unwrap_or(0);
        let prefix_stable = v.format == "pbkdf2" || v.format == "scrypt";
        for (i, _) in hash.char_indices().skip(1) {
            let truncated = &hash[..i];
            let result = verify(&v.password, truncated);
            if v.password.len() <= 72 {
                assert_consistent(&result, truncated);
            }
            if prefix_stable && i > last_field + 1 {
                continue;
            }
            assert!(
                !matches!(result, Ok(true)),
                "{} truncated to {truncated}",
                v.note
            );
        }
        // Corrupt the tail, where salts and digests live (corrupting the
        // parameters only moves them within bounds or out of them). Padding
        // is left alone: "=" -> "A" can append a zero byte to an HMAC key,
        // which HMAC's zero-padding of short keys makes an equivalent key.
        let start = hash.len().saturating_sub(12);
        for (i, c) in hash.char_indices().filter(|&(i, _)| i >= start) {
            for replacement in ['!', '$', 'A'] {
                if c == replacement || c == '=' {
                    continue;
                }
                let mut corrupted = hash.clone();
                corrupted.replace_range(i..i + c.len_utf8(), &replacement.to_string());
                let result = verify(&v.password, &corrupted);
                if v.password.len() <= 72 {
                    assert_consistent(&result, &corrupted);
                }
                assert!(
                    !matches!(result, Ok(true)),
                    "{} corrupted to {corrupted}",
                    v.note
                );
            }
        }
    }
}

#[test]
fn hostile_costs_are_refused_before_any_work() {
    // Were these hashed, each would take minutes or gigabytes.
    for hash in [
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
        "$argon2id$v=19$m=65536,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
        "$pbkdf2-sha256$i=4000000000,l=32$c2FsdA$a2V5a2V5a2V5a2V5",
        "$scrypt$ln=1048576,r=8,p=1$c2FsdA==$a2V5",
        "$scrypt$ln=16384,r=1024,p=1$c2FsdA==$a2V5",
        "$firescrypt$ln=30,r=8,p=1$c2FsdA==$a2V5$Bw==$a2V5",
        "$sha512-crypt$rounds=999999999$saltsalt$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
    ] {
        assert_eq!(
            verify("password", hash).map_err(|e| e.kind()),
            Err(PasswordErrorKind::ParametersOutOfBounds),
            "{hash}"
        );
    }
}

#[test]
fn non_ascii_and_odd_inputs_never_panic() {
    for hash in [
        "$2b$04$ééééééééééééééééééééééééééééééééééééééééééééééééééééé",
        "$2b$\u{4e2d}4$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
        "$2$",
        "$2a$",
        "$argon2id$v=19$m=64,t=1,p=1$é$é",
        "$md5-crypt$sälz$azfrPr6af3Fc7dLblQXVa0",
        "$sha256-crypt$$",
        "{SSHA512}",
        "$hmac-md5$$",
        "$md5$pf=$$",
        "$firescrypt$$$$$$",
    ] {
        let result = verify("password", hash);
        assert!(
            matches!(
                result.as_ref().map_err(|e| e.kind()),
                Err(PasswordErrorKind::MalformedHash | PasswordErrorKind::ParametersOutOfBounds)
            ),
            "{hash}: {result:?}"
        );
    }
}

/// Found by the password fuzzer: a SHA-crypt hash whose only field before
/// the checksum is `rounds=<n>`. crypt(3) reads that field as the rounds,
/// so there is no salt; `check_import` once took it as a salt and `verify`
/// then refused the hash.
#[test]
fn a_rounds_field_without_a_salt_is_refused_by_both() {
    let checksum = "53i9ISRIMKj9sbyA28jf3sSIQB.W0sVrVvBBzlM7kHEPC31Xf./SZfzCo7/ZrIIVdrzCo.";
    for hash in [
        format!("$sha512-crypt$rounds=1234$BbnDEpYqSvO2CXnV{checksum}"),
        format!("$sha512-crypt$rounds=5000${}", "a".repeat(86)),
        format!("$sha256-crypt$rounds=5000${}", "a".repeat(43)),
    ] {
        let imported = check_import(&hash).map_err(|e| e.kind());
        let verified = verify("password", &hash).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(imported, Err(PasswordErrorKind::MalformedHash), "{hash}");
        assert_eq!(verified, imported, "{hash}");
    }
}
