"""What the test servers share: copying bytes between two sockets, and
exiting when the test that started them goes away."""

import os
import socket
import sys
import threading


def pump(src, dst):
    """Copy src to dst until either side closes, then shut both down."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def exit_with_parent():
    """Exit when the parent closes our stdin (or dies): no orphan server."""

    def watch():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except Exception:
            pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
