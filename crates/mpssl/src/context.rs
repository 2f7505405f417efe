//! [`SslContext`]: role, verify mode, trusted CAs, own certificate and key, cipher suites
//! (≈ MicroPython's `mp_obj_ssl_context_t`).
//!
//! rustls configurations are built once, on first use, and reused by every session of the
//! context (which is what makes session resumption work); any change to the context drops them.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, NamedGroup, ServerConfig, SignatureScheme, SupportedCipherSuite};
use rustls_pki_types::CertificateDer;

use crate::certs::{self, LoadedKey};
use crate::ciphers;
use crate::error::{ArgumentError, ConfigError, Error, KeyError};
use crate::keylog::KeyLogFile;
use crate::psk::{PskConfig, PskKeyLookup, PskRole, PskSuite};
use crate::signer::{self, EcdsaSignCallback};
use crate::sni::ServerCertificates;
use crate::verify::chain::Checker;
use crate::verify::names::NameRule;
use crate::verify::verifiers::{ClientVerifier, PeerCheck, ServerVerifier};
use crate::verify::{TrustStore, VerifyCallback, VerifyMode};

/// Which end of the connection a context is for (MicroPython's `PROTOCOL_TLS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `PROTOCOL_TLS_CLIENT` (0).
    Client,
    /// `PROTOCOL_TLS_SERVER` (1).
    Server,
    /// `PROTOCOL_DTLS_CLIENT` (2): DTLS 1.2 over datagrams (the `dtls` module).
    DtlsClient,
    /// `PROTOCOL_DTLS_SERVER` (3).
    DtlsServer,
}

impl Protocol {
    /// The `PROTOCOL_*` constant's value.
    pub fn as_int(self) -> i64 {
        match self {
            Self::Client => 0,
            Self::Server => 1,
            Self::DtlsClient => 2,
            Self::DtlsServer => 3,
        }
    }

    /// The protocol for a constant (`PROTOCOL_TLS_CLIENT` … `PROTOCOL_DTLS_SERVER`).
    pub fn from_int(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Client),
            1 => Some(Self::Server),
            2 => Some(Self::DtlsClient),
            3 => Some(Self::DtlsServer),
            _ => None,
        }
    }

    /// True for the server roles (`PROTOCOL_TLS_SERVER`, `PROTOCOL_DTLS_SERVER`).
    pub fn is_server(self) -> bool {
        matches!(self, Self::Server | Self::DtlsServer)
    }

    /// True for the DTLS protocols.
    pub fn is_dtls(self) -> bool {
        matches!(self, Self::DtlsClient | Self::DtlsServer)
    }

    /// The TLS role of this protocol: [`Protocol::Client`] or [`Protocol::Server`].
    pub fn tls_role(self) -> Self {
        if self.is_server() {
            Self::Server
        } else {
            Self::Client
        }
    }

    /// The protocol for an `SSLContext(protocol)` argument, read as the reference reads it: a
    /// bit field where bit 0 selects the server role and bit 1 DTLS; other bits are ignored
    /// (`SSLContext(4)` is a client). Never fails (it did while mpssl had no DTLS).
    pub fn from_bits(value: i64) -> Result<Self, Error> {
        Ok(match (value & 2 != 0, value & 1 == 1) {
            (false, false) => Self::Client,
            (false, true) => Self::Server,
            (true, false) => Self::DtlsClient,
            (true, true) => Self::DtlsServer,
        })
    }

    /// The verify mode a new context of this protocol starts with: `CERT_REQUIRED` for clients
    /// (as the reference's native `tls` module and CPython), `CERT_NONE` for servers.
    pub fn default_verify_mode(self) -> VerifyMode {
        match self.is_server() {
            false => VerifyMode::Required,
            true => VerifyMode::None,
        }
    }
}

/// A built rustls configuration, shared by every session of the context until it changes,
/// with the checker its sessions ask for their verdict.
#[derive(Debug, Clone)]
pub(crate) enum Built {
    Client(Arc<ClientConfigs>, Arc<PeerCheck>),
    Server(Arc<ServerConfig>, Arc<PeerCheck>, ServerCertificates),
}

/// A client context's configurations, one per [`NameRule`]: rustls hands a verifier only a
/// `ServerName`, so whether there is a name to check is a property of the configuration.
/// Each keeps its own resumption store, so the placeholder name of a session without a name
/// never shares tickets with a real one. Each is made when a session first needs it (a
/// context used with one kind of name, the usual case, makes one configuration and one
/// resumption store, not three).
pub(crate) struct ClientConfigs {
    given: OnceLock<Arc<ClientConfig>>,
    absent: OnceLock<Arc<ClientConfig>>,
    empty: OnceLock<Arc<ClientConfig>>,
    make: MakeClientConfig,
}

