//! Redirect URI rules: which URIs a client may register (DCR and CIMD), and
//! whether a URI sent to `/authorize` matches a registered one.
//!
//! Registration (MCP `#communication-security`: redirect URIs MUST be
//! localhost or HTTPS; RFC 6749 §3.1.2 / OAuth 2.1 §2.3): absolute, `https`
//! or loopback `http`, no fragment, no userinfo, never a script or local
//! scheme.
//!
//! Matching (OAuth 2.1 §2.3.1, §4.1.1; RFC 9700 §4.1.3): simple string
//! comparison (RFC 3986 §6.2.1), with one exception: for loopback `http`
//! URIs the port may differ (RFC 8252 §7.3; OAuth 2.1 §8.4.2), since native
//! apps get an ephemeral port from the OS at run time.

use url::{Host, Url};

/// Longest redirect URI accepted; bounds what a registration can store.
pub const MAX_REDIRECT_URI_LEN: usize = 1024;

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI is empty")]
    Empty,
    #[error("redirect URI is longer than {MAX_REDIRECT_URI_LEN} bytes")]
    TooLong,
    #[error("redirect URI contains whitespace or control characters")]
    IllegalCharacters,
    #[error("redirect URI is not an absolute URI (RFC 6749 §3.1.2)")]
    NotAbsolute,
    #[error("redirect URI scheme {0:?} is never allowed")]
    DangerousScheme(String),
    #[error("redirect URI scheme {0:?} is not allowed: use https, or http on a loopback host")]
    UnsupportedScheme(String),
    #[error("plain http redirect URIs are allowed only on 127.0.0.1, [::1] or localhost")]
    InsecureHttp,
    #[error("redirect URI has no host")]
    MissingHost,
    #[error("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    #[error("redirect URI must not contain userinfo")]
    Userinfo,
}

/// Schemes that run code or read local files when followed.
const DANGEROUS_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

/// Checks that `raw` may be registered as a redirect URI.
pub fn validate_redirect_uri(raw: &str) -> Result<Url, RedirectUriError> {
    if raw.is_empty() {
        return Err(RedirectUriError::Empty);
    }
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err(RedirectUriError::TooLong);
    }
    // The URL parser silently strips or percent-encodes these; the
    // registered string is what gets compared later, so refuse them.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RedirectUriError::IllegalCharacters);
    }
    // Scheme checks first, on the raw text, so `javascript:` is reported as
    // what it is even where the parser would choke on the rest.
    if let Some((scheme, _)) = raw.split_once(':') {
        let scheme = scheme.to_ascii_lowercase();
        if DANGEROUS_SCHEMES.contains(&scheme.as_str()) {
            return Err(RedirectUriError::DangerousScheme(scheme));
        }
    }
    let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
    if raw.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Userinfo);
    }
    match url.scheme() {
        "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(RedirectUriError::MissingHost);
            }
        }
        "http" => {
            if !is_loopback_host(&url) {
                return Err(RedirectUriError::InsecureHttp);
            }
        }
        other => return Err(RedirectUriError::UnsupportedScheme(other.to_owned())),
    }
    Ok(url)
}

/// Whether the URL's host is one of the loopback names MCP allows:
/// `127.0.0.1`, `[::1]` or `localhost`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether `requested` matches one of `registered`.
///
/// Exact string equality, except that a loopback `http` URI may use any
/// port (RFC 8252 §7.3) as long as everything else (scheme, host spelling,
/// path, query) is identical. With `fault_prefix_match` (the
/// `redirect-uri-prefix-match` fault) any URI that starts with a registered
/// one is accepted: the classic open-redirect bug.
pub fn matches_registered<S: AsRef<str>>(
    requested: &str,
    registered: &[S],
    fault_prefix_match: bool,
) -> bool {
    registered.iter().any(|r| {
        let r = r.as_ref();
        requested == r
            || (fault_prefix_match && requested.starts_with(r))
            || loopback_port_variant(requested, r)
    })
}

