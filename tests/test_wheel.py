"""The distribution files ``make wheel`` made (target/wheels/dist; ``make build-dev`` and so
``make test`` run it first): one abi3 manylinux wheel for CPython >= 3.11 with complete
metadata, which installs into a fresh virtual environment with the README's command and works
there; and an sdist holding everything a build needs. Nothing is rebuilt here.
"""

from __future__ import annotations

import email
import email.message
import os
import platform
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "target" / "wheels" / "dist"
# The README's install line, run from the checkout (after `make wheel`).
INSTALL_LINE = "python -m pip install target/wheels/dist/mpssl-*.whl"

WHEEL_NAME = re.compile(
    r"^mpssl-(?P<version>[^-]+)-cp311-abi3-manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>\w+)\.whl$"
)


def cargo_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        return str(tomllib.load(f)["workspace"]["package"]["version"])


def only(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST}, found {found}: run `make wheel`"
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return only("mpssl-*.whl")


@pytest.fixture(scope="module")
def sdist() -> Path:
    return only("mpssl-*.tar.gz")


def metadata(text: str) -> email.message.Message:
    return email.message_from_string(text)


def test_wheel_tags(wheel: Path) -> None:
    m = WHEEL_NAME.match(wheel.name)
    assert m, wheel.name
    assert m["version"] == cargo_version()
    assert m["arch"] == platform.machine()
    # The manylinux tag must be true here: its glibc no newer than this machine's.
    libc, glibc = platform.libc_ver()
    assert libc == "glibc"
    have = tuple(int(x) for x in glibc.split(".")[:2])
    assert (int(m["major"]), int(m["minor"])) <= have, (wheel.name, glibc)
    with zipfile.ZipFile(wheel) as z:
        info = metadata(z.read(f"mpssl-{m['version']}.dist-info/WHEEL").decode())
    assert info["Root-Is-Purelib"] == "false"
    assert info.get_all("Tag") == [f"cp311-abi3-manylinux_{m['major']}_{m['minor']}_{m['arch']}"]


def test_wheel_passes_auditwheel(wheel: Path) -> None:
    """auditwheel (PyPI, in `make tools`) agrees that the manylinux tag is the wheel's."""
    proc = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tag = WHEEL_NAME.match(wheel.name)
    assert tag
    out = " ".join(proc.stdout.split())
    assert f'consistent with the following platform tag: "manylinux_{tag["major"]}_' \
        f'{tag["minor"]}_{tag["arch"]}"' in out, out


def test_wheel_metadata(wheel: Path) -> None:
    version = cargo_version()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = metadata(z.read(f"mpssl-{version}.dist-info/METADATA").decode())
    assert meta["Name"] == "mpssl"
    assert meta["Version"] == version
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    assert meta["Summary"]
    assert meta["Author"]
    assert "rustls" in meta["Keywords"]
    assert meta["Description-Content-Type"].startswith("text/markdown")
    assert meta.get_payload().startswith("# mpssl")  # the README
    classifiers = meta.get_all("Classifier")
    for c in ("Programming Language :: Python :: 3.11",
              "Programming Language :: Python :: Implementation :: CPython",
              "Operating System :: POSIX :: Linux"):
        assert c in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls["Documentation"].endswith("/docs/")
    assert {"Homepage", "Source"} <= set(urls)
    for f in ("__init__.py", "__main__.py", "_demo_pki.py", "_mpssl.pyi", "py.typed",
              "_mpssl.abi3.so"):
        assert f"mpssl/{f}" in names, f
    for f in ("LICENSE-MIT", "LICENSE-APACHE"):
        assert f"mpssl-{version}.dist-info/licenses/{f}" in names, f


def test_wheel_python_files_are_the_checkouts(wheel: Path) -> None:
    """The wheel was built from this checkout's package (else: run `make wheel`)."""
    with zipfile.ZipFile(wheel) as z:
        for src in sorted((ROOT / "python" / "mpssl").glob("*.py*")):
            if src.suffix == ".so":
                continue
            assert z.read(f"mpssl/{src.name}") == src.read_bytes(), f"{src.name}: run make wheel"


