//! PKCE (RFC 7636): code verifiers, S256 challenges, and the random `state`
//! values the suite sends.
//!
//! The suite always uses S256 and 32 random bytes per verifier (requirements
//! §9.7: "32 random bytes in base64url, which is 43 characters"). Negative
//! tests build their own malformed verifiers; [`is_valid_verifier`] is what
//! tells a check whether a verifier it is about to send is well formed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::redact;

/// Shortest verifier RFC 7636 §4.1 allows.
pub const VERIFIER_MIN_LEN: usize = 43;
/// Longest verifier RFC 7636 §4.1 allows.
pub const VERIFIER_MAX_LEN: usize = 128;

/// A code verifier and its S256 challenge.
///
/// `Debug` prints the verifier as a fingerprint: a verifier is a secret
/// (design.md, "redacted by construction").
#[derive(Clone, PartialEq, Eq)]
pub struct PkcePair {
    pub verifier: String,
    pub challenge: String,
}

impl fmt::Debug for PkcePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkcePair")
            .field("verifier", &redact::fingerprint(&self.verifier))
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl PkcePair {
    /// A pair for a verifier chosen by the caller (negative tests send
    /// verifiers of odd lengths or alphabets); the challenge is its S256.
    pub fn from_verifier(verifier: impl Into<String>) -> Self {
        let verifier = verifier.into();
        let challenge = s256_challenge(&verifier);
        PkcePair {
            verifier,
            challenge,
        }
    }
}

/// A fresh pair: 32 bytes from the OS RNG, base64url without padding (43
/// characters, RFC 7636 §4.1's recommendation), and its S256 challenge.
pub fn generate() -> PkcePair {
    PkcePair::from_verifier(random_token(32))
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`, RFC 7636 §4.2.
///
/// Takes any string: the challenge of an invalid verifier is still defined,
/// and negative tests need it.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `challenge` is the S256 challenge of `verifier` (the comparison
/// the AS makes, RFC 7636 §4.6).
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    s256_challenge(verifier) == challenge
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`,
/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub fn is_valid_verifier(v: &str) -> bool {
    (VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&v.len()) && v.bytes().all(is_unreserved)
}

/// RFC 7636 §4.2: an S256 challenge is the base64url encoding of a SHA-256
/// digest, so exactly 43 characters of the base64url alphabet.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && URL_SAFE_NO_PAD
            .decode(c)
            .is_ok_and(|digest| digest.len() == 32)
}

/// `bytes` random bytes from the OS RNG, base64url without padding. Used for
/// `state` (32 bytes, requirements §9.7) and for verifiers.
///
/// Panics only if the operating system cannot supply randomness, which no
/// input can cause; running the suite without randomness would be worse.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 7636 Appendix B: the base64url of the octets [116, 24, 223, ...].
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(s256_challenge(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE));
        assert!(is_valid_verifier(RFC_VERIFIER));
        assert!(is_valid_s256_challenge(RFC_CHALLENGE));
        let pair = PkcePair::from_verifier(RFC_VERIFIER);
        assert_eq!(pair.challenge, RFC_CHALLENGE);
    }

    #[test]
    fn generated_pair_is_43_chars_and_consistent() {
        let pair = generate();
        assert_eq!(pair.verifier.len(), 43);
        assert!(is_valid_verifier(&pair.verifier));
        assert!(verify_s256(&pair.verifier, &pair.challenge));
        assert!(is_valid_s256_challenge(&pair.challenge));
        // Two draws differ (2^-256 chance of a false failure).
        assert_ne!(generate().verifier, pair.verifier);
    }

    #[test]
    fn debug_hides_the_verifier() {
        let pair = PkcePair::from_verifier(RFC_VERIFIER);
        let dbg = format!("{pair:?}");
        assert!(!dbg.contains(RFC_VERIFIER), "{dbg}");
        assert!(dbg.contains(RFC_CHALLENGE));
        assert!(dbg.contains("‹secret sha256:"));
    }

    #[test]
    fn verifier_length_bounds() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(""));
    }

    #[test]
    fn verifier_alphabet() {
        let base = "a".repeat(42);
        for ok in ['-', '.', '_', '~', 'Z', '0'] {
            assert!(is_valid_verifier(&format!("{base}{ok}")), "{ok}");
        }
        // '+' and '/' are base64 but not unreserved; '=' is padding.
        for bad in ['+', '/', '=', ' ', '%', 'é'] {
            assert!(!is_valid_verifier(&format!("{base}{bad}")), "{bad}");
        }
    }

    #[test]
    fn random_token_lengths() {
        assert_eq!(random_token(32).len(), 43);
        assert_eq!(random_token(16).len(), 22);
        assert_eq!(random_token(0), "");
        assert!(
            random_token(32)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn challenge_shape() {
        assert!(!is_valid_s256_challenge(""));
        assert!(!is_valid_s256_challenge(&"A".repeat(44)));
        assert!(!is_valid_s256_challenge(&format!(
            "{}=",
            &RFC_CHALLENGE[..42]
        )));
    }

    proptest! {
        #[test]
        fn grammar_accepts_every_unreserved_string(v in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(is_valid_verifier(&v));
        }

        #[test]
        fn grammar_rejects_wrong_lengths(v in "[A-Za-z0-9._~-]{0,42}|[A-Za-z0-9._~-]{129,200}") {
            prop_assert!(!is_valid_verifier(&v));
        }

        #[test]
        fn grammar_rejects_any_reserved_char(
            prefix in "[A-Za-z0-9._~-]{21}",
            suffix in "[A-Za-z0-9._~-]{21}",
            bad in any::<char>().prop_filter("not unreserved", |c| {
                !(c.is_ascii_alphanumeric() || "-._~".contains(*c))
            }),
        ) {
            let v = format!("{prefix}{bad}{suffix}");
            prop_assert!(!is_valid_verifier(&v));
        }

        #[test]
        fn challenge_of_any_string_is_well_formed(v in any::<String>()) {
            let c = s256_challenge(&v);
            prop_assert!(is_valid_s256_challenge(&c));
            prop_assert!(verify_s256(&v, &c));
        }

        #[test]
        fn random_tokens_are_valid_verifiers_from_32_to_96_bytes(n in 32usize..=96) {
            prop_assert!(is_valid_verifier(&random_token(n)));
        }
    }
}
