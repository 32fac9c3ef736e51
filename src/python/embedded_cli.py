# Prepares the embedded interpreter to run the installed ZenML CLI with only the command modules
# a call needs imported. ZenML's `zenml.cli` package imports every command module on import
# (about the CLI's whole command tree); here that package is created empty over its real
# directory, so `zenml.cli.<module>` imports still find the real files, and only the console
# script's module and the named command modules run. The launcher then lets `Py_RunMain` run the
# env's own console script (`bin/zenml`), which finds its modules imported: the command runs as
# in the CLI, tracebacks included.
#
# The launcher prepends these names (ASCII literals), all deleted again here:
#   _zl_fd        a pipe to the launcher: b"started" when ready, b"declined: why", b"interrupted"
#   _zl_module    the console script's module (e.g. "zenml_cli")
#   _zl_attr      its attribute path (e.g. "cli")
#   _zl_commands  the command modules to import (e.g. ["zenml.cli.stack"])
#
# Any failure here (an import failing, a layout this was not verified with) is reported as
# declined and the launcher delegates the call: nothing has been printed by then. A
# KeyboardInterrupt is reported and re-raised: Python prints it and the launcher dies by SIGINT,
# as the CLI does.


def _zl_setup(fd, module_name, attr, commands):
    import importlib
    import importlib.util
    import os
    import sys

    class EmptyCliPackage:
        """Meta path finder: `zenml.cli` as a package over its real directory, `__init__` not run."""

        def find_spec(self, name, path=None, target=None):
            if name != "zenml.cli":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                return None
            spec.loader = self
            return spec

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            pass

    if "zenml.cli" in sys.modules:
        os.write(fd, b"declined: zenml.cli was imported at start-up")
        return
    finder = EmptyCliPackage()
    sys.meta_path.insert(0, finder)
    try:
        entry = importlib.import_module(module_name)
        for name in commands:
            importlib.import_module(name)
        cli = entry
        for part in attr.split("."):
            cli = getattr(cli, part)
        if getattr(sys.modules.get("zenml.cli"), "__loader__", None) is not finder:
            raise ImportError("zenml.cli is not the empty package")
    except KeyboardInterrupt:
        os.write(fd, b"interrupted")
        raise
    except Exception as err:  # noqa: BLE001 - any failure here means: let the Python CLI run
        os.write(fd, b"declined: " + f"{type(err).__name__}: {err}".encode("utf-8", "replace"))
        return
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
    os.write(fd, b"started")


try:
    _zl_setup(_zl_fd, _zl_module, _zl_attr, _zl_commands)
finally:
    del _zl_setup, _zl_fd, _zl_module, _zl_attr, _zl_commands
