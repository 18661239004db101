//! How the authorization server reports errors: JSON error responses for
//! the token, revocation and registration endpoints (RFC 6749 §5.2, RFC
//! 7591 §3.2.2, RFC 7009 §2.2.1), the error page `/authorize` shows when it
//! must not redirect (RFC 6749 §4.1.2.1), and error redirects.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An OAuth error answered directly (not by redirect).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Add `WWW-Authenticate: Basic realm="…"` (RFC 6749 §5.2: required on
    /// a 401 `invalid_client`; RFC 9110 §15.5.2: every 401 carries one).
    pub basic_realm: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic_realm: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// `invalid_client`: always 401 with a Basic challenge naming `realm`.
    pub fn invalid_client(realm: &str, description: impl Into<String>) -> Self {
        Self {
            basic_realm: Some(realm.to_owned()),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    pub fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }

    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "error_description": sanitize_description(&self.description),
        });
        let mut headers = no_store_headers();
        if let Some(realm) = &self.basic_realm {
            let realm = realm.replace(['"', '\\'], "");
            if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        (self.status, headers, axum::Json(body)).into_response()
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1; OAuth
/// 2.1 §3.2.3).
pub fn no_store_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h
}

/// RFC 6749 §5.2: `error_description` uses `%x20-21 / %x23-5B / %x5D-7E`.
/// Descriptions can quote client input, so anything else becomes `?`.
pub fn sanitize_description(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

/// The page `/authorize` answers with when the redirect URI cannot be
/// trusted: 400, no `Location`, JSON when the client asks for it and a
/// small HTML page otherwise.
pub fn error_page(headers: &HeaderMap, code: &'static str, description: &str) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    let description = sanitize_description(description);
    if wants_json {
        let body = serde_json::json!({"error": code, "error_description": description});
        return (
            StatusCode::BAD_REQUEST,
            no_store_headers(),
            axum::Json(body),
        )
            .into_response();
    }
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p><code>{}</code></p><p>{}</p></body></html>\n",
        html_escape(code),
        html_escape(&description)
    );
    let mut h = no_store_headers();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (StatusCode::BAD_REQUEST, h, html).into_response()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A redirect to `target` with `params` appended to its query (keeping a
/// query the registered URI already has, OAuth 2.1 §4.1.2). `see_other`
/// picks 303 (after a form POST) instead of 302; never 307 (OAuth 2.1
/// §7.5.4).
pub fn redirect_with(target: &str, params: &[(&str, &str)], see_other: bool) -> Response {
    let location = match url::Url::parse(target) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Only reachable under faults that let unparseable URIs through;
        // still build something rather than fail.
        Err(_) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish();
            let sep = if target.contains('?') { '&' } else { '?' };
            format!("{target}{sep}{query}")
        }
    };
    let status = if see_other {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    let mut h = HeaderMap::new();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => {
            return OAuthError::invalid_request("redirect URI cannot be used in a Location header")
                .into_response();
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (status, h).into_response()
}
