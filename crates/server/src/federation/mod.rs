//! Federation over XMPP: Switchboard as an external component (XEP-0114) of the company's
//! XMPP server (Prosody, ejabberd, ...), so that people in a standard XMPP client chat with
//! Switchboard's users.
//!
//! Every Switchboard user is `username@<xmpp.domain>` on the XMPP server. Every directory
//! entry with an XMPP address and no username is a federated contact: an account nobody signs
//! in to (created by the import, [`crate::directory::import`]), whose presence is their XMPP
//! presence and whose messages travel over the link. Consoles treat it like any other user.
//!
//! * [`stanza`]: what an incoming stanza means; the stanzas Switchboard sends
//! * [`link`]: the component stream: connect, handshake, timeouts
//! * [`bridge`]: one link's life: catch-up, both directions, markers, presence
//!
//! Delivery: a message to a federated contact is stored first, like any other, then sent on
//! the link; a ping through the XMPP server after it confirms the server took it, and only
//! then does the durable pointer (`xmpp_forwarded`) move. After a lost link everything past
//! the pointer is sent again with the same ids (XEP-0359 origin-id), which clients de-duplicate.
//! A message from an XMPP user is stored under an id derived from its sender and stable id,
//! so a copy sent again is acknowledged, not stored twice.

mod bridge;
pub mod link;
pub mod stanza;

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;
use switchboard_protocol::ServerFrame;
use tokio_xmpp::jid::BareJid;

use crate::state::AppState;

/// The link's name in `/healthz`.
pub const LINK: &str = "xmpp link";
/// First wait before connecting again after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `[xmpp]` of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// The component's domain on the XMPP server (e.g. `switchboard.example.com`): every
    /// Switchboard user is `username@domain` there.
    pub domain: String,
    /// `host:port` of the XMPP server's component listener (Prosody `component_ports`,
    /// ejabberd `ejabberd_service`), usually on the same machine or network.
    pub server: String,
    /// File holding the component secret shared with the XMPP server (a trailing newline is
    /// dropped); read at each connection, so it can change without a restart.
    pub secret_file: PathBuf,
}

impl XmppConfig {
    /// Checks what can be checked before connecting.
    pub fn check(&self) -> Result<(), String> {
        match self.domain.parse::<BareJid>() {
            Ok(jid) if jid.node().is_none() && !self.domain.contains('/') => {}
            _ => {
                return Err(format!(
                    "xmpp.domain {:?} is not a domain name (e.g. \"switchboard.example.com\")",
                    self.domain
                ));
            }
        }
        let port = self
            .server
            .rsplit_once(':')
            .map(|(_, port)| port.parse::<u16>());
        if !matches!(port, Some(Ok(port)) if port > 0) {
            return Err(format!(
                "xmpp.server {:?} must be host:port (e.g. \"127.0.0.1:5347\")",
                self.server
            ));
        }
        Ok(())
    }

    async fn secret(&self) -> Result<String, link::LinkError> {
        let text = tokio::fs::read_to_string(&self.secret_file)
            .await
            .map_err(|err| link::LinkError::Secret {
                path: self.secret_file.display().to_string(),
                reason: err.to_string(),
            })?;
        let secret = text.trim_end_matches(['\r', '\n']).to_owned();
        if secret.is_empty() {
            return Err(link::LinkError::Secret {
                path: self.secret_file.display().to_string(),
                reason: "it is empty".into(),
            });
        }
        Ok(secret)
    }
}

/// Why the link is down, for consoles: `None` while it is up (see [`ServerFrame::Federation`]).
pub fn down_reason(state: &AppState) -> Option<String> {
    state
        .health
        .link_state(LINK)
        .filter(|link| link != "up")
        .map(|link| link.trim_start_matches("down: ").to_owned())
}

/// Records the link's state for `/healthz` and tells every console.
fn report(state: &AppState, link: String) {
    state.health.link(LINK, link);
    let frame = ServerFrame::Federation {
        down: down_reason(state),
    };
    state.hub.broadcast(frame.encode().into());
}

/// Keeps the link up until shutdown: connects, serves it, and after each failure connects
/// again after a wait that doubles from 1 s to 30 s (back to 1 s once a link was up).
pub async fn run(state: AppState, config: XmppConfig) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if state.health.link_state(LINK).is_none() {
            report(&state, "connecting".into());
        }
        let outcome = match config.secret().await {
            Ok(secret) => match link::open(&config, &secret).await {
                Ok(stream) => {
                    tracing::info!(domain = %config.domain, server = %config.server, "XMPP link up");
                    report(&state, "up".into());
                    backoff = FIRST_BACKOFF;
                    bridge::serve(&state, &config.domain, stream).await
                }
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        state.hub.detach_link();
        if state.shutdown.is_cancelled() {
            return;
        }
        let reason = match outcome {
            Ok(()) => "closed".to_owned(),
            Err(err) => err.to_string(),
        };
        tracing::warn!(%reason, retry_in = ?backoff, "XMPP link down");
        report(
            &state,
            format!("down: {reason} (retrying in {} s)", backoff.as_secs()),
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = state.shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(domain: &str, server: &str) -> XmppConfig {
        XmppConfig {
            domain: domain.into(),
            server: server.into(),
            secret_file: "/dev/null".into(),
        }
    }

    #[test]
    fn the_domain_and_server_are_checked_and_named_in_the_error() {
        assert!(
            config("switchboard.example.com", "127.0.0.1:5347")
                .check()
                .is_ok()
        );
        assert!(config("xmpp.local", "xmpp.local:5347").check().is_ok());
        for (domain, server, named) in [
            ("user@example.com", "127.0.0.1:5347", "xmpp.domain"),
            ("example.com/res", "127.0.0.1:5347", "xmpp.domain"),
            ("", "127.0.0.1:5347", "xmpp.domain"),
            ("example.com", "127.0.0.1", "xmpp.server"),
            ("example.com", "127.0.0.1:0", "xmpp.server"),
            ("example.com", "127.0.0.1:99999", "xmpp.server"),
        ] {
            let err = config(domain, server).check().unwrap_err();
            assert!(err.contains(named), "{domain} {server}: {err}");
        }
    }
}