/// Makes the client configuration for one [`NameRule`].
type MakeClientConfig = Box<dyn Fn(NameRule) -> Result<Arc<ClientConfig>, Error> + Send + Sync>;

impl std::fmt::Debug for ClientConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfigs")
            .field("given", &self.given)
            .field("absent", &self.absent)
            .field("empty", &self.empty)
            .finish_non_exhaustive()
    }
}

impl ClientConfigs {
    /// The configuration for names of `rule`, made on first use.
    pub(crate) fn for_rule(&self, rule: NameRule) -> Result<Arc<ClientConfig>, Error> {
        let slot = match rule {
            NameRule::Given => &self.given,
            NameRule::Absent => &self.absent,
            NameRule::Empty => &self.empty,
        };
        if let Some(config) = slot.get() {
            return Ok(config.clone());
        }
        let config = (self.make)(rule)?;
        // Two threads may race here: the first one stored is kept and used by both.
        Ok(slot.get_or_init(|| config).clone())
    }
}

/// The TLS configuration shared by sockets: MicroPython's `SSLContext`.
///
/// The rustls configurations are built on first use and shared until the context changes.
/// Each remembers up to 16 peer chains that passed every `CERT_REQUIRED` check and then
/// re-checks only their dates (see the `verified` module); handshake signatures are verified
/// every time.
///
/// ```
/// use mpssl::{Protocol, SslContext, VerifyMode};
///
/// let mut ctx = SslContext::new(Protocol::Client);
/// assert_eq!(ctx.verify_mode(), VerifyMode::Required);
/// ctx.set_ciphers(&["TLS-AES-256-GCM-SHA384"]).unwrap();
/// assert_eq!(ctx.ciphers(), ["TLS-AES-256-GCM-SHA384"]);
/// ```
#[derive(Debug)]
pub struct SslContext {
    protocol: Protocol,
    verify_mode: VerifyMode,
    trust: Arc<TrustStore>,
    chain: Vec<CertificateDer<'static>>,
    key: Option<LoadedKey>,
    suites: Vec<SupportedCipherSuite>,
    check_common_name: bool,
    /// `check_hostname` as set (`None`: never set, it follows the verify mode).
    check_hostname: Option<bool>,
    resumption: bool,
    callback: Option<Arc<dyn VerifyCallback>>,
    signer: Option<Arc<dyn EcdsaSignCallback>>,
    groups: Vec<&'static dyn SupportedKxGroup>,
    provider: Arc<CryptoProvider>,
    built: Mutex<Option<Built>>,
    /// ALPN protocols offered (client) or accepted (server), in preference order.
    alpn: Vec<Vec<u8>>,
    /// Where the sessions' secrets are logged (`keylog_filename`), if anywhere.
    keylog: Option<Arc<KeyLogFile>>,
    /// A server's further certificates, chosen by SNI name (see the `sni` module).
    extra: Vec<Arc<CertifiedKey>>,
    /// Pre-shared keys (the `psk` module): identity, key, server lookup, suites.
    psk: PskSettings,
    /// A DTLS server's handshakes waiting for the client's second ClientHello (the `dtls`
    /// module's cookie table); shared by clones.
    dtls_parked: Arc<crate::dtls::Parked>,
}

