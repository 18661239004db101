//! Client ID Metadata Documents: resolving a URL-shaped `client_id` by
//! fetching its document (CIMD draft §4), and client lookup in general.
//!
//! The fetch follows no redirects and counts only a 200 as success (CIMD
//! §4), gives up after 5 seconds, and reads at most 64 KiB. Successful
//! documents are cached for a minute (by the virtual clock); failures are
//! never cached.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Client, Inner};
use crate::config::Fault;
use crate::rules::cimd::{
    CimdPolicy, CimdUrlError, is_url_client_id, validate_cimd_document, validate_client_id_url,
};
use crate::rules::dcr::RegistrationError;
use crate::server::Shared;

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// How long a fetched document is reused.
pub const CACHE_TTL_SECS: u64 = 60;
/// Most documents cached at once.
pub const CACHE_CAPACITY: usize = 256;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a `client_id` does not name a usable client.
#[derive(Debug, thiserror::Error)]
pub enum ClientLookupError {
    #[error("unknown client_id")]
    Unknown,
    #[error("client_id URL refused: {0}")]
    BadUrl(#[from] CimdUrlError),
    #[error("client metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("client metadata document answered HTTP {0}, not 200")]
    Status(u16),
    #[error("client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("client metadata document is invalid: {0}")]
    Invalid(#[from] RegistrationError),
}

/// Finds the client named by `client_id`: a registered client, or for a
/// URL, the client its metadata document describes.
pub async fn find_client(
    state: &Shared,
    client_id: &str,
) -> Result<Arc<Client>, ClientLookupError> {
    if !is_url_client_id(client_id) {
        return state
            .oauth
            .client(client_id)
            .ok_or(ClientLookupError::Unknown);
    }
    let policy = CimdPolicy {
        allow_http_loopback: state.config.allow_http_cimd,
    };
    validate_client_id_url(client_id, policy)?;
    let now = state.clock.now_secs();
    if let Some((client, fetched)) = state.oauth.lock().cimd_cache.get(client_id)
        && now < fetched.saturating_add(CACHE_TTL_SECS)
    {
        return Ok(Arc::clone(client));
    }
    let bytes = fetch(client_id).await?;
    // The fault skips the identity check by comparing the document's
    // client_id with itself.
    let expected = if state.config.has(Fault::CimdClientIdUnchecked) {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("client_id")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| client_id.to_owned())
    } else {
        client_id.to_owned()
    };
    let metadata = validate_cimd_document(
        &bytes,
        &expected,
        state.config.has(Fault::DcrUnsafeRedirectAccepted),
    )?;
    let client = Arc::new(Client {
        client_id: client_id.to_owned(),
        metadata,
        secret_hash: None,
        issued_at: now,
    });
    cache_insert(&mut state.oauth.lock(), client_id, Arc::clone(&client), now);
    Ok(client)
}

fn cache_insert(inner: &mut Inner, url: &str, client: Arc<Client>, now: u64) {
    if inner.cimd_cache.len() >= CACHE_CAPACITY {
        inner
            .cimd_cache
            .retain(|_, (_, fetched)| now < fetched.saturating_add(CACHE_TTL_SECS));
        if inner.cimd_cache.len() >= CACHE_CAPACITY
            && let Some(oldest) = inner
                .cimd_cache
                .iter()
                .min_by_key(|(_, (_, f))| *f)
                .map(|(k, _)| k.clone())
        {
            inner.cimd_cache.remove(&oldest);
        }
    }
    inner.cimd_cache.insert(url.to_owned(), (client, now));
}

fn http_client() -> Result<&'static reqwest::Client, ClientLookupError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // reqwest is built without a default crypto provider; install
            // ring once (an error means one is already installed).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(FETCH_TIMEOUT)
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ClientLookupError::Fetch(e.clone()))
}

async fn fetch(url: &str) -> Result<Vec<u8>, ClientLookupError> {
    let client = http_client()?;
    let mut response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| ClientLookupError::Fetch(e.without_url().to_string()))?;
    if response.status().as_u16() != 200 {
        return Err(ClientLookupError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(ClientLookupError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientLookupError::Fetch(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(ClientLookupError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
