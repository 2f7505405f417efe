//! [`Session`]: the sans-IO TLS state of one connection, over rustls.
//!
//! A session never holds a socket. Ciphertext goes in through [`Session::read_tls`] and out
//! through [`Session::write_tls`]; plaintext is read and written with the `*_plaintext`
//! methods. Fatal errors are sticky: after the first, every call returns the same error.
//!
//! What belongs here and what belongs to [`TlsStream`](crate::TlsStream): the stream state of
//! a socket-like reader (bytes given back after a time-out, the buffered fast path) is the
//! stream's. Two pieces of state stay here on purpose, because they describe the TLS record
//! stream itself and every sans-IO user needs them, not only the stream driver: the *deferred*
//! error (a fatal record found after plaintext that arrived before it: that plaintext is
//! handed out first, then the error; moving it up would mean the session lets reads through
//! its own sticky error) and how the stream ended (`eof_was_clean`: close_notify or a bare
//! transport EOF, which only the session can tell).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustls::{ClientConnection, Connection, ServerConnection};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::ciphers;
use crate::conn::Conn;
use crate::context::{Built, SslContext};
use crate::error::{ArgumentError, Error, ProtocolError};
use crate::sni::{Hello, ServerNameCallback, SessionResolver};
use crate::verify::chain::Usage;
use crate::verify::names::PeerName;
use crate::verify::verifiers::PeerCheck;
use crate::verify::VerifyFlags;

/// Longest server name accepted, as Mbed TLS (`MBEDTLS_SSL_MAX_HOST_NAME_LEN`).
const MAX_HOST_NAME_LEN: usize = 255;

/// Upper bound on ciphertext queued for sending (one TLS record plus overhead, several times).
const OUTGOING_LIMIT: usize = 64 * 1024;

/// The TLS state of one connection.
#[derive(Debug)]
pub struct Session {
    conn: Conn,
    /// An error the handshake must fail with before any I/O (set up at creation).
    precondition: Option<Error>,
    sticky: Option<Error>,
    closed: bool,
    /// `Some(clean)` once the peer has ended the stream after the handshake.
    eof: Option<bool>,
    /// A fatal error found after plaintext that arrived before it: raised once that plaintext
    /// has been read (as CPython does), so good data before a bad record is not lost.
    deferred: Option<Error>,
    /// Watches handshake records for a plaintext close_notify (see [`CloseWatch`]).
    close_watch: CloseWatch,
    /// The configuration's checker, for [`Session::verify_result`] (none for PSK sessions,
    /// which have no certificates).
    peer_check: Option<Arc<PeerCheck>>,
    /// The name the server's certificate is checked against (`Absent` on a server).
    peer_name: PeerName,
    /// The verdict on the peer's chain, computed when first asked.
    verdict: OnceLock<VerifyFlags>,
    /// A server's view of the ClientHello (offered suites, a server-name callback's abort).
    hello: Option<Arc<Mutex<Hello>>>,
}

impl Session {
    /// A new session for `context`. Clients send `server_hostname` as SNI and check the
    /// server's certificate against it; servers ignore it.
    pub fn new(context: &SslContext, server_hostname: Option<&str>) -> Result<Self, Error> {
        Self::with_server_name_callback(context, server_hostname, None)
    }

