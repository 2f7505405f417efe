/*
 * MicroPython's `tls` module on the mpssl engine (Rust, rustls + aws-lc-rs), in place of
 * extmod/modtls_mbedtls.c, whose contract it keeps. Build with MICROPY_PY_SSL=0 and
 * USER_C_MODULES pointing at this directory (see docs/micropython.md).
 *
 * The engine is sans-IO behind the C ABI of mpssl.h. This file owns every MicroPython
 * object and does all stream I/O through mp_get_stream() in the callbacks below. Rules:
 *   - C -> Rust calls never raise inside: errors come back as codes and are raised here,
 *     after the Rust call has returned;
 *   - Rust -> C callbacks (stream I/O, verify_callback) run under nlr_push; an exception is
 *     stored in the socket object and re-raised after Rust returns;
 *   - the GIL (if the port has one) is released around engine calls (crypto, blocking I/O)
 *     and taken again inside the callbacks.
 */

#include <string.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/objarray.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/gc.h"

#include "mpssl.h"

#if MICROPY_PY_SSL
#error "the mpssl tls module replaces the built-in one: build with MICROPY_PY_SSL=0"
#endif

#ifndef MICROPY_PY_SSL_FINALISER
#define MICROPY_PY_SSL_FINALISER (MICROPY_ENABLE_FINALISER)
#endif

#define MP_STREAM_POLL_RDWR (MP_STREAM_POLL_RD | MP_STREAM_POLL_WR)

#define MP_PROTOCOL_TLS_CLIENT (0)
#define MP_PROTOCOL_TLS_SERVER (1)
#define MP_PROTOCOL_DTLS_CLIENT (2)
#define MP_PROTOCOL_DTLS_SERVER (3)

typedef struct _mp_obj_ssl_context_t {
    mp_obj_base_t base;
    mpssl_context *ctx;
    mp_obj_t handler;
    mp_obj_t ecdsa_sign_callback;
    mp_obj_t psk_identity;      // client: as set (the engine has its bytes)
    mp_obj_t psk_key;           // client: as set
    mp_obj_t server_psk_keys;   // server: any object with get(identity) -> key or None
} mp_obj_ssl_context_t;

typedef struct _mp_obj_ssl_socket_t {
    mp_obj_base_t base;
    mp_obj_ssl_context_t *ssl_context;
    mp_obj_t sock;          // the wrapped stream; MP_OBJ_NULL once closed
    mpssl_socket *tls;      // engine state; NULL once closed (freed)
    uintptr_t poll_mask;    // the direction the engine needs next (MP_STREAM_POLL_*)
    int last_error;         // sticky: the errcode of the first failure
    int err_kind;           // how to raise last_error (MPSSL_KIND_*)
    int err_code;           // the code to raise it with
    mp_obj_t err_obj;       // its message (str), or the exception to re-raise
    mp_obj_t caught;        // an exception a callback caught during the current engine call
} mp_obj_ssl_socket_t;

static const mp_obj_type_t ssl_context_type;
static const mp_obj_type_t ssl_socket_type;

static const MP_DEFINE_STR_OBJ(mpssl_version_obj, "mpssl (rustls 0.23, aws-lc-rs)");

// Engine memory is malloc'd, outside the GC heap, so a collection is not triggered by it:
// objects dropped without close() would keep their engine state until the GC heap itself
// fills. Collect when the engine objects alive exceed twice the count left by the last
// collection this module triggered (at least ENGINE_COLLECT_MIN), as a GC's own threshold.
#define ENGINE_COLLECT_MIN (32)
static size_t engine_live;
static size_t engine_collect_at = ENGINE_COLLECT_MIN;

static void engine_alloc(void) {
    size_t live = __atomic_add_fetch(&engine_live, 1, __ATOMIC_RELAXED);
    if (live > __atomic_load_n(&engine_collect_at, __ATOMIC_RELAXED)) {
        gc_collect();
        live = __atomic_load_n(&engine_live, __ATOMIC_RELAXED);
        size_t next = 2 * live;
        __atomic_store_n(&engine_collect_at, next < ENGINE_COLLECT_MIN ? ENGINE_COLLECT_MIN : next,
            __ATOMIC_RELAXED);
    }
}

static void engine_free(void) {
    __atomic_sub_fetch(&engine_live, 1, __ATOMIC_RELAXED);
}

// Errors.

