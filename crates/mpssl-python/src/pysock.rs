//! The wrapped Python object as a `Read + Write` transport (≈ rustls-ffi's callback reader,
//! Mbed TLS's BIO callbacks).
//!
//! A plain `socket.socket` (whose I/O methods are `socket.socket`'s own, see
//! [`is_plain_socket`]) is driven through its file descriptor, without the GIL, honouring
//! the socket's timeout as CPython does (`None` blocks, `0.0` never blocks, `t` waits up to t
//! seconds per operation). Any other object, including CPython's `ssl.SSLSocket`, is driven
//! through its Python methods (`recv_into`/`send`, or `readinto`/`write`), with the GIL held
//! for each call.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyBlockingIOError, PyTimeoutError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use mpssl::Interest;

use crate::error::carry;
use crate::gil;

/// How a socket's file descriptor behaves, from `socket.gettimeout()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    /// `gettimeout() is None`: wait as long as it takes.
    Blocking,
    /// `gettimeout() == 0.0`: never wait.
    NonBlocking,
    /// Wait at most this long for each operation.
    Timeout(Duration),
}

impl Mode {
    /// Read the mode of a Python socket.
    pub(crate) fn of(sock: &Bound<'_, PyAny>) -> PyResult<Self> {
        let timeout: Option<f64> =
            gil::call_method0(sock, pyo3::intern!(sock.py(), "gettimeout"))?.extract()?;
        Ok(match timeout {
            None => Self::Blocking,
            Some(t) if t <= 0.0 => Self::NonBlocking,
            Some(t) => Self::Timeout(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX)),
        })
    }
}

/// The methods of `socket.socket` whose system calls the descriptor path replaces.
const SOCKET_IO_METHODS: [&str; 8] = [
    "recv",
    "recv_into",
    "recvmsg",
    "recvmsg_into",
    "send",
    "sendall",
    "sendmsg",
    "fileno",
];

