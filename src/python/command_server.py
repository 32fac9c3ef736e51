# The warm command server (`python/serve.rs` runs this, after `command_worker.py`, in `__main__`
# of the embedded interpreter; in each worker the env's console script then runs).
#
# The master imports ZenML, its CLI and the store modules, configures SQLAlchemy's mappers and
# freezes the GC: the work that is the same for every call. It loads no ZenML config, opens no
# store and starts no thread. Then it listens on a Unix socket and forks one worker per call,
# ahead of the call (a spare waits for the next call: `make_spare`, `hand_off`).
# The worker takes over the client's stdin, stdout and stderr (passed as fds), its cwd (an fd),
# umask, environment and argv, re-derives what ZenML's libraries fixed at import from them (the
# rich consoles, stdout's buffering), and runs the console script as `python bin/zenml` does
# (`run_program`: sys.path[0], exit code, tracebacks, KeyboardInterrupt, atexit, flushes).
# The master reports the worker's end (exit code or signal) to the client; a worker posts its
# exit code just before it exits, so the client need not wait for its teardown (`ended`). The
# master is the class `_ZlServer`; the worker's side is in `command_worker.py`.
#
# Frames, server -> client: one type byte, a big-endian u32 length, the payload.
#   P  pid of the worker (the command may run from now on)
#   X  exit code (i32)       K  killed by this signal (i32)
#   R  refused, with a reason: nothing ran, the client runs the call elsewhere
# Request, client -> server: b"ZLS1" + u32 length (fds 0, 1, 2 and the cwd attached, SCM_RIGHTS),
# then that many bytes: fields as u32 length + bytes: key id, umask (octal text), debug flag,
# argc then argv, envc then "NAME=value" entries, then the signals the client ignores and those
# it blocks (hex text, bit `sig - 1`).
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
        self.workers = {}  # pid -> client connection (None once the worker reported its end)
        self.started = {}  # pid -> fork time
        self.slots = {}  # pid -> its slot on the board (`ended`), of a worker or the spare
        self.tells_client = set()  # pids of spares handed a call: they send P themselves
        self.spare = None  # (pid, control socket) of the worker forked ahead (`make_spare`)

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
            self.retire_spare()
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

        import time

        cpu = [time.process_time()]

        def phase(name):
            now = time.process_time()
            phases.append(f"{name} {now - cpu[0]:.2f}")
            cpu[0] = now

        phases = []
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
        phase("import")
        warm_notes = []
        try:
            self.migration_files = warm_migrations(os)
        except Exception as err:  # noqa: BLE001 - optional: calls then do what the CLI does
            warm_notes.append(f"migrations not warmed: {type(err).__name__}: {err}")
            self.migration_files = []
        # What every call would build again: kept alive here (some caches hold weak references).
        self.kept = []
        phase("migrations")
        warned = warm_caches(self.kept, warm_notes)
        phase("caches")
        if warned:
            return self.fail_start(f"warming up warned (the CLI would show it): {warned}")
        try:
            warm_sql(os, sys, self.kept, warm_notes)
        except Exception as err:  # noqa: BLE001 - optional: calls compile their SQL themselves
            warm_notes.append(f"SQL not warmed: {type(err).__name__}: {err}")
        phase("SQL")
        warm_notes.append("warm-up CPU seconds: " + ", ".join(phases))
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

        for note in warm_notes:
            self.log(note)  # into the server's log, after the check for output
        # Source files whose change makes this server stale: inotify on their directories. A
        # server that cannot watch them all (no inotify watch or instance left) would not see
        # an edit: it does not serve.
        try:
            self.watched = watch_sources(os, sys, self.migration_files)
        except OSError as err:
            return self.fail_start(f"cannot watch the imported modules for changes: {err}")
        self.fflush = ctypes.CDLL(None).fflush
        self.prctl = ctypes.CDLL(None).prctl
        gc.collect()
        gc.freeze()
        return True

    def listen(self):
        """Binds under a temporary name, then renames into place: the socket appears only when
        ready. Then the info file, the marker's removal, signals and the selector."""
        import json
        import mmap
        import os
        import selectors
        import signal
        import socket
        import sys
        import time

        temp_path = self.socket_path + b".%d" % os.getpid()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.bind(temp_path)
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
        signal.signal(signal.SIGUSR2, lambda *_: None)  # a worker posted its end (`ended`)
        self.board = mmap.mmap(-1, 8 * 256)  # MAP_SHARED | MAP_ANONYMOUS: no descriptor
        self.free_slots = list(range(255, -1, -1))
        signal.signal(signal.SIGTERM, lambda *_: self.stop.append("SIGTERM"))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.last_use = time.monotonic()
        return True

    def bind(self, path):
        """Binds the listener to `path`; a longer path than a socket address holds (107 bytes)
        through an O_PATH descriptor of its directory, as the client connects to it."""
        import os

        if len(path) <= 107:
            self.listener.bind(path)
            return
        directory = os.open(
            os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        )
        try:
            self.listener.bind(b"/proc/self/fd/%d/%s" % (directory, os.path.basename(path)))
        finally:
            os.close(directory)

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
            self.ended()
            self.reap()
            if self.should_exit():
                break
            got = self.make_spare()
            if isinstance(got, tuple):
                self.run_worker(*got)

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

        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.slots.pop(pid, None)
            state = None
            if slot is not None:  # the process is gone: its slot is free again
                state = struct.unpack_from("<I", self.board, 8 * slot)[0]
                struct.pack_into("<II", self.board, 8 * slot, 0, 0)
                self.free_slots.append(slot)
            told = pid in self.tells_client
            self.tells_client.discard(pid)
            if self.spare is not None and self.spare[0] == pid:
                self.log(f"the spare worker {pid} ended before a call, status {status}")
                self.spare[1].close()
                self.spare = None
            if pid not in self.workers:
                continue
            conn = self.workers.pop(pid)
            elapsed = (time.monotonic() - self.started.pop(pid)) * 1000
            self.log(f"worker {pid}: {elapsed:.1f} ms, status {status}")
            if conn is not None:  # else the worker reported its exit code (`ended`)
                if told and state == 1:  # a spare killed before it sent its pid
                    self.frame(conn, b"P", struct.pack(">i", pid))
                if os.WIFSIGNALED(status):
                    self.frame(conn, b"K", struct.pack(">i", os.WTERMSIG(status)))
                else:
                    code = os.waitstatus_to_exitcode(status)
                    self.frame(conn, b"X", struct.pack(">i", code))
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
        magic, length, fds = self.read_header(conn, 4)
        if magic != b"ZLS1" or len(fds) != 4:
            raise ValueError("not a launcher request")
        body = self.read_exact(conn, length)
        request = self.parse_request(body)
        request["fds"] = fds
        return request

    @classmethod
    def read_header(cls, sock, nfds):
        """A header (4 magic bytes, a big-endian u32 length) with up to `nfds` fds attached:
        (magic, length, fds)."""
        import socket
        import struct

        fds = []
        msg, ancdata, _flags, _addr = sock.recvmsg(8, socket.CMSG_SPACE(nfds * 4))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4]))
        if len(msg) < 8:
            msg += cls.read_exact(sock, 8 - len(msg))
        return msg[:4], struct.unpack(">I", msg[4:])[0], fds

    @staticmethod
    def parse_request(body):
        """A request's fields (`body`, kept as `raw` for a hand-off to the spare)."""
        import struct

        pos = 0

        def field():
            nonlocal pos
            (n,) = struct.unpack(">I", body[pos : pos + 4])
            pos += 4 + n
            return body[pos - n : pos]

        request = {"raw": body, "key": field(), "umask": int(field(), 8), "debug": field() == b"1"}
        request["argv"] = [field() for _ in range(int(field()))]
        request["env"] = [field() for _ in range(int(field()))]
        request["ignored"] = int(field(), 16)
        request["blocked"] = int(field(), 16)
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

        pid = self.hand_off(conn, request)
        if pid is not None:
            self.tells_client.add(pid)  # the spare sends P itself
        else:
            slot = self.free_slots.pop() if self.free_slots else None  # see `ended`
            if slot is not None:
                struct.pack_into("<II", self.board, 8 * slot, 1, 0)
            master = os.getpid()
            pid = os.fork()
            if pid == 0:
                request["end"] = None if slot is None else (self.board, slot, master)
                return (conn, request)
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            if slot is not None:
                self.slots[pid] = slot
        for fd in request["fds"]:
            os.close(fd)
        if pid not in self.tells_client and not self.frame(conn, b"P", struct.pack(">i", pid)):
            os.killpg(pid, signal.SIGKILL)
        self.workers[pid] = conn
        self.started[pid] = time.monotonic()
        self.selector.register(conn, selectors.EVENT_READ, pid)
        return True

    def make_spare(self):
        """Forks the next call's worker ahead of the call, while the master has nothing else
        to do: forking a warm interpreter copies the page tables of its whole memory (several
        ms, more than the client's own start). The spare waits on a socket pair for a call
        (`hand_off`), then is that call's worker as if forked for it. It dies with the master
        (PR_SET_PDEATHSIG), exits on EOF (`retire_spare`), and is forked again after each
        hand-off. In the master: None; in the spare, once handed a call: (conn, request).
        The log's fork-to-exit time of a spare's call counts from the hand-off."""
        import os
        import signal
        import socket
        import struct

        if self.spare is not None or self.stop or not self.free_slots:
            return None
        if self.listener.fileno() == -1:
            return None
        slot = self.free_slots.pop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        master = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
                if os.getppid() != master:
                    os._exit(0)
                conn, request = self.wait_for_call(theirs)
                # This process tells the client its pid (P) itself: the client need not wait
                # for the master to be scheduled again after the confirmation. A client already
                # gone: the call is not run.
                if not self.frame(conn, b"P", struct.pack(">i", os.getpid())):
                    os._exit(0)
                struct.pack_into("<I", self.board, 8 * slot, 5)  # P sent
                request["end"] = (self.board, slot, master)
                return (conn, request)
            except BaseException:  # noqa: BLE001 - retired, or the master is gone
                os._exit(0)
        theirs.close()
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        ours.settimeout(5.0)
        self.slots[pid] = slot
        self.spare = (pid, ours)
        return None

    def wait_for_call(self, sock):
        """In the spare: the call the master hands over (`hand_off`): the client's connection
        and fds, then the request's fields. EOF: retired."""
        import socket

        magic, length, fds = self.read_header(sock, 5)
        if magic != b"ZLH1" or len(fds) != 5:
            raise EOFError("retired")
        request = self.parse_request(self.read_exact(sock, length))
        sock.sendall(b"A")  # the call is this process's from now on
        sock.close()
        self.prctl(1, 0)  # from now on a worker like the others: it outlives a killed master
        request["fds"] = fds[1:]
        return socket.socket(fileno=fds[0]), request

    def hand_off(self, conn, request):
        """Hands the call to the spare: its pid once the spare confirmed it has the call, or None
        (no spare, or it could not take the call, e.g. it was killed: then it is retired and the
        call, which did not run, gets a worker of its own)."""
        import array
        import os
        import signal
        import socket
        import struct

        if self.spare is None:
            return None
        pid, ours = self.spare
        self.spare = None
        slot = self.slots.get(pid)
        if slot is not None:
            struct.pack_into("<II", self.board, 8 * slot, 1, 0)
        fds = array.array("i", [conn.fileno(), *request["fds"]])
        try:
            header = b"ZLH1" + struct.pack(">I", len(request["raw"]))
            ours.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            ours.sendall(request["raw"])
            if ours.recv(1) != b"A":
                raise OSError("it ended before confirming")
        except OSError as err:
            self.log(f"the spare worker {pid} could not take a call: {err}")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            return None
        finally:
            ours.close()
        return pid

    def retire_spare(self):
        """Ends the spare (it was never handed a call) and reaps it."""
        import os
        import signal

        if self.spare is None:
            return
        pid, ours = self.spare
        self.spare = None
        ours.close()
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass

    def ended(self):
        """Reports the exit code of each worker that posted it on the board: a worker writes
        the code it is about to exit with into its slot (after its last flush, with every
        signal blocked, right before `os._exit`), then wakes the master with SIGUSR2. The
        client need not wait while the kernel tears down the worker's copy of the master's
        memory (several ms for a warm interpreter). The board is a shared anonymous mapping,
        so the worker holds no descriptor of the master's. The worker is reaped later, without
        a second frame, and its client's hang-up no longer kills its process group (what it
        started lives on, as after the CLI's exit). A worker that ends otherwise (a signal, a
        failed flush, no free slot) is reported by `reap`."""
        import struct

        for pid, slot in self.slots.items():
            conn = self.workers.get(pid)
            if conn is None:
                continue
            state, code = struct.unpack_from("<II", self.board, 8 * slot)
            if state != 2:
                continue
            self.frame(conn, b"X", struct.pack(">i", code))
            try:
                self.selector.unregister(conn)
            except (KeyError, ValueError):
                pass  # its client hung up earlier
            conn.close()
            self.workers[pid] = None  # reported; reaped later

    def run_worker(self, conn, request):
        """In the forked worker: drops the master's sockets, pipes, watches and handlers, takes
        over the client's process state and runs the call (`run_program` ends the process)."""
        import os
        import signal
        import sys

        for other in list(self.workers.values()):
            if other is not None:
                other.close()
        if self.spare is not None:
            self.spare[1].close()
        self.selector.close()
        self.listener.close()
        signal.set_wakeup_fd(-1)
        os.close(self.wake_r)
        os.close(self.wake_w)
        conn.close()
        self.watched(close=True)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        prepare_worker(
            os, sys, request, self.call_argv0, self.consoles, self.env_set, self.env_unset,
            self.env_before,
        )
        if request["debug"] and self.describe:
            exec(self.describe, {})
        run_program(os, sys, self.program, self.fflush, request["end"])


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
    # The upgrade ZenML then runs (`_upgrade_revs("heads", current)`) walks the graph again to
    # find nothing to do: memoized the same way (its callers only read the set it returns).
    collect = getattr(revision_map, "_collect_upgrade_revisions", None)
    if callable(collect):
        revision_map._collect_upgrade_revisions = functools.lru_cache(maxsize=64)(collect)
        for head in heads:
            list(revision_map.iterate_revisions("heads", head, implicit_base=True))
    init = ScriptDirectory.__init__

    def init_with_warm_map(self, dir, *args, **kwargs):  # noqa: A002 - alembic's name
        init(self, dir, *args, **kwargs)
        if not self.version_locations and os.path.abspath(dir) == location:
            self.revision_map = revision_map

    ScriptDirectory.__init__ = init_with_warm_map
    # The version table alembic builds for each migration context (`version_table_impl`: a
    # `Table` of its own `MetaData`, a pure function of its arguments) is built once per
    # arguments: SQLAlchemy keys compiled SQL by table identity, so a new table object made each
    # call compile its SELECT of the database's revisions again (the one compiled here, on the
    # warm-up's scratch store, is then the workers'). Nothing mutates it (alembic selects from,
    # creates, deletes from and drops it).
    try:
        from alembic.ddl.impl import DefaultImpl
    except ImportError:
        return files
    build = getattr(DefaultImpl, "version_table_impl", None)
    if callable(build):
        tables = {}

        def version_table_impl(self, **kw):
            try:
                key = (type(self), tuple(sorted(kw.items())))
                hash(key)
            except TypeError:
                return build(self, **kw)
            table = tables.get(key)
            if table is None:
                table = tables[key] = build(self, **kw)
            return table

        DefaultImpl.version_table_impl = version_table_impl
    return files