static MP_NORETURN void raise_kind(int kind, int code, mp_obj_t obj) {
    switch (kind) {
        case MPSSL_KIND_RAISED:
            nlr_raise(obj);
        case MPSSL_KIND_VALUE_ERROR:
            mp_raise_type_arg(&mp_type_ValueError, obj);
        case MPSSL_KIND_TYPE_ERROR:
            mp_raise_type_arg(&mp_type_TypeError, obj);
        case MPSSL_KIND_OSERROR_ERRNO:
            mp_raise_OSError(code);
        case MPSSL_KIND_NO_MEMORY:
            mp_raise_OSError(MP_ENOMEM);
        default: {
            mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(code), obj };
            nlr_raise(mp_obj_exception_make_new(&mp_type_OSError, 2, 0, args));
        }
    }
}

// The payload object of a failed call: the stored exception or the message.
static mp_obj_t error_obj(const mpssl_error *err, mp_obj_t caught) {
    if (err->kind == MPSSL_KIND_RAISED) {
        return caught != MP_OBJ_NULL ? caught : mp_obj_new_exception(&mp_type_OSError);
    }
    return mp_obj_new_str((const char *)err->message, err->len);
}

// Raise for a result code other than OK / WANT_*.
static MP_NORETURN void raise_result(int rc, const mpssl_error *err, mp_obj_t caught) {
    if (rc == MPSSL_ERROR && err != NULL) {
        raise_kind(err->kind, err->code, error_obj(err, caught));
    }
    if (rc == MPSSL_PANIC) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("mpssl: internal error"));
    }
    mp_raise_ValueError(MP_ERROR_TEXT("mpssl: bad argument"));
}

static void check(int rc, const mpssl_error *err) {
    if (rc != MPSSL_OK) {
        raise_result(rc, err, MP_OBJ_NULL);
    }
}

// The errcode a stream call reports for an error (never a would-block code).
static int stream_errcode(const mpssl_error *err) {
    if (err->kind == MPSSL_KIND_OSERROR_ERRNO || err->kind == MPSSL_KIND_OSERROR_ARGS) {
        if (err->code != 0 && !mp_is_nonblocking_error(err->code)) {
            return err->code;
        }
    }
    if (err->kind == MPSSL_KIND_NO_MEMORY) {
        return MP_ENOMEM;
    }
    return MP_EIO;
}

// Callbacks from the engine (no exception may leave them).

static int32_t stream_io(mp_obj_ssl_socket_t *o, void *buf, size_t len, size_t *out_n, bool write) {
    MP_THREAD_GIL_ENTER();
    int32_t rc;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        const mp_stream_p_t *sp = mp_get_stream(o->sock);
        int err = 0;
        mp_uint_t n = write ? sp->write(o->sock, buf, len, &err) : sp->read(o->sock, buf, len, &err);
        nlr_pop();
        if (n == MP_STREAM_ERROR) {
            rc = mp_is_nonblocking_error(err) ? MPSSL_IO_WOULD_BLOCK : (err > 0 ? err : MP_EIO);
        } else {
            *out_n = n;
            rc = MPSSL_IO_OK;
        }
    } else {
        o->caught = MP_OBJ_FROM_PTR(nlr.ret_val);
        rc = MPSSL_IO_RAISED;
    }
    MP_THREAD_GIL_EXIT();
    return rc;
}

static int32_t io_read(void *user, uint8_t *buf, size_t len, size_t *out_n) {
    return stream_io(user, buf, len, out_n, false);
}

static int32_t io_write(void *user, const uint8_t *buf, size_t len, size_t *out_n) {
    return stream_io(user, (void *)buf, len, out_n, true);
}

static int32_t verify_cb(void *ctx_user, void *sock_user, const uint8_t *der, size_t len,
    int32_t depth, int64_t *result) {
    mp_obj_ssl_context_t *ctx = ctx_user;
    mp_obj_ssl_socket_t *o = sock_user;
    MP_THREAD_GIL_ENTER();
    int32_t rc = 0;
    *result = 0;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (ctx->handler != mp_const_none) {
            mp_obj_array_t cert;
            mp_obj_memoryview_init(&cert, 'B', 0, len, (void *)der);
            *result = mp_obj_get_int(mp_call_function_2(ctx->handler, MP_OBJ_FROM_PTR(&cert),
                MP_OBJ_NEW_SMALL_INT(depth)));
        }
        nlr_pop();
    } else {
        if (o != NULL) {
            o->caught = MP_OBJ_FROM_PTR(nlr.ret_val);
        }
        rc = 1;
    }
    MP_THREAD_GIL_EXIT();
    return rc;
}

