//! JWT inspection without verification, and the forged tokens negative
//! tests present to the resource server.
//!
//! The suite never trusts a token it decodes here: it reads claims to check
//! what the AS issued (audience binding, expiry) and builds forgeries the RS
//! must reject (RS checks: `alg: none`, altered claims under the original
//! signature, a corrupted signature, a valid signature by a key the AS never
//! published). Decoding follows the JWS compact serialisation (RFC 7515
//! §7.1): three base64url segments without padding, a JSON object header
//! and, for a JWT, a JSON object payload (RFC 7519 §7.2).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::OsRng;
use serde_json::{Map, Value, json};
use thiserror::Error;

/// The `kid` of tokens signed by [`sign_es256_with_fresh_key`].
pub const FOREIGN_KID: &str = "mcp-conform-foreign";

/// A decoded, unverified JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedJwt {
    pub header: Value,
    pub claims: Value,
    pub signature: Vec<u8>,
    /// `base64url(header) "." base64url(payload)`, exactly as received: what
    /// the signature covers (RFC 7515 §5.2).
    pub signing_input: String,
}

impl DecodedJwt {
    /// The header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// `aud` as a list: RFC 7519 §4.1.3 allows a string or an array of
    /// strings. Non-string array elements are skipped.
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A NumericDate claim (`exp`, `iat`, `nbf`) in whole seconds. RFC 7519
    /// §2 allows fractions; they are truncated.
    pub fn numeric_date(&self, name: &str) -> Option<i64> {
        let n = self.claims.get(name)?.as_number()?;
        n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))
    }
}

/// One segment of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a string is not a decodable JWT.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    /// A JWS compact serialisation has three segments; five means a JWE
    /// (RFC 7516 §7.1), which the suite cannot read.
    #[error("expected 3 dot-separated segments, found {found}")]
    SegmentCount { found: usize },
    #[error("the {segment} is not unpadded base64url: {reason}")]
    Base64 { segment: Segment, reason: String },
    #[error("the {segment} is not JSON: {reason}")]
    Json { segment: Segment, reason: String },
    #[error("the {segment} is JSON but not an object")]
    NotAnObject { segment: Segment },
}

/// Decodes `token` without checking its signature.
pub fn decode_unverified(token: &str) -> Result<DecodedJwt, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(JwtError::SegmentCount { found: parts.len() });
    };
    let header = json_object(h, Segment::Header)?;
    let claims = json_object(p, Segment::Payload)?;
    let signature = b64(s, Segment::Signature)?;
    Ok(DecodedJwt {
        header,
        claims,
        signature,
        signing_input: format!("{h}.{p}"),
    })
}

fn b64(segment_text: &str, segment: Segment) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(segment_text)
        .map_err(|e| JwtError::Base64 {
            segment,
            reason: e.to_string(),
        })
}

fn json_object(segment_text: &str, segment: Segment) -> Result<Value, JwtError> {
    let bytes = b64(segment_text, segment)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| JwtError::Json {
        segment,
        reason: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(JwtError::NotAnObject { segment });
    }
    Ok(value)
}