impl SslContext {
    /// A new context for one end, with the protocol's default verify mode and every suite.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            verify_mode: protocol.default_verify_mode(),
            trust: Arc::new(TrustStore::default()),
            chain: Vec::new(),
            key: None,
            suites: ciphers::default_suites(),
            check_common_name: true,
            check_hostname: None,
            resumption: true,
            callback: None,
            signer: None,
            groups: aws_lc_rs::DEFAULT_KX_GROUPS.to_vec(),
            provider: Arc::new(aws_lc_rs::default_provider()),
            built: Mutex::new(None),
            alpn: Vec::new(),
            keylog: None,
            extra: Vec::new(),
            psk: PskSettings::default(),
            dtls_parked: Arc::default(),
        }
    }

    /// A new context whose rustls configurations use `provider` for everything: its cipher
    /// suites and key-exchange groups (instead of mpssl's defaults), randomness, key loading and
    /// the signature algorithms the verifier accepts.
    ///
    /// **For testing and fuzzing only** (the fuzz targets pass a deterministic provider with no
    /// security, so that mutated inputs get past the key exchange and the signatures). With
    /// such a provider nothing is secret and every signature "verifies", hence the name: a
    /// context from this constructor is only as safe as `provider`. Production code uses
    /// [`SslContext::new`] (aws-lc-rs).
    pub fn dangerous_with_provider(protocol: Protocol, provider: Arc<CryptoProvider>) -> Self {
        Self {
            suites: provider.cipher_suites.clone(),
            groups: provider.kx_groups.clone(),
            provider,
            ..Self::new(protocol)
        }
    }

    /// The end this context is for.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// How the peer's certificate is checked.
    pub fn verify_mode(&self) -> VerifyMode {
        self.verify_mode
    }

    /// Change how the peer's certificate is checked (applies to sessions created afterwards).
    ///
    /// [`VerifyMode::None`] checks nothing, so it also ends an explicit
    /// [`set_check_hostname(true)`](Self::set_check_hostname) (back to following the mode);
    /// the front ends' [`set_verify_mode_value`](Self::set_verify_mode_value) refuses that
    /// combination instead, as CPython does.
    pub fn set_verify_mode(&mut self, mode: VerifyMode) {
        if mode == VerifyMode::None && self.check_hostname == Some(true) {
            self.check_hostname = None;
        }
        self.verify_mode = mode;
        self.changed();
    }

    /// Set the verify mode from a `CERT_*` value; any other value is an
    /// [`ArgumentError::VerifyMode`] (the reference stores anything, mpssl does not).
    /// `CERT_NONE` after `check_hostname` was set to `true` is refused with
    /// [`ArgumentError::CertNoneWithCheckHostname`], as CPython refuses it; while
    /// `check_hostname` was never set (MicroPython programs never set it), `CERT_NONE` is
    /// accepted and `check_hostname` then reads `false`.
    pub fn set_verify_mode_value(&mut self, value: i64) -> Result<(), Error> {
        let mode =
            VerifyMode::from_int(value).ok_or(Error::Argument(ArgumentError::VerifyMode(value)))?;
        if mode == VerifyMode::None && self.check_hostname == Some(true) {
            return Err(Error::Argument(ArgumentError::CertNoneWithCheckHostname));
        }
        self.set_verify_mode(mode);
        Ok(())
    }

    /// CPython's `check_hostname`: whether a client checks the server's certificate against
    /// `server_hostname` and requires one under `CERT_REQUIRED`.
    ///
    /// Until it is set, it follows the verify mode as MicroPython does: `true` on a client
    /// context whose mode is not `CERT_NONE` (the reference checks the name whenever it
    /// verifies), `false` on a server context or under `CERT_NONE`. Set to `false`, a
    /// `CERT_REQUIRED` client still verifies the chain (trusted CA, dates, key usage) but not
    /// the name, and needs no `server_hostname` (SNI is still sent when one is given).
    pub fn check_hostname(&self) -> bool {
        self.check_hostname
            .unwrap_or(!self.protocol.is_server() && self.verify_mode != VerifyMode::None)
    }

    /// Set `check_hostname`. As in CPython, `true` under `CERT_NONE` switches the verify mode
    /// to `CERT_REQUIRED` (enabling a check never leaves it unenforced).
    pub fn set_check_hostname(&mut self, on: bool) {
        if on && self.verify_mode == VerifyMode::None {
            self.verify_mode = VerifyMode::Required;
        }
        self.check_hostname = Some(on);
        self.changed();
    }

    /// Whether a client session checks the server's name: unless `check_hostname` was set to
    /// `false`. Under `CERT_NONE`/`CERT_OPTIONAL` the name still counts in
    /// `Session::verify_result`, as it does in the reference.
    fn checks_host_name(&self) -> bool {
        self.check_hostname.unwrap_or(true)
    }

    /// The role a socket wrapped with `server_side` takes, after the checks the reference makes
    /// in `wrap_socket` before any I/O. Decided here, once, for every front end:
    ///
    /// * the role is the context's (`PROTOCOL_TLS_CLIENT` or `PROTOCOL_TLS_SERVER`), as in the
    ///   reference; `server_side=True` on a client context is refused
    ///   ([`ArgumentError::ServerSideOnClientContext`]: the reference then silently acts as a
    ///   client), while `server_side=False`, the default every wrapper passes, does not
    ///   override a server context;
    /// * a client under `CERT_REQUIRED` needs a host name to check
    ///   ([`ArgumentError::HostnameRequired`], the reference's `ValueError`), unless
    ///   `check_hostname` was set to `false` ([`SslContext::check_hostname`]). A server never
    ///   checks a host name, so a server context wrapped without `server_side=True` is not asked
    ///   for one (the reference asks).
    pub fn wrap_role(&self, server_side: bool, hostname: Option<&str>) -> Result<Protocol, Error> {
        if server_side && !self.protocol.is_server() {
            return Err(Error::Argument(ArgumentError::ServerSideOnClientContext));
        }
        if !self.protocol.is_server()
            && self.verify_mode == VerifyMode::Required
            && self.checks_host_name()
            && hostname.is_none()
        {
            return Err(Error::Argument(ArgumentError::HostnameRequired));
        }
        Ok(self.protocol)
    }

    /// Whether the subject CN is matched when a certificate has no SAN DNS/IP entries
    /// (CPython's `hostname_checks_common_name`; default `true`, as Mbed TLS).
    pub fn hostname_checks_common_name(&self) -> bool {
        self.check_common_name
    }

    /// Turn the CN fallback of host name matching on or off.
    pub fn set_hostname_checks_common_name(&mut self, on: bool) {
        self.check_common_name = on;
        self.changed();
    }

    /// Whether sessions can be resumed (on by default): clients cache tickets and session IDs
    /// per context, keyed by server name; servers issue tickets (TLS 1.2 and 1.3) with a key of
    /// this context and keep a session-ID cache.
    pub fn session_resumption(&self) -> bool {
        self.resumption
    }

    /// Turn session resumption on or off for sessions created afterwards.
    pub fn set_session_resumption(&mut self, on: bool) {
        self.resumption = on;
        self.changed();
    }

    /// The key-exchange groups offered, in preference order (default: X25519MLKEM768,
    /// X25519, secp256r1, secp384r1).
    pub fn key_exchange_groups(&self) -> Vec<&'static str> {
        self.groups
            .iter()
            .filter_map(|g| kx_name(g.name()))
            .collect()
    }

    /// Offer only these key-exchange groups, in this order. Names: `X25519MLKEM768`,
    /// `X25519`, `secp256r1` (`prime256v1`, `P-256`), `secp384r1` (`P-384`).
    pub fn set_key_exchange_groups<S: AsRef<str>>(&mut self, names: &[S]) -> Result<(), Error> {
        if names.is_empty() {
            return Err(Error::Config(ConfigError::EmptyGroupList));
        }
        let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
        for name in names {
            let name = name.as_ref();
            let group = aws_lc_rs::DEFAULT_KX_GROUPS
                .iter()
                .find(|g| kx_name(g.name()).is_some_and(|n| kx_alias(name) == Some(n)))
                .ok_or_else(|| Error::Config(ConfigError::UnknownGroup(name.to_owned())))?;
            if !groups.iter().any(|g| g.name() == group.name()) {
                groups.push(*group);
            }
        }
        self.groups = groups;
        self.changed();
        Ok(())
    }

    /// Install (or remove) the verify callback for sessions created afterwards.
    pub fn set_verify_callback(&mut self, callback: Option<Arc<dyn VerifyCallback>>) {
        self.callback = callback;
        self.changed();
    }

    /// Install (or remove) the `ecdsa_sign_callback` for sessions created afterwards: every
    /// handshake signature with an ECDSA key goes through it first (see the [`signer`] module).
    /// Keys of other types never call it.
    ///
    /// [`signer`]: crate::signer
    pub fn set_ecdsa_sign_callback(&mut self, callback: Option<Arc<dyn EcdsaSignCallback>>) {
        self.signer = callback;
        self.changed();
    }

    /// Load a private key and its certificate(s), as data (PEM or DER).
    ///
    /// The key is parsed first (so bad key *and* bad cert report the key), then the
    /// certificates. A second call replaces the key and appends the certificates, so a chain
    /// can be built one DER certificate at a time, leaf first. The key must match the leaf.
    /// A key the provider cannot sign with (RSA below 2048 bits) is accepted here and makes the
    /// handshake fail with [`KeyError::Unusable`].
    pub fn load_cert_chain(&mut self, cert: &[u8], key: &[u8]) -> Result<(), Error> {
        let key = self.parse_private_key(key)?;
        self.load_cert_chain_with_key(cert, key)
    }

    /// The first half of [`load_cert_chain`](Self::load_cert_chain): parse the key only. A
    /// front end calls it before it even converts the certificate argument, so that a bad key
    /// is reported first whatever the certificate argument is (as the reference does, whose
    /// `load_cert_chain(None, b"!")` raises `ValueError('invalid key')`).
    pub fn parse_private_key(&self, key: &[u8]) -> Result<LoadedKey, Error> {
        certs::parse_private_key(key, &self.provider)
    }

    /// The second half of [`load_cert_chain`](Self::load_cert_chain): parse the certificates
    /// and install them with a key from [`parse_private_key`](Self::parse_private_key).
    pub fn load_cert_chain_with_key(&mut self, cert: &[u8], key: LoadedKey) -> Result<(), Error> {
        let certs = certs::parse_certificates(cert)?;
        if let LoadedKey::Usable(signing, _) = &key {
            let matches = |leaf: &CertificateDer<'static>| match CertifiedKey::new(
                vec![leaf.clone()],
                signing.clone(),
            )
            .keys_match()
            {
                Ok(())
                | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => true,
                Err(_) => false,
            };
            let leaf = self.chain.first().or(certs.first());
            if leaf.is_some_and(|leaf| !matches(leaf)) {
                // Not the next certificate of the first chain: on a server, another identity
                // when the key is this data's own (`sni` module); else a mismatch.
                let own = certs.first().is_some_and(matches);
                if self.protocol.is_server() && !self.chain.is_empty() && own {
                    self.extra
                        .push(Arc::new(CertifiedKey::new(certs, signing.clone())));
                    self.changed();
                    return Ok(());
                }
                return Err(Error::Key(KeyError::Mismatch));
            }
        }
        self.key = Some(key);
        self.chain.extend(certs);
        self.changed();
        Ok(())
    }

    /// Add trusted CA certificates (one DER certificate, or any number in PEM); certificates
    /// already trusted are not added twice.
    pub fn load_verify_locations(&mut self, cadata: &[u8]) -> Result<(), Error> {
        let certs = certs::parse_certificates(cadata)?;
        let before = self.trust.len();
        Arc::make_mut(&mut self.trust).add(certs)?;
        // Loading certificates already trusted changes nothing: the built configurations
        // (and their resumption stores) are kept.
        if self.trust.len() != before {
            self.changed();
        }
        Ok(())
    }

    /// Number of trusted CA certificates loaded.
    pub fn ca_count(&self) -> usize {
        self.trust.len()
    }

    /// The context's own certificate chain, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The suites enabled on this context, in preference order, in the reference's names.
    pub fn ciphers(&self) -> Vec<&'static str> {
        self.suites
            .iter()
            .map(|s| ciphers::suite_name(*s))
            .chain(self.psk.suites.iter().map(|s| s.name()))
            .collect()
    }

    /// Restrict the context to these suites (dashed or IANA names), in this preference order.
    ///
    /// The PSK suites (`TLS-PSK-WITH-AES-128-GCM-SHA256`, `TLS-PSK-WITH-AES-256-GCM-SHA384`)
    /// may be named too; a session uses them only when PSK is configured, and then only them.
    pub fn set_ciphers<S: AsRef<str>>(&mut self, names: &[S]) -> Result<(), Error> {
        let (psk, others): (Vec<&str>, Vec<&str>) = names
            .iter()
            .map(AsRef::as_ref)
            .partition(|n| PskSuite::from_name(n).is_some());
        let suites = if others.is_empty() && !psk.is_empty() {
            Vec::new()
        } else {
            ciphers::parse_suite_names(&others)?
        };
        let mut psk_suites: Vec<PskSuite> = Vec::new();
        for s in psk.iter().filter_map(|n| PskSuite::from_name(n)) {
            if !psk_suites.contains(&s) {
                psk_suites.push(s);
            }
        }
        self.suites = suites;
        self.psk.suites = psk_suites;
        self.psk.ciphers_set = true;
        self.changed();
        Ok(())
    }

    /// The ALPN protocols offered (client) or accepted (server), in preference order.
    pub fn alpn_protocols(&self) -> &[Vec<u8>] {
        &self.alpn
    }

    /// Offer (client) or accept (server) these ALPN protocols, in preference order; an empty
    /// list turns ALPN off. Each must be 1 to 255 bytes ([`ArgumentError::AlpnProtocol`],
    /// CPython's rule). A server whose list shares nothing with a client's offer aborts the
    /// handshake with a `no_application_protocol` alert (rustls follows RFC 7301; OpenSSL
    /// goes on without ALPN); a client or server without a list takes part without ALPN.
    pub fn set_alpn_protocols<P: AsRef<[u8]>>(&mut self, protocols: &[P]) -> Result<(), Error> {
        if protocols
            .iter()
            .any(|p| p.as_ref().is_empty() || p.as_ref().len() > 255)
        {
            return Err(Error::Argument(ArgumentError::AlpnProtocol));
        }
        self.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self.changed();
        Ok(())
    }

    /// The key log file's path, when the context logs its sessions' secrets.
    pub fn keylog_filename(&self) -> Option<&std::path::Path> {
        self.keylog.as_deref().map(KeyLogFile::path)
    }

    /// Append the secrets of this context's sessions created afterwards to `path`, in the
    /// NSS key log format (`keylog` module); `None` stops logging. The file is opened (and
    /// created) now, so a path that cannot be written fails here, as in CPython.
    pub fn set_keylog_filename(&mut self, path: Option<&std::path::Path>) -> Result<(), Error> {
        self.keylog = match path {
            Some(path) => Some(Arc::new(KeyLogFile::open(path)?)),
            None => None,
        };
        self.changed();
        Ok(())
    }

    /// Trust the operating system's roots ([`crate::roots::system_roots`]: `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` when set, else the platform store). Certificates that cannot be trust
    /// anchors are skipped. Returns how many were added.
    pub fn load_system_roots(&mut self) -> usize {
        let added = Arc::make_mut(&mut self.trust).add_parsable(crate::roots::system_roots());
        self.changed();
        added
    }

    /// Trust the PEM certificates of every file in the directory `capath`
    /// ([`crate::roots::dir_roots`]); certificates that cannot be trust anchors are skipped.
    /// Returns how many were added.
    pub fn load_verify_dir(&mut self, capath: &std::path::Path) -> Result<usize, Error> {
        let certs = crate::roots::dir_roots(capath)?;
        let added = Arc::make_mut(&mut self.trust).add_parsable(certs);
        self.changed();
        Ok(added)
    }

    /// The certificates a server context presents (default first, then those chosen by SNI
    /// name), for another session's [`ServerNameCallback`](crate::ServerNameCallback).
    pub fn server_certificates(&self) -> Result<ServerCertificates, Error> {
        match self.built()? {
            Built::Server(_, _, certs) => Ok(certs),
            Built::Client(..) => Ok(ServerCertificates::default()),
        }
    }

    /// The enabled suites' identifiers.
    pub(crate) fn suite_ids(&self) -> Vec<rustls::CipherSuite> {
        self.suites.iter().map(|s| s.suite()).collect()
    }

    fn changed(&mut self) {
        *self.built.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The error a session of this context must fail its handshake with, before any I/O.
    pub(crate) fn handshake_precondition(&self) -> Option<Error> {
        match (&self.key, self.protocol.tls_role()) {
            (Some(LoadedKey::Unusable { bits }), _) => {
                return Some(Error::Key(KeyError::Unusable { bits: *bits }))
            }
            (None, Protocol::Server) => return Some(Error::Config(ConfigError::NoCertificate)),
            _ => {}
        }
        if self.protocol.is_server()
            && self.verify_mode == VerifyMode::Required
            && self.trust.is_empty()
        {
            return Some(Error::Config(ConfigError::CaChainRequired(
                Protocol::Server,
            )));
        }
        None
    }

    /// A DTLS server's parked handshakes (the `dtls` module).
    pub(crate) fn dtls_parked(&self) -> &Arc<crate::dtls::Parked> {
        &self.dtls_parked
    }

    /// The context's own certificate chain and signing key (through the
    /// `ecdsa_sign_callback` when one is set), for DTLS sessions.
    pub(crate) fn own_certified(
        &self,
    ) -> Option<(
        Vec<CertificateDer<'static>>,
        Arc<dyn rustls::sign::SigningKey>,
    )> {
        match &self.key {
            Some(LoadedKey::Usable(key, ecdsa)) if !self.chain.is_empty() => Some((
                self.chain.clone(),
                signer::with_callback(key.clone(), ecdsa.as_ref(), self.signer.as_ref()),
            )),
            _ => None,
        }
    }

    /// The rustls configuration for this context, built on first use.
    pub(crate) fn built(&self) -> Result<Built, Error> {
        let mut slot = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(built) = slot.as_ref() {
            return Ok(built.clone());
        }
        let built = self.build()?;
        *slot = Some(built.clone());
        Ok(built)
    }

    fn build(&self) -> Result<Built, Error> {
        let provider = Arc::new(CryptoProvider {
            cipher_suites: self.suites.clone(),
            kx_groups: self.groups.clone(),
            ..(*self.provider).clone()
        });
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            if self.suites.iter().any(|s| s.version() == version) {
                versions.push(version);
            }
        }
        let check = Arc::new(PeerCheck {
            mode: self.verify_mode,
            checker: Checker::new(
                self.trust.clone(),
                provider.signature_verification_algorithms,
                self.check_common_name,
                self.callback.clone(),
            ),
            check_names: self.checks_host_name(),
        });
        let certified = match &self.key {
            Some(LoadedKey::Usable(key, ecdsa)) if !self.chain.is_empty() => {
                let key = signer::with_callback(key.clone(), ecdsa.as_ref(), self.signer.as_ref());
                Some(Arc::new(CertifiedKey::new(self.chain.clone(), key)))
            }
            _ => None,
        };
        let bad_config = |e: rustls::Error| Error::Config(ConfigError::Rustls(e));
        Ok(match self.protocol.tls_role() {
            Protocol::Client | Protocol::DtlsClient => {
                // The one step that can fail, checked now so that a bad context fails here
                // as before; the configurations themselves are made on first use.
                ClientConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(&versions)
                    .map_err(bad_config)?;
                let (resumption, alpn, keylog) =
                    (self.resumption, self.alpn.clone(), self.keylog.clone());
                let verifier_check = check.clone();
                let make = move |rule| -> Result<Arc<ClientConfig>, Error> {
                    let builder = ClientConfig::builder_with_provider(provider.clone())
                        .with_protocol_versions(&versions)
                        .map_err(bad_config)?
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(ServerVerifier {
                            check: verifier_check.clone(),
                            rule,
                        }));
                    let mut config = match &certified {
                        Some(key) => {
                            builder.with_client_cert_resolver(Arc::new(OwnCert(Some(key.clone()))))
                        }
                        None => builder.with_no_client_auth(),
                    };
                    if !resumption {
                        config.resumption = Resumption::disabled();
                    }
                    config.alpn_protocols = alpn.clone();
                    if let Some(keylog) = &keylog {
                        config.key_log = keylog.clone();
                    }
                    Ok(Arc::new(config))
                };
                let configs = ClientConfigs {
                    given: OnceLock::new(),
                    absent: OnceLock::new(),
                    empty: OnceLock::new(),
                    make: Box::new(make),
                };
                Built::Client(Arc::new(configs), check)
            }
            Protocol::Server | Protocol::DtlsServer => {
                let mut config = ServerConfig::builder_with_provider(provider)
                    .with_protocol_versions(&versions)
                    .map_err(bad_config)?
                    .with_client_cert_verifier(Arc::new(ClientVerifier {
                        check: check.clone(),
                    }))
                    .with_cert_resolver(Arc::new(OwnCert(certified.clone())));
                config.alpn_protocols = self.alpn.clone();
                if let Some(keylog) = &self.keylog {
                    config.key_log = keylog.clone();
                }
                if self.resumption {
                    config.ticketer = aws_lc_rs::Ticketer::new().map_err(bad_config)?;
                } else {
                    config.session_storage = Arc::new(NoServerSessionStorage {});
                    config.send_tls13_tickets = 0;
                }
                let certs = ServerCertificates(Arc::new(
                    certified
                        .into_iter()
                        .chain(self.extra.iter().cloned())
                        .collect(),
                ));
                Built::Server(Arc::new(config), check, certs)
            }
        })
    }
}