// ecdsa_sign_callback(private_key_d: bytearray, hash: bytearray) -> DER signature or None, as
// the reference's micropy_mbedtls_ecdsa_sign_alt calls it; an exception is printed, as there,
// and the engine fails the handshake with MBEDTLS_ERR_ECP_BAD_INPUT_DATA.
static int32_t sign_cb(void *ctx_user, const uint8_t *key, size_t key_len, const uint8_t *hash,
    size_t hash_len, uint8_t *sig, size_t sig_cap, size_t *sig_len) {
    mp_obj_ssl_context_t *ctx = ctx_user;
    MP_THREAD_GIL_ENTER();
    int32_t rc = 1;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t ret = mp_call_function_2(ctx->ecdsa_sign_callback,
            mp_obj_new_bytearray(key_len, key), mp_obj_new_bytearray(hash_len, hash));
        if (ret != mp_const_none) {
            mp_buffer_info_t bufinfo;
            mp_get_buffer_raise(ret, &bufinfo, MP_BUFFER_READ);
            memcpy(sig, bufinfo.buf, MIN(bufinfo.len, sig_cap));
            *sig_len = bufinfo.len;
            rc = 0;
        }
        nlr_pop();
    } else {
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
        rc = -1;
    }
    MP_THREAD_GIL_EXIT();
    return rc;
}

// server_psk_keys.get(identity: bytes) -> key or None, as the reference's
// ssl_context_psk_server_callback calls it. None, a value without the buffer protocol, a
// missing get() or an exception from it reject the handshake; the exception is swallowed, as
// there.
static int32_t psk_key_cb(void *ctx_user, const uint8_t *identity, size_t identity_len,
    uint8_t *key, size_t key_cap, size_t *key_len) {
    mp_obj_ssl_context_t *ctx = ctx_user;
    MP_THREAD_GIL_ENTER();
    int32_t rc = 1;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (ctx->server_psk_keys != mp_const_none) {
            mp_obj_t dest[3];
            mp_load_method(ctx->server_psk_keys, MP_QSTR_get, dest);
            dest[2] = mp_obj_new_bytes(identity, identity_len);
            mp_obj_t ret = mp_call_method_n_kw(1, 0, dest);
            if (ret != mp_const_none) {
                mp_buffer_info_t bufinfo;
                mp_get_buffer_raise(ret, &bufinfo, MP_BUFFER_READ);
                memcpy(key, bufinfo.buf, MIN(bufinfo.len, key_cap));
                *key_len = bufinfo.len;
                rc = 0;
            }
        }
        nlr_pop();
    } else {
        rc = -1;
    }
    MP_THREAD_GIL_EXIT();
    return rc;
}

// SSLContext.

static mp_obj_t ssl_context_make_new(const mp_obj_type_t *type_in, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    mp_int_t protocol = mp_obj_get_int(args[0]);
    #if MICROPY_PY_SSL_FINALISER
    mp_obj_ssl_context_t *self = mp_obj_malloc_with_finaliser(mp_obj_ssl_context_t, type_in);
    #else
    mp_obj_ssl_context_t *self = mp_obj_malloc(mp_obj_ssl_context_t, type_in);
    #endif
    self->ctx = NULL;
    self->handler = mp_const_none;
    self->ecdsa_sign_callback = mp_const_none;
    self->psk_identity = mp_const_none;
    self->psk_key = mp_const_none;
    self->server_psk_keys = mp_const_none;
    engine_alloc();
    mpssl_error err;
    int rc = mpssl_context_new((int32_t)protocol, &self->ctx, &err);
    if (rc != MPSSL_OK) {
        engine_free();
        raise_result(rc, &err, MP_OBJ_NULL);
    }
    mpssl_context_set_verify_callback(self->ctx, verify_cb, self);
    return MP_OBJ_FROM_PTR(self);
}

static mpssl_context *ctx_of(mp_obj_t self_in) {
    mp_obj_ssl_context_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->ctx == NULL) {
        mp_raise_OSError(MP_EBADF);
    }
    return self->ctx;
}

