"""Counts the Python starts of test binaries (issue #20: most of the suite's time is ZenML's CLI
started again and again): each binary runs under `strace -f`, and every program a process runs
(each successful execve starts a new one in that pid) that opens ZenML's package
(`site-packages/zenml/__init__.py` or its bytecode) is one start. A command server's forked worker
imports nothing (its server did), so it is not one; tier 2 inside the launcher's own process is;
threads count with their process; other programs that open those files (cp copying an env, uv
writing one) are listed apart.

    python3 scripts/python_starts.py [--keep DIR [--parse]] TEST_NAME [TEST_NAME...] [-- TEST_ARGS...]

Prints, per binary, the starts by program (the env's bin/zenml, the launcher under test, python
and the rest), its test result and time. Slower than a plain run (strace); run it on a quiet
machine or at least alone. Needs strace, and the envs scripts/test.sh provisions.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ZENML_INIT = re.compile(r'/site-packages/zenml/(__init__\.py"|__pycache__/__init__\.cpython-)')
CALLS = "execve|openat|clone3?|vfork|fork"
LINE = re.compile(rf'^(\d+) +({CALLS})\((.*)\) += (\d+)')
# strace -f splits a call another thread interrupts: `… <unfinished ...>`, `<... call resumed>…`.
UNFINISHED = re.compile(rf'^(\d+) +({CALLS})\((.*) <unfinished \.\.\.>$')
RESUMED = re.compile(rf'^(\d+) +<\.\.\. ({CALLS}) resumed>(.*)\) += (\d+)')
# The programs that are Python (or the launcher, whose tier 2 embeds it): what opens ZenML's
# package from any other program (cp copying an env, uv writing one) is not a start.
PYTHON_KINDS = ("bin/zenml", "launcher", "python")


def executable(name):
    out = subprocess.run(
        ["cargo", "test", "--no-run", "--test", name, "--message-format=json-render-diagnostics"],
        cwd=REPO, check=True, stdout=subprocess.PIPE,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == name and msg["profile"]["test"]:
            return msg["executable"]
    sys.exit(f"error: no test binary {name}")


def kind(program):
    if "/target/" in program and program.endswith("/zenml") and "/envs/" not in program \
            and "/test-tmp/" not in program:
        return "launcher"
    if program.endswith("/bin/zenml"):
        return "bin/zenml"
    if re.search(r"/python[0-9.]*$", program):
        return "python"
    return program.rsplit("/", 1)[-1]


def count(trace):
    """(starts by kind, other programs that opened ZenML's package by name)."""
    process = {}  # tid -> the pid of its process (threads share their process's program)
    program = {}  # pid -> the program its last execve started
    segment = collections.Counter()  # pid -> execve count so far
    imported = {}  # (pid, segment) that opened ZenML's package -> the program's kind
    # Opens by a tid whose process or program is not known yet: strace may print a child's first
    # calls (a vfork'd child's execve, a new thread's calls) before its parent's clone returns.
    orphans = set()
    pending = {}  # tid -> (call, its arguments so far)
    with open(trace, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = LINE.match(line)
            if m:
                tid, call, args, ret = m.group(1), m.group(2), m.group(3), m.group(4)
            elif m := UNFINISHED.match(line):
                pending[m.group(1)] = (m.group(2), m.group(3))
                continue
            elif (m := RESUMED.match(line)) and m.group(1) in pending:
                tid, ret = m.group(1), m.group(4)
                call, args = pending.pop(tid)
                args += m.group(3)
            else:
                continue
            pid = process.get(tid, tid)
            if call in ("clone", "clone3", "vfork", "fork"):
                if "CLONE_THREAD" in args:
                    process[ret] = pid
                    if ret in orphans:  # the thread's open belongs to its process
                        orphans.discard(ret)
                        imported.setdefault((pid, segment[pid]),
                                            kind(program.get(pid, "(unknown)")))
                elif ret in orphans and ret not in program:
                    # A forked child that imported ZenML before any exec: its parent's program.
                    orphans.discard(ret)
                    imported.setdefault((ret, 0), kind(program.get(pid, "(unknown)")))
            elif call == "execve":
                segment[pid] += 1
                program[pid] = args.split('"', 2)[1]
            elif ZENML_INIT.search(args):
                if pid in program:
                    imported.setdefault((pid, segment[pid]), kind(program[pid]))
                else:
                    orphans.add(tid)
    counts = collections.Counter(imported.values())
    counts.update({"(unknown)": len(orphans)} if orphans else {})
    starts = collections.Counter({k: v for k, v in counts.items() if k in PYTHON_KINDS})
    others = collections.Counter({k: v for k, v in counts.items() if k not in PYTHON_KINDS})
    return starts, others


def main():
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--keep", help="keep the traces in this directory")
    parser.add_argument("--parse", action="store_true",
                        help="count the traces kept in --keep (TEST_NAME.strace) again, run nothing")
    parser.add_argument("tests", nargs="+")
    argv = sys.argv[1:]
    test_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, test_args = argv[:i], argv[i + 1:]
    args = parser.parse_args(argv)
    out_dir = Path(args.keep or tempfile.mkdtemp(prefix="python-starts-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CARGO=os.environ.get("CARGO", "cargo"))
    for name in args.tests:
        trace = out_dir / f"{name}.strace"
        if args.parse:
            counts, others = count(trace)
            print(f"{name}: {sum(counts.values())} Python starts ({dict(counts)}; "
                  f"not Python: {dict(others)})")
            continue
        exe = executable(name)
        t0 = time.monotonic()
        proc = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=execve,openat,clone,clone3,fork,vfork",
             "-e", "signal=none",
             "-e", "status=successful", "-s", "300", "-o", str(trace), exe, *test_args],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        took = time.monotonic() - t0
        counts, others = count(trace)
        result = [l for l in proc.stdout.decode(errors="replace").splitlines()
                  if l.startswith("test result:")]
        detail = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        other = "".join(f", {k} {v}" for k, v in others.most_common())
        print(f"{name}: {sum(counts.values())} Python starts ({detail}; not Python, opening "
              f"ZenML's files: {sum(others.values())}{other}); "
              f"exit {proc.returncode} after {took:.0f} s under strace; {' '.join(result)}",
              flush=True)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout.decode(errors="replace")[-4000:])
        if not args.keep:
            trace.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
