//! The handshake messages of a PSK-only TLS 1.2 handshake: bounds-checked parsing and
//! encoding. Every length field is checked against what is left; trailing bytes are errors.

use super::PskSuite;

/// Handshake message types used here.
pub(crate) mod hs {
    pub(crate) const HELLO_REQUEST: u8 = 0;
    pub(crate) const CLIENT_HELLO: u8 = 1;
    pub(crate) const SERVER_HELLO: u8 = 2;
    pub(crate) const SERVER_KEY_EXCHANGE: u8 = 12;
    pub(crate) const SERVER_HELLO_DONE: u8 = 14;
    pub(crate) const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub(crate) const FINISHED: u8 = 20;
}

/// Extension numbers used here.
pub(crate) mod ext {
    pub(crate) const SERVER_NAME: u16 = 0;
    pub(crate) const EXTENDED_MASTER_SECRET: u16 = 23;
    pub(crate) const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// `TLS_EMPTY_RENEGOTIATION_INFO_SCSV` (RFC 5746).
pub(crate) const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// A message failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// A cursor over a message body.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.buf.len() {
            return Err(Malformed);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a `len_bytes`-byte length prefix (1 or 2).
    pub(crate) fn vec(&mut self, len_bytes: usize) -> Result<&'a [u8], Malformed> {
        let len = match len_bytes {
            1 => usize::from(self.u8()?),
            _ => usize::from(self.u16()?),
        };
        self.take(len)
    }

    pub(crate) fn random(&mut self) -> Result<[u8; 32], Malformed> {
        <[u8; 32]>::try_from(self.take(32)?).map_err(|_| Malformed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}

/// The extensions both hellos carry that matter here.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HelloExtensions {
    /// `extended_master_secret` present (and empty).
    pub(crate) ems: bool,
    /// `renegotiation_info` present (with an empty `renegotiated_connection`).
    pub(crate) reneg: bool,
    /// An extension other than these (and `server_name` on a client hello).
    pub(crate) other: bool,
}

/// Parse an extensions block (the part after compression methods), if present.
fn extensions(r: &mut Reader<'_>) -> Result<(HelloExtensions, Vec<u16>), Malformed> {
    let mut out = HelloExtensions::default();
    let mut seen = Vec::new();
    if r.is_empty() {
        return Ok((out, seen));
    }
    let mut block = Reader::new(r.vec(2)?);
    while !block.is_empty() {
        let typ = block.u16()?;
        let body = block.vec(2)?;
        if seen.contains(&typ) {
            return Err(Malformed);
        }
        seen.push(typ);
        match typ {
            ext::EXTENDED_MASTER_SECRET => {
                if !body.is_empty() {
                    return Err(Malformed);
                }
                out.ems = true;
            }
            ext::RENEGOTIATION_INFO => {
                // Initial handshake: `renegotiated_connection` must be empty (RFC 5746 §3.6).
                if body != [0] {
                    return Err(Malformed);
                }
                out.reneg = true;
            }
            ext::SERVER_NAME => {}
            _ => out.other = true,
        }
    }
    r.finish()?;
    Ok((out, seen))
}

/// What the server needs from a ClientHello.
#[derive(Debug)]
pub(crate) struct ClientHello {
    pub(crate) version: u16,
    pub(crate) random: [u8; 32],
    pub(crate) suites: Vec<u16>,
    pub(crate) null_compression: bool,
    pub(crate) ext: HelloExtensions,
}

