//! Everything that weakens verification lives here, so reviewers can find it.
//!
//! `CERT_NONE` and `CERT_OPTIONAL` accept a peer whose identity was not (or not successfully)
//! checked. What they never skip: rustls still verifies the handshake signatures against the
//! certificate the peer sent, so the peer has proved possession of that certificate's key. An
//! active attacker can still present a certificate of their own: only `CERT_REQUIRED` stops that.
//! Under both modes the verdict a `CERT_REQUIRED` check would have reached stays observable per
//! session (`Session::verify_result`): a peer certificate being present never means
//! "authenticated" on its own.

use rustls::client::danger::ServerCertVerified;
use rustls::server::danger::ClientCertVerified;

/// Accept the server's certificate whatever its chain, dates or name (`CERT_NONE`,
/// `CERT_OPTIONAL`); the session computes the verdict when asked.
pub(crate) fn skip_server_identity_check() -> ServerCertVerified {
    ServerCertVerified::assertion()
}

/// Accept the client's certificate whatever its chain or dates (`CERT_OPTIONAL` servers); the
/// session computes the verdict when asked.
pub(crate) fn skip_client_identity_check() -> ClientCertVerified {
    ClientCertVerified::assertion()
}
