//! TLS for the wire protocol: PEM certificate chain and private key (PKCS#8, PKCS#1 or SEC1),
//! loaded once at start. pgwire answers the client's SSLRequest with this acceptor; a setting
//! that cannot be loaded stops the server instead of serving plaintext.

use std::path::Path;
use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The acceptor for `cert` (a PEM chain, leaf first) and `key` (its PEM private key).
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "TLS certificate {}: no CERTIFICATE block in the file",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow::anyhow!(
            "TLS private key {}: {e} (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)",
            key.display()
        )
    })?;
    // Both of rustls' crypto providers are in the build (pgwire and datafusion-postgres each
    // pick one), so the provider is named rather than left to the process default.
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                anyhow::anyhow!(
                    "TLS certificate {} and key do not make a usable pair: {e}",
                    cert.display()
                )
            })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