impl ClientHello {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        let random = r.random()?;
        let session_id = r.vec(1)?;
        if session_id.len() > 32 {
            return Err(Malformed);
        }
        let raw = r.vec(2)?;
        if raw.is_empty() || raw.len() % 2 != 0 {
            return Err(Malformed);
        }
        let suites = raw
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let compression = r.vec(1)?;
        if compression.is_empty() {
            return Err(Malformed);
        }
        let (ext, _) = extensions(&mut r)?;
        Ok(Self {
            version,
            random,
            suites,
            null_compression: compression.contains(&0),
            ext,
        })
    }

    /// The client's first message: our suites and the renegotiation SCSV, null compression,
    /// `extended_master_secret`.
    pub(crate) fn encode(random: &[u8; 32], suites: &[PskSuite]) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&[3, 3]);
        b.extend_from_slice(random);
        b.push(0); // no session id: no resumption
        let n = (suites.len() + 1) * 2;
        b.extend_from_slice(&u16_len(n));
        for s in suites {
            b.extend_from_slice(&s.id().to_be_bytes());
        }
        b.extend_from_slice(&RENEGOTIATION_SCSV.to_be_bytes());
        b.extend_from_slice(&[1, 0]); // compression: null only
        b.extend_from_slice(&[0, 4]);
        b.extend_from_slice(&ext::EXTENDED_MASTER_SECRET.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        handshake(hs::CLIENT_HELLO, &b)
    }
}

/// What the client needs from a ServerHello.
#[derive(Debug)]
pub(crate) struct ServerHello {
    pub(crate) version: u16,
    pub(crate) random: [u8; 32],
    pub(crate) suite: u16,
    pub(crate) compression: u8,
    pub(crate) ext: HelloExtensions,
    /// Extensions other than EMS and renegotiation_info (a client offered no others).
    pub(crate) unsolicited: bool,
}

impl ServerHello {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        let random = r.random()?;
        let session_id = r.vec(1)?;
        if session_id.len() > 32 {
            return Err(Malformed);
        }
        let suite = r.u16()?;
        let compression = r.u8()?;
        let (ext, seen) = extensions(&mut r)?;
        let unsolicited = seen
            .iter()
            .any(|t| *t != ext::EXTENDED_MASTER_SECRET && *t != ext::RENEGOTIATION_INFO);
        Ok(Self {
            version,
            random,
            suite,
            compression,
            ext,
            unsolicited,
        })
    }

    /// The server's hello: empty session id (no resumption), null compression, and the
    /// extensions the client asked for.
    pub(crate) fn encode(random: &[u8; 32], suite: PskSuite, ems: bool, reneg: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&[3, 3]);
        b.extend_from_slice(random);
        b.push(0);
        b.extend_from_slice(&suite.id().to_be_bytes());
        b.push(0);
        let mut exts = Vec::new();
        if reneg {
            exts.extend_from_slice(&ext::RENEGOTIATION_INFO.to_be_bytes());
            exts.extend_from_slice(&[0, 1, 0]);
        }
        if ems {
            exts.extend_from_slice(&ext::EXTENDED_MASTER_SECRET.to_be_bytes());
            exts.extend_from_slice(&[0, 0]);
        }
        if !exts.is_empty() {
            b.extend_from_slice(&u16_len(exts.len()));
            b.extend_from_slice(&exts);
        }
        handshake(hs::SERVER_HELLO, &b)
    }
}

/// A vector with a two-byte length (identity, hint); `data` is at most 65535 bytes.
pub(crate) fn opaque16(typ: u8, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(2 + data.len());
    b.extend_from_slice(&u16_len(data.len()));
    b.extend_from_slice(data);
    handshake(typ, &b)
}

/// Parse a body that is exactly one `opaque<0..2^16-1>` (ServerKeyExchange's hint,
/// ClientKeyExchange's identity).
pub(crate) fn parse_opaque16(body: &[u8]) -> Result<&[u8], Malformed> {
    let mut r = Reader::new(body);
    let v = r.vec(2)?;
    r.finish()?;
    Ok(v)
}

/// A handshake message: type, 24-bit length, body. Bodies here are far below 2^24 bytes.
pub(crate) fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut m = Vec::with_capacity(4 + body.len());
    m.push(typ);
    m.extend_from_slice(&len[1..]);
    m.extend_from_slice(body);
    m
}

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}
