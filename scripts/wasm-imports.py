#!/usr/bin/env python3
"""List the import modules of WebAssembly modules; fail unless all are WASI's.

Usage: wasm-imports.py MODULE.wasm...   (WASM_ALLOW_IMPORTS="env::name ..." allows more)
       cargo build --message-format=json-render-diagnostics ... | wasm-imports.py --cargo-json
         (checks every executable that cargo reports having built)

The sans-IO core must reach the outside world only through what wasm32-wasip1's std imports
(`wasi_snapshot_preview1`). An `env` import (an undefined C symbol, wasm-bindgen glue) or any
other module means some code expects a host that a plain WASI runtime does not give.

Only linked modules are meaningful: an .rlib holds wasm *object* files, in which every
still-undefined symbol is an `env` import until the final link, so they are not checked.
This reads the binary format directly (import section, id 2), so no wasm-tools is needed.
"""
import json
import os
import sys

ALLOWED = {"wasi_snapshot_preview1"}
# MODULE::FIELD pairs also allowed (scripts/wasm-test.sh sets them for Debian's older wasi-libc).
EXTRA = set(os.environ.get("WASM_ALLOW_IMPORTS", "").split())


def leb_u32(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def name(data, pos):
    n, pos = leb_u32(data, pos)
    return data[pos:pos + n].decode("utf-8", "replace"), pos + n


def limits(data, pos):
    flags = data[pos]
    _, pos = leb_u32(data, pos + 1)          # min
    if flags & 1:
        _, pos = leb_u32(data, pos)          # max
    return pos


def imports(path):
    data = open(path, "rb").read()
    if data[:4] != b"\0asm" or data[4:8] != b"\1\0\0\0":
        raise ValueError("not a core WebAssembly module (version 1)")
    pos, found = 8, []
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, pos = leb_u32(data, pos)
        end = pos + size
        if section == 2:
            count, p = leb_u32(data, pos)
            for _ in range(count):
                module, p = name(data, p)
                field, p = name(data, p)
                kind, p = data[p], p + 1
                if kind == 0:                 # function: type index
                    _, p = leb_u32(data, p)
                elif kind == 1:               # table: reftype + limits
                    p = limits(data, p + 1)
                elif kind == 2:               # memory: limits
                    p = limits(data, p)
                elif kind == 3:               # global: valtype + mutability
                    p += 2
                elif kind == 4:               # tag: attribute + type index
                    _, p = leb_u32(data, p + 1)
                else:
                    raise ValueError(f"unknown import kind {kind}")
                found.append((module, field))
        pos = end
    return found


def cargo_executables(lines):
    for line in lines:
        if line.startswith("{"):
            msg = json.loads(line)
            if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
                yield msg["executable"]


def main(paths):
    if paths == ["--cargo-json"]:
        paths = sorted(set(cargo_executables(sys.stdin)))
        if not paths:
            print("wasm-imports: cargo linked no module (an rlib is not linked): nothing to check",
                  file=sys.stderr)
            return 0
    elif not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        found = imports(path)
        foreign = sorted({f"{m}::{f}" for m, f in found if m not in ALLOWED} - EXTRA)
        if foreign:
            bad += 1
            print(f"wasm-imports: {path} imports from outside WASI: {', '.join(foreign)}",
                  file=sys.stderr)
    if not bad:
        print(f"wasm-imports: {len(paths)} module(s) import only from {', '.join(sorted(ALLOWED))}",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
