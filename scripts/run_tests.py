"""Runs every test binary of the workspace, JOBS of them at a time (scripts/test.sh calls it).

`cargo test` runs one test binary after the other, and most of this suite waits on Python
processes, servers and sockets: on two cores, two binaries side by side keep both busy. Each
binary's output is printed whole when it ends (cargo's `Running …` header first), the slowest
known binaries start first (durations from the last run, in target/test-durations.json), and the
exit code is non-zero when any binary failed, with the failing ones named at the end. A binary
that takes more than 5 min (SLOW_LIMIT) gets a warning line, after its output and again at the
end (issue #20: the suite's time is kept in check binary by binary). Each binary's CPU time (its
own and its waited-for children's: the Python CLI runs) is printed beside its wall time and kept
in target/test-cpu-times.json: on a shared machine it moves far less than the wall time.

    python3 scripts/run_tests.py [--jobs N] [CARGO_TARGET_SELECTION...]
        --jobs: default ZENML_LAUNCHER_TEST_JOBS, else 2
        selection: `cargo test` target flags, e.g. `--lib --test layout` (scripts/test-fast.sh);
                   default --all-targets
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DURATIONS = REPO / "target" / "test-durations.json"
# The CPU seconds of each binary's last run (user + system, its waited-for children included).
CPU_TIMES = REPO / "target" / "test-cpu-times.json"
REFRUN_LOG = REPO / "target" / "test-refrun.log"
# tests/common's `scratch` dirs.
SCRATCH = REPO / "target" / "test-tmp"
# Before any run has recorded durations (a fresh clone): the binaries that took longest on this
# suite, longest first (wall times of a full run on 2 cores, 2026-12-07): install 635 s,
# command_server 446, status_parity 324, stack_list_parity 282, python_server 262,
# remote_server_parity 219, cli_parity 217, server_faults 180, server_parity 122, delegation 97,
# clean_parity 91. A long binary left for the end runs alone on two cores.
SLOW_FIRST = [
    "install",
    "command_server",
    "status_parity",
    "stack_list_parity",
    "python_server",
    "remote_server_parity",
    "cli_parity",
    "server_faults",
    "server_parity",
    "delegation",
    "clean_parity",
]
# Seconds after which a binary is named as too slow (a warning, not a failure).
SLOW_LIMIT = 300


def cargo(*args, capture=False):
    cmd = [os.environ.get("CARGO", "cargo"), *args]
    if capture:
        return subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(cmd, cwd=REPO, check=True)
    return b""


def test_binaries(selection):
    """(name, label, executable) of every selected test target, as `cargo test <selection>`
    builds them."""
    out = cargo(
        "test", "--no-fail-fast", *selection, "--no-run",
        "--message-format=json-render-diagnostics", capture=True,
    )
    found = []
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg["profile"]["test"]:
            continue
        target = msg["target"]
        src = Path(target["src_path"])
        try:
            src = src.relative_to(REPO)
        except ValueError:
            pass
        kind = "unittests " if target["kind"] != ["test"] else ""
        found.append((target["name"], f"{kind}{src}", msg["executable"]))
    return found


def slow_warning(label, took):
    return (f"warning: {label} took {took:.0f} s, more than {SLOW_LIMIT // 60} min "
            "(split it, or share its Python reference runs: issue #20)")


def clear_ended_scratch():
    """Removes the scratch dirs (tests/common's `scratch`: target/test-tmp/<name>-<pid>-<n>) of
    test processes that have ended: each run leaves its worlds, env copies and wheels there
    (gigabytes), and a process still running (another `cargo test` in this checkout) keeps its
    own. Returns (dirs removed, dirs that could not be removed)."""
    import re
    import stat

    removed, failed = 0, []
    try:
        entries = list(SCRATCH.iterdir())
    except OSError:
        return removed, failed

    def writable_and_retry(func, path, _exc):
        # A test's read-only dir (mode 0500, a socket dir of another user's mode): made
        # writable by its owner (us) once, then the removal is tried again.
        parent = os.path.dirname(path)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
        func(path)

    for entry in entries:
        match = re.search(r"-(\d+)-\d+$", entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        if os.path.exists(f"/proc/{match.group(1)}"):
            continue
        try:
            shutil.rmtree(entry, onerror=writable_and_retry)
        except OSError as err:
            failed.append(f"{entry}: {err}")
            continue
        removed += 1
    return removed, failed


def machine_cpu():
    """(busy, all) jiffies of every core since boot, from /proc/stat's first line."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest times are already in user and nice
    return total - idle, total


def machine_summary(before, after, wall):
    """How busy the machine's cores were while the binaries ran: the room a third job would
    have (the CPU of the servers that detach from a binary is counted here, not in its own)."""
    if not before or not after:
        return "machine CPU: /proc/stat unreadable"
    busy, total = after[0] - before[0], after[1] - before[1]
    hz = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    share = busy / total if total else 0.0
    return (f"machine CPU while they ran: {busy / hz:.0f} s busy of {wall * cores:.0f} s on "
            f"{cores} cores ({share:.0%}; other processes of the machine included)")


def refrun_summary():
    """The reference CLI's runs through run_streams (tests/common/refrun.rs logs each): how many
    were fresh, served by a warm runner, and served and compared with a fresh run."""
    counts = {}
    try:
        lines = REFRUN_LOG.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split("\t")
        if len(fields) >= 4:
            event = fields[2].split(" ")[0]
            counts[event] = counts.get(event, 0) + 1
    return (f"reference CLI runs (run_streams): {counts.get('fresh', 0)} fresh, "
            f"{counts.get('served', 0)} warm, {counts.get('sample', 0)} warm and compared with "
            f"a fresh run, {counts.get('unsure', 0)} warm then fresh (target/test-refrun.log)")


def main():
    # A shell starts a background job with SIGINT and SIGQUIT ignored, and an ignored signal
    # stays ignored across exec: the tests that interrupt the CLI need them at their defaults,
    # as in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--jobs", type=int,
                        default=int(os.environ.get("ZENML_LAUNCHER_TEST_JOBS", "2")))
    args, selection = parser.parse_known_args()
    jobs = max(1, args.jobs)
    selection = selection or ["--all-targets"]

    binaries = test_binaries(selection)
    if not binaries:
        print(f"error: `cargo test {' '.join(selection)}` selects no test binary", file=sys.stderr)
        return 1
    # What the tests build themselves, built now, so that no binary rewrites a file another one is
    # running: the examples and the embedding library (tests/common's build_companions), and the
    # binaries as scripts/install.sh builds them (`cargo build --bin …` unifies features apart from
    # `cargo test`, and so relinks target/debug/zenml; after this it is fresh for both).
    cargo("build", "--quiet", "--workspace", "--lib", "--examples")
    cargo("build", "--quiet", "--locked", "--bin", "zenml", "--bin", "zenml-launcher")

    try:
        known = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        known = {}

    def weight(entry):
        name, label = entry[0], entry[1]
        if label in known:
            return -known[label]
        if name in SLOW_FIRST:
            return -1e6 + SLOW_FIRST.index(name)
        return 0

    queue = sorted(binaries, key=weight)
    # As `cargo test` runs them: the cwd is the package root, CARGO names cargo.
    env = dict(os.environ, CARGO=os.environ.get("CARGO") or shutil.which("cargo") or "cargo")
    lock = threading.Lock()
    try:
        cpu_times = json.loads(CPU_TIMES.read_text())
    except (OSError, ValueError):
        cpu_times = {}
    failed, slow, durations, this_run = [], [], dict(known), {}
    REFRUN_LOG.unlink(missing_ok=True)
    t0 = time.monotonic()
    removed, failed_dirs = clear_ended_scratch()
    if removed or failed_dirs:
        print(f"removed {removed} scratch dirs of ended test runs from {SCRATCH} "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
    for line in failed_dirs:
        print(f"warning: cannot remove {line} (hint: remove it by hand)", flush=True)
    started = time.monotonic()
    cpu_before = machine_cpu()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                name, label, exe = queue.pop(0)
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [exe], cwd=REPO, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            out = proc.stdout.read()
            proc.stdout.close()
            # wait4: the CPU time of the binary and of every process it waited for (the Python
            # CLI runs, builds; not the servers that detach), a figure a shared machine's load
            # changes far less than the wall time.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            took = time.monotonic() - t0
            cpu = usage.ru_utime + usage.ru_stime
            with lock:
                durations[label] = round(took, 1)
                cpu_times[label] = this_run[label] = round(cpu, 1)
                sys.stdout.write(f"     Running {label} ({os.path.relpath(exe, REPO)})\n")
                sys.stdout.buffer.write(out)
                sys.stdout.write(f"     ({label}: exit {proc.returncode} after {took:.0f} s, "
                                 f"CPU {cpu:.0f} s)\n")
                if took > SLOW_LIMIT:
                    slow.append((label, took))
                    sys.stdout.write(slow_warning(label, took) + "\n")
                sys.stdout.write("\n")
                sys.stdout.flush()
                if proc.returncode != 0:
                    failed.append(label)

    threads = [threading.Thread(target=worker) for _ in range(min(jobs, len(queue)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    DURATIONS.parent.mkdir(parents=True, exist_ok=True)
    DURATIONS.write_text(json.dumps(durations, indent=1, sort_keys=True) + "\n")
    CPU_TIMES.write_text(json.dumps(cpu_times, indent=1, sort_keys=True) + "\n")
    total = time.monotonic() - started
    print(f"{len(binaries)} test binaries, {jobs} at a time: {total:.0f} s "
          f"(CPU {sum(this_run.values()):.0f} s)")
    print(machine_summary(cpu_before, machine_cpu(), total))
    print(refrun_summary())
    for label, took in slow:
        print(slow_warning(label, took))
    if failed:
        print(f"error: {len(failed)} target{'s' if len(failed) > 1 else ''} failed:")
        for label in failed:
            print(f"    {label}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