static void ssl_context_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    mp_obj_ssl_context_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        if (attr == MP_QSTR_verify_mode) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(mpssl_context_verify_mode(ctx_of(self_in)));
        } else if (attr == MP_QSTR_verify_callback) {
            dest[0] = self->handler;
        } else if (attr == MP_QSTR_ecdsa_sign_callback) {
            dest[0] = self->ecdsa_sign_callback;
        } else if (attr == MP_QSTR_psk_identity) {
            dest[0] = self->psk_identity;
        } else if (attr == MP_QSTR_psk_key) {
            dest[0] = self->psk_key;
        } else if (attr == MP_QSTR_server_psk_keys) {
            dest[0] = self->server_psk_keys;
        } else {
            dest[1] = MP_OBJ_SENTINEL;
        }
    } else if (dest[1] != MP_OBJ_NULL) {
        if (attr == MP_QSTR_verify_mode) {
            mpssl_error err;
            check(mpssl_context_set_verify_mode(ctx_of(self_in), mp_obj_get_int(dest[1]), &err), &err);
            dest[0] = MP_OBJ_NULL;
        } else if (attr == MP_QSTR_verify_callback) {
            self->handler = dest[1];
            dest[0] = MP_OBJ_NULL;
        } else if (attr == MP_QSTR_ecdsa_sign_callback) {
            self->ecdsa_sign_callback = dest[1];
            mpssl_context_set_sign_callback(ctx_of(self_in),
                dest[1] == mp_const_none ? NULL : sign_cb, self);
            dest[0] = MP_OBJ_NULL;
        } else if (attr == MP_QSTR_psk_identity || attr == MP_QSTR_psk_key) {
            // Kept as set, as in the reference, even when the engine then refuses the pair.
            mpssl_context *ctx = ctx_of(self_in);
            mp_obj_t value = dest[1];
            dest[0] = MP_OBJ_NULL;
            const uint8_t *data = NULL;
            size_t len = 0;
            if (attr == MP_QSTR_psk_identity) {
                self->psk_identity = value;
                if (value != mp_const_none) {
                    // str or bytes, as the reference's mp_obj_str_get_data.
                    data = (const uint8_t *)mp_obj_str_get_data(value, &len);
                }
            } else {
                self->psk_key = value;
                if (value != mp_const_none) {
                    mp_buffer_info_t bufinfo;
                    mp_get_buffer_raise(value, &bufinfo, MP_BUFFER_READ);
                    data = bufinfo.buf;
                    len = bufinfo.len;
                }
            }
            // A non-null pointer for an empty value: null means None.
            static const uint8_t empty = 0;
            if (value != mp_const_none && data == NULL) {
                data = &empty;
            }
            mpssl_error err;
            int rc = attr == MP_QSTR_psk_identity
                ? mpssl_context_set_psk_identity(ctx, data, len, &err)
                : mpssl_context_set_psk_key(ctx, data, len, &err);
            check(rc, &err);
        } else if (attr == MP_QSTR_server_psk_keys) {
            self->server_psk_keys = dest[1];
            mpssl_context_set_server_psk_keys(ctx_of(self_in), psk_key_cb, self);
            dest[0] = MP_OBJ_NULL;
        }
    }
}

#if MICROPY_PY_SSL_FINALISER
static mp_obj_t ssl_context___del__(mp_obj_t self_in) {
    mp_obj_ssl_context_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->ctx != NULL) {
        mpssl_context_free(self->ctx);
        self->ctx = NULL;
        engine_free();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ssl_context___del___obj, ssl_context___del__);
#endif