def warm_caches(kept, notes):
    """The rest of what every call builds again from the installed files alone, done once (each
    step optional: one that fails leaves the calls doing it themselves, as the CLI does, and adds
    a line to `notes` for the log):

    - modules the CLI imports only when it runs a command;
    - pydantic's deferred model builds: a model whose annotations name models defined after it
      is completed on its first use, in every call (`model_rebuild`, resolving the names in its
      module as that first use would); and ZenML's `Page[Any]`, which pydantic's generic cache
      holds only weakly (`kept` holds it here);
    - `re`'s cache for the patterns of rich's highlighter, SQLAlchemy's URL parser and ZenML's
      path schemes; rich's cell-width table for this key's `UNICODE_VERSION`;
    - ZenML's check whether a list query needs DISTINCT, memoized by the query's structure.

    Nothing here reads the user's config, store or terminal. A warning raised on the way is one
    that the CLI would show on first use and a worker would then no longer raise: the warning is
    returned, and the server does not serve.
    """
    import importlib
    import warnings

    def lazy_imports():
        # Seen imported by served calls of `stack describe`, `pipeline list`, `pipeline runs
        # list`, help pages and completion.
        for name in (
            "sqlite3",
            "rich.status",
            "rich._emoji_codes",
            "click.shell_completion",
            "click._textwrap",
            "zenml.zen_stores.migrations.backup.sqlalchemy",
        ):
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # another release: its calls import what they need

    def pydantic_models():
        import pydantic

        models, todo = set(), [pydantic.BaseModel]
        while todo:
            for sub in todo.pop().__subclasses__():
                if sub not in models:
                    models.add(sub)
                    todo.append(sub)
        for model in sorted(models, key=lambda m: (m.__module__, m.__qualname__)):
            if not model.__dict__.get("__pydantic_complete__", True):
                # As its first use would: the model's own module and definition namespace (the
                # first use adds the locals of pydantic's own frame: no model names).
                model.model_rebuild(raise_errors=False, _parent_namespace_depth=0)
        from typing import Any

        from zenml.models import Page

        kept.append(Page[Any])  # `filter_and_paginate` builds it on every list

    def patterns():
        import rich.cells
        import rich.highlighter
        import sqlalchemy.engine

        rich.highlighter.ReprHighlighter()("x")
        sqlalchemy.engine.make_url("sqlite://")
        rich.cells.load_cell_table("auto")  # as rich calls it
        from zenml.io.filesystem_registry import default_filesystem_registry

        try:
            default_filesystem_registry.get_filesystem_for_path("/")
        except ValueError:
            pass  # no local filesystem registered yet: the pattern is compiled all the same

    def distinct():
        # ZenML's `_query_requires_distinct(query)` asks SQLAlchemy for the query's FROM list,
        # which compiles the whole query with the default dialect on every list call. Its answer
        # depends on the query's structure alone, which SQLAlchemy's cache key captures (bound
        # values aside): memoized by that key (a query without one is asked as before).
        from zenml.zen_stores.sql_zen_store import SqlZenStore

        ask = SqlZenStore.__dict__["_query_requires_distinct"].__func__
        answers = {}

        def query_requires_distinct(query):
            cache_key = query._generate_cache_key()
            try:
                answer = answers.get(cache_key.key) if cache_key is not None else None
            except TypeError:  # an unhashable key
                return ask(query)
            if answer is None:
                answer = ask(query)
                if cache_key is not None:
                    answers[cache_key.key] = answer
            return answer

        SqlZenStore._query_requires_distinct = staticmethod(query_requires_distinct)

    with warnings.catch_warnings(record=True) as caught:
        for what, step in (
            ("lazy imports", lazy_imports),
            ("pydantic models", pydantic_models),
            ("patterns", patterns),
            ("distinct", distinct),
        ):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - optional: calls do it themselves
                notes.append(f"{what} not warmed: {type(err).__name__}: {err}")
    return "; ".join(str(w.message) for w in caught)