/// The RFC 8252 §7.3 exception: both are loopback http URIs in canonical
/// form that differ at most in the port.
fn loopback_port_variant(requested: &str, registered: &str) -> bool {
    let (Ok(mut req), Ok(mut reg)) = (validate_redirect_uri(requested), Url::parse(registered))
    else {
        return false;
    };
    // Only canonical spellings qualify: a dot segment, an upper-case host
    // or a default port would be normalised by the parser and must not
    // sneak past the exact comparison.
    if req.as_str() != requested || reg.as_str() != registered {
        return false;
    }
    if req.scheme() != "http" || reg.scheme() != "http" {
        return false;
    }
    if !is_loopback_host(&req) || !is_loopback_host(&reg) {
        return false;
    }
    let (Ok(()), Ok(())) = (req.set_port(None), reg.set_port(None)) else {
        return false;
    };
    req.as_str() == reg.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://client.example/cb",
            "https://client.example:8443/cb?x=1",
            "http://127.0.0.1:5555/callback",
            "http://[::1]:5555/callback",
            "http://localhost:5555/callback",
            "http://127.0.0.1/callback",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_unsafe_uris() {
        use RedirectUriError::*;
        let cases: &[(&str, RedirectUriError)] = &[
            ("http://evil.example/cb", InsecureHttp),
            ("http://127.0.0.2/cb", InsecureHttp),
            ("https://client.example/cb#frag", Fragment),
            ("https://client.example/cb#", Fragment),
            ("javascript:alert(1)", DangerousScheme("javascript".into())),
            ("JavaScript:alert(1)", DangerousScheme("javascript".into())),
            ("data:text/html,x", DangerousScheme("data".into())),
            ("file:///etc/passwd", DangerousScheme("file".into())),
            ("vbscript:x", DangerousScheme("vbscript".into())),
            ("/callback", NotAbsolute),
            ("not a uri", IllegalCharacters),
            ("notauri", NotAbsolute),
            ("https://user:pw@client.example/cb", Userinfo),
            ("http://127.0.0.1:5@evil.example/cb", Userinfo),
            (
                "com.example.app:/oauth/cb",
                UnsupportedScheme("com.example.app".into()),
            ),
            ("", Empty),
            (" https://client.example/cb", IllegalCharacters),
        ];
        for (uri, want) in cases {
            assert_eq!(
                validate_redirect_uri(uri).err().as_ref(),
                Some(want),
                "{uri}"
            );
        }
    }

    #[test]
    fn exact_match_with_loopback_port_exception() {
        let reg = ["http://127.0.0.1:5555/callback".to_owned()];
        assert!(matches_registered(
            "http://127.0.0.1:5555/callback",
            &reg,
            false
        ));
        assert!(matches_registered(
            "http://127.0.0.1:61000/callback",
            &reg,
            false
        ));
        assert!(matches_registered("http://127.0.0.1/callback", &reg, false));
        for bad in [
            "http://127.0.0.1:5555/callback2",
            "http://127.0.0.1:5555/callback/extra",
            "http://127.0.0.1:5555/callback/",
            "http://127.0.0.1:5555/callback?x=1",
            "https://127.0.0.1:5555/callback",
            "http://127.0.0.1:5555/callback#f",
            "http://127.0.0.1:5555@evil.example/callback",
            "http://127.0.0.1:5555/Callback",
            "http://127.0.0.1:5555/%63allback",
            "http://localhost:5555/callback",
            "http://127.0.0.1:5555/./callback",
            "http://evil.example:5555/callback",
        ] {
            assert!(!matches_registered(bad, &reg, false), "{bad}");
        }
    }

    #[test]
    fn https_has_no_port_exception() {
        let reg = ["https://client.example:8443/cb".to_owned()];
        assert!(!matches_registered(
            "https://client.example:9443/cb",
            &reg,
            false
        ));
    }

    #[test]
    fn prefix_fault_opens_the_redirect() {
        let reg = ["https://client.example/cb".to_owned()];
        assert!(!matches_registered(
            "https://client.example/cb.evil.example",
            &reg,
            false
        ));
        assert!(matches_registered(
            "https://client.example/cb.evil.example",
            &reg,
            true
        ));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = validate_redirect_uri(&s);
            let _ = matches_registered(&s, &["http://127.0.0.1:1/cb"], false);
        }

        #[test]
        fn fragments_never_validate(base in "https://[a-z]{1,10}\\.example/[a-z]{0,8}", frag in "[a-z]{0,8}") {
            let uri = format!("{base}#{frag}");
            prop_assert!(validate_redirect_uri(&uri).is_err());
        }

        #[test]
        fn non_loopback_http_never_validates(host in "[a-z]{1,12}\\.(example|com|net)", path in "/[a-z]{0,8}") {
            let uri = format!("http://{host}{path}");
            prop_assert_eq!(validate_redirect_uri(&uri), Err(RedirectUriError::InsecureHttp));
        }

        #[test]
        fn any_suffix_breaks_an_exact_match(suffix in "[a-zA-Z0-9/?=&.%_-]{1,12}") {
            let reg = ["https://client.example/cb".to_owned()];
            let req = format!("https://client.example/cb{suffix}");
            prop_assert!(!matches_registered(&req, &reg, false));
        }

        #[test]
        fn loopback_ports_are_interchangeable(p1 in 1u16.., p2 in 1u16..) {
            let reg = [format!("http://127.0.0.1:{p1}/callback")];
            let req = format!("http://127.0.0.1:{p2}/callback");
            // Port 80 is the default and is dropped by the canonical form,
            // so it is not a canonical spelling; skip it.
            prop_assume!(p1 != 80 && p2 != 80);
            prop_assert!(matches_registered(&req, &reg, false));
        }
    }
}
