#!/usr/bin/env python3
"""Run a program in a pseudo-terminal, answer its questions, and report what it showed.

    pty_run.py [--timeout S] [--expect REGEX [--pause S] [--send LINE]]... -- PROGRAM [ARG...]

The program gets a new session whose controlling terminal is the pty (80x24): its stdin, stdout
and stderr are all the terminal, as in an interactive shell, so `isatty` is true for each and
Ctrl-C (`--send $'\\x03'` with no newline: see below) reaches it as SIGINT.

Each `--expect REGEX` waits until the output since the previous match matches REGEX (Python
`re`, DOTALL), then, after its `--pause S` seconds (if any: the output is read meanwhile, as a
person reads before typing), its `--send LINE` (if any) is typed: LINE, then Enter. A LINE that
is exactly `^C` is sent as the interrupt character instead, with no Enter. After the last step,
everything the program writes is read until it exits.

Prints one JSON object on stdout:
  {"status": exit status (or -SIGNAL), "output": all it wrote (UTF-8, raw: escape sequences and
   \\r kept), "matched": [seconds from the start at which each expect matched],
   "timed_out": null, or the step (or "exit") that did not happen within --timeout seconds,
   "echo": whether the terminal echoes input once the program has ended (null if unknown)}
On a timeout the program is killed. Python 3 stdlib only.
"""

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def main(argv):
    if "--" not in argv:
        print("usage: pty_run.py [options] -- PROGRAM [ARG...]", file=sys.stderr)
        return 2
    i = argv.index("--")
    own, program = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--send", action="append", default=[])
    p.add_argument("--pause", action="append", default=[], type=float)
    a = p.parse_args(own)
    # Pair each --send and --pause with the --expect before it.
    steps, sends, pauses = [], iter(a.send), iter(a.pause)
    order = [x for x in own if x in ("--expect", "--send", "--pause")]
    for kind in order:
        if kind == "--expect":
            steps.append([None, None, 0.0])
        elif steps and kind == "--send":
            steps[-1][1] = next(sends)
        elif steps:
            steps[-1][2] = next(pauses)
    for step, regex in zip(steps, a.expect):
        step[0] = re.compile(regex.encode(), re.DOTALL)

    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its stdin, stdout, stderr and controlling terminal
        try:
            os.execvp(program[0], program)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.monotonic()
    deadline = start + a.timeout
    out = bytearray()
    seen = 0  # the output before this offset was matched already
    matched, timed_out = [], None

    def read_some(wait):
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed its end (exited)
            return False
        if not data:
            return False
        out.extend(data)
        return True

    alive = True
    for n, (regex, send, pause) in enumerate(steps):
        while True:
            m = regex.search(bytes(out), seen)
            if m:
                seen = m.end()
                matched.append(round(time.monotonic() - start, 3))
                break
            if not alive:
                timed_out = f"expect #{n + 1} (the program ended first): {regex.pattern!r}"
                break
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = f"expect #{n + 1}: {regex.pattern!r}"
                break
            alive = read_some(min(left, 0.2))
        if timed_out:
            break
        until = time.monotonic() + pause
        while alive and time.monotonic() < until:
            alive = read_some(max(0.0, min(until - time.monotonic(), 0.2)))
        if send is not None:
            if send == "^C":
                os.write(fd, termios.tcgetattr(fd)[6][termios.VINTR])
            else:
                os.write(fd, send.encode() + b"\r")
    while alive and not timed_out:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = "exit"
            break
        alive = read_some(min(left, 0.2))
    if timed_out:
        os.kill(pid, signal.SIGKILL)
        while read_some(0.2):  # what it wrote last, for the report
            pass
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    # The terminal's settings as the program left them (on Linux the master's tcgetattr reads the
    # terminal's own): a program that turns the echo off must turn it back on.
    try:
        echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    except termios.error:
        echo = None
    os.close(fd)
    json.dump(
        {
            "status": code,
            "output": out.decode("utf-8", "replace"),
            "matched": matched,
            "timed_out": timed_out,
            "echo": echo,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