/// True when `sock` is a `socket.socket` whose I/O methods are all the plain socket's own, so
/// driving its descriptor directly is what its methods would do. A subclass that moves bytes
/// in its own way (CPython's `ssl.SSLSocket`: TLS inside TLS, issue 9 defect 2) is driven
/// through its methods instead.
pub(crate) fn is_plain_socket(sock: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = sock.py();
    let plain = py.import("socket")?.getattr("socket")?;
    if !sock.is_instance(&plain)? {
        return Ok(false);
    }
    let class = sock.get_type();
    for name in SOCKET_IO_METHODS {
        if !class.getattr(name)?.is(&plain.getattr(name)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The transport under a TLS stream.
#[derive(Debug)]
pub(crate) enum Transport {
    /// A real socket, by file descriptor.
    Fd(FdSocket),
    /// Any other object, through its Python methods.
    Object(ObjectSocket),
}

impl Transport {
    /// Use `fd` (a real socket's descriptor, see [`FdSocket`]) for the next steps, or none
    /// (I/O then fails with EBADF). Objects are driven through their methods and ignore it.
    pub(crate) fn install(&mut self, fd: Option<RawFd>) {
        if let Self::Fd(socket) = self {
            socket.install(fd);
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Fd(fd) => fd.read(buf),
            Self::Object(obj) => obj.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Fd(fd) => fd.write(buf),
            Self::Object(obj) => obj.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Fd(fd) => fd.write_vectored(bufs),
            // One Python call for the whole flight.
            Self::Object(obj) => {
                let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                obj.write(&joined)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A socket driven through its file descriptor, as each call on the `SSLSocket` installs it.
///
/// Each call checks, with the GIL held, that the wrapped socket object is still open (else
/// `EBADF`: issue 9, defect 1) and installs its descriptor for each step. Before the call
/// waits for readiness it takes its own duplicate of the descriptor, checked to be the very
/// socket that was wrapped ([`dup_checked`]), and uses that until it returns: a call that
/// waits never reaches a socket that got the number after another thread closed the wrapped
/// one. Nothing holds the connection open between calls, so `sock.close()` ends it at once,
/// as on the reference. Not covered: another thread closing the socket object (and opening a
/// new one) during the microseconds between a call's check and its first system calls, the
/// same hazard as CPython's own socket methods.
///
/// Every system call is non-blocking (`MSG_DONTWAIT`), whatever the descriptor's mode: the
/// socket object waits for readiness with [`poll_fd`] outside its lock, so that one thread
/// waiting to read does not keep another thread from writing.
#[derive(Debug)]
pub(crate) struct FdSocket {
    fd: Option<RawFd>,
    identity: Identity,
}

/// Which open socket a descriptor refers to: `(st_dev, st_ino)`.
pub(crate) type Identity = (libc::dev_t, libc::ino_t);

/// The identity of the socket open at `fd`.
fn identity(fd: RawFd) -> io::Result<Identity> {
    // SAFETY: an all-zero `stat` is a valid value to pass; fstat writes at most one `stat`
    // through the pointer, which points at our local for the whole call. A closed or reused
    // `fd` only makes fstat fail or describe that other file.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return Err(io::Error::last_os_error());
        }
        st
    };
    Ok((st.st_dev, st.st_ino))
}

/// A duplicate of `fd`, checked to refer to the socket with `expected` identity (else EBADF).
pub(crate) fn dup_checked(fd: RawFd, expected: Identity) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes no pointer; on a closed descriptor it fails with EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just returned by fcntl: an open descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    if identity(owned.as_raw_fd())? != expected {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(owned)
}

impl FdSocket {
    /// The socket open at `fd` (the caller holds its socket object and the GIL).
    pub(crate) fn new(fd: RawFd) -> io::Result<Self> {
        Ok(Self {
            fd: None,
            identity: identity(fd)?,
        })
    }

    /// The wrapped socket's identity.
    pub(crate) fn identity(&self) -> Identity {
        self.identity
    }

    /// Use `fd` for the next steps; `None` when the step is over (I/O then fails with EBADF).
    pub(crate) fn install(&mut self, fd: Option<RawFd>) {
        self.fd = fd;
    }

    /// Run `op` once, retrying only after a signal (whose handler may raise).
    fn io(&mut self, mut op: impl FnMut(RawFd) -> isize) -> io::Result<usize> {
        let Some(fd) = self.fd else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        loop {
            let n = op(fd);
            if let Ok(n) = usize::try_from(n) {
                return Ok(n);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
            check_signals()?;
        }
    }
}

impl Read for FdSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io(|fd| {
            // SAFETY: `buf` is a valid, writable slice of `buf.len()` bytes for the whole call;
            // recv writes at most that many bytes into it. `fd` is the call's own duplicate or
            // the wrapped socket's descriptor, found open when the call started (see
            // `FdSocket`); a descriptor closed since then makes recv fail, never touch memory.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) }
        })
    }
}

impl Write for FdSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io(|fd| {
            // SAFETY: `buf` is a valid slice of `buf.len()` readable bytes for the whole call.
            // MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
            unsafe {
                libc::send(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            }
        })
    }

    /// One `sendmsg` for all of `bufs`: rustls hands over a whole flight of handshake
    /// messages at once, and sending them in one segment keeps Nagle's algorithm from holding
    /// the later ones back for the peer's delayed acknowledgement.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io(|fd| {
            // SAFETY: an all-zero msghdr is a valid empty message. `msg_iov` points at `bufs`,
            // whose IoSlice is ABI-compatible with `struct iovec` (std guarantees it on Unix),
            // and every slice stays borrowed for the whole call; sendmsg only reads them.
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = bufs.as_ptr().cast_mut().cast();
                msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
                libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Wait until `fd` is ready for `interest` (readable when nothing is said), or until
/// `deadline` (`TimedOut`). Signal handlers run while waiting and may raise.
pub(crate) fn poll_fd(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
    let mut events = 0;
    if interest.read || !interest.write {
        events |= libc::POLLIN;
    }
    if interest.write {
        events |= libc::POLLOUT;
    }
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so that a short wait does not spin at 0 ms.
                let ms = left.as_micros().div_ceil(1000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, initialised pollfd on our stack and we pass a count of
        // exactly one. poll() does not retain the pointer after returning.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc > 0 {
            return Ok(());
        }
        if rc == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
            }
            continue;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
        check_signals()?;
    }
}

/// Run pending Python signal handlers (Ctrl-C) after an interrupted system call.
fn check_signals() -> io::Result<()> {
    gil::attach(|py| py.check_signals()).map_err(|e| carry(io::ErrorKind::Interrupted, e))
}

/// Which methods of a Python object move bytes.
#[derive(Debug, Clone, Copy)]
enum Methods {
    /// `recv_into(buf)` and `send(data)` (socket-like).
    Socket,
    /// `readinto(buf)` and `write(data)` (stream-like, MicroPython's protocol).
    Stream,
}

/// Any Python object with `recv_into`/`send` or `readinto`/`write`.
#[derive(Debug)]
pub(crate) struct ObjectSocket {
    obj: Py<PyAny>,
    methods: Methods,
}

impl ObjectSocket {
    /// Wrap `obj` when it has a usable pair of methods.
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> Option<Self> {
        let has = |name: &str| obj.hasattr(name).unwrap_or(false);
        let methods = if has("recv_into") && has("send") {
            Methods::Socket
        } else if has("readinto") && has("write") {
            Methods::Stream
        } else {
            return None;
        };
        Some(Self {
            obj: obj.clone().unbind(),
            methods,
        })
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let method = match self.methods {
            Methods::Socket => "recv_into",
            Methods::Stream => "readinto",
        };
        gil::attach(|py| {
            let scratch = PyByteArray::new(py, &vec![0u8; buf.len()]);
            let name = PyString::intern(py, method);
            let result = gil::call_method1(self.obj.bind(py), &name, scratch.as_any());
            let n = count(result)?;
            let data = scratch.to_vec();
            let n = n.min(buf.len()).min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            Ok(n)
        })
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let method = match self.methods {
            Methods::Socket => "send",
            Methods::Stream => "write",
        };
        gil::attach(|py| {
            let data = PyBytes::new(py, buf);
            let name = PyString::intern(py, method);
            let n = count(gil::call_method1(self.obj.bind(py), &name, data.as_any()))?;
            Ok(n.min(buf.len()))
        })
    }
}

/// Interpret a transport method's result: a count, `None` (would block), `-errno`, or an
/// exception (BlockingIOError is would-block; a time-out stays a non-fatal time-out).
fn count(result: PyResult<Bound<'_, PyAny>>) -> io::Result<usize> {
    let value = match result {
        Ok(value) => value,
        Err(e) => return Err(carry(exception_kind(&e), e)),
    };
    if value.is_none() {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let n: i64 = value
        .extract()
        .map_err(|e| carry(io::ErrorKind::InvalidData, e))?;
    if n < 0 {
        let errno = i32::try_from(-n).unwrap_or(libc::EIO);
        if errno == libc::EAGAIN {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        return Err(io::Error::from_raw_os_error(errno));
    }
    usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// The I/O kind a Python exception stands for: would-block and time-out are not fatal.
fn exception_kind(e: &PyErr) -> io::ErrorKind {
    gil::attach(|py| {
        if e.is_instance_of::<PyBlockingIOError>(py) {
            io::ErrorKind::WouldBlock
        } else if e.is_instance_of::<PyTimeoutError>(py) {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::Other
        }
    })
}
