#!/usr/bin/env python3
"""The aws CLI v1, many commands in one process: awscli.clidriver, the code behind `aws`,
run once per request without paying Python's and botocore's start-up (about a second) each time.

One JSON request per line on stdin, one JSON answer per line on stdout:

  {"args": ["iam", "list-access-keys", ...], "env": {"HOME": ..., ...}, "columns": null | N}
  -> {"rc": 0, "stdout": "...", "stderr": "..."}

The environment is replaced by "env" for the command (a new botocore session reads it). stdout
is a StringIO, which the table formatter cannot ask for a width (80, as when `aws` writes to a
pipe), or with "columns" a pseudo-terminal of that width (TIOCGWINSZ answers it, as for `aws` on
a terminal; output post-processing off, so the bytes arrive as written). tests/cli_output.rs
checks that it prints what the `aws` command itself prints.

The master is read up to an end mark written to the slave after the command, not until EIO:
Linux may report the slave closed before the last bytes written to it reach the master.
"""

import fcntl
import io
import json
import os
import pty
import struct
import sys
import termios
import threading

END = b"\x00aws_batch.py: end of output\x00"

from awscli import clidriver

# What importing awscli put in the environment (AWS_DATA_PATH, where its cli.json lives): the
# `aws` command has it too.
IMPORTED_ENV = {k: v for k, v in os.environ.items() if k.startswith("AWS_DATA_PATH")}


def run(request):
    os.environ.clear()
    os.environ.update(IMPORTED_ENV)
    os.environ.update(request["env"])
    columns = request.get("columns")
    saved = sys.stdout, sys.stderr
    err = io.StringIO()
    if columns:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        received = bytearray()

        def drain():
            while not received.endswith(END):
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                received.extend(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        out = open(slave, "w", encoding="utf-8", closefd=False)
    else:
        out = io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        rc = clidriver.create_clidriver().main(request["args"])
    finally:
        sys.stdout, sys.stderr = saved
    if columns:
        out.flush()
        os.write(slave, END)
        reader.join()
        out.close()
        os.close(slave)
        os.close(master)
        if not received.endswith(END):
            raise SystemExit("aws_batch.py: the terminal closed before the end mark")
        text = bytes(received[: -len(END)]).decode("utf-8")
    else:
        text = out.getvalue()
    return {"rc": rc, "stdout": text, "stderr": err.getvalue()}


def main():
    sys.stdin.reconfigure(encoding="utf-8")
    for line in sys.stdin:
        answer = run(json.loads(line))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
