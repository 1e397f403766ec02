//! The HTTPS POST of an `AdmissionReview`: TLS verified against the webhook's `caBundle`
//! alone (as kube-apiserver does when one is given), HTTP/1.1, a body limit.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// Where one call goes.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// The socket connected to.
    pub(crate) address: SocketAddr,
    /// The name the server's certificate must carry (a Service's `<name>.<namespace>.svc`).
    pub(crate) server_name: String,
    /// The `Host` header.
    pub(crate) authority: String,
    /// Path and query, with `timeout=<n>s`.
    pub(crate) path: String,
}

/// Largest webhook response read.
const MAX_RESPONSE: usize = crate::api::MAX_BODY;

/// Posts `body` and returns the response body of a 2xx answer; the error is the cause, in
/// words a user can act on.
pub(crate) async fn post(
    destination: &Destination,
    ca_bundle: &[u8],
    body: Vec<u8>,
) -> Result<Bytes, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_bundle) {
        let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(destination.server_name.clone())
        .map_err(|e| format!("tls: server name {:?}: {e}", destination.server_name))?;
    let tcp = tokio::net::TcpStream::connect(destination.address)
        .await
        .map_err(|e| format!("dial tcp {}: connect: {e}", destination.address))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("tls: failed to verify certificate: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "webhook connection ended");
        }
    });
    let request = http::Request::post(destination.path.as_str())
        .header(http::header::HOST, destination.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        return Err(format!(
            "the server responded with HTTP {}: {}",
            status.as_u16(),
            text.trim()
        ));
    }
    Ok(bytes)
}