    /// [`Session::new`], and on a server, `callback` is asked for the client's SNI name
    /// before the certificate is chosen (the `sni` module). Ignored on a client.
    pub fn with_server_name_callback(
        context: &SslContext,
        server_hostname: Option<&str>,
        callback: Option<Arc<dyn ServerNameCallback>>,
    ) -> Result<Self, Error> {
        if context.protocol().is_dtls() {
            return Self::with_client_id(context, server_hostname, None);
        }
        let mut hello = None;
        if let Some(config) = context.psk_config()? {
            // A PSK session checks no name, but a client refuses a bad one as the reference
            // does (`mbedtls_ssl_set_hostname`).
            if let (Some(name), crate::Protocol::Client) =
                (server_hostname, context.protocol().tls_role())
            {
                parse_server_name(name)?;
            }
            return Ok(Self::with_conn(
                Conn::Psk(Box::new(crate::psk::PskConnection::new(config)?)),
                None,
                None,
                PeerName::Absent,
                None,
            ));
        }
        let (conn, peer_check, peer_name) = match context.built()? {
            Built::Client(configs, check) => {
                let name = match server_hostname {
                    Some(name) => parse_server_name(name)?,
                    None => PeerName::Absent,
                };
                let config = configs.for_rule(name.rule())?;
                let conn = ClientConnection::new(config, name.for_rustls())?;
                // check_hostname=False: the name is sent (SNI) but not checked.
                let checked = if check.check_names {
                    name
                } else {
                    PeerName::Absent
                };
                (Connection::Client(conn), check, checked)
            }
            Built::Server(config, check, certs) => {
                // A resolver of this session's own: it records what the client offered, and
                // runs the callback for this connection.
                let seen = Arc::new(Mutex::new(Hello {
                    enabled: context.suite_ids(),
                    ..Hello::default()
                }));
                let mut config = (*config).clone();
                config.cert_resolver = Arc::new(SessionResolver {
                    certs,
                    callback,
                    hello: seen.clone(),
                });
                hello = Some(seen);
                (
                    Connection::Server(ServerConnection::new(Arc::new(config))?),
                    check,
                    PeerName::Absent,
                )
            }
        };
        let mut conn = Box::new(conn);
        conn.set_buffer_limit(Some(OUTGOING_LIMIT));
        Ok(Self::with_conn(
            Conn::Tls(conn),
            context.handshake_precondition(),
            Some(peer_check),
            peer_name,
            hello,
        ))
    }

    /// [`Session::new`] for any protocol, with the `client_id` a DTLS server needs: bytes
    /// naming the client's transport address (its cookie is bound to it). A DTLS server
    /// without one fails with [`ArgumentError::ClientIdRequired`]; TLS sessions ignore it.
    ///
    /// A DTLS session's transport must behave as a connected datagram socket: each read
    /// returns one whole datagram (the engine passes [`crate::dtls::MAX_DATAGRAM`] bytes of
    /// room), each write sends one. [`Session::feed`] takes one datagram,
    /// [`Session::take_tls`] returns at most one, and [`Session::next_timeout`] says when the
    /// session must be called again without input (retransmission).
    pub fn with_client_id(
        context: &SslContext,
        server_hostname: Option<&str>,
        client_id: Option<&[u8]>,
    ) -> Result<Self, Error> {
        let parts = match (context.protocol(), client_id) {
            (crate::Protocol::DtlsClient, _) => {
                let name = match server_hostname {
                    Some(name) => parse_server_name(name)?,
                    None => PeerName::Absent,
                };
                crate::dtls::DtlsConnection::client(context, name)?
            }
            (crate::Protocol::DtlsServer, Some(id)) => {
                crate::dtls::DtlsConnection::server(context, id)?
            }
            (crate::Protocol::DtlsServer, None) => return Err(crate::dtls::missing_client_id()),
            _ => return Self::with_server_name_callback(context, server_hostname, None),
        };
        Ok(Self::with_conn(
            Conn::Dtls(Box::new(parts.conn)),
            None,
            parts.peer_check,
            parts.peer_name,
            None,
        ))
    }

    /// How long until this session must be called again without input: a DTLS session's next
    /// retransmission (every call fires the due ones first). `None` when no timer is armed,
    /// and always for TLS.
    pub fn next_timeout(&self) -> Option<std::time::Duration> {
        if self.is_invalid() {
            return None;
        }
        self.conn.next_timeout()
    }

    /// True for a DTLS session.
    pub fn is_datagram(&self) -> bool {
        self.conn.is_datagram()
    }

    fn with_conn(
        conn: Conn,
        precondition: Option<Error>,
        peer_check: Option<Arc<PeerCheck>>,
        peer_name: PeerName,
        hello: Option<Arc<Mutex<Hello>>>,
    ) -> Self {
        Self {
            conn,
            precondition,
            sticky: None,
            closed: false,
            eof: None,
            deferred: None,
            close_watch: CloseWatch::default(),
            peer_check,
            peer_name,
            verdict: OnceLock::new(),
            hello,
        }
    }

