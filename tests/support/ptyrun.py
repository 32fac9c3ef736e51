"""Runs a command with each standard stream on a pipe or on its own pseudo-terminal, and prints
one JSON object: {"stdout": b64, "stderr": b64, "code": int}.

    python ptyrun.py --cols 80 --stdout pty --stderr pty --stdin null [--input TEXT] -- CMD ARGS...

Each pty is put in raw mode (no \\n -> \\r\\n), so the captured bytes are exactly what the program
wrote. Used by the parity tests to compare the launcher with the Python CLI in a terminal.
"""
import argparse
import base64
import fcntl
import json
import os
import select
import struct
import subprocess
import termios
import tty


def make_pty(cols):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    tty.setraw(slave)
    return master, slave


def read_all(readers, done):
    """Reads every reader (fd -> "stdout" or "stderr") to its end and closes it; once nothing is
    ready and `done()` says the writer ended, drains what is left without blocking, then stops.
    Also what tests/support/refrunner.py reads a warm call's streams with."""
    data = {"stdout": b"", "stderr": b""}
    open_fds = set(readers)
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], 0.2)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the pty's slave side is closed
                chunk = b""
            if chunk:
                data[readers[fd]] += chunk
            else:
                open_fds.discard(fd)
                os.close(fd)
        if not ready and done():
            for fd in list(open_fds):
                while True:
                    r, _, _ = select.select([fd], [], [], 0.05)
                    if not r:
                        break
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    data[readers[fd]] += chunk
                open_fds.discard(fd)
                os.close(fd)
    return data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cols", type=int, default=80)
    p.add_argument("--stdout", choices=["pty", "pipe"], default="pipe")
    p.add_argument("--stderr", choices=["pty", "pipe"], default="pipe")
    p.add_argument("--stdin", choices=["pty", "null", "pipe"], default="null")
    p.add_argument("--input", default=None, help="text written to stdin (pipe or pty)")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    readers = {}
    child_fds = {}
    to_close = []
    for name in ("stdout", "stderr"):
        if getattr(a, name) == "pty":
            master, slave = make_pty(a.cols)
        else:
            master, slave = os.pipe()
        readers[master] = name
        child_fds[name] = slave
        to_close.append(slave)
    stdin_master = None
    if a.stdin == "pty":
        stdin_master, slave = make_pty(a.cols)
        child_fds["stdin"] = slave
        to_close.append(slave)
    elif a.stdin == "pipe":
        r, w = os.pipe()
        stdin_master = w
        child_fds["stdin"] = r
        to_close.append(r)
    else:
        child_fds["stdin"] = subprocess.DEVNULL

    proc = subprocess.Popen(
        cmd, stdin=child_fds["stdin"], stdout=child_fds["stdout"], stderr=child_fds["stderr"]
    )
    for fd in to_close:
        os.close(fd)
    if stdin_master is not None and a.input is not None:
        os.write(stdin_master, a.input.encode())
        if a.stdin == "pipe":
            os.close(stdin_master)
            stdin_master = None

    data = read_all(readers, lambda: proc.poll() is not None)
    code = proc.wait()
    print(json.dumps({
        "stdout": base64.b64encode(data["stdout"]).decode(),
        "stderr": base64.b64encode(data["stderr"]).decode(),
        "code": code,
    }))


if __name__ == "__main__":
    main()
