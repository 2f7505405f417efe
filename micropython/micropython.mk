# MicroPython user C module: the `tls` module on the mpssl engine (Rust staticlib).
#
#   make -C ports/unix USER_C_MODULES=<mpssl>/micropython MICROPY_PY_SSL=0
#
# The staticlib must be built first (`make micropython` in the mpssl tree does it:
# cargo build --release -p mpssl-micropython, with the checkout's .cargo/config.toml);
# MPSSL_LIB overrides its path.
MPSSL_MOD_DIR := $(USERMOD_DIR)
MPSSL_LIB ?= $(abspath $(MPSSL_MOD_DIR)/../target/release/libmpssl_micropython.a)

SRC_USERMOD_C += $(MPSSL_MOD_DIR)/modtls_mpssl.c
CFLAGS_USERMOD += -I$(MPSSL_MOD_DIR)
# The libraries the Rust standard library needs (`--print native-static-libs`).
LIBS_USERMOD += $(MPSSL_LIB) -lpthread -ldl -lm -lrt -lutil -lgcc_s
