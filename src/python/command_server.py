# The warm command server (`python/serve.rs` runs this, after `command_worker.py`, in `__main__`
# of the embedded interpreter; in each worker the env's console script then runs).
#
# The master imports ZenML, its CLI and the store modules, configures SQLAlchemy's mappers and
# freezes the GC: the work that is the same for every call. It loads no ZenML config, opens no
# store and starts no thread. Then it listens on a Unix socket and forks one worker per call.
# The worker takes over the client's stdin, stdout and stderr (passed as fds), its cwd (an fd),
# umask, environment and argv, re-derives what ZenML's libraries fixed at import from them (the
# rich consoles, stdout's buffering), and runs the console script as `python bin/zenml` does
# (`run_program`: sys.path[0], exit code, tracebacks, KeyboardInterrupt, atexit, flushes).
# The master reports the worker's end (exit code or signal) to the client. The master is the
# class `_ZlServer`; the worker's side is in `command_worker.py`.
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
#   _zl_kind      "embedded" (the embedding library's interpreter) or "python" (the env's own
#                 `python -c`, when no embedding library can serve the env)
#   _zl_why       why this kind (for the info file: `zenml-launcher server status`)


class _ZlServer:
    """The master of a command server, in the shape of Mercurial chg's `chgserver.py`: `serve`
    warms up, listens, then loops: `accept` (each call checked by `read_request`, or answered by
    `refuse`, then `fork_worker`), `hung_up` (a client gone takes its worker), `reap` (a worker's
    end reported to its client), and stops when stopped, stale, replaced or idle (`should_exit`).
    A worker leaves the loop in `run_worker` and never returns to it.
    """

    def __init__(self, socket_path, key_id, idle, call_argv0, preload, describe, marker, failed,
                 program, kind, why):
        self.socket_path = socket_path
        self.key_id = key_id
        self.idle = idle
        self.call_argv0 = call_argv0
        self.preload = preload
        self.describe = describe
        self.marker = marker
        self.failed = failed
        self.program = program
        self.kind = kind
        self.why = why
        self.stop = []  # why the server stops, first reason first
        self.workers = {}  # pid -> client connection
        self.started = {}  # pid -> fork time

    def log(self, message):
        import os
        import sys

        sys.stderr.write(f"zenml-launcher server {os.getpid()}: {message}\n")
        sys.stderr.flush()

    def fail_start(self, why):
        # The marker tells the next clients why (they delegate without respawning for a while).
        self.log(f"not serving: {why}")
        try:
            with open(self.marker, "wb") as f:
                f.write(self.failed + why.encode("utf-8", "replace"))
        except OSError:
            pass
        return False

    def serve(self, drop):
        """The server's life in the master; in a worker, the call's (it never returns)."""
        import os

        for name in drop:
            os.environb.pop(name, None)
        if self.warm_up() and self.listen():
            self.loop()
            self.clean_up()
        return ("master", None)

    def warm_up(self):
        """Imports ZenML (recording the rich consoles created on the way and what import changed
        in the environment, both replayed per call), then checks that nothing the CLI would show
        or depend on happened: output, a loaded config, a thread."""
        import ctypes
        import gc
        import importlib
        import os
        import sys

        self.env_before = dict(os.environb)
        # The log may already hold the launcher's own lines (why this kind of server): only what
        # the warm-up adds counts as printed.
        logged_before = (os.fstat(1).st_size, os.fstat(2).st_size)
        import rich.console

        self.consoles = []
        console_init = rich.console.Console.__init__
        consoles = self.consoles

        def recording_init(console, *args, **kwargs):
            import weakref

            consoles.append((weakref.ref(console), args, kwargs))
            console_init(console, *args, **kwargs)

        rich.console.Console.__init__ = recording_init
        try:
            for name in self.preload:
                importlib.import_module(name)
            import sqlalchemy.orm

            sqlalchemy.orm.configure_mappers()
        except Exception as err:  # noqa: BLE001 - any failure: this env gets no server
            return self.fail_start(f"warming up failed: {type(err).__name__}: {err}")
        finally:
            rich.console.Console.__init__ = console_init
        not_warmed = None
        try:
            self.migration_files = warm_migrations(os)
        except Exception as err:  # noqa: BLE001 - optional: calls then do what the CLI does
            not_warmed = f"migrations not warmed: {type(err).__name__}: {err}"
            self.migration_files = []
        env_after = dict(os.environb)
        self.env_set = {k: v for k, v in env_after.items() if self.env_before.get(k) != v}
        self.env_unset = [k for k in self.env_before if k not in env_after]
        sys.stdout.flush()
        sys.stderr.flush()
        if (os.fstat(1).st_size, os.fstat(2).st_size) != logged_before:
            return self.fail_start("importing ZenML printed something (the CLI would show it)")
        try:
            from zenml.client import Client
            from zenml.config.global_config import GlobalConfiguration

            if GlobalConfiguration.get_instance() is not None or Client._global_client is not None:
                return self.fail_start("importing ZenML loaded its configuration")
        except Exception as err:  # noqa: BLE001
            return self.fail_start(f"cannot check ZenML's state: {err}")
        if len(os.listdir("/proc/self/task")) != 1:
            return self.fail_start("importing ZenML started a thread")

        if not_warmed:
            self.log(not_warmed)  # into the server's log, after the check for output
        # Source files whose change makes this server stale: inotify on their directories.
        self.watched = watch_sources(os, sys, self.migration_files)
        self.fflush = ctypes.CDLL(None).fflush
        gc.collect()
        gc.freeze()
        return True

    def listen(self):
        """Binds under a temporary name, then renames into place: the socket appears only when
        ready. Then the info file, the marker's removal, signals and the selector."""
        import json
        import os
        import selectors
        import signal
        import socket
        import sys
        import time

        temp_path = self.socket_path + b".%d" % os.getpid()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.listener.bind(temp_path)
            self.listener.listen(64)
            os.rename(temp_path, self.socket_path)
            self.mine = os.stat(self.socket_path)
        except OSError as err:
            self.listener.close()
            return self.fail_start(f"cannot listen on {os.fsdecode(self.socket_path)}: {err}")
        self.info_path = self.socket_path[: -len(b".sock")] + b".json"
        try:
            zenml = sys.modules.get("zenml")
            info = {
                "pid": os.getpid(),
                "kind": self.kind,
                "why": self.why,
                "env": sys.prefix,
                "executable": sys.executable,
                "zenml": getattr(zenml, "__version__", None),
                "started": time.time(),
                "idle_s": self.idle,
            }
            with open(self.info_path + b".tmp", "w") as f:
                json.dump(info, f)
            os.rename(self.info_path + b".tmp", self.info_path)
            os.unlink(self.marker)
        except OSError:
            pass
        self.log(
            f"serving {os.fsdecode(self.socket_path)} ({self.kind}, {len(sys.modules)} modules,"
            f" idle {self.idle}s)"
        )
        self.listener.setblocking(False)

        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.stop.append("SIGTERM"))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.last_use = time.monotonic()
        return True

    def loop(self):
        """Serves until `should_exit`. In a worker, `run_worker` never returns."""
        import os

        while True:
            for key, _mask in self.selector.select(timeout=1.0):
                if key.data == "accept":
                    while True:
                        got = self.accept()
                        if isinstance(got, tuple):
                            self.run_worker(*got)
                        if not got:
                            break
                elif key.data == "wake":
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                else:
                    self.hung_up(key)
            self.reap()
            if self.should_exit():
                break

    def should_exit(self):
        """Stops listening once a reason to stop came (then exits when its workers are done), or
        exits after `idle` seconds without a call."""
        import time

        if not self.still_ours() and "replaced" not in self.stop:
            self.stop.append("replaced")
        if self.stop and self.listener.fileno() != -1:
            self.log(f"stopping: {self.stop[0]}")
            self.selector.unregister(self.listener)
            self.listener.close()
        if self.stop and not self.workers:
            return True
        if not self.workers and time.monotonic() - self.last_use > self.idle:
            self.log("idle, stopping")
            return True
        return False

    def clean_up(self):
        """Removes the socket if it is still this server's, and the info file if it is its own."""
        import json
        import os

        if self.still_ours():
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
        try:
            with open(self.info_path) as f:
                if json.load(f).get("pid") == os.getpid():
                    os.unlink(self.info_path)
        except (OSError, ValueError):
            pass

    def frame(self, conn, kind, payload):
        import struct

        try:
            conn.sendall(kind + struct.pack(">I", len(payload)) + payload)
            return True
        except OSError:
            return False

    def still_ours(self):
        import os

        try:
            now = os.stat(self.socket_path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (self.mine.st_dev, self.mine.st_ino)

    def reap(self):
        """Reports each ended worker's exit code (or killing signal) to its client."""
        import os
        import struct
        import time

        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.workers.pop(pid, None)
            if conn is None:
                continue
            elapsed = (time.monotonic() - self.started.pop(pid)) * 1000
            self.log(f"worker {pid}: {elapsed:.1f} ms, status {status}")
            if os.WIFSIGNALED(status):
                self.frame(conn, b"K", struct.pack(">i", os.WTERMSIG(status)))
            else:
                self.frame(conn, b"X", struct.pack(">i", os.waitstatus_to_exitcode(status)))
            try:
                self.selector.unregister(conn)
            except (KeyError, ValueError):
                pass  # its client hung up earlier
            conn.close()
            self.last_use = time.monotonic()
            try:
                os.utime(self.socket_path)
            except OSError:
                pass

    def hung_up(self, key):
        """A client's connection is readable: it hung up (or was killed). Its worker must not go
        on writing to the terminal."""
        import os
        import signal
        import socket

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
                self.selector.unregister(key.fileobj)
            except (KeyError, ValueError):
                pass

    @staticmethod
    def read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError("the client hung up")
            data += chunk
        return data

    def read_request(self, conn):
        """The request: its header with fds 0, 1, 2 and the cwd attached, then its fields."""
        import socket
        import struct

        fds = []
        msg, ancdata, _flags, _addr = conn.recvmsg(8, socket.CMSG_SPACE(4 * 4))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4]))
        if len(msg) < 8:
            msg += self.read_exact(conn, 8 - len(msg))
        if msg[:4] != b"ZLS1" or len(fds) != 4:
            raise ValueError("not a launcher request")
        body = self.read_exact(conn, struct.unpack(">I", msg[4:])[0])
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

    def refuse(self, conn, request, why):
        """Nothing ran: the client runs the call elsewhere."""
        import os

        self.frame(conn, b"R", why.encode("utf-8", "replace"))
        conn.close()
        for fd in (request or {}).get("fds", []):
            os.close(fd)

    def accept(self):
        """Accepts one connection: False when none is waiting, True when it was refused or
        handed to a worker, or in the forked worker (conn, request)."""
        import os
        import socket
        import struct

        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return False
        request = None
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _peer_pid, peer_uid, _gid = struct.unpack("3i", creds)
            if peer_uid != os.getuid():
                self.log(f"refused a connection from uid {peer_uid}")
                self.refuse(conn, None, "another user")
                return True
            conn.setblocking(True)
            conn.settimeout(5.0)
            request = self.read_request(conn)
            if request["key"] != self.key_id:
                self.refuse(conn, request, "this server serves another key")
                return True
            stale = self.watched()
            if stale:
                self.log(f"stale: {stale}")
                self.stop.append("stale")
                self.refuse(conn, request, f"stale: {stale}")
                return True
            if len(os.listdir("/proc/self/task")) != 1:
                self.stop.append("threads")
                self.refuse(conn, request, "the server has more than one thread")
                return True
        except (OSError, ValueError, EOFError, struct.error) as err:
            self.log(f"bad request: {err}")
            self.refuse(conn, request, "bad request")
            return True
        conn.settimeout(None)
        return self.fork_worker(conn, request)

    def fork_worker(self, conn, request):
        """Forks the call's worker: in the worker, (conn, request); in the master, True once the
        client was told the worker's pid (P)."""
        import os
        import selectors
        import signal
        import struct
        import time

        pid = os.fork()
        if pid == 0:
            return (conn, request)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        for fd in request["fds"]:
            os.close(fd)
        if not self.frame(conn, b"P", struct.pack(">i", pid)):
            os.killpg(pid, signal.SIGKILL)
        self.workers[pid] = conn
        self.started[pid] = time.monotonic()
        self.selector.register(conn, selectors.EVENT_READ, pid)
        return True

    def run_worker(self, conn, request):
        """In the forked worker: drops the master's sockets, pipes, watches and handlers, takes
        over the client's process state and runs the call (`run_program` ends the process)."""
        import os
        import signal
        import sys

        for other in list(self.workers.values()):
            other.close()
        self.selector.close()
        self.listener.close()
        signal.set_wakeup_fd(-1)
        os.close(self.wake_r)
        os.close(self.wake_w)
        conn.close()
        self.watched(close=True)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        prepare_worker(
            os, sys, request, self.call_argv0, self.consoles, self.env_set, self.env_unset,
            self.env_before,
        )
        if request["debug"] and self.describe:
            exec(self.describe, {})
        run_program(os, sys, self.program, self.fflush)


