#!/usr/bin/env bash
# Memory safety of the binding: run the pytest suite (minus the slow or out-of-process parts)
# under valgrind memcheck and report the errors and definite leaks that go through the extension.
#
#   make memcheck                                  # same as tests/memcheck.sh
#   MEMCHECK_TESTS="tests/test_socket.py" tests/memcheck.sh
#
# The extension's Rust allocator is mimalloc, which valgrind cannot see into; so the script
# builds its own copy of the extension with mimalloc's valgrind support compiled in
# (`-DMI_TRACK_VALGRIND=1`: every mimalloc block is reported to memcheck as a heap block with
# red zones) and line tables, into target/memcheck/, and puts it first on PYTHONPATH. The
# installed mpssl is not touched. MEMCHECK_BUILD=0 reuses the last build; MEMCHECK_ANALYSE_ONLY=1
# only re-reads the last log.
#
# CPython runs with PYTHONMALLOC=malloc so valgrind sees every allocation. CPython, glibc and
# pytest have their own valgrind noise (over-reading SIMD string compares, int.from_bytes(b"")
# in CPython 3.11, objects left at exit), so the verdict is by attribution: an error or a
# "definitely lost" block counts against mpssl when a frame of its stack (or of the origin of an
# uninitialised value) is in the extension (`_mpssl*.so`, or a pyo3/rustls/aws-lc/mpssl/mimalloc
# frame). tests/memcheck.supp silences the known noise so that the log stays readable.
# Exit status: 0 when nothing is attributed to mpssl, 1 otherwise, 2 when valgrind is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
fi
# The real interpreter: valgrind must not trace a launcher script (pyenv shims, venv links are
# fine but a shim would exec the interpreter untraced).
PY=$("$PYTHON" -c 'import sys; print(sys.executable)')
OUT=${MEMCHECK_OUT:-target/memcheck}
TESTS=${MEMCHECK_TESTS:-tests --ignore=tests/interop --ignore=tests/stress --ignore=tests/test_load.py --ignore=tests/test_cli.py --ignore=tests/test_typing.py}
mkdir -p "$OUT"
LOG="$OUT/valgrind.log"

if [ "${MEMCHECK_BUILD:-1}" != 0 ]; then
    echo "memcheck: building the extension with mimalloc's valgrind tracking into $OUT"
    rm -rf "$OUT/wheel" "$OUT/site"
    CFLAGS="-DMI_TRACK_VALGRIND=1" CARGO_TARGET_DIR="$OUT/cargo" \
        CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        "$PY" -m maturin build --release --quiet --out "$OUT/wheel"
    "$PY" -m zipfile -e "$OUT"/wheel/mpssl-*.whl "$OUT/site"
fi
export PYTHONPATH="$PWD/$OUT/site${PYTHONPATH:+:$PYTHONPATH}"
SO=$("$PY" -c 'import mpssl._mpssl as m; print(m.__file__)')
case "$SO" in
    "$PWD/$OUT/site/"*) ;;
    *) echo "memcheck: expected the extension from $OUT/site, got $SO" >&2; exit 1 ;;
esac

echo "memcheck: $PY, extension $SO"
PYTEST_RC=-1
if [ "${MEMCHECK_ANALYSE_ONLY:-0}" = 0 ]; then
    echo "memcheck: tests: $TESTS (log: $LOG)"
    set +e
    # Fewer hypothesis examples: valgrind runs ~30x slower. The suite-wide 60 s per-test time-out
    # is raised for the same reason.
    # shellcheck disable=SC2086
    PYTHONMALLOC=malloc MPSSL_FUZZ_EXAMPLES=${MEMCHECK_FUZZ_EXAMPLES:-25} valgrind \
        --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite --num-callers=50 --track-origins=yes \
        --suppressions=tests/memcheck.supp --log-file="$LOG" \
        "$PY" -m pytest -q -p no:cacheprovider --timeout=900 $TESTS
    PYTEST_RC=$?
    set -e
fi

"$PY" - "$LOG" "$SO" "$PYTEST_RC" <<'EOF'
import re
import sys

log, so, pytest_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
# A frame is the extension's when it names the extension's file, or when it is a Rust/mimalloc
# frame with line information (this build has line tables; other Rust extensions in the process,
# e.g. cryptography's, have none and show as "(in /path/to/their.so)").
rust = re.compile(r"\bmpssl(_python)?::|\bpyo3|\brustls|\baws_lc|\bwebpki::|\bx509_parser::|\bmi_|\balloc::|\bcore::|\bstd::")


def ours_frame(frame: str) -> bool:
    if "_mpssl" in frame:
        return True
    return bool(rust.search(frame)) and "(in /" not in frame


def is_ours(record: list[str]) -> bool:
    return any(ours_frame(x) for x in record[1:])
records: list[list[str]] = []
current: list[str] | None = None
for raw in open(log, errors="replace"):
    m = re.match(r"==\d+== ?(.*)$", raw.rstrip("\n"))
    if not m:
        continue
    line = m.group(1)
    if not line.strip():
        current = None
        continue
    if line.startswith("   ") and current is not None:
        current.append(line)
    elif not line.startswith(" "):
        current = [line]
        records.append(current)

kinds = ("Invalid read", "Invalid write", "Invalid free", "Mismatched free", "Conditional jump",
         "Use of uninitialised", "Syscall param", "Source and destination overlap")
errors = [r for r in records if r[0].startswith(kinds)]
leaks = [r for r in records if "definitely lost in loss record" in r[0]]
indirect = [r for r in records if "indirectly lost in loss record" in r[0]]
ours_err = [r for r in errors if is_ours(r)]
ours_leak = [r for r in leaks if is_ours(r)]
ours_ind = [r for r in indirect if is_ours(r)]

def lost(recs: list[list[str]]) -> int:
    # "8 bytes in 1 blocks are …" or "96 (64 direct, 32 indirect) bytes in 1 blocks are …"
    return sum(int(r[0].split()[0].replace(",", "")) for r in recs)

summary = [r[0] for r in records if r[0].startswith(("ERROR SUMMARY", "definitely lost:", "indirectly lost:"))]
print("memcheck: valgrind summary:", "; ".join(summary))
print(f"memcheck: pytest exit status {pytest_rc}")
print(f"memcheck: memory errors (all / through mpssl): {len(errors)} / {len(ours_err)}")
print(f"memcheck: definitely lost records (all / through mpssl): {len(leaks)} / {len(ours_leak)}"
      f" ({lost(leaks)} / {lost(ours_leak)} bytes)")
print(f"memcheck: indirectly lost records through mpssl: {len(ours_ind)} ({lost(ours_ind)} bytes)")
for r in (ours_err + ours_leak)[:10]:
    print("\n".join(r[:30]))
    print("--")
sys.exit(1 if ours_err or ours_leak else 0)
EOF
