//! Secrets stay out of Debug and Display.

use identity_password::{Password, PasswordError, PasswordErrorKind, check_import, verify};

use crate::support::load;

#[test]
fn password_debug_prints_nothing_of_it() {
    let password = Password::new("hunter2-secret");
    assert_eq!(format!("{password:?}"), "Password(***)");
    assert_eq!(
        format!("{:#?}", Some(&password)),
        "Some(\n    Password(***),\n)"
    );
}

#[test]
fn password_deserializes_from_a_json_string() {
    let password: Password = serde_json::from_str("\"s3cret\"").expect("a string");
    assert_eq!(password.expose(), "s3cret");
    assert_eq!(password.len(), 6);
    assert!(!password.is_empty());
}

#[test]
fn error_display_never_contains_the_hash_or_password() {
    let cases = &load().malformed;
    for m in cases {
        let err = check_import(&m.hash).expect_err("malformed");
        let text = format!("{err} {err:?}");
        // Any distinctive piece of the hash (salts, digests) must be absent.
        // (The identifier and `key=value` parameters are not secret.)
        let pieces = m.hash.split(['$', ',']).skip(2);
        for piece in pieces.filter(|p| p.len() >= 6 && !p.contains('=')) {
            assert!(!text.contains(piece), "{text} contains {piece}");
        }
        let err = verify("Sup3r-Secret-Pw", &m.hash).expect_err("malformed");
        assert!(!format!("{err} {err:?}").contains("Sup3r-Secret-Pw"));
    }
    let too_long = "z".repeat(100);
    let e = &load().errors[0];
    let err = verify(&too_long, &e.hash).expect_err("too long");
    assert_eq!(err.kind(), PasswordErrorKind::TooLong);
    assert!(!format!("{err} {err:?}").contains(&too_long));
}

#[test]
fn error_kinds_are_stable_names() {
    assert_eq!(
        PasswordError::UnsupportedFormat.kind().as_str(),
        "unsupported_format"
    );
    assert_eq!(PasswordError::Empty.kind().to_string(), "empty");
    assert_eq!(
        PasswordError::TooLong { max: 72 }.kind(),
        PasswordErrorKind::TooLong
    );
    assert_eq!(
        PasswordError::TooLong { max: 72 }.to_string(),
        "the password is longer than the 72 bytes the algorithm accepts"
    );
}
