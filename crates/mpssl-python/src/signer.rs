//! `SSLContext.ecdsa_sign_callback`: a Python callable as the engine's [`EcdsaSignCallback`].
//!
//! The callable is called as the reference calls it, `cb(private_key: bytearray, hash:
//! bytearray)`, with the GIL taken through [`gil::attach`]. What it returns goes back to the
//! engine, which decides: a buffer is the signature (checked there), `None` declines. An
//! exception, or a result that is neither `None` nor a buffer (a `TypeError`), fails the
//! handshake: the engine reports `OSError(-20352, 'MBEDTLS_ERR_ECP_BAD_INPUT_DATA')` and the
//! callback's exception becomes its `__cause__` (the reference prints it instead).

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use mpssl::{EcdsaSignCallback, Error, SslContext};

use crate::buf::ReadBuf;
use crate::gil;

/// The `ecdsa_sign_callback` object of a context, as set (the engine holds a wrapper of it).
#[derive(Default)]
pub(crate) struct SignSlot(Mutex<Option<Py<PyAny>>>);

impl SignSlot {
    /// The callable, or `None`.
    pub(crate) fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().map(|c| c.clone_ref(py))
    }

    /// Set the callable (`None` removes it) here and in the engine's context.
    pub(crate) fn set(&self, value: &Bound<'_, PyAny>, ctx: &mut SslContext) -> PyResult<()> {
        if !value.is_none() && !value.is_callable() {
            return Err(PyTypeError::new_err(
                "ecdsa_sign_callback must be callable or None",
            ));
        }
        let callback = (!value.is_none()).then(|| value.clone().unbind());
        let core = callback.as_ref().map(|c| {
            Arc::new(PySignCallback(c.clone_ref(value.py()))) as Arc<dyn EcdsaSignCallback>
        });
        ctx.set_ecdsa_sign_callback(core);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = callback;
        Ok(())
    }
}

/// The exception an `ecdsa_sign_callback` raised, carried through the engine.
#[derive(Debug)]
pub(crate) struct SignRaised(pub(crate) PyErr, String);

impl std::fmt::Display for SignRaised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for SignRaised {}

/// The exception a failed `ecdsa_sign_callback` raised, to chain as the `__cause__` of the
/// error `e` becomes.
pub(crate) fn raised_cause(e: &Error) -> Option<&PyErr> {
    e.carried()
        .and_then(|p| p.downcast_ref::<SignRaised>())
        .map(|r| &r.0)
}

#[derive(Debug)]
struct PySignCallback(Py<PyAny>);

impl EcdsaSignCallback for PySignCallback {
    fn sign(
        &self,
        private_key: &[u8],
        hash: &[u8],
    ) -> Result<Option<Vec<u8>>, Arc<dyn std::error::Error + Send + Sync>> {
        gil::attach(|py| {
            let raised = |e: PyErr| -> Arc<dyn std::error::Error + Send + Sync> {
                let text = format!(
                    "it raised {}",
                    e.value(py)
                        .repr()
                        .map_or_else(|_| "an exception".to_owned(), |r| r.to_string(),)
                );
                Arc::new(SignRaised(e, text))
            };
            let key = PyByteArray::new(py, private_key);
            let digest = PyByteArray::new(py, hash);
            let result =
                gil::call2(self.0.bind(py), key.as_any(), digest.as_any()).map_err(raised)?;
            if result.is_none() {
                return Ok(None);
            }
            let signature =
                ReadBuf::extract(&result, "the ecdsa_sign_callback's result").map_err(raised)?;
            Ok(Some(signature.as_slice().to_vec()))
        })
    }
}
