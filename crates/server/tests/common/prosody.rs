//! The XMPP side of the federation tests (Prosody and scripted XMPP users, from the load
//! generator's [`switchboard_loadgen::xmpp`]), installed from Debian when missing.

use switchboard_loadgen::xmpp::{PROSODY, Prosody, SLIXMPP};
use switchboard_server::federation::XmppConfig;

/// Starts Prosody with the users `names` (password = name), after installing Prosody and
/// slixmpp with apt-get when missing.
pub async fn start(names: &[&str]) -> Prosody {
    tokio::task::spawn_blocking(|| {
        super::debian::ensure_installed(&["prosody", "python3-slixmpp"], &[PROSODY, SLIXMPP]);
    })
    .await
    .unwrap();
    Prosody::start(names).await
}

/// `[xmpp]` for a Switchboard server linking to `prosody`.
pub fn config(prosody: &Prosody) -> XmppConfig {
    XmppConfig {
        domain: switchboard_loadgen::xmpp::COMPONENT.into(),
        server: format!("127.0.0.1:{}", prosody.component_port),
        secret_file: prosody.secret_file(),
    }
}
