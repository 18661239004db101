//! `Origin` validation for the MCP endpoint, without I/O (DNS-rebinding
//! protection).
//!
//! MCP transports ("Security Warning"): servers MUST validate the `Origin`
//! header on all incoming connections; since 2025-11-25, a present and
//! invalid `Origin` MUST get 403. A request without `Origin` (any non-browser
//! client) is not affected. The allowed origins are the server's own origin
//! and, when the server itself is on a loopback host, the other spellings of
//! loopback with the same scheme and port (`localhost` vs `127.0.0.1` vs
//! `[::1]` name the same listener). A rebinding attack uses a foreign host
//! name, which never matches.

use std::net::IpAddr;

/// The longest `Origin` value looked at (a real one is a scheme, a host and
/// a port).
pub const MAX_ORIGIN_LEN: usize = 2048;

/// The verdict on one `Origin` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// `null` (an opaque origin: sandboxed frame, `file:` page, ...).
    #[error("the opaque origin \"null\" is not allowed")]
    Opaque,
    /// Not a serialised origin (RFC 6454 §6.2: scheme "://" host [":" port]).
    #[error("the Origin header is not a serialised origin")]
    Malformed,
    /// A well-formed origin that is not this server's.
    #[error("the origin {0} is not allowed")]
    Foreign(String),
}

/// scheme, host (lowercase, IPv6 with brackets), port (defaulted).
#[derive(Debug, PartialEq, Eq)]
struct Tuple {
    scheme: String,
    host: String,
    port: u16,
}

fn parse_origin(value: &str) -> Option<Tuple> {
    if value.len() > MAX_ORIGIN_LEN {
        return None;
    }
    let url = url::Url::parse(value).ok()?;
    // An origin is only scheme://host[:port]: no path (not even "/"), query,
    // fragment or userinfo. `Url` normalises an empty path to "/", so look at
    // the raw text for the slash.
    let after_scheme = value.split_once("://")?.1;
    if after_scheme.contains(['/', '?', '#', '@']) {
        return None;
    }
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    Some(Tuple {
        scheme: url.scheme().to_owned(),
        host,
        port,
    })
}

fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `origin` (the raw header value) may talk to the server whose own
/// origin is `server_origin` (such as `http://127.0.0.1:8080`).
pub fn check_origin(origin: &[u8], server_origin: &str) -> Result<(), OriginError> {
    let origin = std::str::from_utf8(origin).map_err(|_| OriginError::Malformed)?;
    let origin = origin.trim_matches([' ', '\t']);
    if origin == "null" {
        return Err(OriginError::Opaque);
    }
    let theirs = parse_origin(origin).ok_or(OriginError::Malformed)?;
    let Some(ours) = parse_origin(server_origin) else {
        // Our own origin is built by the server; if it cannot be parsed,
        // nothing can match it.
        return Err(OriginError::Foreign(origin.to_owned()));
    };
    if theirs == ours {
        return Ok(());
    }
    let same_loopback = is_loopback_host(&ours.host)
        && is_loopback_host(&theirs.host)
        && theirs.scheme == ours.scheme
        && theirs.port == ours.port;
    if same_loopback {
        Ok(())
    } else {
        Err(OriginError::Foreign(origin.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const US: &str = "http://127.0.0.1:8080";

    #[test]
    fn own_origin_and_loopback_aliases_are_allowed() {
        for ok in [
            "http://127.0.0.1:8080",
            "HTTP://127.0.0.1:8080",
            "http://localhost:8080",
            "http://LOCALHOST:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_origin(ok.as_bytes(), US), Ok(()), "{ok}");
        }
        assert_eq!(
            check_origin(b"https://mcp.example", "https://mcp.example:443"),
            Ok(())
        );
    }

    #[test]
    fn foreign_and_malformed_origins_are_refused() {
        for foreign in [
            "https://evil.example",
            "http://evil.example:8080",
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://localhost",
        ] {
            assert!(
                matches!(
                    check_origin(foreign.as_bytes(), US),
                    Err(OriginError::Foreign(_))
                ),
                "{foreign}"
            );
        }
        assert_eq!(check_origin(b"null", US), Err(OriginError::Opaque));
        for bad in [
            &b""[..],
            b"127.0.0.1:8080",
            b"http://127.0.0.1:8080/",
            b"http://127.0.0.1:8080/path",
            b"http://user@127.0.0.1:8080",
            b"file:///etc",
            b"\xff",
        ] {
            assert_eq!(check_origin(bad, US), Err(OriginError::Malformed));
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = check_origin(&bytes, US);
        }

        #[test]
        fn foreign_hosts_never_pass(host in "[a-z]{1,20}\\.example") {
            let origin = format!("http://{host}:8080");
            prop_assert!(check_origin(origin.as_bytes(), US).is_err());
        }
    }
}
