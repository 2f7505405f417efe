//! `SSLContext`: the Python face of [`mpssl::SslContext`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBytes, PyInt, PyList, PyMemoryView, PyString, PyTuple, PyWeakrefMethods, PyWeakrefReference,
};

use mpssl::{
    CallbackAbort, Protocol, ServerCertificates, ServerNameCallback, Session, SniAbort, SslContext,
    VerifyCallback,
};

use crate::bio::SslObject;
use crate::buf::ReadBuf;
use crate::error::{self, PythonRaised};
use crate::gil;
use crate::pysock::{self, FdSocket, ObjectSocket, Transport};
use crate::signer::SignSlot;
use crate::socket::SslSocket;

/// MicroPython's `SSLContext`: role, verify mode, CAs, own certificate and key, suites.
#[pyclass(name = "SSLContext", module = "mpssl", subclass, frozen)]
pub(crate) struct Context {
    inner: RwLock<SslContext>,
    /// The `verify_callback` object, as set (the core holds a wrapper of it).
    callback: Mutex<Option<Py<PyAny>>>,
    /// The `sni_callback` object (a server's sessions get a hook that calls it).
    sni_callback: Mutex<Option<Py<PyAny>>>,
    /// `post_handshake_auth`: stored only (rustls has no TLS 1.3 post-handshake auth).
    post_handshake_auth: AtomicBool,
    /// The `ecdsa_sign_callback` object.
    signer: SignSlot,
    /// The PSK attributes' objects, as set (see `psk.rs`).
    psk: Mutex<crate::psk::PskObjects>,
}

impl Context {
    /// A server session's hook for this context's `sni_callback`, if one is set.
    pub(crate) fn sni_hook(
        &self,
        py: Python<'_>,
        slf: &Bound<'_, Self>,
        role: Protocol,
    ) -> Option<Arc<PySniCallback>> {
        if role != Protocol::Server {
            return None;
        }
        let slot = self
            .sni_callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let callback = slot.as_ref()?.clone_ref(py);
        Some(Arc::new(PySniCallback {
            callback,
            context: slf.clone().unbind(),
            socket: OnceLock::new(),
        }))
    }

    /// `wrap_socket`'s and `wrap_bio`'s shared arguments: the host name (str or bytes) and the
    /// role the engine's rule gives (`SslContext::wrap_role`).
    fn wrap_args(
        slf: &Bound<'_, Self>,
        server_side: bool,
        server_hostname: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Option<String>, Protocol)> {
        let hostname = match server_hostname {
            None => None,
            Some(h) if h.is_none() => None,
            Some(h) => Some(hostname_arg(h)?),
        };
        let role = slf
            .get()
            .read()
            .wrap_role(server_side, hostname.as_deref())
            .map_err(|e| error::to_py(slf.py(), e))?;
        Ok((hostname, role))
    }

    /// A session of this context, with the hook of its `sni_callback` on a server (the
    /// caller gives the hook its socket or object with [`attach_sni_hook`]).
    fn new_session(
        slf: &Bound<'_, Self>,
        role: Protocol,
        hostname: Option<&str>,
    ) -> PyResult<(Session, Option<Arc<PySniCallback>>)> {
        let this = slf.get();
        if role.is_dtls() {
            return Err(PyValueError::new_err(
                "DTLS needs a datagram socket: use wrap_socket (wrap_bio is TLS only)",
            ));
        }
        let hook = this.sni_hook(slf.py(), slf, role);
        let session = Session::with_server_name_callback(
            &this.read(),
            hostname,
            hook.clone().map(|h| h as Arc<dyn ServerNameCallback>),
        )
        .map_err(|e| error::to_py(slf.py(), e))?;
        Ok((session, hook))
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, SslContext> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, SslContext> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A DTLS server's `client_id` as bytes: any buffer or `str`; missing, `None` or anything else
/// is the reference's `OSError(-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')`. Other roles
/// ignore it.
fn dtls_client_id(
    py: Python<'_>,
    role: Protocol,
    client_id: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Vec<u8>>> {
    if role != Protocol::DtlsServer {
        return Ok(None);
    }
    let missing = || {
        error::to_py(
            py,
            mpssl::Error::Argument(mpssl::ArgumentError::ClientIdRequired),
        )
    };
    let Some(obj) = client_id.filter(|o| !o.is_none()) else {
        return Err(missing());
    };
    match crate::buf::StreamData::extract(obj, "client_id") {
        Ok(data) => Ok(Some(data.as_slice().to_vec())),
        Err(_) => Err(missing()),
    }
}

/// An int argument as MicroPython converts it (`str` → "can't convert str to int").
fn int_arg(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("can't convert str to int"));
    }
    value.extract::<i64>().map_err(|e| {
        if value.is_instance_of::<PyInt>() {
            return e; // OverflowError, as CPython and MicroPython raise for a too-large int
        }
        let name = value
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        PyTypeError::new_err(format!("can't convert {name} to int"))
    })
}

#[pymethods]
impl Context {
    /// `SSLContext(protocol)`: `PROTOCOL_TLS_CLIENT`, `PROTOCOL_TLS_SERVER`,
    /// `PROTOCOL_DTLS_CLIENT` or `PROTOCOL_DTLS_SERVER`.
    ///
    /// As in the reference, the value is a bit field: bit 0 selects the server role, bit 1
    /// DTLS ([`Protocol::from_bits`]).
    #[new]
    #[pyo3(signature = (protocol, /))]
    fn new(protocol: &Bound<'_, PyAny>) -> PyResult<Self> {
        let protocol =
            Protocol::from_bits(int_arg(protocol)?).map_err(|e| error::to_py(protocol.py(), e))?;
        Ok(Self {
            inner: RwLock::new(SslContext::new(protocol)),
            callback: Mutex::new(None),
            sni_callback: Mutex::new(None),
            post_handshake_auth: AtomicBool::new(false),
            signer: SignSlot::default(),
            psk: Mutex::default(),
        })
    }

