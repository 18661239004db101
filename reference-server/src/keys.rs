//! The ES256 signing key of the authorization server and its JWKS.
//! (Owned by the AS work; stub until then.)

/// The AS's signing key pair.
pub struct SigningKeys {}

impl SigningKeys {
    /// Generates a fresh P-256 key pair.
    pub fn generate() -> Result<Self, String> {
        Ok(Self {})
    }
}