def warm_sql(os, sys, kept, notes):
    """SQLAlchemy's compiled SQL for what ZenML's local store runs on every call, compiled once.

    A SQLite engine keeps the SQL it compiled in a cache of its own, keyed by the statement's
    structure and by the engine's dialect, so each call (a new engine) compiles every statement
    again: a third of a store command's time. The compiled form is a function of the statement
    and the dialect's settings alone (the SQLite library's version; no data, no path).

    Here the master makes a scratch store of the installed ZenML in a temporary directory (never
    the user's: `ZENML_CONFIG_PATH` points there meanwhile, and the store is built by ZenML's own
    code from its schema), runs on it the reads every store call makes (`_initialize_database`,
    `validate_active_config`) and the list commands' queries (through `Client`'s own methods, with
    the CLI's default options), then closes it and deletes the directory, keeping only its
    dialect and compiled SQL. In a worker, an engine whose dialect is that dialect's equal (same
    class, same settings after its first connection) looks its statements up in a copy of that
    cache (`SharedCompiledSQL`); any other engine is left alone. The scratch work's output goes
    to /dev/null, its environment and loggers are restored, and it must warn nothing (a
    statement that warns when compiled keeps being compiled by each call); otherwise nothing is
    kept. The checks after the warm-up still apply: no ZenML configuration loaded, one thread.
    """
    import contextlib
    import logging
    import shutil
    import tempfile
    import uuid
    import warnings
    import weakref

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlmodel import Session, SQLModel
    from zenml.analytics.utils import analytics_disabler
    from zenml.enums import StoreType
    from zenml.zen_stores import sql_zen_store
    from zenml.zen_stores.migrations.alembic import Alembic
    from zenml.zen_stores.schemas import ServerSettingsSchema

    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger)
    ]
    logger_state = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    env = dict(os.environb)
    tempdir = tempfile.tempdir  # `mkdtemp` fixes it for the process: a worker finds its own
    scratch = tempfile.mkdtemp(prefix="zenml-launcher-warm-")
    tempfile.tempdir = tempdir
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = (os.dup(1), os.dup(2))
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    store = None
    try:
        os.environ["ZENML_CONFIG_PATH"] = scratch
        # Recorded under the filters the CLI runs with: what it would show.
        with warnings.catch_warnings(record=True) as caught, analytics_disabler():
            store = scratch_store(scratch, sql_zen_store, Session, SQLModel, Alembic,
                                  ServerSettingsSchema, StoreType, uuid)
            project, stack = store_reads(store)
            # Until they compile nothing new (at most four times): ZenML's DISTINCT check, when
            # it is not answered by its memo (`warm_caches`), leaves the checked query with the
            # ORM's compile options, so the queries made from it have other cache keys than in
            # a worker, where the memo answers. Each pass memoizes one more check.
            for again in (False, True, True, True):
                compiled_before = len(store.engine._compiled_cache)
                notes.extend(scratch_lists(store, project, stack, again=again))
                if again and len(store.engine._compiled_cache) == compiled_before:
                    break
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in (*saved_fds, null):
            os.close(fd)
        os.environb.clear()
        os.environb.update(env)
        for lg, level, handlers, propagate, disabled in logger_state:
            lg.handlers[:] = handlers
            lg.level, lg.propagate, lg.disabled = level, propagate, disabled
        manager._clear_cache()
        if store is not None:
            store.engine.dispose()  # its SQLite connections: no descriptor reaches a worker
        shutil.rmtree(scratch, ignore_errors=True)
    if caught:
        first = caught[0]
        raise RuntimeError(
            f"the scratch store warned: {first.category.__name__}: {first.message}"
            f" ({first.filename}:{first.lineno})"
        )
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith(scratch):
                raise RuntimeError("the scratch store left a file open")
    dialect, compiled = store.engine.dialect, store.engine._compiled_cache
    kept.append((dialect, compiled))
    # The worker's engines see these through the closure (the script's globals are the console
    # script's by then).
    same, shared_cache = same_dialect, SharedCompiledSQL
    seen = weakref.WeakSet()  # the engines already looked at

    def share_compiled_sql(connection):
        try:
            engine = connection.engine
            if engine in seen or engine.dialect is dialect:
                return
            seen.add(engine)
            if same(dialect, engine.dialect):
                engine._compiled_cache = shared_cache(compiled, dialect, engine.dialect)
        except Exception:  # noqa: BLE001 - the engine keeps its own cache
            pass

    event.listen(Engine, "engine_connect", share_compiled_sql)
    notes.append(f"warmed {len(compiled)} compiled SQL statements")