impl Clone for SslContext {
    fn clone(&self) -> Self {
        Self {
            protocol: self.protocol,
            verify_mode: self.verify_mode,
            trust: self.trust.clone(),
            chain: self.chain.clone(),
            key: self.key.clone(),
            suites: self.suites.clone(),
            check_common_name: self.check_common_name,
            check_hostname: self.check_hostname,
            resumption: self.resumption,
            callback: self.callback.clone(),
            signer: self.signer.clone(),
            groups: self.groups.clone(),
            provider: self.provider.clone(),
            built: Mutex::new(None),
            alpn: self.alpn.clone(),
            keylog: self.keylog.clone(),
            extra: self.extra.clone(),
            psk: self.psk.clone(),
            dtls_parked: self.dtls_parked.clone(),
        }
    }
}

/// The name mpssl uses for a group.
pub(crate) fn kx_name(group: NamedGroup) -> Option<&'static str> {
    Some(match group {
        NamedGroup::X25519MLKEM768 => "X25519MLKEM768",
        NamedGroup::X25519 => "X25519",
        NamedGroup::secp256r1 => "secp256r1",
        NamedGroup::secp384r1 => "secp384r1",
        _ => return None,
    })
}

/// The canonical name for a group name or one of its aliases (OpenSSL's and NIST's).
fn kx_alias(name: &str) -> Option<&'static str> {
    Some(match name {
        "X25519MLKEM768" => "X25519MLKEM768",
        "X25519" | "x25519" => "X25519",
        "secp256r1" | "prime256v1" | "P-256" => "secp256r1",
        "secp384r1" | "P-384" => "secp384r1",
        _ => return None,
    })
}