def warm_migrations(os):
    """What ZenML does on every store open (`SqlZenStore.migrate_database`: alembic loads every
    migration script and walks the revision graph to compare the database's revisions with the
    heads), done once for the installed migrations: a pure function of installed files, never
    of the user's config or store. Each worker then gets, for ZenML's own migrations directory,
    alembic's revision map already loaded (the same `RevisionMap` a fresh `ScriptDirectory`
    would build from the same files), and `_get_all_current` memoized by its input (the revision
    ids the database holds; the map does not change, so neither does the answer; a failure is
    not kept, so an unknown revision raises as before, through no frame of ours). Returns the migration files, whose
    directory the staleness watch must cover (alembic loads them without `sys.modules`). Any
    surprise in alembic's or ZenML's shape: nothing is warmed (`[]`)."""
    import functools

    try:
        import zenml.zen_stores.migrations.alembic as zenml_alembic
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        return []
    location = os.path.abspath(os.path.dirname(zenml_alembic.__file__))
    config = Config()
    config.set_main_option("script_location", location)
    revision_map = ScriptDirectory.from_config(config).revision_map
    if not callable(getattr(revision_map, "_get_all_current", None)):
        return []
    heads = tuple(revision_map.heads)  # loads every script
    files = [rev.path for rev in revision_map.iterate_revisions(heads, "base")]
    # functools' C wrapper: no frame of ours in a traceback (an unknown revision raises through
    # it exactly as without it). ZenML passes the ids as a str or a tuple, both hashable.
    memoized_all_current = functools.lru_cache(maxsize=64)(revision_map._get_all_current)
    revision_map._get_all_current = memoized_all_current
    memoized_all_current(heads)  # a database at the heads: the common case
    init = ScriptDirectory.__init__

    def init_with_warm_map(self, dir, *args, **kwargs):  # noqa: A002 - alembic's name
        init(self, dir, *args, **kwargs)
        if not self.version_locations and os.path.abspath(dir) == location:
            self.revision_map = revision_map

    ScriptDirectory.__init__ = init_with_warm_map
    return files


def watch_sources(os, sys, extra_files=()):
    """A function telling what changed (or "") among the imported modules' source directories
    (and those of `extra_files`).

    Directories are watched with inotify (a change is queued by the kernel before the writer's
    call returns, so the next call sees it); without inotify, their files' mtimes are compared.
    """
    import struct

    files = {}
    paths = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    for path in paths + list(extra_files):
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


try:
    _ZlServer(
        _zl_socket,
        _zl_key,
        _zl_idle,
        _zl_argv,
        _zl_preload,
        _zl_describe,
        _zl_marker,
        _zl_failed,
        _zl_program,
        _zl_kind,
        _zl_why,
    ).serve(_zl_drop)
finally:
    del _ZlServer, _zl_socket, _zl_key, _zl_idle, _zl_argv, _zl_preload, _zl_describe
    del _zl_marker, _zl_failed, _zl_drop, _zl_program, _zl_kind, _zl_why
    del watch_sources, warm_migrations
    del prepare_worker, run_program
    del system_exit_code