def scratch_store(scratch, sql_zen_store, Session, SQLModel, Alembic, ServerSettingsSchema,
                  StoreType, uuid):
    """A local store of the installed ZenML in `scratch`, initialized as ZenML initializes the
    user's: schema, alembic head, settings (already active: no default user, whose creation
    reads the global configuration), the local flavors, the default project and stack."""
    import os

    from zenml.artifact_stores import LocalArtifactStoreFlavor
    from zenml.deployers import LocalDeployerFlavor
    from zenml.orchestrators import LocalOrchestratorFlavor

    config = sql_zen_store.SqlZenStoreConfiguration(
        type=StoreType.SQL, url="sqlite:///" + os.path.join(scratch, "zenml.db"),
        backup_directory=scratch,
    )
    url, connect_args, engine_args = config.get_sqlalchemy_config()
    engine = sql_zen_store.create_engine(url=url, connect_args=connect_args, **engine_args)
    try:
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            session.add(ServerSettingsSchema(
                id=uuid.uuid4(), server_name="zenml-launcher warm-up", active=True,
                enable_analytics=False, display_announcements=False, display_updates=False,
                logo_url=None, onboarding_state=None,
            ))
            session.commit()
        Alembic(engine).stamp("head")
    finally:
        engine.dispose()
    store = sql_zen_store.SqlZenStore(config=config, skip_default_registrations=True)
    for flavor in (LocalOrchestratorFlavor, LocalArtifactStoreFlavor, LocalDeployerFlavor):
        store.create_flavor(flavor().to_model(integration="built-in", is_custom=False))
    store._initialize_database()  # creates the default project and stack
    # The default user, as the server's activation creates it (`create_user` minus its analytics,
    # which read the global configuration).
    from zenml.constants import DEFAULT_USERNAME, ENV_ZENML_DEFAULT_USER_NAME
    from zenml.models import UserRequest
    from zenml.zen_stores.schemas import UserSchema

    name = os.getenv(ENV_ZENML_DEFAULT_USER_NAME, DEFAULT_USERNAME)
    with Session(store.engine) as session:
        session.add(UserSchema.from_user_request(UserRequest(name=name, active=True, is_admin=True)))
        session.commit()
    return store


