// The C ABI of crates/mpssl-micropython (the mpssl engine for MicroPython's `tls` module).
//
// Written by hand; crates/mpssl-micropython/tests/header.rs checks every constant, type and
// function here against the Rust side (run by `make test`). Keep the two in step.
//
// Result codes: MPSSL_OK, MPSSL_WANT_READ/WRITE (repeat when the stream is ready),
// MPSSL_ERROR (details in *err), MPSSL_NULL_ARG, MPSSL_BAD_ARG, MPSSL_PANIC.
// No function raises, longjmps or unwinds; callbacks given to the library must not either.
#ifndef MPSSL_H
#define MPSSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPSSL_OK (0)
#define MPSSL_WANT_READ (1)
#define MPSSL_WANT_WRITE (2)
#define MPSSL_ERROR (-1)
#define MPSSL_NULL_ARG (-2)
#define MPSSL_BAD_ARG (-3)
#define MPSSL_PANIC (-4)

#define MPSSL_IO_OK (0)
#define MPSSL_IO_WOULD_BLOCK (-1)
#define MPSSL_IO_RAISED (-2)

// mpssl_error.kind: how to raise a failed call.
#define MPSSL_KIND_OSERROR_ARGS (1)   // OSError(code, message)
#define MPSSL_KIND_OSERROR_ERRNO (2)  // OSError(code)
#define MPSSL_KIND_VALUE_ERROR (3)    // ValueError(message)
#define MPSSL_KIND_RAISED (4)         // re-raise the exception the C callback stored
#define MPSSL_KIND_NO_MEMORY (5)      // OSError(ENOMEM)
#define MPSSL_KIND_TYPE_ERROR (6)     // TypeError(message)

#define MPSSL_MESSAGE_MAX (512)

typedef struct MpsslContext mpssl_context;
typedef struct MpsslSocket mpssl_socket;

typedef struct mpssl_error {
    int32_t kind;
    int32_t code;
    size_t len;
    uint8_t message[MPSSL_MESSAGE_MAX];
} mpssl_error;

typedef int32_t (*mpssl_read_cb)(void *user, uint8_t *buf, size_t len, size_t *out_n);
typedef int32_t (*mpssl_write_cb)(void *user, const uint8_t *buf, size_t len, size_t *out_n);
typedef int32_t (*mpssl_verify_cb)(void *ctx_user, void *sock_user, const uint8_t *der, size_t len,
    int32_t depth, int64_t *result);
// ECDSA sign callback: 0 = signed (DER in sig, length in *sig_len; above sig_cap = did not fit),
// 1 = declined (sign in software), other = raised (the C side printed it).
typedef int32_t (*mpssl_sign_cb)(void *ctx_user, const uint8_t *key, size_t key_len,
    const uint8_t *hash, size_t hash_len, uint8_t *sig, size_t sig_cap, size_t *sig_len);

int32_t mpssl_context_new(int32_t protocol, mpssl_context **out, mpssl_error *err);
void mpssl_context_free(mpssl_context *ctx);
int32_t mpssl_context_verify_mode(const mpssl_context *ctx);
int32_t mpssl_context_set_verify_mode(const mpssl_context *ctx, int64_t mode, mpssl_error *err);
int32_t mpssl_context_set_verify_callback(const mpssl_context *ctx, mpssl_verify_cb cb, void *user);
int32_t mpssl_context_check_key(const mpssl_context *ctx, const uint8_t *key, size_t key_len,
    mpssl_error *err);
int32_t mpssl_context_load_cert_chain(const mpssl_context *ctx, const uint8_t *cert, size_t cert_len,
    const uint8_t *key, size_t key_len, mpssl_error *err);
int32_t mpssl_context_load_verify_locations(const mpssl_context *ctx, const uint8_t *cadata, size_t len,
    mpssl_error *err);
int32_t mpssl_context_set_ciphers(const mpssl_context *ctx, const uint8_t *const *names, const size_t *lens,
    size_t count, mpssl_error *err);
int32_t mpssl_context_cipher(const mpssl_context *ctx, size_t index, const uint8_t **name, size_t *len);

int32_t mpssl_socket_new(const mpssl_context *ctx, const uint8_t *hostname, size_t hostname_len,
    bool server_side, mpssl_read_cb read, mpssl_write_cb write, void *user, mpssl_socket **out,
    mpssl_error *err);
// mpssl_socket_new with the DTLS server's client_id (the peer's transport address, any bytes;
// null = none, which a DTLS server refuses with MBEDTLS_ERR_SSL_BAD_INPUT_DATA; an empty one is
// given with a non-null pointer). Other contexts ignore it. For a DTLS context each read
// callback must return one whole datagram and each write callback call sends one datagram.
int32_t mpssl_socket_new_with_client_id(const mpssl_context *ctx, const uint8_t *hostname,
    size_t hostname_len, const uint8_t *client_id, size_t client_id_len, bool server_side,
    mpssl_read_cb read, mpssl_write_cb write, void *user, mpssl_socket **out, mpssl_error *err);
void mpssl_socket_free(mpssl_socket *sock);
int32_t mpssl_socket_handshake(const mpssl_socket *sock, mpssl_error *err);
int32_t mpssl_socket_read(const mpssl_socket *sock, uint8_t *buf, size_t len, size_t *out_n, mpssl_error *err);
int32_t mpssl_socket_write(const mpssl_socket *sock, const uint8_t *buf, size_t len, size_t *out_n,
    mpssl_error *err);
int32_t mpssl_socket_poll_state(const mpssl_socket *sock);
int32_t mpssl_socket_close(const mpssl_socket *sock);
int32_t mpssl_socket_cipher(const mpssl_socket *sock, const uint8_t **suite, size_t *suite_len,
    const uint8_t **version, size_t *version_len);
int32_t mpssl_socket_peer_cert(const mpssl_socket *sock, uint8_t *buf, size_t cap, size_t *len);

// ecdsa_sign_callback (crates/mpssl-micropython/src/signer.rs). These last prototypes have no
// int32_t parameter, which the simple prototype scan of tests/header.rs would split on.
int32_t mpssl_context_set_sign_callback(const mpssl_context *ctx, mpssl_sign_cb cb, void *user);

// psk_identity, psk_key, server_psk_keys (crates/mpssl-micropython/src/psk.rs). A null value
// clears the attribute (an empty one is given with a non-null pointer). The key lookup: 0 =
// found (key in key, length in *key_len; above key_cap = did not fit), other = reject the
// handshake (unknown_psk_identity). Must not raise.
typedef int32_t (*mpssl_psk_key_cb)(void *ctx_user, const uint8_t *identity, size_t identity_len,
    uint8_t *key, size_t key_cap, size_t *key_len);
int32_t mpssl_context_set_psk_identity(const mpssl_context *ctx, const uint8_t *identity, size_t len,
    mpssl_error *err);
int32_t mpssl_context_set_psk_key(const mpssl_context *ctx, const uint8_t *key, size_t len,
    mpssl_error *err);
int32_t mpssl_context_set_server_psk_keys(const mpssl_context *ctx, mpssl_psk_key_cb cb, void *user);

#endif // MPSSL_H
