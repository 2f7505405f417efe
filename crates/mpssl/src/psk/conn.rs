//! [`PskConnection`]: the record layer and handshake state machine of one PSK connection.
//!
//! Sans-IO like rustls's `Connection`: ciphertext in through [`PskConnection::read_tls`] and
//! [`PskConnection::process_new_packets`], ciphertext out through
//! [`PskConnection::write_tls`], plaintext through the `*_plain` methods. The first error is
//! kept and returned again; a fatal alert describing it is queued for the peer.

use std::io::{self, Read, Write};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use rustls::AlertDescription;

use super::keys::{premaster, Schedule, MASTER_LEN};
use super::messages::{
    hs, opaque16, parse_opaque16, ClientHello, Malformed, ServerHello, RENEGOTIATION_SCSV,
};
use super::record::{Protection, EXPLICIT_LEN, SALT_LEN, TAG_LEN};
use super::{PskConfig, PskRole, PskSuite, MAX_KEY_LEN};
use crate::error::{Error, ProtocolError};

const CT_CCS: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPDATA: u8 = 23;

/// Largest plaintext fragment (RFC 5246 §6.2.1).
const MAX_FRAGMENT: usize = 16384;
/// Largest record body accepted: a full fragment plus GCM's overhead (§6.2.3 allows 2048).
const MAX_CIPHERTEXT: usize = MAX_FRAGMENT + EXPLICIT_LEN + TAG_LEN;
/// Largest handshake message body accepted (the PSK handshake's are tiny).
const MAX_HANDSHAKE: usize = 8192;
/// Received plaintext held before `read_tls` stops reading (as rustls's default).
const PLAINTEXT_LIMIT: usize = 64 * 1024;
/// Warning alerts accepted in a row without other traffic.
const MAX_WARNINGS: u32 = 8;

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client: the ClientHello is out, waiting for ServerHello.
    ServerHello,
    /// Client: ServerKeyExchange (the hint) or ServerHelloDone next.
    ServerKxOrDone,
    /// Client: ServerHelloDone next (after a ServerKeyExchange).
    ServerDone,
    /// Server: waiting for ClientHello.
    ClientHello,
    /// Server: waiting for ClientKeyExchange.
    ClientKx,
    /// Either: the peer's ChangeCipherSpec next.
    Ccs,
    /// Either: the peer's (encrypted) Finished next.
    Finished,
    /// Application data flows.
    Traffic,
}

/// A PSK-only TLS 1.2 connection (client or server).
pub(crate) struct PskConnection {
    config: PskConfig,
    client: bool,
    state: State,
    suite: Option<PskSuite>,
    schedule: Option<Schedule>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    /// Every handshake message so far, for the session hash and Finished.
    transcript: Vec<u8>,
    master: Option<[u8; MASTER_LEN]>,
    read: Option<Protection>,
    /// The peer's keys, switched on by its ChangeCipherSpec.
    pending_read: Option<Protection>,
    write: Option<Protection>,
    /// Our keys, switched on by our ChangeCipherSpec (server side).
    pending_write: Option<Protection>,
    /// Ciphertext received and not yet processed (at most one partial record).
    incoming: Vec<u8>,
    /// A handshake message being reassembled across records.
    hs_buf: Vec<u8>,
    outgoing: Vec<u8>,
    plain_in: Vec<u8>,
    plain_pos: usize,
    /// Plaintext written before the handshake completed.
    plain_out: Vec<u8>,
    peer_closed: bool,
    transport_eof: bool,
    close_sent: bool,
    warnings: u32,
    error: Option<Error>,
}

impl std::fmt::Debug for PskConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PskConnection")
            .field("client", &self.client)
            .field("state", &self.state)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

type Step = Result<(), (Error, AlertDescription)>;

fn decode(_: Malformed) -> (Error, AlertDescription) {
    (
        Error::Protocol(ProtocolError::InvalidRecord),
        AlertDescription::DecodeError,
    )
}

fn unexpected() -> (Error, AlertDescription) {
    (
        Error::Protocol(ProtocolError::UnexpectedMessage),
        AlertDescription::UnexpectedMessage,
    )
}