/// The context's own certificate and key, presented whenever the peer asks.
#[derive(Debug)]
struct OwnCert(Option<Arc<CertifiedKey>>);

impl ResolvesClientCert for OwnCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.clone()
    }

    fn has_certs(&self) -> bool {
        self.0.is_some()
    }
}

impl ResolvesServerCert for OwnCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.clone()
    }
}

/// A context's pre-shared-key settings (MicroPython's `psk_identity`, `psk_key`,
/// `server_psk_keys`).
#[derive(Debug, Clone, Default)]
struct PskSettings {
    identity: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    lookup: Option<Arc<dyn PskKeyLookup>>,
    hint: Option<Vec<u8>>,
    /// The PSK suites enabled (empty until PSK or `set_ciphers` enables some).
    suites: Vec<PskSuite>,
    /// `set_ciphers` was called, or PSK already restricted the suites: PSK leaves them alone.
    ciphers_set: bool,
}

/// Pre-shared keys (TLS 1.2 PSK suites, the `psk` module).
impl SslContext {
    /// The client's PSK identity, if set.
    pub fn psk_identity(&self) -> Option<&[u8]> {
        self.psk.identity.as_deref()
    }

    /// The client's PSK key, if set.
    pub fn psk_key(&self) -> Option<&[u8]> {
        self.psk.key.as_deref()
    }

