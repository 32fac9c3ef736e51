# The warm command server (`python/serve.rs` runs this in `__main__` of the embedded interpreter,
# then lets `Py_RunMain` run the env's console script in each worker).
#
# The master imports ZenML, its CLI and the store modules, configures SQLAlchemy's mappers and
# freezes the GC: the work that is the same for every call. It loads no ZenML config, opens no
# store and starts no thread. Then it listens on a Unix socket and forks one worker per call.
# The worker takes over the client's stdin, stdout and stderr (passed as fds), its cwd (an fd),
# umask, environment and argv, re-derives what ZenML's libraries fixed at import from them (the
# rich consoles, stdout's buffering), and runs the console script as `python bin/zenml` does
# (`run_program`: sys.path[0], exit code, tracebacks, KeyboardInterrupt, atexit, flushes).
# The master reports the worker's end (exit code or signal) to the client.
#
# Frames, server -> client: one type byte, a big-endian u32 length, the payload.
#   P  pid of the worker (the command may run from now on)
#   X  exit code (i32)       K  killed by this signal (i32)
#   R  refused, with a reason: nothing ran, the client runs the call elsewhere
# Request, client -> server: b"ZLS1" + u32 length (fds 0, 1, 2 and the cwd attached, SCM_RIGHTS),
# then that many bytes: fields as u32 length + bytes: key id, umask (octal text), debug flag,
# argc then argv, envc then "NAME=value" entries.
#
# The launcher prepends these names (ASCII literals), all deleted again here:
#   _zl_socket    the socket path (bytes)        _zl_key      the key id this server serves (bytes)
#   _zl_idle      idle timeout in seconds        _zl_argv     sys.argv[:1] of a call (list of bytes)
#   _zl_preload   modules to import              _zl_describe the debug diagnosis source (str)
#   _zl_marker    the start-up marker file (bytes), removed once the socket is in place
#   _zl_failed    what a failed start writes in the marker before its reason (bytes)
#   _zl_drop      variables that belong to the launcher, removed from the environment
#   _zl_program   what a call runs, as the `python` program would: (b"file", script path) or
#                 (b"command", source) for `python -c`


