# MicroPython user C module (CMake ports): the `tls` module on the mpssl engine.
# Build the staticlib first: cargo build --release -p mpssl-micropython in the checkout
# (its .cargo/config.toml applies; for a microcontroller, with
# --target <triple>; see docs/micropython.md), then pass
# -DMPSSL_LIB=<path to libmpssl_micropython.a> if it is not in the default place.
add_library(usermod_mpssl INTERFACE)

target_sources(usermod_mpssl INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modtls_mpssl.c
)

target_include_directories(usermod_mpssl INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

if(NOT DEFINED MPSSL_LIB)
    set(MPSSL_LIB ${CMAKE_CURRENT_LIST_DIR}/../target/release/libmpssl_micropython.a)
endif()

target_link_libraries(usermod_mpssl INTERFACE ${MPSSL_LIB})
target_link_libraries(usermod INTERFACE usermod_mpssl)
