//! A plaintext password held so that it is wiped on drop and never printed.

use std::fmt;

use zeroize::Zeroizing;

/// A plaintext password.
///
/// The bytes are zeroed when the value is dropped, and `Debug` prints
/// `Password(***)` whatever the content. There is deliberately no `Display`,
/// no `Serialize` and no `PartialEq`: read the secret with
/// [`Password::expose`] at the one place that needs it.
///
/// It deserializes from a JSON string (so request bodies can hold it
/// directly).
///
/// ```
/// use identity_password::Password;
///
/// let password = Password::new("correct horse");
/// assert_eq!(format!("{password:?}"), "Password(***)");
/// assert_eq!(password.expose(), "correct horse");
/// ```
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(plaintext: impl Into<String>) -> Self {
        Self(Zeroizing::new(plaintext.into()))
    }

    /// The plaintext. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the password is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length of the password in bytes (UTF-8).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(plaintext: String) -> Self {
        Self::new(plaintext)
    }
}

impl From<&str> for Password {
    fn from(plaintext: &str) -> Self {
        Self::new(plaintext)
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        String::deserialize(deserializer).map(Self::new)
    }
}