    /// Fail now if the session is closed, has failed, or must fail before the handshake.
    pub fn check(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if let Some(e) = self.precondition.take() {
            return Err(self.fail(e));
        }
        if let Some(e) = &self.sticky {
            return Err(e.clone());
        }
        if let Err(e) = self.conn.tick() {
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Record `e` as the session's sticky error when it is fatal, and hand it back.
    pub fn fail(&mut self, e: Error) -> Error {
        if e.is_fatal() && self.sticky.is_none() {
            self.sticky = Some(e.clone());
        }
        e
    }

    /// True until the handshake has completed.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// True when ciphertext is waiting to be sent.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Read ciphertext from `rd` and process it. Returns the bytes read; 0 means the transport
    /// reached EOF. A transport that would block gives [`Error::WouldBlock`].
    pub fn read_tls(&mut self, rd: &mut dyn Read) -> Result<usize, Error> {
        self.check()?;
        if let Some(e) = self.deferred.take() {
            return Err(self.fail(e));
        }
        let read = if self.conn.is_handshaking() && !self.conn.is_datagram() {
            let mut tee = Tee {
                inner: rd,
                watch: &mut self.close_watch,
            };
            self.conn.read_tls(&mut tee)
        } else {
            self.conn.read_tls(rd)
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => return Err(self.fail(Error::from_transport(e))),
        };
        if let Err(e) = self.conn.process_new_packets() {
            let e = match self.server_name_abort() {
                Some(abort) => Error::ServerName(abort),
                None => e,
            };
            if self.pending() > 0 {
                self.deferred = Some(e);
                return Ok(n.max(1));
            }
            return Err(self.fail(e));
        }
        if self.close_watch.seen && self.conn.is_handshaking() {
            // The peer ended the connection before the handshake finished.
            return Err(self.fail(Error::Protocol(ProtocolError::HandshakeEof)));
        }
        if n == 0 && !self.conn.is_handshaking() && self.eof.is_none() {
            self.eof = Some(false);
        }
        Ok(n)
    }

    /// Feed ciphertext from memory; returns how much was taken.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize, Error> {
        self.read_tls(&mut data)
    }

    /// Write queued ciphertext to `wr`. Returns the bytes written.
    pub fn write_tls(&mut self, wr: &mut dyn Write) -> Result<usize, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        // Not the full `check()`: an alert queued after a sticky error must still go out.
        if let Some(e) = self.precondition.take() {
            return Err(self.fail(e));
        }
        match self.conn.write_tls(wr) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.fail(Error::from_transport(e))),
        }
    }

    /// Take queued ciphertext into memory (DTLS: at most one datagram; call until empty).
    pub fn take_tls(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if self.conn.is_datagram() {
            if !self.closed && self.sticky.is_none() {
                // Due retransmissions first, as every other call.
                let _ = self.check();
            }
            if self.conn.wants_write() {
                self.write_tls(&mut out)?;
            }
            return Ok(out);
        }
        while self.conn.wants_write() {
            self.write_tls(&mut out)?;
        }
        Ok(out)
    }

    /// Copy decrypted plaintext into `buf`.
    ///
    /// `Some(n)` with `n > 0`: data. `Some(0)`: the peer ended the stream (close_notify, or a
    /// transport EOF after the handshake; [`Session::eof_was_clean`] tells which). `None`: no
    /// plaintext yet, more ciphertext is needed.
    pub fn read_plaintext(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        self.check()?;
        match self.conn.read_plain(buf) {
            Ok(0) if !buf.is_empty() => {
                self.eof = Some(true);
                Ok(Some(0))
            }
            Ok(n) => Ok(Some(n)),
            Err(e) => self.no_plaintext(e),
        }
    }

    /// Append plaintext up to and including `delim`, or until `out` holds `limit` bytes.
    pub fn read_plaintext_until(
        &mut self,
        delim: u8,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Until, Error> {
        self.check()?;
        let chunk = match self.conn.fill_plain() {
            Ok(chunk) => chunk,
            Err(e) => {
                return Ok(match self.no_plaintext(e)? {
                    Some(_) => Until::Ended,
                    None => Until::NeedInput,
                })
            }
        };
        if chunk.is_empty() {
            self.eof = Some(true);
            return Ok(Until::Ended);
        }
        let room = limit.saturating_sub(out.len());
        let window = &chunk[..chunk.len().min(room)];
        let (take, found) = match window.iter().position(|&b| b == delim) {
            Some(i) => (i + 1, true),
            None => (window.len(), false),
        };
        out.extend_from_slice(&window[..take]);
        self.conn.consume_plain(take);
        Ok(if found { Until::Found } else { Until::Copied })
    }

    fn no_plaintext(&mut self, e: io::Error) -> Result<Option<usize>, Error> {
        if let Some(deferred) = self.deferred.take() {
            // Everything that arrived before the failure has been read: now report it.
            return Err(self.fail(deferred));
        }
        match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            io::ErrorKind::UnexpectedEof if self.conn.is_handshaking() => {
                Err(self.fail(Error::Protocol(ProtocolError::HandshakeEof)))
            }
            io::ErrorKind::UnexpectedEof => {
                self.eof.get_or_insert(false);
                Ok(Some(0))
            }
            _ => Err(self.fail(Error::Io(e.into()))),
        }
    }

    /// Queue plaintext for sending; returns how much was taken (0 when the buffer is full).
    pub fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.check()?;
        if let Some(e) = self.deferred.take() {
            return Err(self.fail(e));
        }
        self.conn
            .write_plain(buf, OUTGOING_LIMIT)
            .map_err(|e| self.fail(Error::Io(e.into())))
    }

    /// The first run of decrypted plaintext waiting to be read (rustls's first buffered
    /// chunk), without consuming it; `None` when there is none, or while the handshake runs
    /// or after a failure or close.
    pub fn buffered_chunk(&mut self) -> Option<&[u8]> {
        if self.is_invalid() || self.conn.is_handshaking() {
            return None;
        }
        self.conn.fill_plain().ok().filter(|c| !c.is_empty())
    }

    /// Consume `n` bytes of the plaintext [`Session::buffered_chunk`] returned.
    pub fn consume_buffered(&mut self, n: usize) {
        self.conn.consume_plain(n);
    }

    /// Decrypted bytes waiting to be read (the first decrypted chunk; a [`TlsStream`] adds
    /// the bytes a read gave back: [`TlsStream::pending`]).
    ///
    /// [`TlsStream`]: crate::TlsStream
    /// [`TlsStream::pending`]: crate::TlsStream::pending
    pub fn pending(&mut self) -> usize {
        match self.conn.fill_plain() {
            Ok(chunk) => chunk.len(),
            Err(_) => 0,
        }
    }

    /// Queue a close_notify alert (once), if the handshake completed without error.
    pub fn send_close_notify(&mut self) {
        if !self.closed && self.sticky.is_none() && !self.conn.is_handshaking() {
            self.conn.send_close_notify();
        }
    }

    /// Mark the session closed: every later call fails with [`Error::Closed`].
    pub fn mark_closed(&mut self) {
        self.closed = true;
    }

    /// True once [`Session::mark_closed`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True when the session has a sticky error or is closed (poll reports "invalid").
    pub fn is_invalid(&self) -> bool {
        self.closed || self.sticky.is_some()
    }

    /// After the stream ended: `Some(true)` for close_notify, `Some(false)` for a bare EOF.
    pub fn eof_was_clean(&self) -> Option<bool> {
        self.eof
    }

    /// The negotiated suite in the reference's naming, once the handshake is done.
    pub fn cipher_name(&self) -> Option<&'static str> {
        if self.conn.is_handshaking() {
            return None;
        }
        self.conn.cipher_name()
    }

    /// `"TLSv1.3"` or `"TLSv1.2"`, once the handshake is done.
    pub fn protocol_version(&self) -> Option<&'static str> {
        if self.conn.is_handshaking() {
            return None;
        }
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            rustls::ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            rustls::ProtocolVersion::DTLSv1_2 => Some("DTLSv1.2"),
            _ => Some("unknown"),
        }
    }

    /// The secret size of the negotiated suite's bulk cipher, in bits.
    pub fn cipher_bits(&self) -> Option<u32> {
        let name = self.cipher_name()?;
        Some(if name.contains("AES-128") { 128 } else { 256 })
    }

    /// The negotiated key-exchange group (e.g. `X25519MLKEM768`), once known.
    pub fn key_exchange_group(&self) -> Option<String> {
        let group = self.conn.key_exchange_group()?;
        Some(crate::context::kx_name(group).map_or_else(|| format!("{group:?}"), str::to_owned))
    }

    /// True when the handshake resumed an earlier session.
    pub fn session_reused(&self) -> bool {
        self.conn.resumed()
    }

    /// The peer's certificate chain (leaf first), if it sent one.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Whether the peer's certificate chain verified, as Mbed TLS's
    /// `mbedtls_ssl_get_verify_result`: `Some(empty)` when it did, `Some(flags)` with every
    /// reason when not, `None` before the handshake completed or when the peer sent no
    /// certificate (a server that did not ask, or a client under `CERT_OPTIONAL` that had none).
    ///
    /// Under `CERT_REQUIRED` a completed handshake means it verified. In the other modes the
    /// handshake does not depend on it: the chain is checked exactly as `CERT_REQUIRED` would
    /// (trusted CAs, dates, key usage, key strength, and the host name on a client) when first
    /// asked, with the clock of that moment, and the answer is kept. `CERT_NONE` computes it too.
    pub fn verify_result(&self) -> Option<VerifyFlags> {
        if self.conn.is_handshaking() {
            return None;
        }
        let (leaf, intermediates) = self.conn.peer_certificates()?.split_first()?;
        let usage = if self.conn.is_client() {
            Usage::Server
        } else {
            Usage::Client
        };
        let check = self.peer_check.as_ref()?;
        Some(*self.verdict.get_or_init(|| {
            check.verdict(leaf, intermediates, &self.peer_name, usage, UnixTime::now())
        }))
    }

    /// The SNI name a server received.
    pub fn sni_hostname(&self) -> Option<&str> {
        self.conn.sni_hostname()
    }

    /// The ALPN protocol agreed in the handshake; `None` before it completed or when none was.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        if self.conn.is_handshaking() {
            return None;
        }
        self.conn.alpn_protocol()
    }

    /// On a server, once the handshake is done: the suites the client offered that this
    /// session could use (the context's suites, in the client's order), as CPython's
    /// `(name, protocol, secret bits)` triples in the reference's names. `None` on a client
    /// (rustls does not show a client what the server supports) and before the handshake.
    pub fn shared_ciphers(&self) -> Option<Vec<(&'static str, &'static str, u32)>> {
        if self.conn.is_handshaking() {
            return None;
        }
        let hello = self.hello.as_ref()?;
        let hello = hello.lock().unwrap_or_else(PoisonError::into_inner);
        Some(
            hello
                .offered
                .iter()
                .filter(|suite| hello.enabled.contains(suite))
                .filter_map(|suite| ciphers::suite_triple(*suite))
                .collect(),
        )
    }

    /// The channel binding of this connection (RFC 5929 / RFC 9266), once the handshake is
    /// done: `tls-exporter` is the 32-byte exporter value with label
    /// `EXPORTER-Channel-Binding` and an empty context, defined for TLS 1.3 only (`None` on a
    /// TLS 1.2 connection, whose exporter is unsafe without extended master secret, and before
    /// the handshake). `tls-unique` cannot be computed with rustls
    /// ([`ArgumentError::ChannelBinding`]), nor can any other type.
    pub fn channel_binding(&self, kind: ChannelBinding) -> Result<Option<[u8; 32]>, Error> {
        match kind {
            ChannelBinding::TlsExporter => {}
            ChannelBinding::TlsUnique => {
                return Err(Error::Argument(ArgumentError::ChannelBinding(
                    "tls-unique".to_owned(),
                )))
            }
        }
        if self.conn.is_handshaking()
            || self.conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3)
        {
            return Ok(None);
        }
        let out =
            self.conn
                .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(b""))?;
        Ok(Some(out))
    }

    fn server_name_abort(&self) -> Option<crate::sni::SniAbort> {
        let hello = self.hello.as_ref()?;
        hello
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort
            .take()
    }
}