def store_reads(store):
    """What every call of a local store reads when it opens it (the defaults exist) and when the
    global configuration validates its active project and stack."""
    store._initialize_database()
    project = store._get_or_create_default_project()
    stack = store._get_or_create_default_stack()
    store.validate_active_config(project.id, stack.id, config_name="global")
    return project, stack


def scratch_lists(store, project, stack, again=False):
    """The queries of the list commands, with the CLI's default options, through `Client`'s own
    methods on the scratch store (a stand-in for the client: its store and active project and
    stack only), after one pipeline with one run exists (made unless `again`). Returns what could
    not be warmed."""
    from datetime import datetime, timezone

    from zenml.cli.cli import cli
    from zenml.client import Client
    from zenml.config.pipeline_configurations import PipelineConfiguration
    from zenml.enums import ExecutionStatus
    from zenml.models import (
        PipelineRequest,
        PipelineRunRequest,
        PipelineRunUpdate,
        PipelineSnapshotRequest,
    )

    notes = []

    class ScratchClient:
        zen_store = store
        active_project = project
        active_stack_model = stack

    def create_a_run():
        pipeline = store.create_pipeline(PipelineRequest(name="warm-up", project=project.id))
        snapshot = store.create_snapshot(PipelineSnapshotRequest(
            project=project.id, run_name_template="warm-up",
            pipeline_configuration=PipelineConfiguration(name="warm-up"),
            step_configurations={}, stack=stack.id, pipeline=pipeline.id,
        ))
        run, _ = store.get_or_create_run(PipelineRunRequest(
            name="warm-up", snapshot=snapshot.id, project=project.id,
            status=ExecutionStatus.RUNNING, start_time=datetime.now(timezone.utc),
        ))
        store.update_run(run.id, PipelineRunUpdate(
            status=ExecutionStatus.COMPLETED, end_time=datetime.now(timezone.utc)))

    if not again:  # else the pipeline and its run exist
        try:
            create_a_run()
        except Exception as err:  # noqa: BLE001 - the lists are warmed without rows
            notes.append(f"SQL: no pipeline run in the scratch store: {type(err).__name__}: {err}")
    for path, method, extra in (
        (("pipeline", "list"), "list_pipelines", {}),
        (("pipeline", "runs", "list"), "list_pipeline_runs", {}),
        (("project", "list"), "list_projects", {"hydrate": True}),
        (("orchestrator", "list"), "list_stack_components", {"type": "orchestrator"}),
        (("artifact-store", "list"), "list_stack_components", {"type": "artifact_store"}),
    ):
        try:
            command = cli
            for name in path:
                command = command.commands[name]
            ctx = command.make_context(" ".join(path), [], resilient_parsing=False)
            kwargs = {k: v for k, v in ctx.params.items() if k not in ("columns", "output_format")}
            for name, value in kwargs.items():  # as `list_options` hands them to the command
                if isinstance(value, tuple):
                    kwargs[name] = None if not value else value[0] if len(value) == 1 else list(value)
            kwargs.update(extra)  # what the command itself adds
            getattr(Client, method)(ScratchClient(), **kwargs)
        except Exception as err:  # noqa: BLE001 - this list compiles its SQL per call
            notes.append(f"SQL: {' '.join(path)} not warmed: {type(err).__name__}: {err}")
    return notes


