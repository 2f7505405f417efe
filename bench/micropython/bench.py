# The MicroPython side of `make bench-micropython`: the same script on both firmwares.
#
#   micropython bench.py server PORT CERT KEY            serve until killed
#   micropython bench.py handshakes PORT CA N SECS [SUITE]   full handshakes: at least N, and
#                                                        for at least SECS seconds
#                                       -> "handshakes COUNT SECONDS SUITE VERSION FIRST_SECONDS"
#   micropython bench.py bulk PORT CA MIB [SUITE]        MIB MiB one way -> "bulk MIB SECONDS"
#   micropython bench.py conns PORT CA K                 1 + K open connections
#                                                        -> "rss FIRST BEFORE AFTER K"
#
# Every handshake uses a new client context, so no session is resumed: full handshakes.
# The open-connection count shares one context (the cost of a connection, not a context), and
# measures K connections opened after a first one: the first pays the process's one-time costs
# (the code of a handshake paged in from the binary, the context's built configuration, the
# crypto library's lazily made tables), which are not a connection's.
# The first byte a client sends says what it wants: b"h" one byte back, b"b" + 4-byte length:
# read that much, then answer b"k"; b"c" hold the connection open.
import socket
import sys
import time

import tls

HOST = "127.0.0.1"
IPPROTO_TCP, TCP_NODELAY = 6, 1  # Linux values: no Nagle delay between handshake flights


def nodelay(s):
    s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def serve(port, cert, key):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(read_file(cert), read_file(key))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo(HOST, port)[0][-1])
    ls.listen(64)
    print("ready")
    held = []
    while True:
        s, _ = ls.accept()
        nodelay(s)
        try:
            t = ctx.wrap_socket(s, server_side=True)
            what = t.read(1)
            if what == b"h":
                t.write(b"k")
                t.close()
            elif what == b"b":
                left = int.from_bytes(t.read(4), "big")
                buf = bytearray(16384)
                mv = memoryview(buf)
                while left > 0:
                    n = t.readinto(mv[: min(left, len(buf))])
                    if not n:
                        break
                    left -= n
                t.write(b"k")
                t.close()
            elif what == b"c":
                held.append(t)
                if len(held) > 256:
                    held.pop(0).close()
            else:
                t.close()
        except OSError:
            s.close()


def context(ca, suite=None):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if suite:
        ctx.set_ciphers([suite])
    return ctx


def client(port, ca, hostname, suite=None, ctx=None):
    ctx = ctx or context(ca, suite)
    s = socket.socket()
    nodelay(s)
    s.connect(socket.getaddrinfo(HOST, port)[0][-1])
    return ctx.wrap_socket(s, server_hostname=hostname)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "server":
        serve(port, sys.argv[3], sys.argv[4])
        return
    ca = read_file(sys.argv[3])
    host = "micropython.local"
    if mode == "handshakes":
        n = int(sys.argv[4])
        least_us = int(float(sys.argv[5]) * 1e6)
        suite = sys.argv[6] if len(sys.argv) > 6 else None
        version = None
        first = 0
        i = 0
        t0 = time.ticks_us()
        while i < n or time.ticks_diff(time.ticks_us(), t0) < least_us:
            t = client(port, ca, host, suite)
            t.write(b"h")
            t.read(1)
            version = t.cipher()
            t.close()
            if i == 0:
                # The first handshake of both processes: their one-time costs included.
                first = time.ticks_diff(time.ticks_us(), t0) / 1e6
            i += 1
        dt = time.ticks_diff(time.ticks_us(), t0) / 1e6
        print("handshakes", i, dt, version[0], version[1], first)
    elif mode == "bulk":
        mib = int(sys.argv[4])
        t = client(port, ca, host, sys.argv[5] if len(sys.argv) > 5 else None)
        t.write(b"b" + (mib * 1024 * 1024).to_bytes(4, "big"))
        chunk = bytes(16384)
        t0 = time.ticks_us()
        for _ in range(mib * 64):
            t.write(chunk)
        t.read(1)  # the server has received and decrypted everything
        dt = time.ticks_diff(time.ticks_us(), t0) / 1e6
        t.close()
        print("bulk", mib, dt)
    elif mode == "conns":
        k = int(sys.argv[4])
        held = []
        ctx = context(ca)
        first = rss_kib()
        for i in range(k + 1):
            if i == 1:
                before = rss_kib()
            t = client(port, ca, host, ctx=ctx)
            t.write(b"c")
            held.append(t)
        after = rss_kib()
        print("rss", first, before, after, k)
        for t in held:
            t.close()


main()
