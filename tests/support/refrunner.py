"""A warm reference runner for the tests: the Python CLI of one env, imported once, forked per call.

It shares no code with the launcher's command server (src/python/command_server.py): the tests
compare the launcher against its output, so it is kept as small as a check can read, and its
answers are compared with fresh `bin/zenml` runs (tests/common/refrun.rs samples every tenth).

    python refrunner.py start --socket S --cols N --stdin K --stdout K --stderr K -- PYTHON PROGRAM
    python refrunner.py call  --socket S --cols N --stdin K --stdout K --stderr K [--input T] -- ARGS...

`start` (run with exactly the environment and cwd of the calls it will serve) gives the master
the same kinds of standard streams as the calls (a pseudo-terminal of N columns, a pipe,
/dev/null), so that what Python and the CLI decide at start-up (stream encodings and buffering,
rich's and Click's probes at import) is what a fresh run decides. The master runs the program's
imports (`bin/zenml` without its `__main__` block), nothing more, then refuses to serve
when that warm-up printed anything, started a thread, or opened a file under HOME, the ZenML
config dir or the cwd (state a call must read fresh). It prints `ready` or `refused: WHY` and then
stays until its stdin closes (the test process ended), holding the master's terminals.

A master idle for two minutes exits (the test's next call of its key starts another).

`call` (run like tests/support/ptyrun.py) makes the call's streams, hands them to the master,
which forks a worker that runs the whole program as `__main__` with those streams as fd 0-2,
and prints ptyrun's JSON, or {"unsure": WHY} when the call ended in a way this runner does not
reproduce (an uncaught exception, a signal, a failed flush) or {"stale": PATH} when a file the
master imported changed since; the tests then run the call fresh.
"""
import argparse
import base64
import json
import os
import select
import socket
import subprocess
import sys
import time

# The same pseudo-terminals and the same reading as a fresh run's (this script's directory is
# sys.path[0]).
from ptyrun import make_pty, read_all

# The master's code, run by the env's python with `-c` (argv: socket, program, status fd, the
# dirs it must not read). Only what a worker needs is imported before the program.
MASTER = r'''
import os, sys
_sock_path, _program, _status_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
_watched = [os.path.realpath(d) for d in sys.argv[4:] if d]
sys.argv = [_program]
sys.path[0] = os.path.dirname(os.path.realpath(_program))
_seen = []
_warming = [True]

def _audit(event, args):
    if _warming[0] and event in ("open", "os.listdir", "os.scandir") and args:
        path = args[0]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if isinstance(path, str):
            _seen.append(path)

sys.addaudithook(_audit)

def _status(text):
    os.write(_status_fd, (text + "\n").encode())
    os.close(_status_fd)

with open(_program, "rb") as f:
    _code = compile(f.read(), _program, "exec")
exec(_code, {"__name__": "__refrunner_warm__", "__file__": _program, "__builtins__": __builtins__})
import socket, threading
_warming[0] = False
_prefixes = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")
_why = None
for _path in _seen:
    _real = os.path.realpath(os.path.join(os.getcwd(), _path))
    if any(_under(_real, w) for w in _watched) and not any(_under(_real, p) for p in _prefixes):
        _why = f"the warm-up opened {_real}"
        break
if threading.active_count() != 1:
    _why = f"the warm-up left {threading.active_count()} threads"
if _why:
    _status("refused: " + _why)
    os._exit(0)

def _snapshot():
    files = {_program, os.path.join(sys.prefix, "pyvenv.cfg")}
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if isinstance(f, str):
            files.add(f)
            files.add(os.path.dirname(f))
    out = {}
    for f in files:
        try:
            st = os.stat(f)
            out[f] = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            out[f] = None
    return out

_files = _snapshot()

def _changed():
    for f, was in _files.items():
        try:
            st = os.stat(f)
            now = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            now = None
        if now != was:
            return f
    return None

sys.stdout.flush()
sys.stderr.flush()
_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
_listener.bind(_sock_path)
_listener.listen(16)
_listener.settimeout(1.0)
_parent = os.getppid()
_last = __import__("time").monotonic()
_status("ready")

def _reply(conn, obj):
    conn.sendall((__import__("json").dumps(obj) + "\n").encode())

def _worker(conn, argv, fds):
    import builtins, importlib.machinery, types
    _listener.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    if "random" in sys.modules:
        sys.modules["random"].seed()
    sys.argv = [_program, *argv]
    main = types.ModuleType("__main__")
    main.__file__ = _program
    main.__cached__ = None
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", _program)
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    code = 0
    try:
        exec(_code, main.__dict__)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code & 0xFF
        else:
            _reply(conn, {"unsure": f"SystemExit({e.code!r})"})
            os._exit(1)
    except BaseException as e:
        _reply(conn, {"unsure": f"uncaught {type(e).__name__}"})
        os._exit(1)
    try:
        threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except BaseException as e:
        _reply(conn, {"unsure": f"at exit: {type(e).__name__}"})
        os._exit(1)
    _reply(conn, {"code": code})
    os._exit(code)

while True:
    try:
        conn, _ = _listener.accept()
    except socket.timeout:
        conn = None
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    if os.getppid() != _parent:
        os._exit(0)
    if conn is None:
        # Idle for two minutes (its tests have moved on): the memory goes back.
        if __import__("time").monotonic() - _last > 120:
            _listener.close()
            os.unlink(_sock_path)
            os._exit(0)
        continue
    _last = __import__("time").monotonic()
    conn.settimeout(None)
    msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    stale = _changed()
    if stale is not None or len(fds) != 3:
        _reply(conn, {"stale": stale or "no streams"})
        for fd in fds:
            os.close(fd)
        conn.close()
        continue
    argv = __import__("json").loads(msg)
    pid = os.fork()
    if pid == 0:
        _worker(conn, argv, fds)
    for fd in fds:
        os.close(fd)
    conn.close()
'''


