//! The C ABI of `SSLContext.ecdsa_sign_callback` (see `docs/sign-callback.md`).
//!
//! The C side calls the MicroPython callable under `nlr_push` and copies the signature it
//! returns; the engine checks it and decides ([`mpssl::signer`]). A callback that raised has
//! been printed by the C side (as the reference prints it); the handshake then fails with
//! `OSError(-20352, 'MBEDTLS_ERR_ECP_BAD_INPUT_DATA')`.

use std::ffi::c_void;
use std::sync::Arc;

use mpssl::EcdsaSignCallback;

use crate::report::Raised;
use crate::{ctx_ref, guard, lock, MpsslContext, MPSSL_NULL_ARG, MPSSL_OK};

/// The room given to the C side for a signature: more than the largest DER ECDSA signature
/// (139 bytes, P-521).
const SIGNATURE_ROOM: usize = 256;

/// The sign callback: sign `hash` with the private scalar `key` (big-endian). Returns 0 with
/// the DER signature in `sig` and its length in `*sig_len` (a length above `sig_cap` means
/// the signature did not fit; only `sig_cap` bytes were written), 1 when the callback declined
/// (`None`: sign in software), anything else when it raised. Must not raise.
pub type MpsslSignCb = extern "C" fn(
    ctx_user: *mut c_void,
    key: *const u8,
    key_len: usize,
    hash: *const u8,
    hash_len: usize,
    sig: *mut u8,
    sig_cap: usize,
    sig_len: *mut usize,
) -> i32;

/// The C sign callback, as the engine's [`EcdsaSignCallback`].
struct CSign {
    cb: MpsslSignCb,
    user: usize,
}

impl std::fmt::Debug for CSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CSign").field("user", &self.user).finish()
    }
}

impl EcdsaSignCallback for CSign {
    fn sign(
        &self,
        private_key: &[u8],
        hash: &[u8],
    ) -> Result<Option<Vec<u8>>, Arc<dyn std::error::Error + Send + Sync>> {
        let mut sig = vec![0u8; SIGNATURE_ROOM];
        let mut len = 0usize;
        let rc = (self.cb)(
            self.user as *mut c_void,
            private_key.as_ptr(),
            private_key.len(),
            hash.as_ptr(),
            hash.len(),
            sig.as_mut_ptr(),
            sig.len(),
            &mut len,
        );
        match rc {
            // Too long for the room: one byte more than the room is enough for the engine to
            // refuse it as longer than any signature.
            0 => {
                sig.resize(len.min(SIGNATURE_ROOM + 1), 0);
                Ok(Some(sig))
            }
            1 => Ok(None),
            _ => Err(Arc::new(Raised)),
        }
    }
}

/// Install (`cb` non-null) or remove (`cb` null) the ECDSA sign callback; `user` is passed
/// back as `ctx_user`. Applies to sockets wrapped afterwards. Only ECDSA keys call it.
///
/// # Safety
/// `ctx` must be null or live; `cb` must stay callable with `user` while sockets use it.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_sign_callback(
    ctx: *const MpsslContext,
    cb: Option<MpsslSignCb>,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        let callback = cb.map(|cb| {
            Arc::new(CSign {
                cb,
                user: user as usize,
            }) as Arc<dyn EcdsaSignCallback>
        });
        lock(&ctx.inner).set_ecdsa_sign_callback(callback);
        MPSSL_OK
    })
}
