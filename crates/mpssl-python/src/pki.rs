//! A throw-away PKI for the demo and examples, generated in memory with rcgen.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

fn err(e: rcgen::Error) -> PyErr {
    PyValueError::new_err(format!("certificate generation failed: {e}"))
}

/// `make_demo_pki(names)` → `(ca_der, leaf_der, leaf_key_der)`: an ECDSA P-256 CA and a leaf
/// for `names` (DNS names or IP addresses) signed by it, valid for a day. For demos and tests
/// only: the CA key is discarded.
#[pyfunction]
#[pyo3(signature = (names))]
pub(crate) fn make_demo_pki<'py>(
    py: Python<'py>,
    names: Vec<String>,
) -> PyResult<(
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
)> {
    let (ca, leaf, key) = py
        .detach(|| -> Result<_, rcgen::Error> {
            let now = time::OffsetDateTime::now_utc();
            let ca_key = KeyPair::generate()?;
            let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "mpssl demo CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            ca_params.not_before = now - time::Duration::hours(1);
            ca_params.not_after = now + time::Duration::days(1);
            let ca_cert = ca_params.self_signed(&ca_key)?;
            let issuer = Issuer::new(ca_params, ca_key);

            let leaf_key = KeyPair::generate()?;
            let mut leaf_params = CertificateParams::new(names)?;
            if let Some(first) = leaf_params.subject_alt_names.first() {
                let cn = match first {
                    rcgen::SanType::DnsName(d) => d.to_string(),
                    rcgen::SanType::IpAddress(ip) => ip.to_string(),
                    _ => "mpssl demo".to_owned(),
                };
                leaf_params.distinguished_name.push(DnType::CommonName, cn);
            }
            leaf_params.not_before = now - time::Duration::hours(1);
            leaf_params.not_after = now + time::Duration::days(1);
            let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;
            Ok((
                ca_cert.der().to_vec(),
                leaf_cert.der().to_vec(),
                leaf_key.serialize_der(),
            ))
        })
        .map_err(err)?;
    Ok((
        PyBytes::new(py, &ca),
        PyBytes::new(py, &leaf),
        PyBytes::new(py, &key),
    ))
}