static mp_obj_t ssl_context_get_ciphers(mp_obj_t self_in) {
    mpssl_context *ctx = ctx_of(self_in);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    const uint8_t *name;
    size_t len;
    for (size_t i = 0; mpssl_context_cipher(ctx, i, &name, &len) == MPSSL_OK; ++i) {
        mp_obj_list_append(list, mp_obj_new_str((const char *)name, len));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ssl_context_get_ciphers_obj, ssl_context_get_ciphers);

static mp_obj_t ssl_context_set_ciphers(mp_obj_t self_in, mp_obj_t ciphersuite) {
    mpssl_context *ctx = ctx_of(self_in);
    size_t n = 0;
    mp_obj_t *items;
    mp_obj_get_array(ciphersuite, &n, &items);
    const uint8_t **names = m_new(const uint8_t *, n + 1);
    size_t *lens = m_new(size_t, n + 1);
    for (size_t i = 0; i < n; ++i) {
        names[i] = (const uint8_t *)mp_obj_str_get_data(items[i], &lens[i]);
    }
    mpssl_error err;
    MP_THREAD_GIL_EXIT();
    int rc = mpssl_context_set_ciphers(ctx, names, lens, n, &err);
    MP_THREAD_GIL_ENTER();
    m_del(const uint8_t *, names, n + 1);
    m_del(size_t, lens, n + 1);
    check(rc, &err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ssl_context_set_ciphers_obj, ssl_context_set_ciphers);

static mp_obj_t ssl_context_load_cert_chain(mp_obj_t self_in, mp_obj_t cert_in, mp_obj_t key_in) {
    mpssl_context *ctx = ctx_of(self_in);
    size_t key_len, cert_len;
    const char *key = mp_obj_str_get_data(key_in, &key_len);
    mpssl_error err;
    if (!mp_obj_is_str_or_bytes(cert_in)) {
        // As the reference: a bad key is reported before the certificate's type error.
        check(mpssl_context_check_key(ctx, (const uint8_t *)key, key_len, &err), &err);
    }
    const char *cert = mp_obj_str_get_data(cert_in, &cert_len);
    MP_THREAD_GIL_EXIT();
    int rc = mpssl_context_load_cert_chain(ctx, (const uint8_t *)cert, cert_len,
        (const uint8_t *)key, key_len, &err);
    MP_THREAD_GIL_ENTER();
    check(rc, &err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(ssl_context_load_cert_chain_obj, ssl_context_load_cert_chain);

static mp_obj_t ssl_context_load_verify_locations(mp_obj_t self_in, mp_obj_t cadata) {
    mpssl_context *ctx = ctx_of(self_in);
    size_t len;
    const char *data = mp_obj_str_get_data(cadata, &len);
    mpssl_error err;
    MP_THREAD_GIL_EXIT();
    int rc = mpssl_context_load_verify_locations(ctx, (const uint8_t *)data, len, &err);
    MP_THREAD_GIL_ENTER();
    check(rc, &err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ssl_context_load_verify_locations_obj, ssl_context_load_verify_locations);

// SSLSocket.

// Free the engine state and forget the stream (as mbedtls_ssl_free + sock = NULL).
static void socket_release(mp_obj_ssl_socket_t *o) {
    mpssl_socket *tls = o->tls;
    o->tls = NULL;
    o->sock = MP_OBJ_NULL;
    if (tls != NULL) {
        mpssl_socket_free(tls);
        engine_free();
    }
}

// Record a failure (sticky) and return its errcode.
static int socket_fail(mp_obj_ssl_socket_t *o, const mpssl_error *err) {
    o->err_kind = err->kind;
    o->err_code = err->code;
    o->err_obj = error_obj(err, o->caught);
    o->caught = MP_OBJ_NULL;
    o->last_error = stream_errcode(err);
    return o->last_error;
}


static mp_obj_t ssl_socket_make_new(mp_obj_ssl_context_t *ssl_context, mp_obj_t sock,
    bool server_side, bool do_handshake_on_connect, mp_obj_t server_hostname, mp_obj_t client_id) {
    mp_get_stream_raise(sock, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);
    mpssl_context *ctx = ctx_of(MP_OBJ_FROM_PTR(ssl_context));

    #if MICROPY_PY_SSL_FINALISER
    mp_obj_ssl_socket_t *o = mp_obj_malloc_with_finaliser(mp_obj_ssl_socket_t, &ssl_socket_type);
    #else
    mp_obj_ssl_socket_t *o = mp_obj_malloc(mp_obj_ssl_socket_t, &ssl_socket_type);
    #endif
    o->ssl_context = ssl_context;
    o->sock = sock;
    o->tls = NULL;
    o->poll_mask = 0;
    o->last_error = 0;
    o->err_kind = 0;
    o->err_code = 0;
    o->err_obj = MP_OBJ_NULL;
    o->caught = MP_OBJ_NULL;

    const uint8_t *host = NULL;
    size_t host_len = 0;
    if (server_hostname != mp_const_none) {
        host = (const uint8_t *)mp_obj_str_get_data(server_hostname, &host_len);
    }
    // client_id: any object with the buffer protocol (bytes, bytearray, str; empty allowed),
    // else none; the engine requires one for a DTLS server (BAD_INPUT_DATA, after the host
    // name check, as the reference) and ignores it otherwise.
    static const uint8_t empty_id = 0;
    const uint8_t *id = NULL;
    size_t id_len = 0;
    mp_buffer_info_t id_buf;
    if (mp_get_buffer(client_id, &id_buf, MP_BUFFER_READ)) {
        id = id_buf.len > 0 ? id_buf.buf : &empty_id;
        id_len = id_buf.len;
    }
    mpssl_error err;
    engine_alloc();
    int rc = mpssl_socket_new_with_client_id(ctx, host, host_len, id, id_len, server_side,
        io_read, io_write, o, &o->tls, &err);
    if (rc != MPSSL_OK) {
        engine_free();
        o->sock = MP_OBJ_NULL;
        raise_result(rc, &err, MP_OBJ_NULL);
    }

    if (do_handshake_on_connect) {
        for (;;) {
            MP_THREAD_GIL_EXIT();
            rc = mpssl_socket_handshake(o->tls, &err);
            MP_THREAD_GIL_ENTER();
            if (rc != MPSSL_WANT_READ && rc != MPSSL_WANT_WRITE) {
                break;
            }
            mp_event_wait_ms(1);
        }
        if (rc != MPSSL_OK) {
            mp_obj_t caught = o->caught;
            o->caught = MP_OBJ_NULL;
            socket_release(o);
            raise_result(rc, &err, caught);
        }
    }
    return MP_OBJ_FROM_PTR(o);
}

static mp_obj_t ssl_context_wrap_socket(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_server_side, ARG_do_handshake_on_connect, ARG_server_hostname, ARG_client_id };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_server_side, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_do_handshake_on_connect, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_server_hostname, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_client_id, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_obj_ssl_context_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_obj_t sock = pos_args[1];
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 2, pos_args + 2, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    return ssl_socket_make_new(self, sock, args[ARG_server_side].u_bool,
        args[ARG_do_handshake_on_connect].u_bool, args[ARG_server_hostname].u_obj,
        args[ARG_client_id].u_obj);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(ssl_context_wrap_socket_obj, 2, ssl_context_wrap_socket);

static const mp_rom_map_elem_t ssl_context_locals_dict_table[] = {
    #if MICROPY_PY_SSL_FINALISER
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&ssl_context___del___obj) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_get_ciphers), MP_ROM_PTR(&ssl_context_get_ciphers_obj)},
    { MP_ROM_QSTR(MP_QSTR_set_ciphers), MP_ROM_PTR(&ssl_context_set_ciphers_obj)},
    { MP_ROM_QSTR(MP_QSTR_load_cert_chain), MP_ROM_PTR(&ssl_context_load_cert_chain_obj)},
    { MP_ROM_QSTR(MP_QSTR_load_verify_locations), MP_ROM_PTR(&ssl_context_load_verify_locations_obj)},
    { MP_ROM_QSTR(MP_QSTR_wrap_socket), MP_ROM_PTR(&ssl_context_wrap_socket_obj) },
};
static MP_DEFINE_CONST_DICT(ssl_context_locals_dict, ssl_context_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    ssl_context_type,
    MP_QSTR_SSLContext,
    MP_TYPE_FLAG_NONE,
    make_new, ssl_context_make_new,
    attr, ssl_context_attr,
    locals_dict, &ssl_context_locals_dict
    );

static mp_obj_t mod_ssl_getpeercert(mp_obj_t o_in, mp_obj_t binary_form) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    if (!mp_obj_is_true(binary_form)) {
        mp_raise_NotImplementedError(NULL);
    }
    if (o->tls == NULL) {
        mp_raise_OSError(MP_EBADF);
    }
    size_t len = 0;
    mpssl_socket_peer_cert(o->tls, NULL, 0, &len);
    if (len == 0) {
        return mp_const_none;
    }
    vstr_t vstr;
    vstr_init_len(&vstr, len);
    if (mpssl_socket_peer_cert(o->tls, (uint8_t *)vstr.buf, len, &len) != MPSSL_OK) {
        vstr_clear(&vstr);
        return mp_const_none;
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mod_ssl_getpeercert_obj, mod_ssl_getpeercert);

static mp_obj_t mod_ssl_cipher(mp_obj_t o_in) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    const uint8_t *suite, *version;
    size_t suite_len, version_len;
    if (o->tls == NULL
        || mpssl_socket_cipher(o->tls, &suite, &suite_len, &version, &version_len) != MPSSL_OK) {
        // As mbedtls_ssl_get_ciphersuite/get_version before the handshake.
        suite = (const uint8_t *)"unknown";
        suite_len = 7;
        version = (const uint8_t *)"unknown";
        version_len = 7;
    }
    mp_obj_t tuple[2] = {
        mp_obj_new_str((const char *)suite, suite_len),
        mp_obj_new_str((const char *)version, version_len),
    };
    return mp_obj_new_tuple(2, tuple);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_ssl_cipher_obj, mod_ssl_cipher);

static mp_uint_t socket_read(mp_obj_t o_in, void *buf, mp_uint_t size, int *errcode) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    o->poll_mask = 0;
    if (o->last_error) {
        *errcode = o->last_error;
        return MP_STREAM_ERROR;
    }
    if (o->tls == NULL) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    mpssl_error err;
    size_t n = 0;
    MP_THREAD_GIL_EXIT();
    int rc = mpssl_socket_read(o->tls, buf, size, &n, &err);
    MP_THREAD_GIL_ENTER();
    switch (rc) {
        case MPSSL_OK:
            return n;
        case MPSSL_WANT_READ:
            *errcode = MP_EWOULDBLOCK;
            return MP_STREAM_ERROR;
        case MPSSL_WANT_WRITE:
            o->poll_mask = MP_STREAM_POLL_WR;
            *errcode = MP_EWOULDBLOCK;
            return MP_STREAM_ERROR;
        case MPSSL_ERROR:
            *errcode = socket_fail(o, &err);
            return MP_STREAM_ERROR;
        default:
            raise_result(rc, &err, MP_OBJ_NULL);
    }
}

