//! The C ABI of the PSK attributes of `SSLContext` (`psk_identity`, `psk_key`,
//! `server_psk_keys`; see `docs/psk.md`).
//!
//! The C side keeps the MicroPython objects (the getters return them) and hands the engine
//! their bytes; the engine applies the client's identity and key once both are set, in either
//! order, and refuses an over-long pair with the reference's error. The server's key store is
//! a C callback: it calls the object's `get(identity)` under `nlr_push` and copies the key it
//! returns. `None`, a value without the buffer protocol, a missing `get` or an exception from
//! it all reject the handshake (`unknown_psk_identity`), as in the reference, which swallows
//! the exception too.

use std::ffi::c_void;
use std::sync::Arc;

use mpssl::PskKeyLookup;

use crate::{ctx_ref, err_ref, fail, guard, guard_err, lock, slice, MpsslContext, MpsslError};
use crate::{MPSSL_BAD_ARG, MPSSL_NULL_ARG, MPSSL_OK};

/// The room given to the C side for a key: one byte more than the longest key the engine
/// accepts, so that an over-long key still reaches the engine, which refuses it.
const KEY_ROOM: usize = mpssl::psk::MAX_KEY_LEN + 1;

/// The server's key lookup: the key for `identity` into `key` (room `key_cap`), its length in
/// `*key_len` (a length above `key_cap` means it did not fit; only `key_cap` bytes were
/// written). Returns 0 when a key was found, anything else to reject the handshake. Must not
/// raise.
pub type MpsslPskKeyCb = extern "C" fn(
    ctx_user: *mut c_void,
    identity: *const u8,
    identity_len: usize,
    key: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
) -> i32;

/// The C key lookup, as the engine's [`PskKeyLookup`].
struct CKeys {
    cb: MpsslPskKeyCb,
    user: usize,
}

impl std::fmt::Debug for CKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CKeys").field("user", &self.user).finish()
    }
}

impl PskKeyLookup for CKeys {
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        let mut key = vec![0u8; KEY_ROOM];
        let mut len = 0usize;
        let rc = (self.cb)(
            self.user as *mut c_void,
            identity.as_ptr(),
            identity.len(),
            key.as_mut_ptr(),
            key.len(),
            &mut len,
        );
        if rc != 0 {
            return None;
        }
        // Longer than the room: the room's length is enough for the engine to refuse it.
        key.truncate(len.min(KEY_ROOM));
        Some(key)
    }
}

/// Which client attribute.
#[derive(Clone, Copy)]
enum Client {
    Identity,
    Key,
}

/// Set or clear (`value` null) a client attribute.
///
/// # Safety
/// `ctx` null or live; `value` null or valid for `len` bytes; `err` null or writable.
unsafe fn set_client(
    ctx: *const MpsslContext,
    value: *const u8,
    len: usize,
    err: *mut MpsslError,
    which: Client,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        let bytes = if value.is_null() {
            None
        } else {
            // SAFETY: non-null and valid for `len` bytes (caller's contract).
            let Some(bytes) = (unsafe { slice(value, len) }) else {
                return MPSSL_BAD_ARG;
            };
            Some(bytes.to_vec())
        };
        let mut ctx = lock(&ctx.inner);
        let result = match which {
            Client::Identity => ctx.set_psk_identity(bytes),
            Client::Key => ctx.set_psk_key(bytes),
        };
        match result {
            Ok(()) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// Set (`identity` non-null, `len` bytes) or clear (`identity` null) the client's PSK
/// identity. Once both identity and key are set, in either order, the engine applies the
/// pair and limits the context to the PSK suites; an empty or over-long pair is refused
/// with an error (the value is kept, as in the reference).
///
/// # Safety
/// `ctx` null or live; `identity` null or valid for `len` bytes; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_psk_identity(
    ctx: *const MpsslContext,
    identity: *const u8,
    len: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set_client(ctx, identity, len, err, Client::Identity) }
}

/// Set (`key` non-null, `len` bytes) or clear (`key` null) the client's PSK key; see
/// [`mpssl_context_set_psk_identity`].
///
/// # Safety
/// `ctx` null or live; `key` null or valid for `len` bytes; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_psk_key(
    ctx: *const MpsslContext,
    key: *const u8,
    len: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set_client(ctx, key, len, err, Client::Key) }
}

/// Install (`cb` non-null) or remove (`cb` null) the server's PSK key lookup; `user` is passed
/// back as `ctx_user`. Installing it (or removing it) limits the context to the PSK suites
/// unless ciphers were set first. Applies to sockets wrapped afterwards.
///
/// # Safety
/// `ctx` must be null or live; `cb` must stay callable with `user` while sockets use it.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_server_psk_keys(
    ctx: *const MpsslContext,
    cb: Option<MpsslPskKeyCb>,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        let lookup = cb.map(|cb| {
            Arc::new(CKeys {
                cb,
                user: user as usize,
            }) as Arc<dyn PskKeyLookup>
        });
        lock(&ctx.inner).set_server_psk_keys(lookup);
        MPSSL_OK
    })
}
