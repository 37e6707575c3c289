#!/usr/bin/env python3
"""Run a command with its stdout on a pseudo-terminal of a given width; print what it wrote.

    pty_width.py COLUMNS COMMAND [ARG...]

The terminal is COLUMNS wide and 24 rows high (TIOCSWINSZ), with output post-processing off so
that the bytes arrive as written (no \\n -> \\r\\n). stdin is /dev/null, stderr is inherited. The
exit status is the command's. tests/cli_output.rs uses it to give the aws CLI and
aws-rotate-keys the same terminal width: awscli/table.py asks stdout's terminal for it
(TIOCGWINSZ) and takes 80 when stdout is not a terminal; COLUMNS plays no part.

Reading the master until EIO can lose the end of the output: Linux may report the slave closed
before the last bytes written to it have reached the master. So the slave stays open here, and
once the command has exited an end mark is written to it and the master is read up to the mark:
everything the command wrote comes before it.
"""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading

END = b"\x00pty_width.py: end of output\x00"


def drain(master, out):
    """Read the master into out until it ends with END (the command's output, then END)."""
    while not out.endswith(END):
        chunk = os.read(master, 65536)
        if not chunk:
            break
        out.extend(chunk)


def main():
    columns = int(sys.argv[1])
    command = sys.argv[2:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave)
    reader = threading.Thread(target=drain, args=(master, out := bytearray()))
    reader.start()
    status = child.wait()
    os.write(slave, END)
    reader.join()
    os.close(slave)
    os.close(master)
    if not out.endswith(END):
        sys.exit("pty_width.py: the terminal closed before the end mark")
    sys.stdout.buffer.write(bytes(out[: -len(END)]))
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