static mp_uint_t socket_write(mp_obj_t o_in, const void *buf, mp_uint_t size, int *errcode) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    o->poll_mask = 0;
    if (o->last_error) {
        *errcode = o->last_error;
        return MP_STREAM_ERROR;
    }
    if (o->tls == NULL) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    mpssl_error err;
    size_t n = 0;
    MP_THREAD_GIL_EXIT();
    int rc = mpssl_socket_write(o->tls, buf, size, &n, &err);
    MP_THREAD_GIL_ENTER();
    switch (rc) {
        case MPSSL_OK:
            return n;
        case MPSSL_WANT_WRITE:
            *errcode = MP_EWOULDBLOCK;
            return MP_STREAM_ERROR;
        case MPSSL_WANT_READ:
            o->poll_mask = MP_STREAM_POLL_RD;
            *errcode = MP_EWOULDBLOCK;
            return MP_STREAM_ERROR;
        case MPSSL_ERROR:
            *errcode = socket_fail(o, &err);
            return MP_STREAM_ERROR;
        default:
            raise_result(rc, &err, MP_OBJ_NULL);
    }
}

static mp_obj_t socket_setblocking(mp_obj_t self_in, mp_obj_t flag_in) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(self_in);
    if (o->sock == MP_OBJ_NULL) {
        mp_raise_OSError(MP_EBADF);
    }
    mp_obj_t dest[3];
    mp_load_method(o->sock, MP_QSTR_setblocking, dest);
    dest[2] = flag_in;
    return mp_call_method_n_kw(1, 0, dest);
}
static MP_DEFINE_CONST_FUN_OBJ_2(socket_setblocking_obj, socket_setblocking);