def _zl_serve(
    socket_path, key_id, idle, call_argv0, preload, describe, marker, failed, drop, program
):
    import errno
    import gc
    import importlib
    import os
    import selectors
    import signal
    import socket
    import struct
    import sys
    import time

    for name in drop:
        os.environb.pop(name, None)

    def log(message):
        sys.stderr.write(f"zenml-launcher server {os.getpid()}: {message}\n")
        sys.stderr.flush()

    def fail_start(why):
        # The marker tells the next clients why (they delegate without respawning for a while).
        log(f"not serving: {why}")
        try:
            with open(marker, "wb") as f:
                f.write(failed + why.encode("utf-8", "replace"))
        except OSError:
            pass
        return ("master", None)

    # What import changes in the environment (ZenML sets a few variables): replayed per call.
    env_before = dict(os.environb)
    import rich.console

    consoles = []
    console_init = rich.console.Console.__init__

    def recording_init(self, *args, **kwargs):
        import weakref

        consoles.append((weakref.ref(self), args, kwargs))
        console_init(self, *args, **kwargs)

    rich.console.Console.__init__ = recording_init
    try:
        for name in preload:
            importlib.import_module(name)
        import sqlalchemy.orm

        sqlalchemy.orm.configure_mappers()
    except Exception as err:  # noqa: BLE001 - any failure: this env gets no server
        return fail_start(f"warming up failed: {type(err).__name__}: {err}")
    finally:
        rich.console.Console.__init__ = console_init
    env_after = dict(os.environb)
    env_set = {k: v for k, v in env_after.items() if env_before.get(k) != v}
    env_unset = [k for k in env_before if k not in env_after]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fstat(1).st_size or os.fstat(2).st_size:
        return fail_start("importing ZenML printed something (the CLI would show it)")
    try:
        from zenml.client import Client
        from zenml.config.global_config import GlobalConfiguration

        if GlobalConfiguration.get_instance() is not None or Client._global_client is not None:
            return fail_start("importing ZenML loaded its configuration")
    except Exception as err:  # noqa: BLE001
        return fail_start(f"cannot check ZenML's state: {err}")
    if len(os.listdir("/proc/self/task")) != 1:
        return fail_start("importing ZenML started a thread")

    # Source files whose change makes this server stale: inotify on their directories.
    watched = watch_sources(os, sys)
    import ctypes

    fflush = ctypes.CDLL(None).fflush
    gc.collect()
    gc.freeze()

    # Bind under a temporary name, then rename into place: the socket appears only when ready.
    directory = os.path.dirname(socket_path)
    temp_path = socket_path + b".%d" % os.getpid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(temp_path)
        listener.listen(64)
        os.rename(temp_path, socket_path)
        mine = os.stat(socket_path)
    except OSError as err:
        listener.close()
        return fail_start(f"cannot listen on {os.fsdecode(socket_path)}: {err}")
    info_path = socket_path[: -len(b".sock")] + b".json"
    import json

    try:
        zenml = sys.modules.get("zenml")
        info = {
            "pid": os.getpid(),
            "env": sys.prefix,
            "executable": sys.executable,
            "zenml": getattr(zenml, "__version__", None),
            "started": time.time(),
            "idle_s": idle,
        }
        with open(info_path + b".tmp", "w") as f:
            json.dump(info, f)
        os.rename(info_path + b".tmp", info_path)
        os.unlink(marker)
    except OSError:
        pass
    log(f"serving {os.fsdecode(socket_path)} ({len(sys.modules)} modules, idle {idle}s)")
    listener.setblocking(False)

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    stop = []
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    workers = {}  # pid -> client connection
    started = {}  # pid -> fork time
    last_use = time.monotonic()

    def frame(conn, kind, payload):
        try:
            conn.sendall(kind + struct.pack(">I", len(payload)) + payload)
            return True
        except OSError:
            return False

    def still_ours():
        try:
            now = os.stat(socket_path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)

    def reap():
        nonlocal last_use
        while workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = workers.pop(pid, None)
            if conn is None:
                continue
            log(f"worker {pid}: {(time.monotonic() - started.pop(pid)) * 1000:.1f} ms, status {status}")
            if os.WIFSIGNALED(status):
                frame(conn, b"K", struct.pack(">i", os.WTERMSIG(status)))
            else:
                frame(conn, b"X", struct.pack(">i", os.waitstatus_to_exitcode(status)))
            try:
                selector.unregister(conn)
            except (KeyError, ValueError):
                pass  # its client hung up earlier
            conn.close()
            last_use = time.monotonic()
            try:
                os.utime(socket_path)
            except OSError:
                pass

    def read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError("the client hung up")
            data += chunk
        return data

    def read_request(conn):
        fds = []
        msg, ancdata, _flags, _addr = conn.recvmsg(8, socket.CMSG_SPACE(4 * 4))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4]))
        if len(msg) < 8:
            msg += read_exact(conn, 8 - len(msg))
        if msg[:4] != b"ZLS1" or len(fds) != 4:
            raise ValueError("not a launcher request")
        body = read_exact(conn, struct.unpack(">I", msg[4:])[0])
        pos = 0

        def field():
            nonlocal pos
            (n,) = struct.unpack(">I", body[pos : pos + 4])
            pos += 4 + n
            return body[pos - n : pos]

        request = {"fds": fds, "key": field(), "umask": int(field(), 8), "debug": field() == b"1"}
        request["argv"] = [field() for _ in range(int(field()))]
        request["env"] = [field() for _ in range(int(field()))]
        return request

    def refuse(conn, request, why):
        frame(conn, b"R", why.encode("utf-8", "replace"))
        conn.close()
        for fd in (request or {}).get("fds", []):
            os.close(fd)

    def accept_one():
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return False
        request = None
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _peer_pid, peer_uid, _gid = struct.unpack("3i", creds)
            if peer_uid != os.getuid():
                log(f"refused a connection from uid {peer_uid}")
                refuse(conn, None, "another user")
                return True
            conn.setblocking(True)
            conn.settimeout(5.0)
            request = read_request(conn)
            if request["key"] != key_id:
                refuse(conn, request, "this server serves another key")
                return True
            stale = watched()
            if stale:
                log(f"stale: {stale}")
                stop.append("stale")
                refuse(conn, request, f"stale: {stale}")
                return True
            if len(os.listdir("/proc/self/task")) != 1:
                stop.append("threads")
                refuse(conn, request, "the server has more than one thread")
                return True
        except (OSError, ValueError, EOFError, struct.error) as err:
            log(f"bad request: {err}")
            refuse(conn, request, "bad request")
            return True
        conn.settimeout(None)
        pid = os.fork()
        if pid == 0:
            worker = (conn, request)
            return worker
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        for fd in request["fds"]:
            os.close(fd)
        if not frame(conn, b"P", struct.pack(">i", pid)):
            os.killpg(pid, signal.SIGKILL)
        workers[pid] = conn
        started[pid] = time.monotonic()
        selector.register(conn, selectors.EVENT_READ, pid)
        return True

    while True:
        for key, _mask in selector.select(timeout=1.0):
            if key.data == "accept":
                while True:
                    got = accept_one()
                    if isinstance(got, tuple):
                        conn, request = got
                        for other in list(workers.values()):
                            other.close()
                        selector.close()
                        listener.close()
                        signal.set_wakeup_fd(-1)
                        os.close(wake_r)
                        os.close(wake_w)
                        conn.close()
                        watched(close=True)
                        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                            signal.signal(sig, signal.SIG_DFL)
                        prepare_worker(
                            os, sys, request, call_argv0, consoles, env_set, env_unset, env_before
                        )
                        if request["debug"] and describe:
                            exec(describe, {})
                        run_program(os, sys, program, fflush)
                    if not got:
                        break
            elif key.data == "wake":
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                # A client's connection is readable: it hung up (or was killed). Its worker must
                # not go on writing to the terminal.
                try:
                    gone = not key.fileobj.recv(1, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    try:
                        os.killpg(key.data, signal.SIGKILL)
                    except OSError:
                        pass
                    try:
                        selector.unregister(key.fileobj)
                    except (KeyError, ValueError):
                        pass
        reap()
        if not still_ours() and "replaced" not in stop:
            stop.append("replaced")
        if stop and listener.fileno() != -1:
            log(f"stopping: {stop[0]}")
            selector.unregister(listener)
            listener.close()
        if stop and not workers:
            break
        if not workers and time.monotonic() - last_use > idle:
            log("idle, stopping")
            break
    if still_ours():
        try:
            os.unlink(socket_path)
        except OSError:
            pass
    try:
        with open(info_path) as f:
            if json.load(f).get("pid") == os.getpid():
                os.unlink(info_path)
    except (OSError, ValueError):
        pass
    return ("master", None)


def watch_sources(os, sys):
    """A function telling what changed (or "") among the imported modules' source directories.

    Directories are watched with inotify (a change is queued by the kernel before the writer's
    call returns, so the next call sees it); without inotify, their files' mtimes are compared.
    """
    import struct

    files = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            try:
                files[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    directories = sorted({os.path.dirname(p) for p in files})
    relevant = (".py", ".so", ".pth", ".pyd")
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        # modify, attrib, close_write, moved_from, moved_to, create, delete, delete_self, move_self
        mask = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
        for directory in directories:
            if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
                os.close(fd)
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
    except (OSError, AttributeError):
        fd = None

    def by_mtime(close=False):
        if close:
            return ""
        for path, mtime in files.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return f"{path} changed"
            except OSError:
                return f"{path} is gone"
        return ""

    if fd is None:
        return by_mtime

    def by_inotify(close=False):
        if close:
            os.close(fd)
            return ""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return ""
        pos = 0
        while pos + 16 <= len(data):
            _wd, event, _cookie, length = struct.unpack_from("iIII", data, pos)
            name = data[pos + 16 : pos + 16 + length].rstrip(b"\0").decode("utf-8", "replace")
            pos += 16 + length
            if event & (0x4000 | 0x8000 | 0x400 | 0x800):  # overflow, ignored, self deleted/moved
                return "a watched directory changed"
            is_dir = event & 0x40000000
            if name.endswith(relevant) or ".dist-info" in name or (is_dir and name != "__pycache__"):
                return f"{name} changed"
        return ""

    return by_inotify


def prepare_worker(os, sys, request, call_argv0, consoles, env_set, env_unset, env_start):
    """Makes this forked worker the client's process, as far as the CLI can tell."""
    import signal

    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stdin, stdout, stderr, cwd = request["fds"]
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
    for fd in (stdin, stdout, stderr):
        if fd > 2:
            os.close(fd)
    os.fchdir(cwd)
    os.close(cwd)
    os.umask(request["umask"])
    env = {}
    for entry in request["env"]:
        name, sep, value = entry.partition(b"=")
        if sep:
            env[name] = value
    # What Python's own start-up set (C locale coercion sets LC_CTYPE; the locale variables are
    # in the key, so the client's start-up would have done the same).
    if b"LC_CTYPE" in env_start and b"LC_CTYPE" not in env:
        env[b"LC_CTYPE"] = env_start[b"LC_CTYPE"]
    for name in env_unset:
        env.pop(name, None)
    env.update(env_set)
    os.environb.clear()
    os.environb.update(env)
    # Python picks line buffering for a terminal when it creates sys.stdout; the objects stay
    # (ZenML and logging hold them), only their mode follows the new fds.
    sys.stdout.reconfigure(line_buffering=os.isatty(1))
    sys.stdin.reconfigure(line_buffering=os.isatty(0))
    for ref, args, kwargs in consoles:
        console = ref()
        if console is not None:
            type(console).__init__(console, *args, **kwargs)
    argv = [os.fsdecode(a) for a in call_argv0 + request["argv"]]
    sys.argv = argv
    sys.orig_argv = [sys.executable] + argv


def run_program(os, sys, program, fflush):
    """Runs the call's program in this worker as the `python` program runs a script or `-c`
    (`Py_RunMain`: sys.path[0], `__main__`, the exit code of a SystemExit, an uncaught exception
    printed by sys.excepthook, KeyboardInterrupt ending by SIGINT), then ends the process as
    `Py_FinalizeEx` would be seen from outside: threads joined, atexit callbacks run, stdout and
    stderr flushed. The rest of finalization (tearing down every module of a warm interpreter,
    about 50-100 ms) is skipped with `os._exit`, unless a flush failed: then SystemExit reaches
    `Py_Exit`, whose finalization prints Python's own message and exits 120.
    """
    import signal

    kind, value = program
    main = sys.modules["__main__"].__dict__
    if kind == b"file":
        name = os.fsdecode(value)
        sys.path.insert(0, os.path.dirname(os.path.realpath(name)))
        with open(value, "rb") as f:
            source = f.read()
        main["__file__"] = name
        main["__cached__"] = None
    else:
        name = "<string>"
        source = value
        sys.path.insert(0, "")
    exitcode = 0
    interrupted = False
    try:
        exec(compile(source, name, "exec", dont_inherit=True), main)
    except SystemExit as exc:
        exitcode = system_exit_code(sys, exc)
    except BaseException as exc:  # noqa: BLE001 - printed as Python prints it
        interrupted = isinstance(exc, KeyboardInterrupt)
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        try:
            sys.excepthook(type(exc), exc, tb)
        except BaseException:  # noqa: BLE001
            sys.__excepthook__(type(exc), exc, tb)
        exitcode = 1
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # noqa: BLE001
            pass
    import atexit

    atexit._run_exitfuncs()
    flushed = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001
            flushed = False
    if interrupted:
        fflush(None)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    if flushed:
        fflush(None)
        os._exit(exitcode & 0xFF)
    raise SystemExit(exitcode)


def system_exit_code(sys, exc):
    """The exit code Python gives a SystemExit (printing a non-integer code on stderr)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:  # noqa: BLE001
        pass
    return 1


try:
    _zl_serve(
        _zl_socket,
        _zl_key,
        _zl_idle,
        _zl_argv,
        _zl_preload,
        _zl_describe,
        _zl_marker,
        _zl_failed,
        _zl_drop,
        _zl_program,
    )
finally:
    del _zl_serve, _zl_socket, _zl_key, _zl_idle, _zl_argv, _zl_preload, _zl_describe
    del _zl_marker, _zl_failed, _zl_drop, _zl_program, watch_sources, prepare_worker, run_program
    del system_exit_code
