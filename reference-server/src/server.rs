//! The composition root: shared state, the router, and [`start`], which
//! embeds the server on a given listener (tests and the runner use it).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::SigningKeys;
use crate::mcp::SessionStore;
use crate::oauth::OAuthStore;

/// The URLs the server serves, derived once from the bound address.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub origin: String,
    /// The issuer: origin plus `config.issuer_path` (no trailing slash).
    pub issuer: String,
    /// The primary MCP endpoint and protected resource, `{origin}/mcp`.
    pub mcp: String,
    /// A second protected resource on the same AS, `{origin}/mcp-alt`, so a
    /// token for the wrong audience can be obtained.
    pub mcp_alt: String,
}

impl Urls {
    pub fn new(origin: &str, config: &Config) -> Self {
        let origin = origin.trim_end_matches('/').to_owned();
        let issuer_path = config.issuer_path.trim_end_matches('/');
        Self {
            issuer: format!("{origin}{issuer_path}"),
            mcp: format!("{origin}/mcp"),
            mcp_alt: format!("{origin}/mcp-alt"),
            origin,
        }
    }

    /// The resources this server protects (RFC 8707 `resource` values it accepts).
    pub fn resources(&self) -> [&str; 2] {
        [&self.mcp, &self.mcp_alt]
    }
}

/// State shared by every handler.
pub struct Shared {
    pub config: Config,
    pub urls: Urls,
    pub clock: Clock,
    pub keys: SigningKeys,
    pub oauth: OAuthStore,
    pub sessions: SessionStore,
}

/// Cheap to clone handle on [`Shared`].
pub type AppState = Arc<Shared>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to read the listener's local address")]
    LocalAddr(#[source] std::io::Error),
    #[error("failed to generate the signing key: {0}")]
    Keys(String),
}

/// A server running in the background.
pub struct RunningServer {
    /// The MCP endpoint URL, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap_or(Ok(()))
    }

    /// Waits until the server stops by itself (it does not, unless the
    /// listener fails).
    pub async fn wait(mut self) -> std::io::Result<()> {
        (&mut self.task).await.unwrap_or(Ok(()))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the server on `listener` with `config` and returns at once.
pub async fn start(listener: TcpListener, config: Config) -> Result<RunningServer, StartError> {
    let addr = listener.local_addr().map_err(StartError::LocalAddr)?;
    let origin = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let urls = Urls::new(&origin, &config);
    let keys = SigningKeys::generate().map_err(StartError::Keys)?;
    let state: AppState = Arc::new(Shared {
        oauth: OAuthStore::new(&config),
        sessions: SessionStore::new(&config),
        clock: Clock::default(),
        keys,
        urls,
        config,
    });
    let app = router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        url: state.urls.mcp.clone(),
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    let mut app = Router::new()
        .merge(crate::oauth::routes(&state.config))
        .merge(crate::resource::routes())
        .merge(crate::mcp::routes());
    if state.config.test_control {
        app = app.merge(crate::test_control::routes());
    }
    app.layer(DefaultBodyLimit::max(limit)).with_state(state)
}