/// A channel binding type ([`Session::channel_binding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    /// RFC 5929 `tls-unique` (not available with rustls).
    TlsUnique,
    /// RFC 9266 `tls-exporter`.
    TlsExporter,
}

impl ChannelBinding {
    /// The type for CPython's name (`'tls-unique'`, `'tls-exporter'`); any other name is an
    /// [`ArgumentError::ChannelBinding`].
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "tls-unique" => Ok(Self::TlsUnique),
            "tls-exporter" => Ok(Self::TlsExporter),
            other => Err(Error::Argument(ArgumentError::ChannelBinding(
                other.to_owned(),
            ))),
        }
    }
}

/// Notices a plaintext close_notify alert among the handshake's records.
///
/// Before the protocol version is agreed, rustls takes a close_notify for a TLS 1.2 warning
/// and keeps waiting for the handshake to go on, so a peer that sends one and keeps the
/// connection open would stall the handshake until a time-out. Only record headers are parsed
/// (bodies are skipped), and only while the handshake runs; a close_notify sent after the
/// keys are in use is encrypted and handled by rustls.
#[derive(Debug, Default)]
struct CloseWatch {
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current record still to skip.
    body_left: usize,
    /// The current record is a two-byte alert; its body so far.
    alert: Option<[u8; 2]>,
    alert_len: usize,
    seen: bool,
}

