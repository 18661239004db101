//! The authorization server: RFC 8414 / OIDC discovery metadata, dynamic
//! client registration (RFC 7591) and client ID metadata documents,
//! `/authorize`, `/token`, revocation (RFC 7009) and the JWKS.
//!
//! This module owns the AS state ([`OAuthStore`]): clients, authorization
//! codes, pending consent requests, refresh token families and revoked
//! access tokens. Everything sits behind one mutex that is never held
//! across an `.await`; whatever must be atomic (redeeming a code, rotating
//! a refresh token) happens inside a single critical section, which is what
//! makes concurrent redemptions of one code race-safe. Every store is
//! bounded by `config.limits`. Codes and refresh tokens are stored by their
//! SHA-256 hash, client secrets too.

pub mod authorize;
pub mod cimd;
pub mod client_auth;
pub mod errors;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::config::{Config, Limits};
use crate::rules::dcr::ClientMetadata;
use crate::rules::pkce::CodeChallenge;
use crate::server::AppState;

/// How many rotated-out refresh tokens a family remembers for reuse
/// detection (older ones are simply unknown).
const RETIRED_PER_FAMILY: usize = 8;
/// How many access tokens a family remembers, to revoke them with it.
const ACCESS_PER_FAMILY: usize = 16;

/// A SHA-256 digest, the key under which secrets are stored.
pub type Digest32 = [u8; 32];

pub fn sha256(s: &str) -> Digest32 {
    Sha256::digest(s.as_bytes()).into()
}

/// A client, registered by DCR or resolved from a metadata document.
#[derive(Debug)]
pub struct Client {
    pub client_id: String,
    pub metadata: ClientMetadata,
    /// SHA-256 of the client secret (confidential clients only).
    pub secret_hash: Option<Digest32>,
    pub issued_at: u64,
}

/// An issued authorization code and what it is bound to.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub client_id: String,
    /// The `redirect_uri` parameter of the authorization request, if sent.
    pub redirect_uri_param: Option<String>,
    /// Where the code was delivered.
    pub redirect_uri: String,
    pub challenge: Option<CodeChallenge>,
    pub scope: String,
    pub resource: String,
    pub sub: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// Set once redeemed: what the redemption issued, for replay revocation.
    pub redemption: Option<Redemption>,
}

#[derive(Debug, Clone)]
pub struct Redemption {
    pub access_jti: String,
    pub access_exp: u64,
    pub family: Option<u64>,
}

/// A validated authorization request awaiting the user's decision on the
/// consent page.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    pub code: CodeRecord,
    pub state: Option<String>,
    pub expires_at: u64,
}

/// A refresh token family: one grant, rotated on every use.
#[derive(Debug)]
pub struct Family {
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub resource: String,
    pub expires_at: u64,
    pub revoked: bool,
    /// Hash of the one live refresh token.
    pub current: Digest32,
    /// Hashes of rotated-out tokens (reuse detection).
    pub retired: Vec<Digest32>,
    /// Access tokens issued from this grant: (jti, exp).
    pub access: Vec<(String, u64)>,
}

/// The AS state.
pub struct OAuthStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub struct Inner {
    pub clients: HashMap<String, Arc<Client>>,
    pub codes: HashMap<Digest32, CodeRecord>,
    pub pending: HashMap<String, PendingConsent>,
    pub families: HashMap<u64, Family>,
    /// Refresh token hash → family id (live and retired tokens).
    pub refresh: HashMap<Digest32, u64>,
    /// Revoked access token ids → their `exp`.
    pub revoked_jtis: HashMap<String, u64>,
    /// Client ID metadata documents: URL → (client, fetched at).
    pub cimd_cache: HashMap<String, (Arc<Client>, u64)>,
    next_family: u64,
    limits: Limits,
}

impl OAuthStore {
    pub fn new(config: &Config) -> Self {
        Self {
            inner: Mutex::new(Inner {
                limits: config.limits.clone(),
                ..Inner::default()
            }),
        }
    }

    /// Locks the store. A panic while holding the lock cannot leave it
    /// half-updated in a way that matters more than refusing service, so a
    /// poisoned lock is recovered rather than propagated.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the access token `jti` has been revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.lock().revoked_jtis.contains_key(jti)
    }

    /// A registered (DCR) client.
    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.lock().clients.get(client_id).cloned()
    }
}

impl Inner {
    /// Adds a code, evicting expired ones (and, if still full, the oldest)
    /// first. `keep_expired` is the `code-never-expires` fault.
    pub fn insert_code(
        &mut self,
        hash: Digest32,
        record: CodeRecord,
        now: u64,
        keep_expired: bool,
    ) {
        if self.codes.len() >= self.limits.max_codes {
            if !keep_expired {
                self.codes.retain(|_, c| c.expires_at > now);
            }
            if self.codes.len() >= self.limits.max_codes
                && let Some(oldest) = self
                    .codes
                    .iter()
                    .min_by_key(|(_, c)| c.issued_at)
                    .map(|(k, _)| *k)
            {
                self.codes.remove(&oldest);
            }
        }
        self.codes.insert(hash, record);
    }

