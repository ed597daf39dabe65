//! HTTPS without a proxy: the certificate and key from PEM files (`--tls-cert`, `--tls-key`),
//! and a listener whose TLS handshakes never hold up accepting the next connection.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, pem, pem::PemObject},
    },
    server::TlsStream,
};

/// A client that has not completed its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most: past it, new connections wait in the kernel's backlog, so
/// clients that connect and stay silent cannot use up the server's file descriptors.
const MAX_HANDSHAKES: usize = 1_024;

/// The server's certificate chain and private key, ready to serve.
#[derive(Debug, Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
}

/// Why the certificate or the key cannot be used; each names the flag and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read or is not PEM.
    #[error("cannot read --tls-cert {path}: {source}")]
    Cert { path: PathBuf, source: pem::Error },
    /// The certificate file holds no certificate.
    #[error(
        "--tls-cert {path} holds no certificate: give a PEM file with a `BEGIN CERTIFICATE` block (the server's first, then its chain)"
    )]
    NoCert { path: PathBuf },
    /// The key file cannot be read or is not PEM.
    #[error("cannot read --tls-key {path}: {source}")]
    Key { path: PathBuf, source: pem::Error },
    /// The key file holds no private key.
    #[error(
        "--tls-key {path} holds no private key: give a PEM file with a `BEGIN PRIVATE KEY` (or RSA / EC PRIVATE KEY) block"
    )]
    NoKey { path: PathBuf },
    /// rustls refused the pair, e.g. the key is not the certificate's.
    #[error("--tls-cert {cert} and --tls-key {key} cannot serve together: {source}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

impl Tls {
    /// Reads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|source| TlsError::Cert {
                path: cert.into(),
                source,
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCert { path: cert.into() });
        }
        let private_key = PrivateKeyDer::from_pem_file(key).map_err(|source| match source {
            pem::Error::NoItemsFound => TlsError::NoKey { path: key.into() },
            source => TlsError::Key {
                path: key.into(),
                source,
            },
        })?;
        let pair = |source| TlsError::Pair {
            cert: cert.into(),
            key: key.into(),
            source,
        };
        // The provider is named rather than taken from the process default, so the build never
        // depends on which rustls backends other crates happen to enable.
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(pair)?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(pair)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

/// A connection's TCP socket, under TLS or not: for socket options.
pub trait OverTcp {
    fn tcp(&self) -> &TcpStream;
}

impl OverTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl OverTcp for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// Accepts TCP connections and hands on those whose TLS handshake succeeds. Handshakes run
/// in their own tasks, so a slow or silent client delays nobody else; one that fails (plain
/// HTTP, an untrusting client) or takes longer than [`HANDSHAKE_TIMEOUT`] is dropped.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, tls: &Tls) -> Self {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(tls.config.clone()),
            handshakes: JoinSet::new(),
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_HANDSHAKES => match accepted {
                    Ok((tcp, peer)) => {
                        self.handshakes.spawn(handshake(self.acceptor.clone(), tcp, peer));
                    }
                    Err(err) => accept_failed(err).await,
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// As axum's own listener does: a connection that failed before it was accepted is
/// nobody's concern; anything else (out of file descriptors) is logged and waited out.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        tracing::error!(%err, "accepting a connection failed; waiting a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();

        let err = Tls::load(&missing, &empty).unwrap_err();
        assert!(matches!(err, TlsError::Cert { .. }), "{err}");
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let err = Tls::load(&empty, &empty).unwrap_err();
        assert!(matches!(err, TlsError::NoCert { .. }), "{err}");
        assert!(err.to_string().contains("empty.pem"), "{err}");
    }

    #[test]
    fn the_key_must_be_there_and_belong_to_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ours = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let other = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let cert = write("cert.pem", ours.cert.pem());
        let key = write("key.pem", ours.signing_key.serialize_pem());
        let other_key = write("other.pem", other.signing_key.serialize_pem());

        assert!(Tls::load(&cert, &key).is_ok());

        let err = Tls::load(&cert, &cert).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
        assert!(err.to_string().contains("--tls-key"), "{err}");

        let err = Tls::load(&cert, &other_key).unwrap_err();
        assert!(matches!(err, TlsError::Pair { .. }), "{err}");
        assert!(err.to_string().contains("other.pem"), "{err}");
    }
}
