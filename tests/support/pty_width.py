#!/usr/bin/env python3
"""Run a command with its stdout on a pseudo-terminal of a given width; print what it wrote.

    pty_width.py COLUMNS COMMAND [ARG...]

The terminal is COLUMNS wide and 24 rows high (TIOCSWINSZ), with output post-processing off so
that the bytes arrive as written (no \\n -> \\r\\n). stdin is /dev/null, stderr is inherited. The
exit status is the command's. tests/cli_output.rs uses it to give the aws CLI and
aws-rotate-keys the same terminal width: awscli/table.py asks stdout's terminal for it
(TIOCGWINSZ) and takes 80 when stdout is not a terminal; COLUMNS plays no part.
"""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios


def main():
    columns = int(sys.argv[1])
    command = sys.argv[2:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        out.extend(chunk)
    status = child.wait()
    sys.stdout.buffer.write(bytes(out))
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
