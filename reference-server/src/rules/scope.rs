//! Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive tokens
//! from `%x21 / %x23-5B / %x5D-7E`, checked against the scopes this server
//! knows.

/// Every scope the reference server knows, as advertised in its metadata.
pub const KNOWN_SCOPES: &[&str] = &["mcp:tools", "mcp:admin"];

/// The scope granted when an authorization request names none (RFC 6749
/// §3.3 lets the AS apply a documented default).
pub const DEFAULT_SCOPE: &str = "mcp:tools";

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is not a space-delimited list of scope tokens (RFC 6749 §3.3)")]
    Malformed,
    #[error("unknown scope {0:?}")]
    Unknown(String),
}

/// Parses `scope` into its tokens (duplicates removed, order kept) and
/// checks each against `known`.
pub fn parse_scope(scope: &str, known: &[&str]) -> Result<Vec<String>, ScopeError> {
    let mut out: Vec<String> = Vec::new();
    for token in scope.split(' ') {
        if token.is_empty() || !token.bytes().all(is_scope_char) {
            return Err(ScopeError::Malformed);
        }
        if !known.contains(&token) {
            return Err(ScopeError::Unknown(token.to_owned()));
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

/// `scope-token` characters, RFC 6749 §3.3.
fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Whether every token of `requested` is in `granted`.
pub fn is_subset(requested: &[String], granted: &[String]) -> bool {
    requested.iter().all(|r| granted.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_scopes() {
        assert_eq!(
            parse_scope("mcp:tools mcp:admin mcp:tools", KNOWN_SCOPES).unwrap(),
            ["mcp:tools", "mcp:admin"]
        );
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        assert_eq!(
            parse_scope("__invalid__", KNOWN_SCOPES),
            Err(ScopeError::Unknown("__invalid__".into()))
        );
        assert_eq!(
            parse_scope("mcp:tools  mcp:admin", KNOWN_SCOPES),
            Err(ScopeError::Malformed)
        );
        assert_eq!(
            parse_scope("mcp:\"x", KNOWN_SCOPES),
            Err(ScopeError::Malformed)
        );
        assert_eq!(parse_scope("", KNOWN_SCOPES), Err(ScopeError::Malformed));
    }
}
