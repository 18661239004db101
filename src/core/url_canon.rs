//! URL rules of discovery: the MCP canonical server URI, segment-wise path
//! prefixes (PRM-04), and the ordered well-known candidate URLs of DISC-03.
//!
//! The canonical server URI (MCP `authorization#canonical-server-uri`,
//! RFC 8707 §2) is the absolute URI of the MCP endpoint with a lowercase
//! scheme and host, no fragment, and no default port; the path is kept, and
//! a bare origin has no trailing slash (`https://h/` becomes `https://h`).
//! Parsing uses the WHATWG URL parser (`url` crate), which already
//! lowercases the scheme and host, drops default ports and resolves dot
//! segments; this module adds the MCP-specific steps on top.
//!
//! Only `http` and `https` URLs are accepted: every URL in this protocol is
//! one of the two, and anything else is an error the checks report.

use std::net::IpAddr;

use thiserror::Error;
use url::Url;

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("{input:?} is not an absolute URL: {reason}")]
    Parse {
        input: String,
        reason: url::ParseError,
    },
    #[error("{input:?} has scheme {scheme:?}; only http and https are used")]
    NotHttp { input: String, scheme: String },
    #[error("{input:?} has no host")]
    NoHost { input: String },
}

/// Which well-known document a discovery candidate is (DISC-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataKind {
    /// RFC 8414 `oauth-authorization-server`.
    OAuth,
    /// OpenID Connect Discovery `openid-configuration`.
    OpenId,
}

