# The command server's worker side (part of `command_server.py`: `python/serve.rs` runs this file
# and `command_server.py` as one `__main__` source, this one first). A forked worker becomes the
# client's process (`prepare_worker`) and runs the call's program as the `python` program would
# (`run_program`), then ends the process itself.


def prepare_worker(os, sys, request, call_argv0, consoles, env_set, env_unset, env_start):
    """Makes this forked worker the client's process, as far as the CLI can tell."""
    import signal

    os.setpgid(0, 0)
    take_over_signals(signal, request["ignored"], request["blocked"])
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


def take_over_signals(signal, ignored, blocked):
    """The signal dispositions and mask Python's start-up would leave in the client's process
    (`ignored` and `blocked`: bit `sig - 1`): signals its parent left ignored stay ignored (a
    `nohup`, a background job of a script), the others are default; SIGPIPE and SIGXFSZ are
    ignored and SIGINT raises KeyboardInterrupt unless ignored, as Python sets them; a handler the
    import installed stays (the CLI's import installs it too). The master's own state (what its
    starter ignored, its handlers: reset before) is not the client's."""
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            current = signal.getsignal(sig)
        except (OSError, ValueError):
            continue
        client_ignores = ignored >> (sig - 1) & 1
        if sig == signal.SIGINT:
            wanted = signal.SIG_IGN if client_ignores else signal.default_int_handler
        elif sig in (signal.SIGPIPE, signal.SIGXFSZ):
            wanted = signal.SIG_IGN
        elif current not in (signal.SIG_IGN, signal.SIG_DFL):
            continue
        else:
            wanted = signal.SIG_IGN if client_ignores else signal.SIG_DFL
        if wanted != current:
            try:
                signal.signal(sig, wanted)
            except (OSError, ValueError):
                pass  # the C library's own real-time signals
    signal.pthread_sigmask(
        signal.SIG_SETMASK, [sig for sig in range(1, signal.NSIG) if blocked >> (sig - 1) & 1]
    )


def run_program(os, sys, program, fflush, end=None):
    """Runs the call's program in this worker as the `python` program runs a script or `-c`
    (`Py_RunMain`: sys.path[0], `__main__`, the exit code of a SystemExit, an uncaught exception
    printed by sys.excepthook, KeyboardInterrupt ending by SIGINT), then ends the process as
    `Py_FinalizeEx` would be seen from outside: threads joined, atexit callbacks run, stdout and
    stderr flushed. The rest of finalization (tearing down every module of a warm interpreter,
    about 50-100 ms) is skipped with `os._exit`, unless a flush failed: then SystemExit reaches
    `Py_Exit`, whose finalization prints Python's own message and exits 120.

    Before `os._exit`, with every signal blocked (no handler can run after it), the exit code
    goes to the master (`end`: its board, this worker's slot and the master's pid; see the
    master's `ended`), so that the client can exit while the kernel still tears this process
    down; only from this process, not from a child the command forked without exec that
    returned here.
    """
    import signal

    worker = os.getpid()

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
    # The original streams, when the program replaced sys.stdout or sys.stderr (ZenML's CLI
    # module points sys.stdout at sys.stderr and writes clean output to the original): Python
    # flushes them when finalization destroys them, and a failure there is only printed
    # ("Exception ignored in: <_io.TextIOWrapper name='<stdout>' ...>"), the exit code stays.
    originals_flushed = True
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None and stream not in (sys.stdout, sys.stderr):
                stream.flush()
        except BaseException:  # noqa: BLE001
            originals_flushed = False
    if interrupted:
        fflush(None)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    if flushed and originals_flushed:
        fflush(None)
        if end is not None and os.getpid() == worker and os.getppid() == end[2]:
            import struct

            board, slot, master = end
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            struct.pack_into("<I", board, 8 * slot + 4, exitcode & 0xFF)
            struct.pack_into("<I", board, 8 * slot, 2)
            try:
                os.kill(master, signal.SIGUSR2)
            except OSError:
                pass  # the master reports the end when it reaps this process
        os._exit(exitcode & 0xFF)
    # Python's own finalization prints what the failed flush raised, as the CLI's does, and
    # exits 120 when sys.stdout or sys.stderr could not be flushed.
    raise SystemExit(exitcode)


def system_exit_code(sys, exc):
    """The exit code Python gives a SystemExit (printing a non-integer code on stderr)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        # As `_Py_HandleSystemExit`: the value as a C long, -1 when it does not fit in one.
        return code if -(1 << 63) <= code < (1 << 63) else -1
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:  # noqa: BLE001
        pass
    return 1