fn incompatible(
    why: rustls::PeerIncompatible,
    alert: AlertDescription,
) -> (Error, AlertDescription) {
    (
        Error::Protocol(ProtocolError::Other(rustls::Error::PeerIncompatible(why))),
        alert,
    )
}

fn misbehaved(why: rustls::PeerMisbehaved, alert: AlertDescription) -> (Error, AlertDescription) {
    (
        Error::Protocol(ProtocolError::Other(rustls::Error::PeerMisbehaved(why))),
        alert,
    )
}

impl PskConnection {
    /// A new connection; a client queues its ClientHello at once.
    pub(crate) fn new(config: PskConfig) -> Result<Self, Error> {
        let client = matches!(config.role, PskRole::Client { .. });
        let mut conn = Self {
            client,
            state: if client {
                State::ServerHello
            } else {
                State::ClientHello
            },
            suite: None,
            schedule: None,
            client_random: [0; 32],
            server_random: [0; 32],
            ems: false,
            transcript: Vec::new(),
            master: None,
            read: None,
            pending_read: None,
            write: None,
            pending_write: None,
            incoming: Vec::new(),
            hs_buf: Vec::new(),
            outgoing: Vec::new(),
            plain_in: Vec::new(),
            plain_pos: 0,
            plain_out: Vec::new(),
            peer_closed: false,
            transport_eof: false,
            close_sent: false,
            warnings: 0,
            error: None,
            config,
        };
        if conn.config.suites.is_empty() {
            return Err(Error::Protocol(ProtocolError::Other(
                rustls::Error::General("no PSK cipher suite enabled".to_owned()),
            )));
        }
        if client {
            let mut random = [0u8; 32];
            conn.fill_random(&mut random)?;
            conn.client_random = random;
            let hello = ClientHello::encode(&random, &conn.config.suites);
            conn.transcript.extend_from_slice(&hello);
            conn.send_handshake(&hello).map_err(|(e, _)| e)?;
        }
        Ok(conn)
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), Error> {
        self.config.random.fill(buf).map_err(|_| {
            Error::Protocol(ProtocolError::Other(rustls::Error::FailedToGetRandomBytes))
        })
    }