fn encode_json(value: &Value) -> String {
    // `Value`'s Display is its compact JSON serialisation and cannot fail.
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The same token with header `alg` set to `none` and an empty signature
/// (RFC 7519 §6.1, the unsecured JWT an RS must refuse). Other header
/// members and the payload segment are kept byte for byte.
pub fn with_alg_none(token: &str) -> Result<String, JwtError> {
    let decoded = decode_unverified(token)?;
    let mut header = decoded.header;
    if let Some(obj) = header.as_object_mut() {
        obj.insert("alg".into(), Value::from("none"));
    }
    let payload = token.split('.').nth(1).unwrap_or_default();
    Ok(format!("{}.{payload}.", encode_json(&header)))
}

/// The same token with its claims changed by `f`, under the original header
/// and signature (a tampered token whose signature no longer matches).
pub fn with_claims(
    token: &str,
    f: impl FnOnce(&mut Map<String, Value>),
) -> Result<String, JwtError> {
    let decoded = decode_unverified(token)?;
    let mut claims = match decoded.claims {
        Value::Object(map) => map,
        _ => {
            return Err(JwtError::NotAnObject {
                segment: Segment::Payload,
            });
        }
    };
    f(&mut claims);
    let mut parts = token.split('.');
    let header = parts.next().unwrap_or_default();
    let signature = parts.nth(1).unwrap_or_default();
    Ok(format!(
        "{header}.{}.{signature}",
        encode_json(&Value::Object(claims))
    ))
}

/// The token with one character of its signature segment changed,
/// deterministically: the first character becomes `A`, or `B` if it was
/// `A`. The first base64url character carries the top six bits of the first
/// signature byte, so the decoded signature always differs (changing the
/// last character might only touch padding bits a lax decoder ignores).
///
/// A token with an empty signature gets `A` appended; a string with no `.`
/// has its first character changed the same way (or becomes `A` if empty).
pub fn flip_one_char(token: &str) -> String {
    let (head, sig) = match token.rfind('.') {
        Some(i) => token.split_at(i + 1),
        None => ("", token),
    };
    let mut chars = sig.chars();
    match chars.next() {
        None => format!("{head}A"),
        Some(first) => {
            let replacement = if first == 'A' { 'B' } else { 'A' };
            format!("{head}{replacement}{}", chars.as_str())
        }
    }
}

/// A fresh P-256 key from the OS RNG.
pub fn fresh_es256_key() -> SigningKey {
    SigningKey::random(&mut OsRng)
}

/// Signs `claims` with `key` as an ES256 JWT: header
/// `{"alg":"ES256","typ":"JWT","kid":kid}`, signature `r || s` as 64 raw
/// bytes (RFC 7518 §3.4; not DER).
pub fn sign_es256(claims: &Value, key: &SigningKey, kid: &str) -> String {
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
    let signing_input = format!("{}.{}", encode_json(&header), encode_json(claims));
    let signature: Signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// A well-formed ES256 JWT signed by a key the suite just generated, which
/// no AS ever published: the RS must reject it despite a valid signature.
/// The `kid` is [`FOREIGN_KID`].
pub fn sign_es256_with_fresh_key(claims: &Value) -> String {
    sign_es256(claims, &fresh_es256_key(), FOREIGN_KID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use proptest::prelude::*;

    // RFC 7515 Appendix A.1's example JWS (HS256).
    const RFC7515_A1: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn verify(token: &str, key: &SigningKey) -> bool {
        let d = decode_unverified(token).unwrap();
        let Ok(sig) = Signature::from_slice(&d.signature) else {
            return false;
        };
        VerifyingKey::from(key)
            .verify(d.signing_input.as_bytes(), &sig)
            .is_ok()
    }

    #[test]
    fn decodes_rfc7515_example() {
        let d = decode_unverified(RFC7515_A1).unwrap();
        assert_eq!(d.alg(), Some("HS256"));
        assert_eq!(d.header["typ"], "JWT");
        assert_eq!(d.claims["iss"], "joe");
        assert_eq!(d.numeric_date("exp"), Some(1_300_819_380));
        assert_eq!(d.claims["http://example.com/is_root"], true);
        // RFC 7515 A.1.1's HMAC octets (which RFC 7636 Appendix B reuses).
        assert_eq!(
            d.signature,
            [
                116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22,
                212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121
            ]
        );
        assert_eq!(d.signing_input, RFC7515_A1.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn precise_errors() {
        assert_eq!(
            decode_unverified("a.b"),
            Err(JwtError::SegmentCount { found: 2 })
        );
        assert_eq!(
            decode_unverified("a.b.c.d.e"),
            Err(JwtError::SegmentCount { found: 5 })
        );
        assert_eq!(
            decode_unverified(""),
            Err(JwtError::SegmentCount { found: 1 })
        );
        assert!(matches!(
            decode_unverified("e30=.e30.AA"),
            Err(JwtError::Base64 {
                segment: Segment::Header,
                ..
            })
        ));
        assert!(matches!(
            decode_unverified("e30.e30.A"),
            Err(JwtError::Base64 {
                segment: Segment::Signature,
                ..
            })
        ));
        // "bm90IGpzb24" is "not json".
        assert!(matches!(
            decode_unverified("e30.bm90IGpzb24.AA"),
            Err(JwtError::Json {
                segment: Segment::Payload,
                ..
            })
        ));
        // "WzFd" is "[1]".
        assert_eq!(
            decode_unverified("WzFd.e30.AA"),
            Err(JwtError::NotAnObject {
                segment: Segment::Header
            })
        );
        // An empty signature decodes (alg none).
        assert!(decode_unverified("e30.e30.").unwrap().signature.is_empty());
    }

    #[test]
    fn claim_helpers() {
        let t = sign_es256_with_fresh_key(&json!({"aud": ["https://h/mcp", 3, "x"], "exp": 1.9e9}));
        let d = decode_unverified(&t).unwrap();
        assert_eq!(d.audiences(), vec!["https://h/mcp", "x"]);
        assert_eq!(d.numeric_date("exp"), Some(1_900_000_000));
        let t = sign_es256_with_fresh_key(&json!({"aud": "https://h/mcp"}));
        assert_eq!(
            decode_unverified(&t).unwrap().audiences(),
            vec!["https://h/mcp"]
        );
    }

    #[test]
    fn fresh_key_signature_verifies_and_has_foreign_kid() {
        let key = fresh_es256_key();
        let claims = json!({"iss": "https://as", "aud": "https://h/mcp", "exp": 4_000_000_000u64});
        let t = sign_es256(&claims, &key, FOREIGN_KID);
        let d = decode_unverified(&t).unwrap();
        assert_eq!(
            d.header,
            json!({"alg": "ES256", "typ": "JWT", "kid": "mcp-conform-foreign"})
        );
        assert_eq!(d.claims, claims);
        assert_eq!(d.signature.len(), 64);
        assert!(verify(&t, &key));
        assert!(!verify(&t, &fresh_es256_key()));
        let foreign = decode_unverified(&sign_es256_with_fresh_key(&claims)).unwrap();
        assert_eq!(foreign.kid(), Some(FOREIGN_KID));
    }

    #[test]
    fn forgeries_break_the_signature() {
        let key = fresh_es256_key();
        let t = sign_es256(&json!({"sub": "u1", "scope": "read"}), &key, "k1");

        let none = with_alg_none(&t).unwrap();
        let d = decode_unverified(&none).unwrap();
        assert_eq!(d.alg(), Some("none"));
        assert_eq!(d.kid(), Some("k1"));
        assert!(d.signature.is_empty());
        assert!(none.ends_with('.'));
        assert_eq!(none.split('.').nth(1), t.split('.').nth(1));

        let tampered = with_claims(&t, |c| {
            c.insert("scope".into(), json!("read admin"));
        })
        .unwrap();
        let d = decode_unverified(&tampered).unwrap();
        assert_eq!(d.claims["scope"], "read admin");
        assert_eq!(d.claims["sub"], "u1");
        assert_eq!(tampered.split('.').next(), t.split('.').next());
        assert_eq!(tampered.split('.').nth(2), t.split('.').nth(2));
        assert!(!verify(&tampered, &key));

        let flipped = flip_one_char(&t);
        assert_ne!(flipped, t);
        assert_eq!(flipped.len(), t.len());
        assert_eq!(flip_one_char(&t), flipped, "deterministic");
        assert_eq!(
            flipped.rsplit_once('.').unwrap().0,
            t.rsplit_once('.').unwrap().0
        );
        assert!(!verify(&flipped, &key));
    }

    #[test]
    fn flip_edge_cases() {
        assert_eq!(flip_one_char("h.p.Axy"), "h.p.Bxy");
        assert_eq!(flip_one_char("h.p.xyz"), "h.p.Ayz");
        assert_eq!(flip_one_char("h.p."), "h.p.A");
        assert_eq!(flip_one_char("opaque"), "Apaque");
        assert_eq!(flip_one_char(""), "A");
        assert_eq!(flip_one_char("h.p.éx"), "h.p.Ax");
    }

    #[test]
    fn forgeries_of_garbage_are_errors() {
        assert!(with_alg_none("not-a-jwt").is_err());
        assert!(with_claims("a.b.c", |_| {}).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in any::<String>()) {
            let _ = decode_unverified(&s);
            let _ = with_alg_none(&s);
            let _ = with_claims(&s, |c| { c.insert("x".into(), json!(1)); });
            let flipped = flip_one_char(&s);
            prop_assert_ne!(flipped, s);
        }

        #[test]
        fn jwt_shaped_input_never_panics(s in "[A-Za-z0-9_-]{0,12}\\.[A-Za-z0-9_-]{0,12}\\.[A-Za-z0-9_=-]{0,12}") {
            let _ = decode_unverified(&s);
        }

        #[test]
        fn decode_recovers_signed_claims(sub in any::<String>(), n in any::<i64>()) {
            let claims = json!({"sub": sub, "n": n});
            let t = sign_es256_with_fresh_key(&claims);
            prop_assert_eq!(decode_unverified(&t).unwrap().claims, claims.clone());
            let tampered = with_claims(&t, |c| { c.insert("n".into(), json!("changed")); }).unwrap();
            prop_assert_eq!(&decode_unverified(&tampered).unwrap().claims["sub"], &claims["sub"]);
        }
    }
}