impl CloseWatch {
    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(bytes.len());
                if let Some(body) = self.alert.as_mut() {
                    for &b in &bytes[..take] {
                        if let Some(slot) = body.get_mut(self.alert_len) {
                            *slot = b;
                        }
                        self.alert_len += 1;
                    }
                }
                self.body_left -= take;
                bytes = &bytes[take..];
                if self.body_left == 0 {
                    // level 1 (warning), description 0 (close_notify)
                    if self.alert == Some([1, 0]) {
                        self.seen = true;
                    }
                    self.alert = None;
                }
                continue;
            }
            // `header_len` is below 5 here (reset to 0 on reaching 5) and `bytes` is not empty.
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if self.header_len == self.header.len() {
                self.header_len = 0;
                let len = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.body_left = len;
                self.alert = (self.header[0] == 21 && len == 2).then_some([0xff, 0xff]);
                self.alert_len = 0;
            }
        }
    }
}

/// A reader that shows the bytes it passes on to a [`CloseWatch`].
struct Tee<'a> {
    inner: &'a mut dyn Read,
    watch: &'a mut CloseWatch,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch.scan(&buf[..n.min(buf.len())]);
        Ok(n)
    }
}

/// What [`Session::read_plaintext_until`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The delimiter was copied (it is the last byte appended).
    Found,
    /// Plaintext was copied without the delimiter (more may follow, or the limit was reached).
    Copied,
    /// The peer ended the stream; nothing was copied.
    Ended,
    /// No plaintext is buffered: more ciphertext is needed.
    NeedInput,
}

