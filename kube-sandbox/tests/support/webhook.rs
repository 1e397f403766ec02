//! A test admission webhook over real TLS: a CA and a serving certificate generated per
//! test, an HTTPS server on 127.0.0.1 answering with kube-rs's own admission types (as the
//! project's webhook does), and a record of every `AdmissionReview` request it received.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use serde_json::{Value, json};

/// A CA and a certificate it signed for `names`.
pub(crate) struct Certificates {
    pub(crate) ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Certificates {
    pub(crate) fn new(names: &[&str]) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// `clientConfig.caBundle`: the CA, base64 as the API carries bytes.
    pub(crate) fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }
}

/// A running webhook.
pub(crate) struct Webhook {
    pub(crate) address: SocketAddr,
    /// Every request, as received: (path, AdmissionReview JSON).
    pub(crate) requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Webhook {
    /// The requests received on `path`.
    pub(crate) fn requests_to(&self, path: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .collect()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }
}

/// Serves the test webhook on 127.0.0.1 with `certificates`, in the current runtime.
pub(crate) async fn start(certificates: &Certificates) -> Webhook {
    use rustls::pki_types::pem::PemObject as _;
    let certs: Vec<_> =
        rustls::pki_types::CertificateDer::pem_slice_iter(certificates.cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect();
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(certificates.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let record = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                // A client that refuses our certificate ends here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    let record = Arc::clone(&record);
                    async move { Ok::<_, Infallible>(answer(request, &record).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Webhook { address, requests }
}

fn reply(code: u16, body: String) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The behaviours, by path:
/// - `/mutate`: adds label `admitted: "yes"` (kube-rs patch: a byte array) and a warning;
/// - `/annotate`: adds annotation `seen: "base64"` (a Go-style base64 patch);
/// - `/validate`: denies a ConfigMap with a `forbidden` data key, and DELETE of `keep`;
/// - `/slow`: allows after 3 s; `/garbage`: answers something that is not a review.
async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    record: &Mutex<Vec<(String, Value)>>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let review: Value = serde_json::from_slice(&body).unwrap();
    record.lock().unwrap().push((path.clone(), review.clone()));
    let typed: AdmissionReview<DynamicObject> = serde_json::from_value(review.clone()).unwrap();
    let typed: AdmissionRequest<DynamicObject> = typed.try_into().unwrap();
    let allowed = AdmissionResponse::from(&typed);
    let object = &review["request"]["object"];
    let response = match path.as_str() {
        "/mutate" => {
            let operation = if object.pointer("/metadata/labels").is_some() {
                json!({"op": "add", "path": "/metadata/labels/admitted", "value": "yes"})
            } else {
                json!({"op": "add", "path": "/metadata/labels", "value": {"admitted": "yes"}})
            };
            let patch: json_patch::Patch = serde_json::from_value(json!([operation])).unwrap();
            let mut response = allowed.with_patch(patch).unwrap();
            response.warnings = Some(vec!["labelled by the test webhook".into()]);
            response.into_review()
        }
        "/annotate" => {
            let operation = if object.pointer("/metadata/annotations").is_some() {
                json!({"op": "add", "path": "/metadata/annotations/seen", "value": "base64"})
            } else {
                json!({"op": "add", "path": "/metadata/annotations", "value": {"seen": "base64"}})
            };
            let patch =
                base64::engine::general_purpose::STANDARD.encode(json!([operation]).to_string());
            let uid = review["request"]["uid"].clone();
            return reply(
                200,
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": uid, "allowed": true, "patchType": "JSONPatch", "patch": patch}})
                .to_string(),
            );
        }
        "/validate" => {
            let old = &review["request"]["oldObject"];
            if object.pointer("/data/forbidden").is_some() {
                allowed
                    .deny("key \"forbidden\" is not allowed")
                    .into_review()
            } else if review["request"]["operation"] == "DELETE"
                && old.pointer("/metadata/name") == Some(&json!("keep"))
            {
                allowed.deny("keep stays").into_review()
            } else {
                allowed.into_review()
            }
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            allowed.into_review()
        }
        "/garbage" => return reply(200, "this is not a review".into()),
        _ => return reply(404, "{}".into()),
    };
    reply(200, serde_json::to_string(&response).unwrap())
}
