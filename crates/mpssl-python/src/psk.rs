//! The PSK attributes of `SSLContext` (`psk_identity`, `psk_key`, `server_psk_keys`): argument
//! conversion, and the server's Python key store as the core's [`PskKeyLookup`].

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use mpssl::{PskKeyLookup, SslContext};

use crate::buf::ReadBuf;
use crate::error;
use crate::gil;

/// The objects the PSK attributes were set to, as set (their getters return them).
#[derive(Default)]
pub(crate) struct PskObjects {
    identity: Option<Py<PyAny>>,
    key: Option<Py<PyAny>>,
    server_keys: Option<Py<PyAny>>,
}

/// Which attribute.
#[derive(Clone, Copy)]
pub(crate) enum Attr {
    Identity,
    Key,
    ServerKeys,
}

pub(crate) fn get(objects: &Mutex<PskObjects>, py: Python<'_>, attr: Attr) -> Py<PyAny> {
    let objects = objects.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = match attr {
        Attr::Identity => &objects.identity,
        Attr::Key => &objects.key,
        Attr::ServerKeys => &objects.server_keys,
    };
    slot.as_ref().map_or_else(|| py.None(), |o| o.clone_ref(py))
}

/// Set `attr` to `value` (`None` clears it): keep the object, hand the core its bytes (or a
/// lookup wrapping it). As in the reference, the object is kept even when the core then
/// refuses the identity/key pair (an over-long key: `OSError`).
pub(crate) fn set(
    objects: &Mutex<PskObjects>,
    ctx: &mut SslContext,
    value: &Bound<'_, PyAny>,
    attr: Attr,
) -> PyResult<()> {
    let py = value.py();
    let none = value.is_none();
    let stored = (!none).then(|| value.clone().unbind());
    let mut objects = objects.lock().unwrap_or_else(PoisonError::into_inner);
    let result = match attr {
        Attr::Identity => {
            let bytes = if none {
                None
            } else {
                Some(identity_bytes(value)?)
            };
            objects.identity = stored;
            ctx.set_psk_identity(bytes)
        }
        Attr::Key => {
            let bytes = if none {
                None
            } else {
                Some(ReadBuf::extract(value, "psk_key")?.as_slice().to_vec())
            };
            objects.key = stored;
            ctx.set_psk_key(bytes)
        }
        Attr::ServerKeys => {
            let lookup: Option<Arc<dyn PskKeyLookup>> = stored
                .as_ref()
                .map(|o| Arc::new(PyKeyStore(o.clone_ref(py))) as Arc<dyn PskKeyLookup>);
            objects.server_keys = stored;
            ctx.set_server_psk_keys(lookup);
            Ok(())
        }
    };
    result.map_err(|e| error::to_py(py, e))
}

/// An identity: `str` (its UTF-8 bytes, as the reference's `mp_obj_str_get_data`) or any
/// bytes-like object.
fn identity_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    ReadBuf::extract(value, "psk_identity")
        .map(|b| b.as_slice().to_vec())
        .map_err(|_| {
            let name = value
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!("psk_identity must be bytes or str, not '{name}'"))
        })
}

/// `server_psk_keys`: any object with `get(identity) -> key or None`.
#[derive(Debug)]
struct PyKeyStore(Py<PyAny>);

impl PskKeyLookup for PyKeyStore {
    /// `get(identity)` with the identity as `bytes`. `None`, a value that is not bytes-like,
    /// a missing `get` or an exception from it all reject the handshake, as in the reference
    /// (which swallows the exception too).
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        gil::attach(|py| {
            let id = PyBytes::new(py, identity);
            let name = pyo3::intern!(py, "get");
            let key = gil::call_method1(self.0.bind(py), name, id.as_any()).ok()?;
            if key.is_none() || key.is_instance_of::<PyString>() {
                return None;
            }
            let buf = ReadBuf::extract(&key, "a server_psk_keys value").ok()?;
            Some(buf.as_slice().to_vec())
        })
    }
}