    /// The `PROTOCOL_*` value of this context's role.
    #[getter]
    fn protocol(&self) -> i64 {
        self.read().protocol().as_int()
    }

    /// `CERT_NONE`, `CERT_OPTIONAL` or `CERT_REQUIRED`.
    #[getter]
    fn get_verify_mode(&self) -> i64 {
        self.read().verify_mode().as_int()
    }

    #[setter]
    fn set_verify_mode(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let mode = int_arg(value)?;
        self.write()
            .set_verify_mode_value(mode)
            .map_err(|e| error::to_py(value.py(), e))
    }

    /// Whether the subject CN is matched when a certificate has no SAN DNS/IP entries.
    #[getter]
    fn get_hostname_checks_common_name(&self) -> bool {
        self.read().hostname_checks_common_name()
    }

    #[setter]
    fn set_hostname_checks_common_name(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.write()
            .set_hostname_checks_common_name(value.is_truthy()?);
        Ok(())
    }

    /// `verify_callback(cert: memoryview, depth: int) -> int`, called for each certificate of
    /// the peer's chain (top down, leaf at depth 0) in `CERT_OPTIONAL`/`CERT_REQUIRED` modes;
    /// a non-zero result or an exception aborts the handshake.
    #[getter]
    fn get_verify_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let slot = self.callback.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().map(|c| c.clone_ref(py))
    }

    #[setter]
    fn set_verify_callback(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !value.is_none() && !value.is_callable() {
            return Err(PyTypeError::new_err(
                "verify_callback must be callable or None",
            ));
        }
        let callback = if value.is_none() {
            None
        } else {
            Some(value.clone().unbind())
        };
        let core: Option<Arc<dyn VerifyCallback>> = callback.as_ref().map(|c| {
            Arc::new(PyVerifyCallback(c.clone_ref(value.py()))) as Arc<dyn VerifyCallback>
        });
        self.write().set_verify_callback(core);
        *self.callback.lock().unwrap_or_else(PoisonError::into_inner) = callback;
        Ok(())
    }

