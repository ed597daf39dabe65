//! The component stream to the XMPP server (XEP-0114): TCP, the stream header, the secret
//! handshake. The stream reads any element, so that a stanza the parsers cannot take is one
//! stanza refused, never a broken link.

use std::{borrow::Cow, time::Duration};

use futures_util::{SinkExt, StreamExt};
use tokio::{io::BufStream, net::TcpStream, time::timeout};
use tokio_xmpp::{
    minidom::Element,
    parsers::{component::Handshake, ns},
    xmlstream::{self, ReadError, StreamHeader, Timeouts, XmlStream},
};

use super::XmppConfig;

/// An open, authenticated component stream.
pub type Stream = XmlStream<BufStream<TcpStream>, Element>;

/// Longest wait for the XMPP server to accept the connection and the handshake.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Silence after which the stream reports a soft timeout (the bridge then pings), and the
/// wait after it before the link counts as dead.
pub const TIMEOUTS: Timeouts = Timeouts {
    read_timeout: Duration::from_secs(30),
    response_timeout: Duration::from_secs(10),
};

/// Why the link could not be opened or was lost; shown in `/healthz` and the log.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot reach the XMPP server at {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error(
        "the XMPP server refused the component handshake (check xmpp.domain and the secret): {0}"
    )]
    Refused(String),
    #[error("the XMPP server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the stream to the XMPP server broke: {0}")]
    Broken(String),
    #[error("cannot read xmpp.secret_file {path}: {reason}")]
    Secret { path: String, reason: String },
}

/// Connects to `config.server` as the component `config.domain` with `secret`.
pub async fn open(config: &XmppConfig, secret: &str) -> Result<Stream, LinkError> {
    let broken = |err: std::io::Error| LinkError::Broken(err.to_string());
    let tcp = timeout(LOGIN_TIMEOUT, TcpStream::connect(&config.server))
        .await
        .map_err(|_| LinkError::Timeout(LOGIN_TIMEOUT))?
        .map_err(|source| LinkError::Connect {
            server: config.server.clone(),
            source,
        })?;
    let header = StreamHeader {
        to: Some(Cow::Owned(config.domain.clone())),
        ..StreamHeader::default()
    };
    let mut pending = timeout(
        LOGIN_TIMEOUT,
        xmlstream::initiate_stream(BufStream::new(tcp), ns::COMPONENT, header, TIMEOUTS),
    )
    .await
    .map_err(|_| LinkError::Timeout(LOGIN_TIMEOUT))?
    .map_err(broken)?;
    let Some(id) = pending.take_header().id else {
        return Err(LinkError::Refused("the stream header has no id".into()));
    };
    let mut stream: Stream = pending.skip_features();
    let handshake = Handshake::from_stream_id_and_password(id.into_owned(), secret);
    stream
        .send(&Element::from(handshake))
        .await
        .map_err(broken)?;
    let answer = timeout(LOGIN_TIMEOUT, stream.next())
        .await
        .map_err(|_| LinkError::Timeout(LOGIN_TIMEOUT))?;
    match answer {
        Some(Ok(element)) if element.is("handshake", ns::COMPONENT) => Ok(stream),
        Some(Ok(element)) => Err(LinkError::Refused(stream_error_text(&element))),
        Some(Err(err)) => Err(read_error(err)),
        None => Err(LinkError::Broken("closed during the handshake".into())),
    }
}

/// The link error for a failed read.
pub fn read_error(err: ReadError) -> LinkError {
    match err {
        ReadError::StreamFooterReceived => {
            LinkError::Broken("the XMPP server closed the stream".into())
        }
        other => LinkError::Broken(other.to_string()),
    }
}

/// The condition and text of a `<stream:error/>` (or the element's name if it is none).
pub fn stream_error_text(element: &Element) -> String {
    if element.name() != "error" {
        return format!("unexpected <{}/>", element.name());
    }
    element
        .children()
        .map(|child| match child.name() {
            "text" => child.text(),
            name => name.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}
