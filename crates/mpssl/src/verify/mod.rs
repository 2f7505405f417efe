//! Verification policy: `CERT_NONE` / `CERT_OPTIONAL` / `CERT_REQUIRED`, Mbed TLS-style verdicts.
//!
//! The verdict of a failed check is a set of [`VerifyFlags`] with Mbed TLS's bit values, so a
//! front end can print exactly the reference's text. By concern:
//!
//! - [`mode`]: the verify mode and the flags;
//! - [`chain`]: the trust store, the verify callback and the checks of a peer's chain (dates,
//!   trust, key usage, key strength), which report several reasons at once as the reference;
//! - [`names`]: the host name a client checks, and whether a certificate is valid for it;
//! - [`verifiers`]: the rustls `ServerCertVerifier` / `ClientCertVerifier`, and the per-session
//!   verdict (`Session::verify_result`).
//!
//! What weakens verification (`CERT_NONE`, `CERT_OPTIONAL`) goes through [`crate::danger`].

pub(crate) mod chain;
pub(crate) mod mode;
pub(crate) mod names;
pub(crate) mod verifiers;

pub use chain::{TrustStore, VerifyCallback};
pub use mode::{VerifyFlags, VerifyMode};
