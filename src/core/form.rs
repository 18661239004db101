//! `application/x-www-form-urlencoded` bodies (token, revocation and
//! authorization requests, RFC 6749 Appendix B) and HTTP Basic client
//! credentials (RFC 6749 §2.3.1).
//!
//! Negative tests send duplicated and empty parameters on purpose (RFC 6749
//! §3.1: "Request and response parameters MUST NOT be included more than
//! once"), so [`encode`] keeps pairs exactly as given: no dedup, no sorting,
//! no dropping of empty values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Encodes `pairs` in order, duplicates and empty values kept.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k.as_ref(), v.as_ref());
    }
    ser.finish()
}

/// Decodes a body into pairs, in order. `+` is a space; invalid
/// percent-escapes are kept literally and invalid UTF-8 becomes U+FFFD (the
/// WHATWG URL standard's parser, which never fails).
pub fn decode(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

/// The first value of `name` in decoded pairs.
pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// How many times `name` occurs (RFC 6749 §3.1 forbids repeats).
pub fn count(pairs: &[(String, String)], name: &str) -> usize {
    pairs.iter().filter(|(k, _)| k == name).count()
}

/// Percent-encodes one component as Appendix B of RFC 6749 requires (space
/// becomes `+`).
pub fn encode_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// RFC 6749 §2.3.1: the client id and secret are each form-urlencoded, then
/// `base64(id ":" secret)`. Returns the base64 credentials without the
/// `Basic ` prefix; see [`basic_authorization`] for the header value.
///
/// The urlencoding step is the one servers and clients most often skip: a
/// secret containing `:` or `%` is then read differently by the two sides.
pub fn basic_credentials(client_id: &str, secret: &str) -> String {
    STANDARD.encode(format!(
        "{}:{}",
        encode_component(client_id),
        encode_component(secret)
    ))
}

/// The `Authorization` header value, `Basic <credentials>`.
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    format!("Basic {}", basic_credentials(client_id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encode_keeps_order_duplicates_and_empties() {
        let body = encode(&[
            ("grant_type", "authorization_code"),
            ("code", "a b"),
            ("code", ""),
            ("redirect_uri", "http://127.0.0.1:8/callback?x=1&y=2"),
        ]);
        assert_eq!(
            body,
            "grant_type=authorization_code&code=a+b&code=&redirect_uri=http%3A%2F%2F127.0.0.1%3A8%2Fcallback%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn encode_accepts_owned_strings() {
        let pairs = vec![("scope".to_string(), "mcp:read mcp:write".to_string())];
        assert_eq!(encode(&pairs), "scope=mcp%3Aread+mcp%3Awrite");
        let empty: [(&str, &str); 0] = [];
        assert_eq!(encode(&empty), "");
    }

    #[test]
    fn decode_basics() {
        let pairs = decode("a=1&b=x+y&c=%2B&a=2&d&e=%zz");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "+".into()),
                ("a".into(), "2".into()),
                ("d".into(), "".into()),
                ("e".into(), "%zz".into()),
            ]
        );
        assert_eq!(get(&pairs, "a"), Some("1"));
        assert_eq!(count(&pairs, "a"), 2);
        assert_eq!(get(&pairs, "z"), None);
    }

    #[test]
    fn basic_credentials_urlencodes_first() {
        // RFC 6749 §2.3.1 example credentials, plus characters that must be
        // encoded before base64.
        assert_eq!(
            basic_credentials("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw"),
            STANDARD.encode("s6BhdRkqt3:7Fjfp0ZBr1KtDRbnfVdmIw")
        );
        assert_eq!(
            basic_credentials("id:1", "p@ss w%rd"),
            STANDARD.encode("id%3A1:p%40ss+w%25rd")
        );
        assert!(basic_authorization("a", "b").starts_with("Basic "));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..8)) {
            prop_assert_eq!(decode(&encode(&pairs)), pairs);
        }

        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = decode(&s);
        }

        #[test]
        fn basic_credentials_decode_back(id in any::<String>(), secret in any::<String>()) {
            let raw = String::from_utf8(STANDARD.decode(basic_credentials(&id, &secret)).unwrap()).unwrap();
            // The encoded id has no ':', so the first ':' separates.
            let (eid, esecret) = raw.split_once(':').unwrap();
            let body = format!("i={eid}&s={esecret}");
            prop_assert_eq!(decode(&body), vec![("i".to_string(), id), ("s".to_string(), secret)]);
        }
    }
}