def streams(a):
    """The call's (or the master's) fds 0-2, what this side reads, and what it writes stdin to."""
    child, readers, keep = [], {}, []
    if a.stdin == "pty":
        m, s = make_pty(a.cols)
        child.append(s)
        keep.append(m)
        stdin_writer = m
    elif a.stdin == "pipe":
        r, w = os.pipe()
        child.append(r)
        stdin_writer = w
    else:
        child.append(os.open(os.devnull, os.O_RDWR))
        stdin_writer = None
    for name in ("stdout", "stderr"):
        if getattr(a, name) == "pty":
            m, s = make_pty(a.cols)
        else:
            m, s = os.pipe()
        child.append(s)
        readers[m] = name
    return child, readers, stdin_writer, keep


def start(a, cmd):
    python, program = cmd
    child, readers, stdin_writer, keep = streams(a)
    status_r, status_w = os.pipe()
    env = os.environ
    watched = [env.get("HOME", ""), env.get("ZENML_CONFIG_PATH", ""), os.getcwd()]
    proc = subprocess.Popen(
        [python, "-c", MASTER, a.socket, program, str(status_w), *watched],
        stdin=child[0], stdout=child[1], stderr=child[2], pass_fds=[status_w],
    )
    for fd in child + [status_w]:
        os.close(fd)
    status = b""
    while not status.endswith(b"\n"):
        chunk = os.read(status_r, 4096)
        if not chunk:
            break
        status += chunk
    status = status.decode().strip() or f"the master ended with {proc.wait()}"
    printed = b""
    for fd in readers:
        while select.select([fd], [], [], 0)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            printed += chunk
    if status == "ready" and printed:
        status = f"refused: the warm-up printed {printed[:200]!r}"
    if status != "ready":
        proc.kill()
        proc.wait()
    print(status, flush=True)
    if status != "ready":
        return
    # Hold the master's streams until the test process is gone (stdin closes), then stop it.
    os.close(1)
    while True:
        r, _, _ = select.select([0] + list(readers), [], [], 5)
        if 0 in r and not os.read(0, 4096):
            break
        for fd in r:
            if fd != 0:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    try:
        os.unlink(a.socket)
    except OSError:
        pass


def call(a, argv):
    child, readers, stdin_writer, keep = streams(a)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(a.socket)
    socket.send_fds(conn, [json.dumps(argv).encode()], child)
    for fd in child:
        os.close(fd)
    if stdin_writer is not None and a.input is not None:
        os.write(stdin_writer, a.input.encode())
        if a.stdin == "pipe":
            os.close(stdin_writer)
    reply = b""
    ended = [False]

    def done():
        nonlocal reply
        while not ended[0] and select.select([conn], [], [], 0)[0]:
            chunk = conn.recv(4096)
            reply += chunk
            if not chunk or reply.endswith(b"\n"):
                ended[0] = True
        return ended[0]

    data = read_all(readers, done)
    while not ended[0]:
        select.select([conn], [], [], 1)
        done()
    result = json.loads(reply) if reply.endswith(b"\n") else {"unsure": "the worker ended without a reply"}
    if "code" in result:
        result = {
            "stdout": base64.b64encode(data["stdout"]).decode(),
            "stderr": base64.b64encode(data["stderr"]).decode(),
            "code": result["code"],
        }
    print(json.dumps(result))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what not in ("start", "call"):
        sys.exit("usage: refrunner.py start|call --socket S ... -- ...")
    p = argparse.ArgumentParser(prog=f"refrunner.py {what}")
    p.add_argument("--socket", required=True)
    p.add_argument("--cols", type=int, default=80)
    p.add_argument("--stdout", choices=["pty", "pipe"], default="pipe")
    p.add_argument("--stderr", choices=["pty", "pipe"], default="pipe")
    p.add_argument("--stdin", choices=["pty", "null", "pipe"], default="null")
    p.add_argument("--input", default=None)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args(sys.argv[2:])
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if what == "start":
        start(a, cmd)
    else:
        call(a, cmd)


if __name__ == "__main__":
    main()