static mp_uint_t socket_ioctl(mp_obj_t o_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    mp_obj_ssl_socket_t *self = MP_OBJ_TO_PTR(o_in);
    mp_uint_t ret = 0;
    uintptr_t saved_arg = 0;
    mp_obj_t sock = self->sock;

    if (request == MP_STREAM_CLOSE) {
        if (sock == MP_OBJ_NULL) {
            // Already closed (or failed in wrap_socket): nothing to do.
            if (self->tls != NULL) {
                socket_release(self);
            }
            return 0;
        }
        if (self->tls != NULL) {
            MP_THREAD_GIL_EXIT();
            mpssl_socket_close(self->tls);
            MP_THREAD_GIL_ENTER();
            self->caught = MP_OBJ_NULL;
        }
        socket_release(self);
    } else if (request == MP_STREAM_POLL) {
        if (sock == MP_OBJ_NULL || self->last_error != 0) {
            return MP_STREAM_POLL_NVAL;
        }
        int state = mpssl_socket_poll_state(self->tls);
        if (state < 0 || (state & 8)) {
            return MP_STREAM_POLL_NVAL;
        }
        if (self->poll_mask && (arg & MP_STREAM_POLL_RDWR)) {
            saved_arg = arg & MP_STREAM_POLL_RDWR;
            arg = (arg & ~saved_arg) | self->poll_mask;
        }
        // Decrypted plaintext already waiting is readable without the stream.
        if ((arg & MP_STREAM_POLL_RD) && (state & 1)) {
            ret |= MP_STREAM_POLL_RD;
            if (arg == MP_STREAM_POLL_RD) {
                return MP_STREAM_POLL_RD;
            }
        }
    }
    #if MICROPY_STREAMS_DELEGATE_ERROR
    else if (request == MP_STREAM_RAISE_ERROR) {
        if (self->last_error != 0 && (int)arg == self->last_error && self->err_obj != MP_OBJ_NULL) {
            raise_kind(self->err_kind, self->err_code, self->err_obj);
        }
        mp_raise_OSError((int)arg);
    }
    #endif
    else {
        *errcode = MP_EINVAL;
        return MP_STREAM_ERROR;
    }

    // Pass the request down to the wrapped stream.
    ret |= mp_get_stream(sock)->ioctl(sock, request, arg, errcode);

    if (request == MP_STREAM_POLL) {
        if (ret & self->poll_mask) {
            ret |= saved_arg;
        }
    }
    return ret;
}

