//! MCP sessions (Streamable HTTP "Session Management"): creation with a
//! cryptographically random id, lookup with idle expiry on the virtual
//! clock, binding to the user and resource, and a hard cap on their number.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore as _};

use super::Principal;
use crate::config::Config;

/// Session ids are 256 random bits, base64url without padding: 43 visible
/// ASCII characters (transports: the id "MUST only contain visible ASCII
/// characters (0x21 to 0x7E)" and "SHOULD be globally unique and
/// cryptographically secure").
const ID_BYTES: usize = 32;

/// One live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user (`sub`) that created it; later requests must come from the
    /// same user (security best practices, "Session Hijacking"). Bound to
    /// the user, not to the token bytes, so a refreshed token keeps working
    /// (RS-19).
    pub sub: String,
    /// The protected resource it was created on.
    pub resource: String,
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// Who used it last (the claims of the latest token); served only under
    /// the `session-without-token` fault, where the session stands in for a
    /// token.
    pub principal: Principal,
    /// Whether `notifications/initialized` arrived.
    pub initialized: bool,
    /// Virtual-clock seconds of the last use.
    last_used: u64,
}

/// Why a session could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session store is full ({0} sessions)")]
    Full(usize),
    #[error("the operating system's random generator failed")]
    Random,
}

/// MCP sessions, each bound to the user that created it.
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
    max: usize,
    ttl_secs: u64,
}

impl SessionStore {
    pub fn new(config: &Config) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            max: config.limits.max_sessions,
            ttl_secs: config.session_ttl.as_secs(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A panic elsewhere cannot leave the map half-updated (every update
        // is a single insert or remove), so a poisoned lock is still usable.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, s: &Session, now: u64) -> bool {
        now.saturating_sub(s.last_used) >= self.ttl_secs
    }

    /// Creates a session and returns its id. When the store is full, expired
    /// sessions are dropped first; if it is still full the creation fails,
    /// rather than evicting a live session another user depends on.
    pub fn create(
        &self,
        principal: &Principal,
        resource: &str,
        protocol_version: &str,
        now: u64,
    ) -> Result<String, SessionError> {
        let mut bytes = [0u8; ID_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| SessionError::Random)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let mut map = self.lock();
        if map.len() >= self.max {
            map.retain(|_, s| !self.expired(s, now));
            if map.len() >= self.max {
                return Err(SessionError::Full(self.max));
            }
        }
        map.insert(
            id.clone(),
            Session {
                sub: principal.sub.clone(),
                resource: resource.to_owned(),
                protocol_version: protocol_version.to_owned(),
                principal: principal.clone(),
                initialized: false,
                last_used: now,
            },
        );
        Ok(id)
    }

    /// The live session `id`; an expired one is removed and reported as
    /// absent (transports: then 404). Does not refresh the idle timer: the
    /// caller first checks that the request may use the session, then calls
    /// [`SessionStore::record_use`].
    pub fn lookup(&self, id: &str, now: u64) -> Option<Session> {
        let mut map = self.lock();
        let session = map.get(id)?;
        if self.expired(session, now) {
            map.remove(id);
            return None;
        }
        Some(session.clone())
    }

    /// Records an authorised use of session `id`: refreshes its idle timer,
    /// remembers the principal of the token now in use and, optionally, that
    /// the client sent `notifications/initialized`.
    pub fn record_use(&self, id: &str, principal: &Principal, initialized: bool, now: u64) {
        if let Some(s) = self.lock().get_mut(id) {
            s.principal = principal.clone();
            s.initialized |= initialized;
            s.last_used = now;
        }
    }

    /// Ends session `id`; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// The number of stored sessions (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn claims(sub: &str) -> Principal {
        Principal {
            sub: sub.into(),
            client_id: "c".into(),
            scope: "mcp:tools".into(),
        }
    }

    fn store(max: usize, ttl: u64) -> SessionStore {
        let mut config = Config::default();
        config.limits.max_sessions = max;
        config.session_ttl = Duration::from_secs(ttl);
        SessionStore::new(&config)
    }

    #[test]
    fn ids_are_random_visible_ascii() {
        let s = store(10, 60);
        let a = s.create(&claims("alice"), "r", "2025-11-25", 0).unwrap();
        let b = s.create(&claims("alice"), "r", "2025-11-25", 0).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| (0x21..=0x7e).contains(&c)));
    }

    #[test]
    fn sessions_expire_when_idle() {
        let s = store(10, 60);
        let id = s.create(&claims("alice"), "r", "2025-11-25", 100).unwrap();
        assert!(s.lookup(&id, 150).is_some());
        s.record_use(&id, &claims("alice"), false, 150);
        assert!(
            s.lookup(&id, 209).is_some(),
            "a use refreshes the idle timer"
        );
        assert!(s.lookup(&id, 210).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn the_cap_holds_and_expired_sessions_make_room() {
        let s = store(2, 60);
        s.create(&claims("a"), "r", "v", 0).unwrap();
        s.create(&claims("a"), "r", "v", 0).unwrap();
        assert_eq!(
            s.create(&claims("a"), "r", "v", 10),
            Err(SessionError::Full(2))
        );
        assert!(s.create(&claims("a"), "r", "v", 100).is_ok());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn remove_ends_a_session() {
        let s = store(2, 60);
        let id = s.create(&claims("a"), "r", "v", 0).unwrap();
        assert!(s.remove(&id));
        assert!(s.lookup(&id, 0).is_none());
        assert!(!s.remove(&id));
    }
}