    /// Adds a pending consent request, bounded like codes.
    pub fn insert_pending(&mut self, id: String, pending: PendingConsent, now: u64) {
        if self.pending.len() >= self.limits.max_codes {
            self.pending.retain(|_, p| p.expires_at > now);
            if self.pending.len() >= self.limits.max_codes
                && let Some(oldest) = self
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.expires_at)
                    .map(|(k, _)| k.clone())
            {
                self.pending.remove(&oldest);
            }
        }
        self.pending.insert(id, pending);
    }

    /// Starts a refresh token family for a new grant; returns its id.
    pub fn new_family(&mut self, family: Family, now: u64) -> u64 {
        let max = self.limits.max_refresh_tokens.max(1);
        if self.families.len() >= max {
            let dead: Vec<u64> = self
                .families
                .iter()
                .filter(|(_, f)| f.revoked || f.expires_at <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in dead {
                self.drop_family(id);
            }
            if self.families.len() >= max
                && let Some(oldest) = self
                    .families
                    .iter()
                    .min_by_key(|(_, f)| f.expires_at)
                    .map(|(id, _)| *id)
            {
                self.drop_family(oldest);
            }
        }
        self.next_family += 1;
        let id = self.next_family;
        self.refresh.insert(family.current, id);
        self.families.insert(id, family);
        id
    }

    /// Forgets a family and its tokens (its refresh tokens become unknown).
    fn drop_family(&mut self, id: u64) {
        if let Some(f) = self.families.remove(&id) {
            self.refresh.remove(&f.current);
            for r in &f.retired {
                self.refresh.remove(r);
            }
        }
    }

    /// Rotates a family to a new refresh token, remembering the old one.
    pub fn rotate(&mut self, id: u64, new_hash: Digest32) {
        let Some(f) = self.families.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut f.current, new_hash);
        if !f.retired.contains(&old) {
            f.retired.push(old);
        }
        let mut forgotten = Vec::new();
        while f.retired.len() > RETIRED_PER_FAMILY {
            forgotten.push(f.retired.remove(0));
        }
        for h in forgotten {
            self.refresh.remove(&h);
        }
        self.refresh.insert(new_hash, id);
    }

    /// Records an access token issued from a family.
    pub fn add_family_access(&mut self, id: u64, jti: String, exp: u64) {
        if let Some(f) = self.families.get_mut(&id) {
            f.access.push((jti, exp));
            if f.access.len() > ACCESS_PER_FAMILY {
                f.access.remove(0);
            }
        }
    }

    /// Revokes a whole grant: its refresh tokens die and every access token
    /// it issued is revoked (OAuth 2.1 §4.3.1; RFC 7009 §2.1).
    pub fn revoke_family(&mut self, id: u64, now: u64) {
        let access = match self.families.get_mut(&id) {
            Some(f) => {
                f.revoked = true;
                std::mem::take(&mut f.access)
            }
            None => return,
        };
        for (jti, exp) in access {
            self.revoke_jti(jti, exp, now);
        }
    }

    /// Revokes one access token. The list is bounded: expired entries go
    /// first (an expired token is refused anyway), then the soonest to expire.
    pub fn revoke_jti(&mut self, jti: String, exp: u64, now: u64) {
        let max = self.limits.max_refresh_tokens.max(1);
        if self.revoked_jtis.len() >= max {
            self.revoked_jtis.retain(|_, e| *e > now);
            if self.revoked_jtis.len() >= max
                && let Some(first) = self
                    .revoked_jtis
                    .iter()
                    .min_by_key(|(_, e)| **e)
                    .map(|(j, _)| j.clone())
            {
                self.revoked_jtis.remove(&first);
            }
        }
        self.revoked_jtis.insert(jti, exp);
    }
}

/// Every AS route. Endpoints live under the issuer; the metadata at the
/// RFC 8414 §3.1 path-insertion URL and at both OIDC discovery locations.
pub fn routes(config: &Config) -> Router<AppState> {
    let issuer_path = config.issuer_path.trim_end_matches('/');
    let mut router = Router::new()
        .route(
            &format!("/.well-known/oauth-authorization-server{issuer_path}"),
            get(metadata::oauth_metadata).options(metadata::preflight),
        )
        .route(
            &format!("/.well-known/openid-configuration{issuer_path}"),
            get(metadata::openid_metadata).options(metadata::preflight),
        )
        .route(
            &format!("{issuer_path}/authorize"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            &format!("{issuer_path}/token"),
            post(token::token).fallback(token::method_not_allowed),
        )
        .route(
            &format!("{issuer_path}/register"),
            post(register::register).fallback(register::method_not_allowed),
        )
        .route(
            &format!("{issuer_path}/revoke"),
            post(revoke::revoke).fallback(token::method_not_allowed),
        )
        .route(
            &format!("{issuer_path}/jwks"),
            get(metadata::jwks).options(metadata::preflight),
        );
    if !issuer_path.is_empty() {
        // OIDC Discovery §4: `{issuer}/.well-known/openid-configuration`.
        router = router.route(
            &format!("{issuer_path}/.well-known/openid-configuration"),
            get(metadata::openid_metadata).options(metadata::preflight),
        );
    }
    router
}
