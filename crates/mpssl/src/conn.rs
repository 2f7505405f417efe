//! [`Conn`]: what a [`Session`](crate::Session) drives — a rustls connection, or a PSK
//! connection of the [`psk`](crate::psk) module — behind one set of calls.

use std::io::{self, BufRead, Read, Write};

use rustls::{Connection, HandshakeKind};
use rustls_pki_types::CertificateDer;

use crate::ciphers;
use crate::dtls::DtlsConnection;
use crate::error::Error;
use crate::psk::PskConnection;

/// The TLS engine of one session.
#[derive(Debug)]
pub(crate) enum Conn {
    /// Certificates (TLS 1.3 and 1.2), on rustls.
    Tls(Box<Connection>),
    /// TLS 1.2 pre-shared keys.
    Psk(Box<PskConnection>),
    /// DTLS 1.2 (the [`dtls`](crate::dtls) module).
    Dtls(Box<DtlsConnection>),
}

impl Conn {
    /// True for a DTLS connection: one datagram per transport read and write.
    pub(crate) fn is_datagram(&self) -> bool {
        matches!(self, Self::Dtls(_))
    }

    /// Fire due DTLS retransmissions (nothing for TLS).
    pub(crate) fn tick(&mut self) -> Result<(), Error> {
        match self {
            Self::Dtls(c) => c.tick(),
            _ => Ok(()),
        }
    }

    /// How long until [`Conn::tick`] has work (always `None` for TLS).
    pub(crate) fn next_timeout(&self) -> Option<std::time::Duration> {
        match self {
            Self::Dtls(c) => c.next_timeout(),
            _ => None,
        }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Self::Tls(c) => c.is_handshaking(),
            Self::Psk(c) => c.is_handshaking(),
            Self::Dtls(c) => c.is_handshaking(),
        }
    }

    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Self::Tls(c) => c.wants_write(),
            Self::Psk(c) => c.wants_write(),
            Self::Dtls(c) => c.wants_write(),
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        match self {
            Self::Tls(c) => matches!(**c, Connection::Client(_)),
            Self::Psk(c) => c.is_client(),
            Self::Dtls(c) => c.is_client(),
        }
    }

    pub(crate) fn read_tls(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        match self {
            Self::Tls(c) => c.read_tls(rd),
            Self::Psk(c) => c.read_tls(rd),
            Self::Dtls(c) => c.read_tls(rd),
        }
    }

    pub(crate) fn process_new_packets(&mut self) -> Result<(), Error> {
        match self {
            Self::Tls(c) => c.process_new_packets().map(|_| ()).map_err(Error::from),
            Self::Psk(c) => c.process_new_packets(),
            Self::Dtls(c) => c.process_new_packets(),
        }
    }

    pub(crate) fn write_tls(&mut self, wr: &mut dyn Write) -> io::Result<usize> {
        match self {
            Self::Tls(c) => c.write_tls(wr),
            Self::Psk(c) => c.write_tls(wr),
            Self::Dtls(c) => c.write_tls(wr),
        }
    }

    /// rustls's reader `read`: data, `Ok(0)` after close_notify, `WouldBlock`, `UnexpectedEof`.
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tls(c) => c.reader().read(buf),
            Self::Psk(c) => c.read_plain(buf),
            Self::Dtls(c) => c.read_plain(buf),
        }
    }

    /// rustls's reader `fill_buf`.
    pub(crate) fn fill_plain(&mut self) -> io::Result<&[u8]> {
        match self {
            Self::Tls(c) => c.reader().into_first_chunk(),
            Self::Psk(c) => c.fill_plain(),
            Self::Dtls(c) => c.fill_plain(),
        }
    }

    /// rustls's reader `consume`.
    pub(crate) fn consume_plain(&mut self, n: usize) {
        match self {
            Self::Tls(c) => c.reader().consume(n),
            Self::Psk(c) => c.consume_plain(n),
            Self::Dtls(c) => c.consume_plain(n),
        }
    }

    /// Queue plaintext; `limit` bounds the queued output.
    pub(crate) fn write_plain(&mut self, buf: &[u8], limit: usize) -> io::Result<usize> {
        match self {
            Self::Tls(c) => c.writer().write(buf),
            Self::Psk(c) => c.write_plain(buf, limit),
            Self::Dtls(c) => c.write_plain(buf, limit),
        }
    }

    pub(crate) fn send_close_notify(&mut self) {
        match self {
            Self::Tls(c) => c.send_close_notify(),
            Self::Psk(c) => c.send_close_notify(),
            Self::Dtls(c) => c.send_close_notify(),
        }
    }

    /// The negotiated suite's reference name.
    pub(crate) fn cipher_name(&self) -> Option<&'static str> {
        match self {
            Self::Tls(c) => c.negotiated_cipher_suite().map(ciphers::suite_name),
            Self::Psk(c) => c.suite().map(crate::psk::PskSuite::name),
            Self::Dtls(c) => c.cipher_name(),
        }
    }

    pub(crate) fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        match self {
            Self::Tls(c) => c.protocol_version(),
            Self::Psk(c) => c.suite().map(|_| rustls::ProtocolVersion::TLSv1_2),
            Self::Dtls(c) => c.cipher_name().map(|_| rustls::ProtocolVersion::DTLSv1_2),
        }
    }

    pub(crate) fn key_exchange_group(&self) -> Option<rustls::NamedGroup> {
        match self {
            Self::Tls(c) => c.negotiated_key_exchange_group().map(|g| g.name()),
            Self::Psk(_) | Self::Dtls(_) => None,
        }
    }

    pub(crate) fn resumed(&self) -> bool {
        match self {
            Self::Tls(c) => c.handshake_kind() == Some(HandshakeKind::Resumed),
            Self::Psk(_) | Self::Dtls(_) => false,
        }
    }

    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match self {
            Self::Tls(c) => c.peer_certificates(),
            Self::Psk(_) => None,
            Self::Dtls(c) => c.peer_certificates(),
        }
    }

    pub(crate) fn sni_hostname(&self) -> Option<&str> {
        match self {
            Self::Tls(c) => match &**c {
                Connection::Server(s) => s.server_name(),
                Connection::Client(_) => None,
            },
            Self::Psk(_) | Self::Dtls(_) => None,
        }
    }

    /// The ALPN protocol agreed (PSK connections offer none).
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Self::Tls(c) => c.alpn_protocol(),
            Self::Psk(_) | Self::Dtls(_) => None,
        }
    }

    /// RFC 5705 keying material; the caller checks the version (TLS 1.3 only).
    pub(crate) fn export_keying_material(
        &self,
        out: [u8; 32],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<[u8; 32], Error> {
        match self {
            Self::Tls(c) => c
                .export_keying_material(out, label, context)
                .map_err(Error::from),
            Self::Psk(_) | Self::Dtls(_) => Err(Error::from(rustls::Error::HandshakeNotComplete)),
        }
    }
}
