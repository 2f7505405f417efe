//! The rustls verifier implementations: [`ServerVerifier`] (a client checks the server) and
//! [`ClientVerifier`] (a server checks the client), over one shared [`PeerCheck`].
//!
//! Verifiers are shared by every session of a configuration, while a verdict belongs to one
//! session: a session keeps its `Arc<PeerCheck>` and asks [`PeerCheck::verdict`] for its own
//! peer chain when the application wants to know (`Session::verify_result`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::chain::{Checker, Usage};
use super::mode::{VerifyFlags, VerifyMode};
use super::names::{NameRule, PeerName};
use crate::danger;
use crate::error::Marker;

/// A configuration's verify mode and checker, shared by its verifiers and its sessions.
#[derive(Debug)]
pub(crate) struct PeerCheck {
    pub(crate) mode: VerifyMode,
    pub(crate) checker: Checker,
    /// Whether a client checks the server's host name (`SslContext::checks_host_name`); when
    /// not, the chain is still verified and no name is required.
    pub(crate) check_names: bool,
}

impl PeerCheck {
    /// The verdict on a peer chain after a completed handshake, as Mbed TLS's
    /// `mbedtls_ssl_get_verify_result`: empty when it verified, else every reason.
    ///
    /// Under `CERT_REQUIRED` a completed handshake means every check passed. In the other
    /// modes the chain is assessed now (dates at `now`), with the context's trust store and the
    /// session's name, exactly as `CERT_REQUIRED` would have.
    pub(crate) fn verdict(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &PeerName,
        usage: Usage,
        now: UnixTime,
    ) -> VerifyFlags {
        if self.mode == VerifyMode::Required {
            return VerifyFlags::default();
        }
        self.checker.verdict(leaf, intermediates, name, now, usage)
    }
}

/// A client configuration's verifier of server certificates, for one [`NameRule`].
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    pub(crate) check: Arc<PeerCheck>,
    pub(crate) rule: NameRule,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match self.check.check_names {
            true => PeerName::from_rule(self.rule, server_name),
            // check_hostname=False: the chain is verified, the name is not.
            false => PeerName::Absent,
        };
        let mode = self.check.mode;
        self.check
            .checker
            .check(mode, end_entity, intermediates, &name, now, Usage::Server)?;
        match mode {
            VerifyMode::Required if name == PeerName::Absent && self.check.check_names => {
                Err(Marker::HostnameRequired.into_rustls())
            }
            VerifyMode::Required => Ok(ServerCertVerified::assertion()),
            VerifyMode::Optional | VerifyMode::None => Ok(danger::skip_server_identity_check()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.checker.tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.checker.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.check.checker.algs.supported_schemes()
    }
}

/// A server configuration's verifier of client certificates.
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    pub(crate) check: Arc<PeerCheck>,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.check.mode != VerifyMode::None
    }

    fn client_auth_mandatory(&self) -> bool {
        self.check.mode == VerifyMode::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let mode = self.check.mode;
        self.check.checker.check(
            mode,
            end_entity,
            intermediates,
            &PeerName::Absent,
            now,
            Usage::Client,
        )?;
        match mode {
            VerifyMode::Required => Ok(ClientCertVerified::assertion()),
            VerifyMode::Optional | VerifyMode::None => Ok(danger::skip_client_identity_check()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.checker.tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.checker.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.check.checker.algs.supported_schemes()
    }
}
