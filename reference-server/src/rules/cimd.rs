//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2025-11-25 `#client-id-metadata-documents`): which `client_id` URLs
//! may be fetched at all (checked before any request leaves the server),
//! and what a fetched document must contain.

use serde_json::Value;
use url::{Host, Url};

use crate::rules::dcr::{
    AuthMethod, ClientMetadata, RegistrationError, RegistrationPolicy, string,
    validate_metadata_object,
};
use crate::rules::redirect_uri::is_loopback_host;

/// Longest client ID URL considered.
pub const MAX_CLIENT_ID_URL_LEN: usize = 1024;

/// Which client ID URLs may be fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct CimdPolicy {
    /// Allow `http://` and loopback addresses (tests only; the
    /// `allow_http_cimd` option).
    pub allow_http_loopback: bool,
}

/// Why a URL-shaped `client_id` is refused before any fetch (CIMD §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdUrlError {
    #[error("client_id URL is too long")]
    TooLong,
    #[error("client_id is not an absolute URL")]
    NotAUrl,
    #[error("client_id URL must use https")]
    NotHttps,
    #[error("client_id URL must contain a path")]
    NoPath,
    #[error("client_id URL must not contain a fragment")]
    Fragment,
    #[error("client_id URL must not contain userinfo")]
    Userinfo,
    #[error("client_id URL must not contain . or .. path segments")]
    DotSegment,
    #[error("client_id URL must not contain whitespace or control characters")]
    IllegalCharacters,
    #[error("client_id URL points at a private, loopback or link-local address")]
    InternalAddress,
}

/// Whether a `client_id` looks like a URL at all (and so is a CIMD client
/// rather than a registered one). Registered ids never contain `:`.
pub fn is_url_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Checks a client ID URL before fetching it (CIMD §3: https, a path, no
/// fragment, no userinfo, no dot segments). Also refuses IP literals in
/// private ranges, the SSRF guard the MCP security considerations ask for
/// (host names that resolve to such addresses are not caught here).
pub fn validate_client_id_url(raw: &str, policy: CimdPolicy) -> Result<Url, CimdUrlError> {
    if raw.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(CimdUrlError::TooLong);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CimdUrlError::IllegalCharacters);
    }
    if raw.contains('#') {
        return Err(CimdUrlError::Fragment);
    }
    let url = Url::parse(raw).map_err(|_| CimdUrlError::NotAUrl)?;
    let loopback = is_loopback_host(&url);
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http_loopback && loopback => {}
        _ => return Err(CimdUrlError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CimdUrlError::Userinfo);
    }
    // The parser removes dot segments, so look at the raw path: what lies
    // between the authority and the query. The query is cut off first (a
    // `/` inside it is not a path), and `\` separates segments like `/` in
    // an https URL (WHATWG URL), so `\..\` is a dot segment too.
    let after_scheme = raw.split_once("://").map_or("", |(_, rest)| rest);
    let before_query = after_scheme.split('?').next().unwrap_or("");
    let raw_path = before_query
        .find(['/', '\\'])
        .map_or("", |i| &before_query[i..]);
    if raw_path.split(['/', '\\']).any(|seg| {
        let seg = seg.to_ascii_lowercase();
        matches!(
            seg.as_str(),
            "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
        )
    }) {
        return Err(CimdUrlError::DotSegment);
    }
    // The parsed path decides: the raw text can put a path where the parser
    // sees none (`https:///p` is `https://p/`).
    if raw_path.is_empty() || raw_path == "/" || url.path() == "/" {
        return Err(CimdUrlError::NoPath);
    }
    let internal = match url.host() {
        Some(Host::Ipv4(ip)) => {
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
        }
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => true,
    };
    if internal && !(policy.allow_http_loopback && loopback) {
        return Err(CimdUrlError::InternalAddress);
    }
    Ok(url)
}

