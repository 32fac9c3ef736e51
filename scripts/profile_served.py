"""Where a served call's time goes: py-spy samples a warm command server's workers while the
same command is served N times, then prints the functions by share of the workers' busy
samples (inclusive, a thread's idle waits left out). Issue #18's profile.

    python3 scripts/profile_served.py [--calls 60] [--config DIR] [--binary target/release/zenml] -- stack describe

Uses the provisioned target/envs/zenml-0.98.0 and the benchmark's config dir
(target/bench-tmp/zenml-config, made by `cargo run --release --example bench`), a private socket
dir, and py-spy installed by uv into target/bench-tmp/pyspy-venv (once). Run it on a quiet
machine; the server is stopped at the end.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(REPO, "target")
ENV = os.path.join(TARGET, "envs", "zenml-0.98.0")
BENCH = os.path.join(TARGET, "bench-tmp")
# Waits, not work: rich's refresh thread, and a spare worker waiting for its call.
IDLE = (
    "Condition.wait (threading.py)",
    "Event.wait (threading.py)",
    "_ZlServer.wait_for_call (<string>)",
)


def py_spy():
    venv = os.path.join(BENCH, "pyspy-venv")
    exe = os.path.join(venv, "bin", "py-spy")
    if not os.path.exists(exe):
        uv = os.path.join(TARGET, "envs", "tools", "bin", "uv")
        if not os.path.exists(uv):
            sys.exit(f"profile_served: {uv} is missing (hint: bash scripts/provision-envs.sh)")
        subprocess.run([uv, "venv", "-q", venv], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", venv, "py-spy"], check=True)
    return exe


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--config", default=os.path.join(BENCH, "zenml-config"))
    parser.add_argument("--binary", default=os.path.join(TARGET, "release", "zenml"))
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--raw", help="also keep py-spy's raw samples in this file")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    if not os.path.isdir(args.config):
        sys.exit(f"profile_served: no config dir {args.config} (hint: run the benchmark once)")
    spy = py_spy()
    run_dir = tempfile.mkdtemp(prefix="zl-profile-")
    env = {
        "HOME": os.environ.get("HOME", BENCH),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "ZENML_CONFIG_PATH": args.config,
        "ZENML_LAUNCHER_CACHE_DIR": os.path.join(BENCH, "launcher-cache"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "VIRTUAL_ENV": ENV,
        "ZENML_LAUNCHER_SERVER": "1",
        "ZENML_LAUNCHER_RUNTIME_DIR": run_dir,
    }
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": BENCH}
    master = None
    try:
        deadline = time.monotonic() + 180
        while master is None:
            subprocess.run([args.binary, *args.command], **quiet)
            for name in os.listdir(run_dir):
                if name.endswith(".json"):
                    with open(os.path.join(run_dir, name)) as f:
                        master = json.load(f)["pid"]
            if time.monotonic() > deadline:
                sys.exit(f"profile_served: no server came up in {run_dir}")
            time.sleep(1)
        subprocess.run([args.binary, *args.command], **quiet)  # the first served call
        out = os.path.join(run_dir, "profile.txt")
        spy_proc = subprocess.Popen(
            [spy, "record", "--subprocesses", "--rate", "500", "--pid", str(master),
             "--format", "raw", "-o", out, "-d", "3600"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(2)
        started = time.monotonic()
        for _ in range(args.calls):
            subprocess.run([args.binary, *args.command], **quiet)
        wall = (time.monotonic() - started) * 1000 / args.calls
        spy_proc.send_signal(signal.SIGINT)
        spy_proc.wait()
        if args.raw:
            shutil.copyfile(out, args.raw)
        report(out, master, args.top, wall)
    finally:
        if master is not None:
            try:
                os.kill(master, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(0.5)
        shutil.rmtree(run_dir, ignore_errors=True)


def report(path, master, top, wall):
    inclusive, own = collections.Counter(), collections.Counter()
    total, workers = 0, set()
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            # py-spy's raw lines with --subprocesses: the master's process frame, then the
            # worker's, then the worker's Python frames.
            if len(frames) < 2 or not frames[1].startswith("process "):
                continue
            frames = [re.sub(r":\d+\)$", ")", x) for x in frames[2:]]
            if any(x in IDLE for x in frames):
                continue
            n = int(count)
            workers.add(stack.split(";")[1].split(":")[0])
            total += n
            for name in set(frames):
                inclusive[name] += n
            if frames:
                own[frames[-1]] += n
    if not total:
        sys.exit("profile_served: no worker was sampled")
    print(f"{len(workers)} workers sampled, {total} busy samples at 500 Hz "
          f"({total * 2 / len(workers):.1f} ms busy per worker; {wall:.1f} ms wall per call)")
    print("inclusive share of the workers' busy samples:")
    for name, n in inclusive.most_common(top):
        print(f"{100 * n / total:5.1f}%  {name}")
    print("own (self) share:")
    for name, n in own.most_common(15):
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
