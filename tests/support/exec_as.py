"""Replaces itself (execve) with a program in a process state a shell or a supervisor can leave:
signals ignored or blocked, and environment entries `Command` cannot make (no `=`, an empty
name, a name twice). Used by tests/server_faults.rs.

    python exec_as.py [--ignore INT,HUP,...] [--block USR2,...] [--entry NAME=VALUE]... -- PROG ARGS...

The environment is this process's own (`os.environb`) followed by the `--entry` strings as they
are. SIGPIPE and SIGXFSZ, which Python ignores at start-up, are set back to their default first,
as `subprocess` does for its children.
"""
import ctypes
import os
import signal
import sys


def main():
    argv = sys.argv[1:]
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1 :]
    ignore, block, entries = [], [], []
    while options:
        flag, value = options[0], options[1]
        options = options[2:]
        if flag == "--ignore":
            ignore += [getattr(signal, "SIG" + name) for name in value.split(",")]
        elif flag == "--block":
            block += [getattr(signal, "SIG" + name) for name in value.split(",")]
        elif flag == "--entry":
            entries.append(os.fsencode(value))
        else:
            raise SystemExit(f"exec_as.py: unknown option {flag}")
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    for sig in ignore:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, block)
    envp = [k + b"=" + v for k, v in os.environb.items()] + entries
    args = [os.fsencode(a) for a in program]
    libc = ctypes.CDLL(None, use_errno=True)
    c_argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
    c_envp = (ctypes.c_char_p * (len(envp) + 1))(*envp, None)
    libc.execve(args[0], c_argv, c_envp)
    raise SystemExit(f"exec_as.py: cannot run {program[0]}: {os.strerror(ctypes.get_errno())}")


main()