/// Parses an absolute http(s) URL with a host.
pub fn parse_http(input: &str) -> Result<Url, UrlError> {
    let url = Url::parse(input).map_err(|reason| UrlError::Parse {
        input: input.to_owned(),
        reason,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::NotHttp {
            input: input.to_owned(),
            scheme: url.scheme().to_owned(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost {
            input: input.to_owned(),
        });
    }
    Ok(url)
}

/// The MCP canonical server URI of `url`. The query, if any, is kept (RFC
/// 8707 §2 discourages but allows it); the fragment is dropped.
pub fn canonical_resource(url: &str) -> Result<String, UrlError> {
    let mut u = parse_http(url)?;
    u.set_fragment(None);
    Ok(strip_root_slash(&u))
}

/// `https://h/` → `https://h`, only when the path is the root and there is
/// no query (`https://h/?q` keeps its slash; dropping it would change the
/// WHATWG parse of the result only cosmetically but make it less readable).
fn strip_root_slash(u: &Url) -> String {
    let s = u.as_str();
    if u.path() == "/" && u.query().is_none() {
        s.strip_suffix('/').unwrap_or(s).to_owned()
    } else {
        s.to_owned()
    }
}

/// The ASCII serialisation of the origin: `scheme://host[:port]`, lowercase,
/// default port omitted (RFC 6454 §6.2).
pub fn origin(url: &str) -> Result<String, UrlError> {
    Ok(parse_http(url)?.origin().ascii_serialization())
}

/// The path of `url` with any trailing `/` removed; `""` at the root (the
/// catalogue's `P`, requirements §0.3).
pub fn path_without_trailing_slash(url: &str) -> Result<String, UrlError> {
    let u = parse_http(url)?;
    Ok(u.path().trim_end_matches('/').to_owned())
}

/// Whether `prefix` names `url` or a resource above it: same origin after
/// canonicalisation, and the path of `prefix` is a prefix of the path of
/// `url` by whole segments (`/mcp` covers `/mcp` and `/mcp/x`, not `/mcpx`).
/// A trailing slash on either path does not matter. The query of `url` is
/// ignored; a `prefix` with a query only matches its identical URL.
/// Unparseable input is never a prefix.
///
/// This is the relaxed PRM-04 rule the TS and Python SDK clients apply
/// (`checkResourceAllowed`, `check_resource_allowed`).
pub fn is_segment_prefix(prefix: &str, url: &str) -> bool {
    let (Ok(p), Ok(u)) = (parse_http(prefix), parse_http(url)) else {
        return false;
    };
    if p.origin() != u.origin() {
        return false;
    }
    if p.query().is_some() {
        return p.path() == u.path() && p.query() == u.query();
    }
    let with_slash = |path: &str| {
        let mut s = path.to_owned();
        if !s.ends_with('/') {
            s.push('/');
        }
        s
    };
    with_slash(u.path()).starts_with(&with_slash(p.path()))
}

/// The PRM candidate URLs for an MCP endpoint, DISC-03 steps 2 and 3:
/// `O/.well-known/oauth-protected-resource{P}` when `P` is not empty, then
/// `O/.well-known/oauth-protected-resource`. The endpoint's query is kept on
/// the path-suffixed form (RFC 9728 §3.1 inserts the well-known segment
/// between the host and the path "and/or query components").
pub fn prm_candidates(mcp_url: &str) -> Result<Vec<String>, UrlError> {
    let u = parse_http(mcp_url)?;
    let o = u.origin().ascii_serialization();
    let p = u.path().trim_end_matches('/');
    let mut out = Vec::with_capacity(2);
    if !p.is_empty() {
        let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
        out.push(format!(
            "{o}/.well-known/oauth-protected-resource{p}{query}"
        ));
    }
    out.push(format!("{o}/.well-known/oauth-protected-resource"));
    Ok(out)
}

/// The authorization server metadata candidates for issuer `I`, in DISC-03
/// order. With a path `IP` (trailing `/` stripped, RFC 8414 §3.1):
/// `IO/.well-known/oauth-authorization-server{IP}`,
/// `IO/.well-known/openid-configuration{IP}`,
/// `IO{IP}/.well-known/openid-configuration`. Without a path:
/// `IO/.well-known/oauth-authorization-server`,
/// `IO/.well-known/openid-configuration`.
///
/// An issuer has no query or fragment (RFC 8414 §2); if it has them anyway
/// they are ignored here, and PRM-05/ASM-04 report them.
pub fn as_metadata_candidates(issuer: &str) -> Result<Vec<(String, MetadataKind)>, UrlError> {
    let u = parse_http(issuer)?;
    let io = u.origin().ascii_serialization();
    let ip = u.path().trim_end_matches('/');
    Ok(if ip.is_empty() {
        vec![
            (
                format!("{io}/.well-known/oauth-authorization-server"),
                MetadataKind::OAuth,
            ),
            (
                format!("{io}/.well-known/openid-configuration"),
                MetadataKind::OpenId,
            ),
        ]
    } else {
        vec![
            (
                format!("{io}/.well-known/oauth-authorization-server{ip}"),
                MetadataKind::OAuth,
            ),
            (
                format!("{io}/.well-known/openid-configuration{ip}"),
                MetadataKind::OpenId,
            ),
            (
                format!("{io}{ip}/.well-known/openid-configuration"),
                MetadataKind::OpenId,
            ),
        ]
    })
}

/// Whether `host` is a loopback host: `localhost` or a name under
/// `.localhost` (RFC 6761 §6.3), `127.0.0.0/8`, `::1`, or an IPv4-mapped
/// loopback address. IPv6 literals may be bracketed, as in a URL.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost")
        || host
            .get(host.len().saturating_sub(10)..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
    {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Whether `url` is an http(s) URL on a loopback host (PRM-03 and ASM-09
/// accept plain `http` there, as a WARN).
pub fn is_loopback_url(url: &str) -> bool {
    parse_http(url)
        .ok()
        .and_then(|u| u.host_str().map(is_loopback_host))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_examples() {
        for (input, expected) in [
            ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
            ("HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp"),
            (
                "https://mcp.example.com:443/mcp",
                "https://mcp.example.com/mcp",
            ),
            ("http://mcp.example.com:80", "http://mcp.example.com"),
            (
                "https://mcp.example.com:8443",
                "https://mcp.example.com:8443",
            ),
            ("https://mcp.example.com/", "https://mcp.example.com"),
            ("https://mcp.example.com", "https://mcp.example.com"),
            (
                "https://mcp.example.com/server/mcp#frag",
                "https://mcp.example.com/server/mcp",
            ),
            ("https://mcp.example.com/#", "https://mcp.example.com"),
            // A trailing slash below the root is part of the path.
            (
                "https://mcp.example.com/mcp/",
                "https://mcp.example.com/mcp/",
            ),
            // Path case is significant.
            ("https://h/MCP", "https://h/MCP"),
            ("https://h/a/../mcp", "https://h/mcp"),
            ("https://h/?q=1", "https://h/?q=1"),
            ("https://h/mcp?x=1#y", "https://h/mcp?x=1"),
            ("http://[::1]:8080/mcp", "http://[::1]:8080/mcp"),
        ] {
            assert_eq!(
                canonical_resource(input).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn canonical_errors() {
        assert!(matches!(
            canonical_resource("/mcp"),
            Err(UrlError::Parse { .. })
        ));
        assert!(matches!(
            canonical_resource(""),
            Err(UrlError::Parse { .. })
        ));
        assert!(matches!(
            canonical_resource("urn:example:mcp"),
            Err(UrlError::NotHttp { ref scheme, .. }) if scheme == "urn"
        ));
        assert!(matches!(
            canonical_resource("https://"),
            Err(UrlError::Parse { .. })
        ));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("HTTPS://H.example:443/a/b?c#d").as_deref(),
            Ok("https://h.example")
        );
        assert_eq!(origin("http://h:8080/").as_deref(), Ok("http://h:8080"));
        assert_eq!(path_without_trailing_slash("https://h/").as_deref(), Ok(""));
        assert_eq!(
            path_without_trailing_slash("https://h/a/mcp/").as_deref(),
            Ok("/a/mcp")
        );
    }

    #[test]
    fn segment_prefixes() {
        for (prefix, url, expected) in [
            ("https://h/mcp", "https://h/mcp", true),
            ("https://h/mcp", "https://h/mcp/x", true),
            ("https://h/mcp", "https://h/mcpx", false),
            ("https://h/mcp/", "https://h/mcp", true),
            ("https://h", "https://h/anything", true),
            ("https://h/", "https://h", true),
            ("https://H:443/mcp", "https://h/mcp/", true),
            ("https://h/mcp/x", "https://h/mcp", false),
            ("https://evil.example/mcp", "https://h/mcp", false),
            ("http://h/mcp", "https://h/mcp", false),
            ("https://h:8443/mcp", "https://h/mcp", false),
            ("https://h/mcp", "https://h/mcp?session=1", true),
            ("https://h/mcp?a=1", "https://h/mcp?a=1", true),
            ("https://h/mcp?a=1", "https://h/mcp", false),
            ("not a url", "https://h/mcp", false),
        ] {
            assert_eq!(is_segment_prefix(prefix, url), expected, "{prefix} ⊑ {url}");
        }
    }

    #[test]
    fn prm_candidate_order() {
        assert_eq!(
            prm_candidates("https://example.com/public/mcp").unwrap(),
            vec![
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            prm_candidates("https://Example.com:443/").unwrap(),
            vec!["https://example.com/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            prm_candidates("http://127.0.0.1:3000/mcp/").unwrap(),
            vec![
                "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp",
                "http://127.0.0.1:3000/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            prm_candidates("https://h/mcp?tenant=a#x").unwrap()[0],
            "https://h/.well-known/oauth-protected-resource/mcp?tenant=a"
        );
    }

    #[test]
    fn as_candidate_order() {
        use MetadataKind::*;
        assert_eq!(
            as_metadata_candidates("https://auth.example.com/tenant1").unwrap(),
            vec![
                (
                    "https://auth.example.com/.well-known/oauth-authorization-server/tenant1"
                        .to_string(),
                    OAuth
                ),
                (
                    "https://auth.example.com/.well-known/openid-configuration/tenant1".to_string(),
                    OpenId
                ),
                (
                    "https://auth.example.com/tenant1/.well-known/openid-configuration".to_string(),
                    OpenId
                ),
            ]
        );
        // Trailing slash stripped before insertion (RFC 8414 §3.1).
        assert_eq!(
            as_metadata_candidates("https://auth.example.com/tenant1/").unwrap()[0].0,
            "https://auth.example.com/.well-known/oauth-authorization-server/tenant1"
        );
        for issuer in ["https://auth.example.com", "https://auth.example.com/"] {
            assert_eq!(
                as_metadata_candidates(issuer).unwrap(),
                vec![
                    (
                        "https://auth.example.com/.well-known/oauth-authorization-server"
                            .to_string(),
                        OAuth
                    ),
                    (
                        "https://auth.example.com/.well-known/openid-configuration".to_string(),
                        OpenId
                    ),
                ]
            );
        }
        assert!(as_metadata_candidates("auth.example.com").is_err());
    }

    #[test]
    fn loopback() {
        for h in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "localhost.example.com",
            "mylocalhost",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "::ffff:10.0.0.1",
            "",
            "[",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
        assert!(is_loopback_url("http://127.0.0.1:9/callback"));
        assert!(is_loopback_url("http://[::1]/"));
        assert!(!is_loopback_url("https://example.com/"));
        assert!(!is_loopback_url("garbage"));
    }

    fn host() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9]{0,8}(\\.[a-zA-Z][a-zA-Z0-9]{0,5}){0,2}"
    }

    fn path() -> impl Strategy<Value = String> {
        "(/[a-zA-Z0-9._~-]{0,6}){0,4}"
    }

    proptest! {
        #[test]
        fn canonicalisation_is_idempotent(
            scheme in prop_oneof![Just("http"), Just("https"), Just("HTTPS")],
            host in host(),
            port in proptest::option::of(1u16..),
            path in path(),
            frag in proptest::option::of("[a-z]{0,4}"),
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let frag = frag.map(|f| format!("#{f}")).unwrap_or_default();
            let url = format!("{scheme}://{host}{port}{path}{frag}");
            let once = canonical_resource(&url).unwrap();
            prop_assert_eq!(canonical_resource(&once).unwrap(), once.clone());
            prop_assert!(!once.contains('#'));
            prop_assert!(is_segment_prefix(&once, &url));
            prop_assert!(is_segment_prefix(&url, &once));
        }

        #[test]
        fn case_and_default_port_do_not_matter(
            host in host(),
            path in path(),
            https in any::<bool>(),
        ) {
            let (scheme, port) = if https { ("https", 443) } else { ("http", 80) };
            let plain = canonical_resource(&format!("{scheme}://{}{path}", host.to_lowercase())).unwrap();
            let shouty = canonical_resource(&format!("{}://{}:{port}{path}", scheme.to_uppercase(), host.to_uppercase())).unwrap();
            prop_assert_eq!(plain, shouty);
        }

        #[test]
        fn children_are_covered_extensions_are_not(
            host in host(),
            segs in proptest::collection::vec("[a-zA-Z0-9_~-]{1,6}", 1..4),
            child in "[a-z0-9]{1,5}",
        ) {
            let base = format!("https://{host}/{}", segs.join("/"));
            let below = format!("{base}/{child}");
            let with_slash = format!("{base}/");
            let extended = format!("{base}{child}");
            prop_assert!(is_segment_prefix(&base, &below));
            prop_assert!(is_segment_prefix(&with_slash, &below));
            prop_assert!(!is_segment_prefix(&base, &extended));
            prop_assert!(!is_segment_prefix(&below, &base));
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), t in any::<String>()) {
            let _ = canonical_resource(&s);
            let _ = is_segment_prefix(&s, &t);
            let _ = prm_candidates(&s);
            let _ = as_metadata_candidates(&s);
            let _ = origin(&s);
            let _ = is_loopback_host(&s);
        }
    }
}
