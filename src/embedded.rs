//! The embedded target: `mcp-conform run` with no URL starts the reference
//! server in-process, with its test controls on, and tests it.
//!
//! This is the only place the runner touches the reference server, and only
//! to start it: no check logic comes from there (design.md, independence
//! rule).

use std::collections::BTreeSet;

use mcp_reference_server::config::{Config, Fault};

use crate::engine::target::{ClockMode, Target};

/// A reference server running inside this process.
pub struct EmbeddedServer {
    server: mcp_reference_server::RunningServer,
}

/// Why the embedded server did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("{0}")]
    UnknownFault(#[from] mcp_reference_server::config::UnknownFault),
    #[error("failed to bind a loopback port for the embedded server: {0}")]
    Bind(std::io::Error),
    #[error("failed to start the embedded server: {0}")]
    Start(#[from] mcp_reference_server::StartError),
}

impl EmbeddedServer {
    /// Starts the server on 127.0.0.1 with an ephemeral port.
    pub async fn start(faults: &[String]) -> Result<EmbeddedServer, EmbeddedError> {
        let faults = faults
            .iter()
            .map(|f| f.parse::<Fault>())
            .collect::<Result<BTreeSet<_>, _>>()?;
        // Loopback client ID metadata documents: the run serves them itself.
        let config = Config {
            test_control: true,
            allow_http_cimd: true,
            faults,
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(EmbeddedError::Bind)?;
        let server = mcp_reference_server::start(listener, config).await?;
        Ok(EmbeddedServer { server })
    }

    /// The target description: every capability the server offers.
    pub fn target(&self) -> Target {
        let origin = format!("http://{}", self.server.addr);
        let mut t = Target::new(self.server.url.clone());
        t.clock = ClockMode::Control {
            url: format!("{origin}/_test/clock/advance"),
        };
        t.alt_resource = Some(format!("{origin}/mcp-alt"));
        t.second_user = Some("bob".into());
        t.user = Some("alice".into());
        t.step_up_tool = Some("get_admin_report".into());
        t.step_up_scope = Some("mcp:admin".into());
        t.embedded = true;
        t.cimd_loopback = true;
        t
    }
}