    /// Set (or clear) the client's PSK identity. Applied once the key is set too: then an
    /// empty or over-long identity or key fails with [`ArgumentError::PskIdentity`] or
    /// [`ArgumentError::PskKey`] (the value is kept, as the reference keeps it), and the
    /// context is limited to the PSK suites unless [`SslContext::set_ciphers`] was called.
    pub fn set_psk_identity(&mut self, identity: Option<Vec<u8>>) -> Result<(), Error> {
        self.psk.identity = identity;
        self.apply_client_psk()
    }

    /// Set (or clear) the client's PSK key; see [`SslContext::set_psk_identity`].
    pub fn set_psk_key(&mut self, key: Option<Vec<u8>>) -> Result<(), Error> {
        self.psk.key = key;
        self.apply_client_psk()
    }

    fn apply_client_psk(&mut self) -> Result<(), Error> {
        let (Some(identity), Some(key)) = (&self.psk.identity, &self.psk.key) else {
            return Ok(());
        };
        if identity.is_empty() || identity.len() > crate::psk::MAX_IDENTITY_LEN {
            return Err(Error::Argument(ArgumentError::PskIdentity));
        }
        if key.is_empty() || key.len() > crate::psk::MAX_KEY_LEN {
            return Err(Error::Argument(ArgumentError::PskKey));
        }
        self.restrict_to_psk();
        Ok(())
    }

