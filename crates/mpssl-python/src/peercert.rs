//! The peer's leaf certificate as Python sees it: DER bytes, or CPython's `getpeercert()` dict.
//! Shared by `SSLSocket` and `SSLObject`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

/// `getpeercert(binary_form)` for the DER certificate `leaf`: the bytes with `binary_form`,
/// else CPython's dict (empty when the certificate cannot be decoded).
pub(crate) fn cert_object(py: Python<'_>, leaf: &[u8], binary_form: bool) -> PyResult<Py<PyAny>> {
    if binary_form {
        return Ok(PyBytes::new(py, leaf).into_any().unbind());
    }
    let Some(info) = mpssl::peer::cert_info(leaf) else {
        return Ok(PyDict::new(py).into_any().unbind());
    };
    let dict = PyDict::new(py);
    let name = |rdns: &Vec<Vec<(String, String)>>| -> PyResult<Bound<'_, PyTuple>> {
        let items = rdns
            .iter()
            .map(|rdn| PyTuple::new(py, rdn.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    };
    dict.set_item("subject", name(&info.subject)?)?;
    dict.set_item("issuer", name(&info.issuer)?)?;
    dict.set_item("version", info.version)?;
    dict.set_item("serialNumber", &info.serial_number)?;
    dict.set_item("notBefore", &info.not_before)?;
    dict.set_item("notAfter", &info.not_after)?;
    if !info.subject_alt_name.is_empty() {
        let san = PyTuple::new(
            py,
            info.subject_alt_name
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        dict.set_item("subjectAltName", san)?;
    }
    Ok(dict.into_any().unbind())
}