/// Validates a fetched client ID metadata document for `url` (CIMD §4.1;
/// MCP 2025-11-25: valid JSON with `client_id`, `client_name` and
/// `redirect_uris`, `client_id` exactly equal to the URL). Shared-secret
/// authentication is refused, and an absent method means `none`.
pub fn validate_cimd_document(
    json_bytes: &[u8],
    url: &str,
    allow_unsafe_redirect_uris: bool,
) -> Result<ClientMetadata, RegistrationError> {
    let value: Value =
        serde_json::from_slice(json_bytes).map_err(|_| RegistrationError::MalformedJson)?;
    let Value::Object(obj) = value else {
        return Err(RegistrationError::NotAnObject);
    };
    match string(&obj, "client_id")? {
        None => return Err(RegistrationError::MissingField("client_id")),
        Some(id) if id != url => return Err(RegistrationError::ClientIdMismatch),
        Some(_) => {}
    }
    if string(&obj, "client_name")?.is_none_or(|n| n.is_empty()) {
        return Err(RegistrationError::MissingField("client_name"));
    }
    if !obj.contains_key("redirect_uris") {
        return Err(RegistrationError::MissingField("redirect_uris"));
    }
    if obj.contains_key("client_secret") {
        return Err(RegistrationError::SharedSecretNotAllowed("client_secret"));
    }
    let policy = RegistrationPolicy {
        allow_unsafe_redirect_uris,
        default_auth_method: AuthMethod::None,
        ..RegistrationPolicy::default()
    };
    let meta = validate_metadata_object(&obj, &policy)?;
    if meta.token_endpoint_auth_method != AuthMethod::None {
        return Err(RegistrationError::SharedSecretNotAllowed(
            meta.token_endpoint_auth_method.as_str(),
        ));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: CimdPolicy = CimdPolicy {
        allow_http_loopback: false,
    };

    #[test]
    fn client_id_urls() {
        assert!(validate_client_id_url("https://client.example/cimd/ok.json", STRICT).is_ok());
        use CimdUrlError::*;
        for (url, want) in [
            ("http://client.example/x.json", NotHttps),
            ("https://client.example", NoPath),
            ("https://client.example/", NoPath),
            ("https://client.example/x.json#f", Fragment),
            ("https://u:p@client.example/x.json", Userinfo),
            ("https://client.example/a/../x.json", DotSegment),
            ("https://client.example/./x.json", DotSegment),
            ("https://client.example/a/%2E%2E/x.json", DotSegment),
            ("https://127.0.0.1/x.json", InternalAddress),
            ("https://169.254.169.254/x.json", InternalAddress),
            ("https://10.0.0.1/x.json", InternalAddress),
            ("not a url", IllegalCharacters),
            ("https://client.example/a\\..\\x.json", DotSegment),
            ("https://client.example\\.\\x.json", DotSegment),
        ] {
            assert_eq!(validate_client_id_url(url, STRICT), Err(want), "{url}");
        }
        let tests = CimdPolicy {
            allow_http_loopback: true,
        };
        assert!(validate_client_id_url("http://127.0.0.1:8080/cimd/ok.json", tests).is_ok());
        assert!(validate_client_id_url("http://10.0.0.1/cimd/ok.json", tests).is_err());
    }

    /// Found by the `server_cimd` fuzz target: a `/` in the query was taken
    /// for the path, so a URL without a path passed.
    #[test]
    fn regression_cimd_slash_in_query_is_not_a_path() {
        for url in ["https://http.0.s:?//ce", "https://client.example?/x.json"] {
            assert_eq!(
                validate_client_id_url(url, STRICT),
                Err(CimdUrlError::NoPath),
                "{url}"
            );
        }
        assert!(validate_client_id_url("https://client.example/x.json?a=/b", STRICT).is_ok());
    }

    /// Found by the `server_cimd` fuzz target: `https:///p` parses as
    /// `https://p/`, a URL without a path, while its raw text has one.
    #[test]
    fn regression_cimd_empty_authority_hides_missing_path() {
        assert_eq!(
            validate_client_id_url("https:///p", STRICT),
            Err(CimdUrlError::NoPath)
        );
    }

    #[test]
    fn documents() {
        let url = "https://client.example/cimd/ok.json";
        let ok = serde_json::json!({
            "client_id": url, "client_name": "c",
            "redirect_uris": ["http://127.0.0.1:5/callback"],
        });
        let m = validate_cimd_document(ok.to_string().as_bytes(), url, false).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);

        let mut wrong_id = ok.clone();
        wrong_id["client_id"] = serde_json::json!(format!("{url}/"));
        assert_eq!(
            validate_cimd_document(wrong_id.to_string().as_bytes(), url, false),
            Err(RegistrationError::ClientIdMismatch)
        );
        let mut secret = ok.clone();
        secret["token_endpoint_auth_method"] = serde_json::json!("client_secret_basic");
        assert!(matches!(
            validate_cimd_document(secret.to_string().as_bytes(), url, false),
            Err(RegistrationError::SharedSecretNotAllowed(_))
        ));
        let mut nameless = ok.clone();
        nameless.as_object_mut().unwrap().remove("client_name");
        assert_eq!(
            validate_cimd_document(nameless.to_string().as_bytes(), url, false),
            Err(RegistrationError::MissingField("client_name"))
        );
        assert_eq!(
            validate_cimd_document(b"<html>", url, false),
            Err(RegistrationError::MalformedJson)
        );
    }
}