    /// `ecdsa_sign_callback(private_key: bytearray, hash: bytearray)`, called for each ECDSA
    /// handshake signature; it returns the DER signature or `None` (see `crate::signer`).
    #[getter]
    fn get_ecdsa_sign_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.signer.get(py)
    }

    #[setter]
    fn set_ecdsa_sign_callback(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.signer.set(value, &mut self.write())
    }

    /// Whether sessions of this context can be resumed (default True).
    #[getter]
    fn get_session_resumption(&self) -> bool {
        self.read().session_resumption()
    }

    #[setter]
    fn set_session_resumption(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.write().set_session_resumption(value.is_truthy()?);
        Ok(())
    }

    /// Load certificate(s) and private key from data (PEM or DER). As in the reference, the key
    /// is converted and parsed before the certificate argument is even looked at.
    #[pyo3(signature = (certfile, keyfile))]
    fn load_cert_chain(
        &self,
        py: Python<'_>,
        certfile: &Bound<'_, PyAny>,
        keyfile: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let key = ReadBuf::extract(keyfile, "keyfile")?;
        let key = key.as_slice();
        let key = gil::detach(py, || self.read().parse_private_key(key))
            .map_err(|e| error::to_py(py, e))?;
        let cert = ReadBuf::extract(certfile, "certfile")?;
        let cert = cert.as_slice();
        gil::detach(py, || self.write().load_cert_chain_with_key(cert, key))
            .map_err(|e| error::to_py(py, e))
    }

    /// Add trusted CA certificates from data (one DER certificate or PEM). Both arguments
    /// are data here; `mpssl.SSLContext` turns paths into data.
    /// `capath` (keyword only here) is a directory whose files are read (see
    /// `mpssl::roots::dir_roots`).
    #[pyo3(signature = (cafile=None, cadata=None, *, capath=None))]
    fn load_verify_locations(
        &self,
        py: Python<'_>,
        cafile: Option<&Bound<'_, PyAny>>,
        cadata: Option<&Bound<'_, PyAny>>,
        capath: Option<std::path::PathBuf>,
    ) -> PyResult<()> {
        let given: Vec<_> = [cafile, cadata]
            .into_iter()
            .flatten()
            .filter(|o| !o.is_none())
            .collect();
        if given.is_empty() && capath.is_none() {
            return Err(PyTypeError::new_err(
                "cafile and cadata cannot both be None",
            ));
        }
        if let Some(dir) = capath {
            gil::detach(py, || self.write().load_verify_dir(&dir))
                .map_err(|e| error::to_py(py, e))?;
        }
        for source in given {
            let data = ReadBuf::extract(source, "cadata")?;
            let data = data.as_slice();
            gil::detach(py, || self.write().load_verify_locations(data))
                .map_err(|e| error::to_py(py, e))?;
        }
        Ok(())
    }

    /// The suites enabled on this context, in preference order.
    fn get_ciphers(&self) -> Vec<&'static str> {
        self.read().ciphers()
    }

    /// Restrict the context to these suites, in this order (a list or tuple of names).
    #[pyo3(signature = (ciphers, /))]
    fn set_ciphers(&self, py: Python<'_>, ciphers: &Bound<'_, PyAny>) -> PyResult<()> {
        if !(ciphers.is_instance_of::<PyList>() || ciphers.is_instance_of::<PyTuple>()) {
            let name = ciphers
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            return Err(PyTypeError::new_err(format!(
                "object '{name}' isn't a tuple or list"
            )));
        }
        let mut names = Vec::new();
        for item in ciphers.try_iter()? {
            let item = item?;
            if let Ok(s) = item.cast::<PyString>() {
                names.push(s.to_str()?.to_owned());
            } else if let Ok(b) = item.cast::<PyBytes>() {
                names.push(String::from_utf8_lossy(b.as_bytes()).into_owned());
            } else {
                return Err(PyTypeError::new_err("cipher names must be str or bytes"));
            }
        }
        self.write()
            .set_ciphers(&names)
            .map_err(|e| error::to_py(py, e))
    }

    /// The key-exchange groups offered, in preference order.
    fn get_groups(&self) -> Vec<&'static str> {
        self.read().key_exchange_groups()
    }

    /// Offer only these key-exchange groups, in this order (`X25519MLKEM768`, `X25519`,
    /// `secp256r1`/`prime256v1`, `secp384r1`). An unknown name or an empty list raises
    /// `OSError(-24192, 'MBEDTLS_ERR_SSL_BAD_CONFIG')`, as `set_ciphers` does.
    #[pyo3(signature = (groups, /))]
    fn set_groups(&self, py: Python<'_>, groups: Vec<String>) -> PyResult<()> {
        self.write()
            .set_key_exchange_groups(&groups)
            .map_err(|e| error::to_py(py, e))
    }

    /// CPython's `set_ecdh_curve(name)`: offer only this key-exchange group (errors as
    /// `set_groups`).
    #[pyo3(signature = (curve_name, /))]
    fn set_ecdh_curve(&self, py: Python<'_>, curve_name: &str) -> PyResult<()> {
        self.write()
            .set_key_exchange_groups(&[curve_name])
            .map_err(|e| error::to_py(py, e))
    }

    /// Wrap a connected socket (or a stream-like object) in TLS.
    ///
    /// `session` is accepted for CPython's callers (`ftplib.FTP_TLS` passes the control
    /// connection's `session`, which is `None` here): sessions resume through the context.
    ///
    /// `client_id` (DTLS servers, required there): a buffer or `str` naming the client's
    /// transport address, e.g. `repr(addr).encode()`; ignored otherwise.
    #[pyo3(signature = (sock, *, server_side=Truthy(false), do_handshake_on_connect=Truthy(true), server_hostname=None, session=None, client_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn wrap_socket(
        slf: &Bound<'_, Self>,
        sock: &Bound<'_, PyAny>,
        server_side: Truthy,
        do_handshake_on_connect: Truthy,
        server_hostname: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'_, PyAny>>,
        client_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<SslSocket>> {
        let py = slf.py();
        if session.is_some_and(|s| !s.is_none()) {
            return Err(PyTypeError::new_err(
                "session must be None: mpssl resumes sessions through the SSLContext \
                 (SSLSocket.session is always None)",
            ));
        }
        let handshake_now = do_handshake_on_connect.0;
        let (hostname, role) = Self::wrap_args(slf, server_side.0, server_hostname)?;
        // Host name and role first, then the socket: a refused wrap never touches it.
        // A DTLS server's client id is an argument too: checked before the socket.
        let id = dtls_client_id(py, role, client_id)?;
        let transport = transport_for(sock)?;
        let (session, hook) = if role.is_dtls() {
            let this = slf.get();
            let session = gil::detach(py, || {
                Session::with_client_id(&this.read(), hostname.as_deref(), id.as_deref())
            })
            .map_err(|e| error::to_py(py, e))?;
            (session, None)
        } else {
            Self::new_session(slf, role, hostname.as_deref())?
        };
        let socket = SslSocket::new(
            session,
            transport,
            sock.clone().unbind(),
            slf.clone().unbind(),
            role.is_server(),
            hostname,
        );
        let socket = Py::new(py, socket)?;
        attach_sni_hook(hook, socket.bind(py).as_any())?;
        if handshake_now {
            socket.get().handshake_blocking(py)?;
        }
        Ok(socket)
    }

    /// Offer (client) or accept (server) these ALPN protocols, in preference order (CPython's
    /// `set_alpn_protocols`; str or bytes names of 1 to 255 bytes, else `ValueError`).
    #[pyo3(signature = (alpn_protocols, /))]
    fn set_alpn_protocols(
        &self,
        py: Python<'_>,
        alpn_protocols: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for item in alpn_protocols.try_iter()? {
            let item = item?;
            if let Ok(s) = item.cast::<PyString>() {
                names.push(s.to_str()?.as_bytes().to_vec());
            } else if let Ok(b) = item.cast::<PyBytes>() {
                names.push(b.as_bytes().to_vec());
            } else {
                return Err(PyTypeError::new_err("ALPN protocols must be str or bytes"));
            }
        }
        self.write()
            .set_alpn_protocols(&names)
            .map_err(|e| error::to_py(py, e))
    }

    /// The key log file (NSS format) this context appends its sessions' secrets to, or None.
    #[getter]
    fn get_keylog_filename(&self) -> Option<std::ffi::OsString> {
        self.read()
            .keylog_filename()
            .map(|p| p.as_os_str().to_owned())
    }

    #[setter]
    fn set_keylog_filename(
        &self,
        py: Python<'_>,
        value: Option<std::path::PathBuf>,
    ) -> PyResult<()> {
        gil::detach(py, || self.write().set_keylog_filename(value.as_deref()))
            .map_err(|e| error::to_py(py, e))
    }

    /// Trust the operating system's CA certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set).
    /// `purpose` is accepted for CPython compatibility; the same roots serve both purposes.
    #[pyo3(signature = (purpose=None))]
    fn load_default_certs(&self, py: Python<'_>, purpose: Option<&Bound<'_, PyAny>>) {
        let _ = purpose;
        gil::detach(py, || self.write().load_system_roots());
    }

    /// Trust the operating system's CA certificates, as `load_default_certs()`.
    fn set_default_verify_paths(&self, py: Python<'_>) {
        gil::detach(py, || self.write().load_system_roots());
    }

    /// `sni_callback(sslsocket, server_name, sslcontext)`, called on a server when a client's
    /// hello arrives; may set `sslsocket.context`; returning an int or raising aborts.
    #[getter]
    fn get_sni_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let slot = self
            .sni_callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().map(|c| c.clone_ref(py))
    }

    #[setter]
    fn set_sni_callback(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !value.is_none() && !value.is_callable() {
            return Err(PyTypeError::new_err("not a callable object"));
        }
        if !self.read().protocol().is_server() {
            return Err(PyValueError::new_err(
                "sni_callback cannot be set on a PROTOCOL_TLS_CLIENT context",
            ));
        }
        let callback = (!value.is_none()).then(|| value.clone().unbind());
        *self
            .sni_callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = callback;
        Ok(())
    }

    /// Accepted and stored for CPython consumers (`http.client` sets it); it does nothing:
    /// rustls has no TLS 1.3 post-handshake client authentication.
    #[getter]
    fn get_post_handshake_auth(&self) -> bool {
        self.post_handshake_auth.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_post_handshake_auth(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.post_handshake_auth
            .store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    /// CPython's `wrap_bio`: TLS over two `ssl.MemoryBIO` objects (what asyncio uses). The
    /// handshake starts with the first `do_handshake`/`read`/`write` (see `bio.rs`).
    #[pyo3(signature = (incoming, outgoing, server_side=false, server_hostname=None, session=None))]
    fn wrap_bio(
        slf: &Bound<'_, Self>,
        incoming: &Bound<'_, PyAny>,
        outgoing: &Bound<'_, PyAny>,
        server_side: bool,
        server_hostname: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<SslObject>> {
        let py = slf.py();
        if session.is_some_and(|s| !s.is_none()) {
            return Err(PyValueError::new_err(
                "session objects are not supported: mpssl resumes sessions through the context \
                 (session_resumption)",
            ));
        }
        let (hostname, role) = Self::wrap_args(slf, server_side, server_hostname)?;
        let (session, hook) = Self::new_session(slf, role, hostname.as_deref())?;
        let object = SslObject::new(
            session,
            incoming,
            outgoing,
            slf.clone().unbind(),
            role.is_server(),
            hostname,
        )?;
        let object = Py::new(py, object)?;
        attach_sni_hook(hook, object.bind(py).as_any())?;
        Ok(object)
    }

    /// CPython's `check_hostname`: whether a client checks the server's name (decided by
    /// [`SslContext::check_hostname`]; `True` switches `CERT_NONE` to `CERT_REQUIRED`).
    #[getter]
    fn get_check_hostname(&self) -> bool {
        self.read().check_hostname()
    }

    #[setter]
    fn set_check_hostname(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.write().set_check_hostname(value.is_truthy()?);
        Ok(())
    }

    /// The client's PSK identity (bytes or str; `None` by default). See `psk.rs`.
    #[getter]
    fn get_psk_identity(&self, py: Python<'_>) -> Py<PyAny> {
        crate::psk::get(&self.psk, py, crate::psk::Attr::Identity)
    }

    #[setter]
    fn set_psk_identity(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::psk::set(
            &self.psk,
            &mut self.write(),
            value,
            crate::psk::Attr::Identity,
        )
    }

    /// The client's PSK key (bytes-like; `None` by default).
    #[getter]
    fn get_psk_key(&self, py: Python<'_>) -> Py<PyAny> {
        crate::psk::get(&self.psk, py, crate::psk::Attr::Key)
    }

    #[setter]
    fn set_psk_key(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::psk::set(&self.psk, &mut self.write(), value, crate::psk::Attr::Key)
    }

    /// The server's key store: any object with `get(identity) -> key or None`.
    #[getter]
    fn get_server_psk_keys(&self, py: Python<'_>) -> Py<PyAny> {
        crate::psk::get(&self.psk, py, crate::psk::Attr::ServerKeys)
    }

    #[setter]
    fn set_server_psk_keys(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::psk::set(
            &self.psk,
            &mut self.write(),
            value,
            crate::psk::Attr::ServerKeys,
        )
    }

    fn __repr__(&self) -> String {
        let ctx = self.read();
        let role = match ctx.protocol() {
            Protocol::Client => "client",
            Protocol::Server => "server",
            Protocol::DtlsClient => "dtls client",
            Protocol::DtlsServer => "dtls server",
        };
        format!(
            "<SSLContext {role} verify_mode={}>",
            ctx.verify_mode().as_int()
        )
    }
}

/// A Python `verify_callback` as the core's [`VerifyCallback`].
#[derive(Debug)]
struct PyVerifyCallback(Py<PyAny>);

impl VerifyCallback for PyVerifyCallback {
    fn verify(&self, cert: &[u8], depth: usize) -> Result<(), CallbackAbort> {
        gil::attach(|py| {
            let raised = |e: PyErr| CallbackAbort::Failed(Arc::new(PythonRaised(e)));
            let view = PyMemoryView::from(PyBytes::new(py, cert).as_any()).map_err(raised)?;
            let depth_int = PyInt::new(py, depth);
            let result =
                gil::call2(self.0.bind(py), view.as_any(), depth_int.as_any()).map_err(raised)?;
            let code: i64 = match result.extract() {
                Ok(code) => code,
                Err(_) => {
                    let name = result
                        .get_type()
                        .name()
                        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
                    return Err(raised(PyTypeError::new_err(format!(
                        "can't convert {name} to int"
                    ))));
                }
            };
            match code {
                0 => Ok(()),
                code => Err(CallbackAbort::Code { code, depth }),
            }
        })
    }
}

/// Give a session's `sni_callback` hook the `SSLSocket`/`SSLObject` that owns the session
/// (weakly: the object owns the session that owns the hook).
fn attach_sni_hook(hook: Option<Arc<PySniCallback>>, owner: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Some(hook) = hook {
        let weak = PyWeakrefReference::new(owner)?;
        let _ = hook.socket.set(weak.unbind());
    }
    Ok(())
}

/// A Python `sni_callback` as one server session's [`ServerNameCallback`].
#[derive(Debug)]
pub(crate) struct PySniCallback {
    callback: Py<PyAny>,
    /// The context the socket was wrapped by (the callback's third argument).
    context: Py<Context>,
    /// The socket (weakly: the socket owns the session that owns this hook).
    pub(crate) socket: OnceLock<Py<PyWeakrefReference>>,
}

impl ServerNameCallback for PySniCallback {
    fn server_name(&self, name: Option<&str>) -> Result<Option<ServerCertificates>, SniAbort> {
        gil::attach(|py| {
            let raised = |e: PyErr| SniAbort::Failed(Arc::new(PythonRaised(e)));
            let Some(sock) = self.socket.get().and_then(|w| w.bind(py).upgrade()) else {
                return Ok(None);
            };
            let name = match name {
                Some(n) => PyString::new(py, n).into_any(),
                None => py.None().into_bound(py),
            };
            let context = self.context.bind(py);
            let result = gil::call3(self.callback.bind(py), &sock, &name, context.as_any())
                .map_err(raised)?;
            if !result.is_none() {
                let alert: i64 = result.extract().map_err(|_| {
                    raised(PyTypeError::new_err(
                        "sni_callback must return None or an int (an ALERT_DESCRIPTION_* value)",
                    ))
                })?;
                return Err(SniAbort::Alert(alert));
            }
            let now = if let Ok(sock) = sock.cast::<SslSocket>() {
                sock.get().context_now(py)
            } else if let Ok(obj) = sock.cast::<SslObject>() {
                obj.get().context_now(py)
            } else {
                return Ok(None);
            };
            if now.is(&self.context) {
                return Ok(None);
            }
            let certs = now.get().read().server_certificates();
            certs.map(Some).map_err(|e| raised(error::to_py(py, e)))
        })
    }
}

/// A flag argument read with Python truthiness, as the reference reads them (1, "yes", None…).
pub(crate) struct Truthy(pub(crate) bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Truthy {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.is_truthy().map(Self)
    }
}

/// `server_hostname`: str, or bytes as in the reference.
fn hostname_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| PyValueError::new_err("server_hostname is not valid UTF-8"));
    }
    let name = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    Err(PyTypeError::new_err(format!(
        "server_hostname must be str or bytes, not {name}"
    )))
}

/// The fast path for real sockets, the method path for anything stream-like.
fn transport_for(sock: &Bound<'_, PyAny>) -> PyResult<Transport> {
    if pysock::is_plain_socket(sock)? {
        let fd: i64 = gil::call_method0(sock, pyo3::intern!(sock.py(), "fileno"))?.extract()?;
        let fd = i32::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| PyOSError::new_err((libc::EBADF, "the socket is closed")))?;
        // Each call installs the descriptor it finds open (see `FdSocket`).
        return Ok(Transport::Fd(FdSocket::new(fd)?));
    }
    match ObjectSocket::new(sock) {
        Some(obj) => Ok(Transport::Object(obj)),
        None => Err(PyOSError::new_err("stream operation not supported")),
    }
}
