"""ZenML's own global-config code in 8 processes at once, without the launcher: each of 300 loops
per process reads the config as every command's start does (`GlobalConfiguration()`) and writes
it back as ZenML does several times per store command (`_write_config`: truncate, then write, in
place). Prints how many reads found the file empty (ZenML then prints "Initializing the ZenML
global configuration ..." and sets it up again) or half written (a YAML error). The soak
(examples/soak.rs) counts such calls apart in its concurrent phases.

    HOME=$(mktemp -d) ZENML_CONFIG_PATH=... target/envs/zenml-0.98.0/bin/python scripts/zenml_config_race.py
"""
import os

from zenml.config.global_config import GlobalConfiguration

GlobalConfiguration()  # the config file, initialised once
read_config = GlobalConfiguration._read_config
empty_reads = []


def counting_read_config(self):
    """ZenML's own `_read_config`, noting a read that found no config."""
    values = read_config(self)
    if not values:
        empty_reads.append(1)
    return values


GlobalConfiguration._read_config = counting_read_config
pids = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        found = 0
        for _ in range(300):
            GlobalConfiguration._reset_instance(None)
            try:
                GlobalConfiguration()._write_config()
            except Exception:  # noqa: BLE001 - a half-written file
                found += 1
        os._exit(min(found + len(empty_reads), 255))
    pids.append(pid)
total = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids)
print(f"8 processes x 300 reads of config.yaml: {total} found it empty or half written")