    /// Set (or clear) the server's key lookup (MicroPython's `server_psk_keys`). Limits the
    /// context to the PSK suites unless [`SslContext::set_ciphers`] was called first.
    pub fn set_server_psk_keys(&mut self, lookup: Option<Arc<dyn PskKeyLookup>>) {
        self.psk.lookup = lookup;
        self.restrict_to_psk();
    }

    /// An identity hint the server sends in a ServerKeyExchange (none by default).
    pub fn set_psk_identity_hint(&mut self, hint: Option<Vec<u8>>) -> Result<(), Error> {
        if hint
            .as_ref()
            .is_some_and(|h| h.len() > crate::psk::MAX_IDENTITY_LEN)
        {
            return Err(Error::Argument(ArgumentError::PskIdentity));
        }
        self.psk.hint = hint;
        Ok(())
    }

    /// As Mbed TLS's `ssl_context_restrict_to_psk_ciphersuites`: only the PSK suites, unless
    /// the suites were chosen already.
    fn restrict_to_psk(&mut self) {
        if self.psk.ciphers_set {
            return;
        }
        self.suites = Vec::new();
        self.psk.suites = PskSuite::ALL.to_vec();
        self.psk.ciphers_set = true;
        self.changed();
    }

    /// The PSK configuration a new session uses, when this context does PSK: a client with
    /// both identity and key, a server with a lookup, and at least one PSK suite enabled.
    pub(crate) fn psk_config(&self) -> Result<Option<PskConfig>, Error> {
        if self.psk.suites.is_empty() {
            return Ok(None);
        }
        let role = match self.protocol.tls_role() {
            Protocol::Client | Protocol::DtlsClient => match (&self.psk.identity, &self.psk.key) {
                (Some(identity), Some(key)) => PskRole::Client {
                    identity: identity.clone(),
                    key: key.clone(),
                },
                _ => return Ok(None),
            },
            Protocol::Server | Protocol::DtlsServer => match &self.psk.lookup {
                Some(lookup) => PskRole::Server {
                    lookup: lookup.clone(),
                    hint: self.psk.hint.clone(),
                },
                None => return Ok(None),
            },
        };
        Ok(Some(PskConfig {
            role,
            suites: self.psk.suites.clone(),
            random: self.provider.secure_random,
        }))
    }
}

#[cfg(test)]
mod lazy_client_config_tests {
    use super::*;

    #[test]
    fn a_client_context_makes_the_configuration_of_a_name_rule_on_first_use_and_keeps_it() {
        let ctx = SslContext::new(Protocol::Client);
        let Ok(Built::Client(configs, _)) = ctx.built() else {
            panic!("a client context builds client configurations");
        };
        assert!(configs.given.get().is_none() && configs.absent.get().is_none());
        let given = configs.for_rule(NameRule::Given).unwrap();
        // The same configuration (and so the same resumption store) every time.
        assert!(Arc::ptr_eq(
            &given,
            &configs.for_rule(NameRule::Given).unwrap()
        ));
        assert!(configs.absent.get().is_none() && configs.empty.get().is_none());
        let absent = configs.for_rule(NameRule::Absent).unwrap();
        let empty = configs.for_rule(NameRule::Empty).unwrap();
        assert!(!Arc::ptr_eq(&given, &absent) && !Arc::ptr_eq(&absent, &empty));
    }
}