static const mp_rom_map_elem_t ssl_socket_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_readline), MP_ROM_PTR(&mp_stream_unbuffered_readline_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
    // As the reference built with DTLS (on every socket, TLS too): recv is one low-level read
    // (at most one record), send one low-level write (one datagram).
    { MP_ROM_QSTR(MP_QSTR_recv), MP_ROM_PTR(&mp_stream_read1_obj) },
    { MP_ROM_QSTR(MP_QSTR_recv_into), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&mp_stream_write1_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendall), MP_ROM_PTR(&mp_stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_setblocking), MP_ROM_PTR(&socket_setblocking_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mp_stream_close_obj) },
    #if MICROPY_PY_SSL_FINALISER
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&mp_stream_close_obj) },
    #endif
    #if MICROPY_UNIX_COVERAGE
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&mp_stream_ioctl_obj) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_getpeercert), MP_ROM_PTR(&mod_ssl_getpeercert_obj) },
    { MP_ROM_QSTR(MP_QSTR_cipher), MP_ROM_PTR(&mod_ssl_cipher_obj) },
};
static MP_DEFINE_CONST_DICT(ssl_socket_locals_dict, ssl_socket_locals_dict_table);

static const mp_stream_p_t ssl_socket_stream_p = {
    .read = socket_read,
    .write = socket_write,
    .ioctl = socket_ioctl,
};

static MP_DEFINE_CONST_OBJ_TYPE(
    ssl_socket_type,
    MP_QSTR_SSLSocket,
    MP_TYPE_FLAG_NONE,
    protocol, &ssl_socket_stream_p,
    locals_dict, &ssl_socket_locals_dict
    );

// The module.

static const mp_rom_map_elem_t mp_module_tls_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tls) },
    { MP_ROM_QSTR(MP_QSTR_SSLContext), MP_ROM_PTR(&ssl_context_type) },
    { MP_ROM_QSTR(MP_QSTR_MBEDTLS_VERSION), MP_ROM_PTR(&mpssl_version_obj)},
    { MP_ROM_QSTR(MP_QSTR_PROTOCOL_TLS_CLIENT), MP_ROM_INT(MP_PROTOCOL_TLS_CLIENT) },
    { MP_ROM_QSTR(MP_QSTR_PROTOCOL_TLS_SERVER), MP_ROM_INT(MP_PROTOCOL_TLS_SERVER) },
    { MP_ROM_QSTR(MP_QSTR_PROTOCOL_DTLS_CLIENT), MP_ROM_INT(MP_PROTOCOL_DTLS_CLIENT) },
    { MP_ROM_QSTR(MP_QSTR_PROTOCOL_DTLS_SERVER), MP_ROM_INT(MP_PROTOCOL_DTLS_SERVER) },
    { MP_ROM_QSTR(MP_QSTR_CERT_NONE), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_CERT_OPTIONAL), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_CERT_REQUIRED), MP_ROM_INT(2) },
};
static MP_DEFINE_CONST_DICT(mp_module_tls_globals, mp_module_tls_globals_table);

const mp_obj_module_t mp_module_tls = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mp_module_tls_globals,
};

MP_REGISTER_MODULE(MP_QSTR_tls, mp_module_tls);