HANDSHAKE = r"""
import os, socket, sys, threading
import mpssl

d = sys.argv[1]
read = lambda n: open(os.path.join(d, n), "rb").read()
server_ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(read("server.chain.pem"), read("server.key.der"))
server_ctx.verify_mode = mpssl.CERT_REQUIRED
server_ctx.load_verify_locations(cadata=read("ca.der"))
listener = socket.create_server(("127.0.0.1", 0))
got = {}

def serve():
    conn, _ = listener.accept()
    with server_ctx.wrap_socket(conn, server_side=True) as tls:
        got["client"] = tls.getpeercert()["subject"]
        tls.write(tls.read(5)[::-1])

t = threading.Thread(target=serve)
t.start()
ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(os.path.join(d, "ca.pem"))
ctx.load_cert_chain(os.path.join(d, "client.chain.pem"), os.path.join(d, "client.key.pem"))
with ctx.wrap_socket(socket.create_connection(listener.getsockname()),
                     server_hostname="localhost") as tls:
    tls.write(b"hello")
    assert tls.read() == b"olleh"
    assert tls.verify_result() == 0
    print(tls.version(), tls.key_exchange_group())
t.join()
listener.close()
print(mpssl.__file__)
print(mpssl._mpssl.__file__)
print(got["client"])
"""


def test_wheel_installs_and_runs_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The README's line, offline: the wheel needs nothing else.
    install = INSTALL_LINE.replace("pip install ", "pip install --no-index --no-deps ")
    proc = subprocess.run(install, check=False, shell=True, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    python = str(bindir / "python")

    demo = subprocess.run([python, "-I", "-m", "mpssl", "demo"], check=False, cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert re.search(r"^result\s+OK$", demo.stdout, re.MULTILINE), demo.stdout
    assert re.search(r"^protocol\s+TLSv1\.3$", demo.stdout, re.MULTILINE), demo.stdout

    script = tmp_path / "handshake.py"
    script.write_text(HANDSHAKE)
    run = subprocess.run([python, "-I", str(script), str(ROOT / "testdata" / "ecdsa-p256")],
                         check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("TLSv1.3 "), lines
    site = venv.resolve()
    for f in lines[1:3]:  # the package and its extension come from the fresh venv
        assert Path(f).resolve().is_relative_to(site), (f, site)
    assert "client" in lines[3]


def test_sdist_holds_what_a_build_needs(sdist: Path) -> None:
    version = cargo_version()
    top = f"mpssl-{version}"
    assert sdist.name == f"{top}.tar.gz"
    with tarfile.open(sdist) as t:
        members = {m.name.removeprefix(top + "/"): m for m in t.getmembers()}

        def read(name: str) -> bytes:
            f = t.extractfile(members[name])
            assert f is not None, name
            return f.read()

        for f in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "README.md", "LICENSE-MIT",
                  "LICENSE-APACHE", "PKG-INFO"):
            assert f in members, f
        assert read("Cargo.lock") == (ROOT / "Cargo.lock").read_bytes()
        assert read("README.md") == (ROOT / "README.md").read_bytes()
        # Both crates the binding builds from, and the Python package, file for file.
        for d in ("crates/mpssl/src", "crates/mpssl-python/src", "python/mpssl"):
            for src in sorted((ROOT / d).rglob("*")):
                if src.is_dir() or "__pycache__" in src.parts or src.suffix == ".so":
                    continue
                rel = str(src.relative_to(ROOT))
                assert rel in members, f"{rel} missing from the sdist"
        for crate in ("crates/mpssl", "crates/mpssl-python"):
            assert f"{crate}/Cargo.toml" in members
        # The workspace the sdist declares is complete in it.
        workspace = tomllib.loads(read("Cargo.toml").decode())["workspace"]
        for member in workspace["members"]:
            assert f"{member}/Cargo.toml" in members, member
        pkg = metadata(read("PKG-INFO").decode())
    assert pkg["Version"] == version
    assert pkg["Requires-Python"] == ">=3.11"
    assert pkg["License-Expression"] == "MIT OR Apache-2.0"