/// The name a client checks for `server_hostname` (`""` is the reference's empty name).
pub(crate) fn parse_server_name(name: &str) -> Result<PeerName, Error> {
    if name.is_empty() {
        return Ok(PeerName::Empty);
    }
    if name.len() > MAX_HOST_NAME_LEN {
        return Err(Error::Argument(ArgumentError::HostnameTooLong));
    }
    ServerName::try_from(name.to_owned())
        .map(PeerName::Given)
        .map_err(|_| Error::Argument(ArgumentError::InvalidHostname(name.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::CloseWatch;

    #[test]
    fn close_watch_sees_a_split_close_notify() {
        let mut watch = CloseWatch::default();
        // A handshake record (type 22, 3 bytes), then a close_notify alert split in three.
        watch.scan(&[22, 3, 3, 0, 3, 9, 9, 9, 21, 3]);
        assert!(!watch.seen);
        watch.scan(&[3, 0, 2, 1]);
        assert!(!watch.seen);
        watch.scan(&[0]);
        assert!(watch.seen);
    }

    #[test]
    fn close_watch_ignores_other_alerts_and_bodies() {
        let mut watch = CloseWatch::default();
        // A fatal alert, and a record whose body merely contains the bytes of a close_notify.
        watch.scan(&[21, 3, 3, 0, 2, 2, 40]);
        watch.scan(&[23, 3, 3, 0, 7, 21, 3, 3, 0, 2, 1, 0]);
        assert!(!watch.seen);
    }
}