def same_dialect(master, dialect):
    """Whether `dialect` compiles as `master` does: the same classes, and the same settings
    once its first connection initialized it (the SQLite library's version, paramstyle, ...).
    Attributes only one of them has are the ones SQLAlchemy memoizes on first use (computed from
    those settings); the dialects' own caches are not compared."""
    if "server_version_info" not in vars(dialect):
        return False  # not initialized by a connection yet
    own = {"_type_memos", "identifier_preparer", "type_compiler", "type_compiler_instance"}
    mine, theirs = vars(master), vars(dialect)
    return (
        type(dialect) is type(master)
        and type(dialect.identifier_preparer) is type(master.identifier_preparer)
        and type(dialect.type_compiler_instance) is type(master.type_compiler_instance)
        and all(mine[k] == theirs[k] for k in (mine.keys() & theirs.keys()) - own)
    )


class SharedCompiledSQL:
    """A worker engine's compiled-SQL cache: the master's, as the master's dialect compiled it
    (this engine's dialect has the same class and settings). SQLAlchemy keys the cache by
    dialect; the key is translated. A miss is compiled by this engine and kept here as usual."""

    def __init__(self, compiled, master_dialect, dialect):
        self.compiled, self.master_dialect, self.dialect = compiled, master_dialect, dialect

    def _key(self, key):
        if isinstance(key, tuple) and key and key[0] is self.dialect:
            return (self.master_dialect,) + key[1:]
        return key

    def get(self, key, default=None):
        return self.compiled.get(self._key(key), default)

    def __getitem__(self, key):
        return self.compiled[self._key(key)]

    def __setitem__(self, key, value):
        self.compiled[self._key(key)] = value

    def __contains__(self, key):
        return self._key(key) in self.compiled

    def __len__(self):
        return len(self.compiled)

    def clear(self):
        self.compiled.clear()


