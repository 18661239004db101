//! PKCE (RFC 7636): the grammar of verifiers and challenges, the accepted
//! challenge methods, and the S256 check at the token endpoint.
//!
//! Policy of the strict server: only `S256` is accepted (the metadata
//! advertises only `S256`; RFC 9700 §2.1.1). A challenge sent without
//! `code_challenge_method` is treated as S256 rather than as RFC 7636 §4.3's
//! `plain` default: later OAuth 2.1 drafts (oauth-wg/oauth-v2-1 PR#248) make
//! S256 the default, and reading it as `plain` would be a silent downgrade
//! (requirement PKCE-03, outcome (b)).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The challenge method bound to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    S256,
    /// Only ever accepted under the `pkce-plain-accepted` fault.
    Plain,
}

/// A validated code challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    pub value: String,
    pub method: ChallengeMethod,
}

/// What the authorization endpoint lets through (the faults relax it).
#[derive(Debug, Clone, Copy, Default)]
pub struct PkcePolicy {
    /// Accept `code_challenge_method=plain` (fault `pkce-plain-accepted`).
    pub allow_plain: bool,
    /// Accept a request with no challenge (fault `pkce-missing-challenge-accepted`).
    pub allow_missing: bool,
}

/// Why an authorization request's PKCE parameters were refused. Each maps
/// to `invalid_request` (RFC 7636 §4.4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge is required (PKCE, RFC 7636 §4.4.1; OAuth 2.1 §4.1.1)")]
    MissingChallenge,
    #[error("code_challenge_method {0:?} is not supported; use S256")]
    UnsupportedMethod(String),
    #[error("code_challenge must be 43 to 128 unreserved characters (RFC 7636 §4.2)")]
    MalformedChallenge,
}

/// Whether `s` is 43 to 128 characters from the RFC 3986 unreserved set,
/// the grammar RFC 7636 §4.1 gives `code_verifier`.
pub fn is_valid_verifier(s: &str) -> bool {
    is_unreserved_43_128(s)
}

/// Whether `s` fits the `code_challenge` grammar. RFC 7636 §4.2 derives the
/// challenge from the verifier, and OAuth 2.1 §4.1.1 gives it the same
/// 43-128 unreserved-character ABNF.
pub fn is_valid_challenge(s: &str) -> bool {
    is_unreserved_43_128(s)
}

fn is_unreserved_43_128(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL-ENCODE(SHA256(ASCII(verifier)))`, RFC 7636 §4.2.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and its S256 transform equals
/// `challenge` (RFC 7636 §4.6). The comparison does not stop at the first
/// differing byte.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && constant_time_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes())
}

/// Checks `verifier` against a stored challenge of either method.
pub fn verify(verifier: &str, challenge: &CodeChallenge) -> bool {
    match challenge.method {
        ChallengeMethod::S256 => verify_s256(verifier, &challenge.value),
        ChallengeMethod::Plain => {
            is_valid_verifier(verifier)
                && constant_time_eq(verifier.as_bytes(), challenge.value.as_bytes())
        }
    }
}

/// Validates the `code_challenge` and `code_challenge_method` parameters of
/// an authorization request (both already with empty values dropped, OAuth
/// 2.1 §3.1). `Ok(None)` only when `policy.allow_missing`.
pub fn validate_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    policy: PkcePolicy,
) -> Result<Option<CodeChallenge>, PkceError> {
    // RFC 7636 §4.4.1: an unsupported transformation is an error even when
    // the challenge itself is missing.
    let method = match method {
        None | Some("S256") => ChallengeMethod::S256,
        Some("plain") if policy.allow_plain => ChallengeMethod::Plain,
        Some(other) => return Err(PkceError::UnsupportedMethod(other.to_owned())),
    };
    let Some(value) = challenge else {
        return if policy.allow_missing {
            Ok(None)
        } else {
            Err(PkceError::MissingChallenge)
        };
    };
    if !is_valid_challenge(value) {
        return Err(PkceError::MalformedChallenge);
    }
    Ok(Some(CodeChallenge {
        value: value.to_owned(),
        method,
    }))
}

/// Byte comparison whose running time depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(s256_challenge(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE));
        assert!(!verify_s256(RFC_CHALLENGE, RFC_CHALLENGE));
    }

    #[test]
    fn grammar_bounds() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_challenge(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_challenge(&format!("{}/", "a".repeat(42))));
        assert!(!is_valid_challenge(&format!("{}=", "a".repeat(42))));
        assert!(is_valid_challenge(&format!("{}-._~", "a".repeat(40))));
    }

    #[test]
    fn methods() {
        let strict = PkcePolicy::default();
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), None, strict).unwrap(),
            Some(CodeChallenge {
                value: RFC_CHALLENGE.into(),
                method: ChallengeMethod::S256
            })
        );
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), Some("plain"), strict),
            Err(PkceError::UnsupportedMethod("plain".into()))
        );
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), Some("S512"), strict),
            Err(PkceError::UnsupportedMethod("S512".into()))
        );
        // Method names are case-sensitive (RFC 7636 §4.3 registers "S256").
        assert!(validate_challenge(Some(RFC_CHALLENGE), Some("s256"), strict).is_err());
        assert_eq!(
            validate_challenge(None, Some("S256"), strict),
            Err(PkceError::MissingChallenge)
        );
        assert_eq!(
            validate_challenge(Some("short"), None, strict),
            Err(PkceError::MalformedChallenge)
        );
    }

    #[test]
    fn faults_relax_the_policy() {
        let lax = PkcePolicy {
            allow_plain: true,
            allow_missing: true,
        };
        assert_eq!(validate_challenge(None, None, lax), Ok(None));
        let c = validate_challenge(Some(RFC_VERIFIER), Some("plain"), lax)
            .unwrap()
            .unwrap();
        assert!(verify(RFC_VERIFIER, &c));
    }

    proptest! {
        #[test]
        fn s256_round_trip(verifier in "[A-Za-z0-9._~-]{43,128}") {
            let challenge = s256_challenge(&verifier);
            prop_assert!(is_valid_challenge(&challenge));
            prop_assert!(verify_s256(&verifier, &challenge));
        }

        #[test]
        fn a_different_verifier_never_verifies(
            a in "[A-Za-z0-9._~-]{43,64}",
            b in "[A-Za-z0-9._~-]{43,64}",
        ) {
            prop_assume!(a != b);
            prop_assert!(!verify_s256(&b, &s256_challenge(&a)));
        }

        #[test]
        fn the_challenge_itself_is_not_a_verifier(verifier in "[A-Za-z0-9._~-]{43,128}") {
            // A plain-style replay of the challenge never passes S256.
            let challenge = s256_challenge(&verifier);
            prop_assert!(!verify_s256(&challenge, &challenge));
        }
    }
}