    /// True until the handshake has completed.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.state != State::Traffic
    }

    /// True when ciphertext is waiting to be sent.
    pub(crate) fn wants_write(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// True for the client end.
    pub(crate) fn is_client(&self) -> bool {
        self.client
    }

    /// The negotiated suite, once the ServerHello is known.
    pub(crate) fn suite(&self) -> Option<PskSuite> {
        self.suite
    }

    /// Read ciphertext from `rd` into the incoming buffer (at most one record's worth at a
    /// time). 0 is the transport's EOF.
    pub(crate) fn read_tls(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        if self.plain_in.len() - self.plain_pos > PLAINTEXT_LIMIT {
            return Err(io::Error::other("received plaintext buffer full"));
        }
        let mut buf = [0u8; 4096];
        if self.peer_closed {
            // Nothing after a close_notify counts: read and drop it.
            let n = rd.read(&mut buf)?;
            if n == 0 {
                self.transport_eof = true;
            }
            return Ok(n);
        }
        let want = (5 + MAX_CIPHERTEXT)
            .saturating_sub(self.incoming.len())
            .clamp(1, buf.len());
        let n = rd.read(&mut buf[..want])?;
        if n == 0 {
            self.transport_eof = true;
        }
        self.incoming.extend_from_slice(&buf[..n.min(want)]);
        Ok(n)
    }

    /// Process every complete record received. The first error is kept and returned again.
    pub(crate) fn process_new_packets(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if let Err((e, alert)) = self.process_records() {
            self.fail(e.clone(), Some(alert));
            return Err(e);
        }
        if self.transport_eof && self.is_handshaking() {
            let e = Error::Protocol(ProtocolError::HandshakeEof);
            self.fail(e.clone(), None);
            return Err(e);
        }
        Ok(())
    }

    fn fail(&mut self, e: Error, alert: Option<AlertDescription>) {
        self.error = Some(e);
        self.incoming.clear();
        if let Some(alert) = alert.filter(|a| *a != AlertDescription::CloseNotify) {
            // Best effort: if sealing fails there is nothing more to say.
            let _ = self.send_record(CT_ALERT, &[2, u8::from(alert)]);
        }
    }

    fn process_records(&mut self) -> Step {
        let mut at = 0;
        let result = loop {
            if self.peer_closed {
                break Ok(());
            }
            let Some(header) = self.incoming.get(at..at + 5) else {
                break Ok(());
            };
            let typ = header[0];
            let major = header[1];
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            if !(CT_CCS..=CT_APPDATA).contains(&typ) || major != 3 {
                break Err(decode(Malformed));
            }
            if len > MAX_CIPHERTEXT {
                break Err((
                    Error::Protocol(ProtocolError::InvalidRecord),
                    AlertDescription::RecordOverflow,
                ));
            }
            if self.incoming.len() < at + 5 + len {
                break Ok(());
            }
            let mut body = self.incoming[at + 5..at + 5 + len].to_vec();
            at += 5 + len;
            let plain = match self.read.as_mut() {
                Some(p) => match p.open(typ, &mut body) {
                    Ok(range) => body.get(range).unwrap_or_default().to_vec(),
                    Err(e) => break Err((e, AlertDescription::BadRecordMac)),
                },
                None => body,
            };
            if plain.len() > MAX_FRAGMENT {
                break Err((
                    Error::Protocol(ProtocolError::InvalidRecord),
                    AlertDescription::RecordOverflow,
                ));
            }
            if let Err(e) = self.record(typ, &plain) {
                break Err(e);
            }
        };
        self.incoming.drain(..at.min(self.incoming.len()));
        result
    }

    fn record(&mut self, typ: u8, plain: &[u8]) -> Step {
        if typ != CT_APPDATA && plain.is_empty() {
            // Zero-length handshake, alert and CCS fragments are forbidden (RFC 5246 §6.2.1).
            return Err(decode(Malformed));
        }
        if typ != CT_ALERT {
            self.warnings = 0;
        }
        match typ {
            CT_ALERT => self.alert(plain),
            CT_CCS => {
                if plain != [1] {
                    return Err(decode(Malformed));
                }
                if self.state != State::Ccs || !self.hs_buf.is_empty() {
                    return Err(unexpected());
                }
                self.read = self.pending_read.take();
                if self.read.is_none() {
                    return Err(unexpected());
                }
                self.state = State::Finished;
                Ok(())
            }
            CT_HANDSHAKE => {
                self.hs_buf.extend_from_slice(plain);
                self.handshake_messages()
            }
            _ => {
                if self.state != State::Traffic {
                    return Err(unexpected());
                }
                if self.plain_pos > 0 && self.plain_pos == self.plain_in.len() {
                    self.plain_in.clear();
                    self.plain_pos = 0;
                }
                self.plain_in.extend_from_slice(plain);
                Ok(())
            }
        }
    }

    fn alert(&mut self, plain: &[u8]) -> Step {
        let [level, desc] = plain else {
            return Err(decode(Malformed));
        };
        let desc = AlertDescription::from(*desc);
        if desc == AlertDescription::CloseNotify {
            if self.is_handshaking() {
                return Err((
                    Error::Protocol(ProtocolError::HandshakeEof),
                    AlertDescription::CloseNotify,
                ));
            }
            self.peer_closed = true;
            return Ok(());
        }
        if *level == 1 && !self.is_handshaking() {
            self.warnings += 1;
            if self.warnings > MAX_WARNINGS {
                return Err(unexpected());
            }
            return Ok(());
        }
        // A fatal alert, or any warning during the handshake: the handshake cannot go on.
        // (CloseNotify as the alert to send means: send none.)
        Err((
            Error::Protocol(ProtocolError::AlertReceived(desc)),
            AlertDescription::CloseNotify,
        ))
    }

    /// Take every complete handshake message out of `hs_buf`.
    fn handshake_messages(&mut self) -> Step {
        loop {
            if self.hs_buf.len() < 4 {
                return Ok(());
            }
            let typ = self.hs_buf[0];
            let len = usize::from(self.hs_buf[1]) << 16
                | usize::from(self.hs_buf[2]) << 8
                | usize::from(self.hs_buf[3]);
            if len > MAX_HANDSHAKE {
                return Err((
                    Error::Protocol(ProtocolError::InvalidRecord),
                    AlertDescription::DecodeError,
                ));
            }
            if self.hs_buf.len() < 4 + len {
                return Ok(());
            }
            let raw: Vec<u8> = self.hs_buf.drain(..4 + len).collect();
            self.handshake(typ, &raw)?;
        }
    }

    fn handshake(&mut self, typ: u8, raw: &[u8]) -> Step {
        let body = raw.get(4..).unwrap_or_default();
        match (self.state, typ) {
            (State::ServerHello, hs::SERVER_HELLO) => self.server_hello(raw, body),
            (State::ServerKxOrDone, hs::SERVER_KEY_EXCHANGE) => {
                // The identity hint: nothing here depends on it.
                parse_opaque16(body).map_err(decode)?;
                self.transcript.extend_from_slice(raw);
                self.state = State::ServerDone;
                Ok(())
            }
            (State::ServerKxOrDone | State::ServerDone, hs::SERVER_HELLO_DONE) => {
                if !body.is_empty() {
                    return Err(decode(Malformed));
                }
                self.transcript.extend_from_slice(raw);
                self.client_flight()
            }
            (State::ClientHello, hs::CLIENT_HELLO) => self.client_hello(raw, body),
            (State::ClientKx, hs::CLIENT_KEY_EXCHANGE) => self.client_kx(raw, body),
            (State::Finished, hs::FINISHED) => self.finished(raw, body),
            (State::Traffic, hs::HELLO_REQUEST) if self.client && body.is_empty() => {
                self.refuse_renegotiation()
            }
            (State::Traffic, hs::CLIENT_HELLO) if !self.client => self.refuse_renegotiation(),
            _ => Err(unexpected()),
        }
    }

    fn refuse_renegotiation(&mut self) -> Step {
        self.send_record(CT_ALERT, &[1, u8::from(AlertDescription::NoRenegotiation)])
    }

    fn server_hello(&mut self, raw: &[u8], body: &[u8]) -> Step {
        let hello = ServerHello::parse(body).map_err(decode)?;
        if hello.version != 0x0303 {
            return Err(incompatible(
                rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
                AlertDescription::ProtocolVersion,
            ));
        }
        let suite = PskSuite::from_id(hello.suite)
            .filter(|s| self.config.suites.contains(s))
            .ok_or_else(|| {
                misbehaved(
                    rustls::PeerMisbehaved::SelectedUnofferedCipherSuite,
                    AlertDescription::IllegalParameter,
                )
            })?;
        if hello.compression != 0 {
            return Err(misbehaved(
                rustls::PeerMisbehaved::SelectedUnofferedCompression,
                AlertDescription::IllegalParameter,
            ));
        }
        if hello.unsolicited {
            return Err(misbehaved(
                rustls::PeerMisbehaved::UnsolicitedServerHelloExtension,
                AlertDescription::UnsupportedExtension,
            ));
        }
        self.server_random = hello.random;
        self.ems = hello.ext.ems;
        self.choose(suite)?;
        self.transcript.extend_from_slice(raw);
        self.state = State::ServerKxOrDone;
        Ok(())
    }

    fn choose(&mut self, suite: PskSuite) -> Step {
        self.suite = Some(suite);
        self.schedule =
            Some(Schedule::for_suite(suite).map_err(|e| (e, AlertDescription::InternalError))?);
        Ok(())
    }

    /// Client: ClientKeyExchange, ChangeCipherSpec, Finished.
    fn client_flight(&mut self) -> Step {
        let (identity, key) = match &self.config.role {
            PskRole::Client { identity, key } => (identity.clone(), key.clone()),
            PskRole::Server { .. } => return Err(unexpected()),
        };
        let cke = opaque16(hs::CLIENT_KEY_EXCHANGE, &identity);
        self.transcript.extend_from_slice(&cke);
        self.send_handshake(&cke)?;
        self.derive(&key)?;
        self.send_record(CT_CCS, &[1])?;
        self.write = self.pending_write.take();
        self.send_finished()?;
        self.state = State::Ccs;
        Ok(())
    }

    fn client_hello(&mut self, raw: &[u8], body: &[u8]) -> Step {
        let hello = ClientHello::parse(body).map_err(decode)?;
        if hello.version < 0x0303 {
            return Err(incompatible(
                rustls::PeerIncompatible::Tls12NotOffered,
                AlertDescription::ProtocolVersion,
            ));
        }
        if !hello.null_compression {
            return Err(incompatible(
                rustls::PeerIncompatible::NullCompressionRequired,
                AlertDescription::IllegalParameter,
            ));
        }
        let suite = self
            .config
            .suites
            .iter()
            .copied()
            .find(|s| hello.suites.contains(&s.id()))
            .ok_or_else(|| {
                incompatible(
                    rustls::PeerIncompatible::NoCipherSuitesInCommon,
                    AlertDescription::HandshakeFailure,
                )
            })?;
        let reneg = hello.ext.reneg || hello.suites.contains(&RENEGOTIATION_SCSV);
        self.client_random = hello.random;
        self.ems = hello.ext.ems;
        self.choose(suite)?;
        self.transcript.extend_from_slice(raw);
        let mut random = [0u8; 32];
        self.fill_random(&mut random)
            .map_err(|e| (e, AlertDescription::InternalError))?;
        self.server_random = random;
        let sh = ServerHello::encode(&random, suite, self.ems, reneg);
        self.transcript.extend_from_slice(&sh);
        self.send_handshake(&sh)?;
        if let PskRole::Server {
            hint: Some(hint), ..
        } = &self.config.role
        {
            let ske = opaque16(hs::SERVER_KEY_EXCHANGE, hint);
            self.transcript.extend_from_slice(&ske);
            self.send_handshake(&ske)?;
        }
        let done = super::messages::handshake(hs::SERVER_HELLO_DONE, &[]);
        self.transcript.extend_from_slice(&done);
        self.send_handshake(&done)?;
        self.state = State::ClientKx;
        Ok(())
    }

    fn client_kx(&mut self, raw: &[u8], body: &[u8]) -> Step {
        let identity = parse_opaque16(body).map_err(decode)?;
        let lookup = match &self.config.role {
            PskRole::Server { lookup, .. } => lookup.clone(),
            PskRole::Client { .. } => return Err(unexpected()),
        };
        let key = lookup
            .key(identity)
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
            .ok_or((
                Error::Protocol(ProtocolError::UnknownPskIdentity),
                AlertDescription::UnknownPSKIdentity,
            ))?;
        self.transcript.extend_from_slice(raw);
        self.derive(&key)?;
        self.state = State::Ccs;
        Ok(())
    }

    /// Master secret and key block, after the ClientKeyExchange is in the transcript.
    fn derive(&mut self, psk: &[u8]) -> Step {
        let internal = |e| (e, AlertDescription::InternalError);
        let (Some(suite), Some(schedule)) = (self.suite, self.schedule) else {
            return Err(unexpected());
        };
        let pms = premaster(psk);
        let master = schedule.master_secret(
            &pms,
            self.ems.then_some(self.transcript.as_slice()),
            &self.client_random,
            &self.server_random,
        );
        let key_len = Protection::key_len(suite);
        let block = schedule.key_block(
            &master,
            &self.client_random,
            &self.server_random,
            2 * (key_len + SALT_LEN),
        );
        let (client_key, rest) = block.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_salt, server_salt) = rest.split_at(SALT_LEN);
        let client = Protection::new(suite, client_key, client_salt).map_err(internal)?;
        let server = Protection::new(suite, server_key, server_salt).map_err(internal)?;
        let (mine, theirs) = if self.client {
            (client, server)
        } else {
            (server, client)
        };
        self.pending_write = Some(mine);
        self.pending_read = Some(theirs);
        self.master = Some(master);
        Ok(())
    }

    fn send_finished(&mut self) -> Step {
        let (Some(schedule), Some(master)) = (self.schedule, self.master.as_ref()) else {
            return Err(unexpected());
        };
        let verify = schedule.verify_data(master, self.client, &self.transcript);
        let msg = super::messages::handshake(hs::FINISHED, &verify);
        self.transcript.extend_from_slice(&msg);
        self.send_handshake(&msg)
    }

    fn finished(&mut self, raw: &[u8], body: &[u8]) -> Step {
        let (Some(schedule), Some(master)) = (self.schedule, self.master.as_ref()) else {
            return Err(unexpected());
        };
        let expected = schedule.verify_data(master, !self.client, &self.transcript);
        if verify_slices_are_equal(&expected, body).is_err() {
            return Err((
                Error::Protocol(ProtocolError::Other(rustls::Error::DecryptError)),
                AlertDescription::DecryptError,
            ));
        }
        self.transcript.extend_from_slice(raw);
        if !self.client {
            self.send_record(CT_CCS, &[1])?;
            self.write = self.pending_write.take();
            self.send_finished()?;
        }
        self.state = State::Traffic;
        // The handshake's secrets are no longer needed.
        self.transcript = Vec::new();
        self.master = None;
        let early = std::mem::take(&mut self.plain_out);
        self.send_plain(&early)
    }

    fn send_handshake(&mut self, msg: &[u8]) -> Step {
        self.send_record(CT_HANDSHAKE, msg)
    }

    fn send_plain(&mut self, data: &[u8]) -> Step {
        self.send_record(CT_APPDATA, data)
    }

    /// Queue `data` as records of `typ`, fragmented and protected if keys are on.
    fn send_record(&mut self, typ: u8, data: &[u8]) -> Step {
        for chunk in data.chunks(MAX_FRAGMENT) {
            let body = match self.write.as_mut() {
                Some(p) => p
                    .seal(typ, chunk)
                    .map_err(|e| (e, AlertDescription::InternalError))?,
                None => chunk.to_vec(),
            };
            let len = u16::try_from(body.len()).map_err(|_| unexpected())?;
            self.outgoing.extend_from_slice(&[typ, 3, 3]);
            self.outgoing.extend_from_slice(&len.to_be_bytes());
            self.outgoing.extend_from_slice(&body);
        }
        Ok(())
    }

    /// Write queued ciphertext to `wr`.
    pub(crate) fn write_tls(&mut self, wr: &mut dyn Write) -> io::Result<usize> {
        if self.outgoing.is_empty() {
            return Ok(0);
        }
        let n = wr.write(&self.outgoing)?;
        self.outgoing.drain(..n.min(self.outgoing.len()));
        Ok(n)
    }

    /// Queue plaintext: encrypted at once after the handshake, held until it completes before.
    /// Takes at most what fits under `limit` bytes of queued output.
    pub(crate) fn write_plain(&mut self, buf: &[u8], limit: usize) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::other(e.to_string()));
        }
        let queued = self.outgoing.len() + self.plain_out.len();
        let room = limit.saturating_sub(queued);
        let take = buf.len().min(room);
        let data = buf.get(..take).unwrap_or_default();
        if self.is_handshaking() {
            self.plain_out.extend_from_slice(data);
        } else {
            self.send_plain(data)
                .map_err(|(e, _)| io::Error::other(e.to_string()))?;
        }
        Ok(take)
    }

    /// The unread plaintext, or why there is none: `WouldBlock` (none yet), `Ok(empty)` (the
    /// peer sent close_notify), `UnexpectedEof` (the transport ended without one).
    pub(crate) fn fill_plain(&mut self) -> io::Result<&[u8]> {
        let avail = self.plain_in.get(self.plain_pos..).unwrap_or_default();
        if !avail.is_empty() {
            return Ok(avail);
        }
        if self.peer_closed {
            return Ok(&[]);
        }
        if self.transport_eof {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Mark `n` bytes of [`PskConnection::fill_plain`]'s slice as read.
    pub(crate) fn consume_plain(&mut self, n: usize) {
        self.plain_pos = (self.plain_pos + n).min(self.plain_in.len());
        if self.plain_pos == self.plain_in.len() {
            self.plain_in.clear();
            self.plain_pos = 0;
        }
    }

    /// Copy plaintext into `buf` (the `Read` of rustls's reader).
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_plain()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume_plain(n);
        Ok(n)
    }

    /// Queue a close_notify (once).
    pub(crate) fn send_close_notify(&mut self) {
        if !self.close_sent && self.error.is_none() {
            self.close_sent = true;
            let _ = self.send_record(CT_ALERT, &[1, 0]);
        }
    }
}
