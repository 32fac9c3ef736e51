"""The `bin/zenml` of tests/server_faults.rs's probe venv (after a `#!` line naming the venv's
python): it imports the console script's module first, as pip's script does (so a fresh run and
a served call start from the same state: ZenML's import reroutes sys.stdout to sys.stderr and
sets a variable), appends its arguments to `runs.log` in the venv (one line per run: a call run
twice shows twice), then does what its first argument says:

    report          one JSON object on fd 1: argv, os.environ, the C `environ` array, the umask,
                    the signal dispositions and mask (the process's, Python's handlers, a child's
                    through subprocess and through os.popen)
    exit EXPR       prints a line on stdout, then sys.exit(eval(EXPR))
    segv            prints a line on stdout, then reads address 0
    lines N         a child (`seq 1 N`) writes on stdout, then Python prints N lines on it
    sleep S         prints "start", sleeps S seconds, prints "end"
    wait FILE       prints "waiting", waits (at most 120 s) until FILE exists, prints "done"
    anything else   nothing, without importing ZenML (the calls that start a server: cheap
                    when delegated)
"""
import os
import sys

args = sys.argv[1:]
mode = args[0] if args else ""
if mode in ("report", "exit", "segv", "lines", "sleep", "wait"):
    import zenml_cli  # noqa: F401 - what pip's script imports before anything else
venv = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
with open(os.path.join(venv, "runs.log"), "a") as log:
    log.write(" ".join(args) + "\n")
out = sys.__stdout__  # sys.stdout is sys.stderr once zenml_cli is imported

if mode == "report":
    import ctypes
    import json
    import signal
    import subprocess

    environ = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
    c_environ = []
    i = 0
    while environ[i] is not None:
        c_environ.append(environ[i].decode("utf-8", "surrogateescape"))
        i += 1

    def sig_fields(text):
        return sorted(line for line in text.splitlines() if line.startswith(("SigIgn", "SigBlk", "SigCgt")))

    with open("/proc/self/status") as f:
        status = sig_fields(f.read())
    handlers = {}
    for sig in signal.Signals:
        handler = signal.getsignal(sig)
        handlers[sig.name] = handler if isinstance(handler, int) else getattr(handler, "__name__", repr(handler))
    show = "grep -E '^Sig(Ign|Blk|Cgt)' /proc/self/status"
    child = subprocess.run(["sh", "-c", show], capture_output=True, text=True).stdout
    with os.popen(show) as p:
        popen_child = p.read()
    umask = os.umask(0o022)
    report = {
        "argv": sys.argv,
        "environ": sorted((k + b"=" + v).decode("utf-8", "surrogateescape") for k, v in os.environb.items()),
        "c_environ": sorted(c_environ),
        "umask": oct(umask),
        "signals": status,
        "handlers": handlers,
        "blocked": sorted(s.name for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "child_signals": sig_fields(child),
        "popen_child_signals": sig_fields(popen_child),
        "cwd": os.getcwd(),
    }
    os.write(1, (json.dumps(report, indent=1, sort_keys=True) + "\n").encode())
elif mode == "exit":
    print("before exit", file=out)
    sys.exit(eval(args[1]))
elif mode == "segv":
    import ctypes

    print("before the crash", file=out, flush=True)
    ctypes.string_at(0)
elif mode == "lines":
    import subprocess

    child = subprocess.run(["seq", "1", args[1]])
    print(f"child: {child.returncode}", file=sys.stderr, flush=True)
    for n in range(int(args[1])):
        print(n, file=out)
elif mode == "sleep":
    import time

    print("start", file=out, flush=True)
    time.sleep(float(args[1]))
    print("end", file=out)
elif mode == "wait":
    import time

    print("waiting", file=out, flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(args[1]) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("done", file=out)
