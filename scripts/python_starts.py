"""Counts the Python starts of test binaries (issue #20: most of the suite's time is ZenML's CLI
started again and again): each binary runs under `strace -f`, and every program a process runs
(each successful execve starts a new one in that pid) that opens ZenML's package
(`site-packages/zenml/__init__.py` or its bytecode) is one start. A command server's forked worker
imports nothing (its server did), so it is not one; tier 2 inside the launcher's own process is.

    python3 scripts/python_starts.py [--keep DIR] TEST_NAME [TEST_NAME...] [-- TEST_ARGS...]

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
LINE = re.compile(r'^(\d+) +(execve|openat)\((.*)\) = (\d+)')


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
    if program.endswith("/target/debug/zenml") or "/target/" in program and program.endswith(
            "/zenml") and "/envs/" not in program and "/test-tmp/" not in program:
        return "launcher"
    if program.endswith("/bin/zenml"):
        return "bin/zenml"
    if re.search(r"/python[0-9.]*$", program):
        return "python"
    return program.rsplit("/", 1)[-1]


def count(trace):
    program = {}  # pid -> the program it runs now
    segment = collections.Counter()  # pid -> execve count so far
    imported = set()  # (pid, segment) that opened ZenML's package
    names = {}
    with open(trace, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            pid, call, args = m.group(1), m.group(2), m.group(3)
            if call == "execve":
                segment[pid] += 1
                program[pid] = args.split('"', 2)[1]
            elif ZENML_INIT.search(args):
                key = (pid, segment[pid])
                if key not in imported:
                    imported.add(key)
                    names[key] = kind(program.get(pid, "(forked)"))
    return collections.Counter(names.values())


def main():
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--keep", help="keep the traces in this directory")
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
        exe = executable(name)
        trace = out_dir / f"{name}.strace"
        t0 = time.monotonic()
        proc = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=execve,openat", "-e", "signal=none",
             "-e", "status=successful", "-s", "300", "-o", str(trace), exe, *test_args],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        took = time.monotonic() - t0
        counts = count(trace)
        result = [l for l in proc.stdout.decode(errors="replace").splitlines()
                  if l.startswith("test result:")]
        detail = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        print(f"{name}: {sum(counts.values())} Python starts ({detail}); "
              f"exit {proc.returncode} after {took:.0f} s under strace; {' '.join(result)}",
              flush=True)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout.decode(errors="replace")[-4000:])
        if not args.keep:
            trace.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