def watch_sources(os, sys, extra_files=()):
    """A function telling what changed (or "") among the imported modules' source directories
    (and those of `extra_files`), watched with inotify: a change is queued by the kernel before
    the writer's call returns, so the next call sees it. Raises OSError when a directory cannot
    be watched (no inotify instance or watch left: `fs.inotify.max_user_*`).
    """
    import ctypes
    import errno
    import struct

    paths = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    directories = sorted(
        {os.path.dirname(p) for p in paths + list(extra_files) if isinstance(p, str) and os.path.exists(p)}
    )
    relevant = (".py", ".so", ".pth", ".pyd")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"inotify_init1: {os.strerror(code)}")
    # modify, attrib, close_write, moved_from, moved_to, create, delete, delete_self, move_self
    mask = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
    for n, directory in enumerate(directories):
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            code = ctypes.get_errno()
            os.close(fd)
            raise OSError(
                code,
                f"inotify_add_watch: {os.strerror(code)} at directory {n + 1} of {len(directories)}"
                + (" (fs.inotify.max_user_watches)" if code == errno.ENOSPC else ""),
            )

    def by_inotify(close=False):
        if close:
            os.close(fd)
            return ""
        # Every queued event: one read returns at most 64 KiB of them.
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return ""
            pos = 0
            while pos + 16 <= len(data):
                _wd, event, _cookie, length = struct.unpack_from("iIII", data, pos)
                name = data[pos + 16 : pos + 16 + length].rstrip(b"\0").decode("utf-8", "replace")
                pos += 16 + length
                if event & (0x4000 | 0x8000 | 0x400 | 0x800):  # overflow, ignored, self gone
                    return "a watched directory changed"
                is_dir = event & 0x40000000
                if name.endswith(relevant) or ".dist-info" in name or (is_dir and name != "__pycache__"):
                    return f"{name} changed"

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
    del watch_sources, warm_migrations, warm_caches, warm_sql, scratch_store, store_reads
    del scratch_lists, same_dialect, SharedCompiledSQL
    del prepare_worker, take_over_signals, run_program
    del system_exit_code
