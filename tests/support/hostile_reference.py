# The Python side of tests/hostile_input.rs: what Python itself makes of generated hostile inputs.
#
#   python hostile_reference.py MODE
#
# One long-lived process per property: it prints one JSON line when ready (for `router`, with the
# root spec the launcher's cache generator reads from the installed CLI), then answers each JSON
# request line with one JSON answer line, in order, until stdin closes. Bytes travel as hex.
# Every answer comes from the installed code itself, never from a copy of it:
#
#   pyvenv       CPython's own getpath code object (`_testinternalcapi.get_getpath_codeobject`,
#                on test_getpath's mock file system, with getpath.c's `readlines`) for `home`, and
#                `site.venv` (reading the bytes as its `open` would) for
#                `include-system-site-packages`
#   config       `yaml.safe_load` of the text as ZenML reads it (`open(path, encoding="utf-8")`)
#   credentials  ZenML's `CredentialsStore._load_credentials` steps: PyYAML, then
#                `ServerCredentials(**entry)` for every entry (and, when ready, files ZenML's
#                `_save_credentials` steps write for the usual logins)
#   markup       rich's `markup.render` (no emoji), recording the pieces it appends
#   proxy        `requests`: the prepared URL, `get_environ_proxies` and `select_proxy`, over an
#                `os.environ` built as CPython builds it from an environment block
#   router       Click's parsing of the installed ZenML CLI's command tree (no command runs)
import datetime
import io
import json
import os
import sys
import traceback

MODE = sys.argv[1]


def hexed(data: bytes) -> str:
    return data.hex()


def unhex(text: str) -> bytes:
    return bytes.fromhex(text)


def error(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


# ---------------------------------------------------------------------------------------- pyvenv


def pyvenv_setup():
    import site
    import tempfile

    import test.test_getpath
    from _testinternalcapi import get_getpath_codeobject
    from test.test_getpath import MockPosixNamespace

    test.test_getpath.verbose = False  # test.support's default prints every file check

    code = get_getpath_codeobject()

    class Stop(Exception):
        pass

    class Namespace(MockPosixNamespace):
        """Stops getpath right after its pyvenv.cfg loop: the first `executable_dir` it stores
        after reading the file is `home`; a `venv_prefix` stored first means no `home` line."""

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            if key == "pyvenvcfg":
                self.reading = True
            elif getattr(self, "reading", False) and key in ("executable_dir", "venv_prefix"):
                self.home = value if key == "executable_dir" else None
                raise Stop

    def readlines(data: bytes):
        """getpath.c's `readlines`: at most 32 KiB, UTF-8 with surrogateescape, the text up to
        the first NUL, split at '\\n' with the '\\r's and '\\n's before each split removed."""
        if len(data) >= 32 * 1024:
            raise MemoryError("cannot read file larger than 32KB during initialization")
        text = data.decode("utf-8", "surrogateescape").split("\0", 1)[0]
        parts = text.split("\n")
        lines = [p.rstrip("\r\n") for p in parts[:-1]]
        if parts[-1]:
            lines.append(parts[-1])
        return lines

    def getpath_home(data: bytes):
        ns = Namespace(argv0="python", PREFIX="/usr", ENV_PATH="/venv/bin:/usr/bin")
        ns.add_known_xfile("/usr/bin/python")
        ns.add_known_xfile("/venv/bin/python")
        ns.add_known_file("/usr/lib/python9.8/os.py")
        ns.add_known_dir("/usr/lib/python9.8/lib-dynload")
        try:
            lines = readlines(data)
        except MemoryError as e:
            return {"error": error(e)}
        ns.add_known_file("/venv/pyvenv.cfg", lines)
        try:
            exec(code, ns)
        except Stop:
            pass
        else:
            return {"error": "getpath never read pyvenv.cfg"}
        home = ns.home
        return {"home": None if home is None else hexed(os.fsencode(home))}

    tmp = tempfile.mkdtemp(prefix="hostile-pyvenv-")
    os.mkdir(os.path.join(tmp, "bin"))
    with open(os.path.join(tmp, "pyvenv.cfg"), "wb"):
        pass  # site.venv finds the file; it reads `data` (below)

    def site_view(data: bytes):
        """`site.venv` as it runs at start-up, its `open(path, encoding="utf-8")` given the
        bytes (the same TextIOWrapper a file gets: universal newlines, strict UTF-8)."""
        saved = (
            sys.executable,
            sys.prefix,
            sys.exec_prefix,
            getattr(sys, "_home", None),
            site.PREFIXES,
            site.ENABLE_USER_SITE,
            list(sys.path),
        )
        site.open = lambda path, encoding: io.TextIOWrapper(io.BytesIO(data), encoding=encoding)
        try:
            sys.executable = os.path.join(tmp, "bin", "python")
            site.PREFIXES = ["/original"]
            site.ENABLE_USER_SITE = True
            site.venv(set())
            if site.PREFIXES == [tmp]:
                system = False
            elif site.PREFIXES == [tmp, "/original"]:
                system = True
            else:
                return {"error": f"unexpected PREFIXES {site.PREFIXES!r}"}
            return {"system": system}
        except Exception as e:  # noqa: BLE001
            return {"error": error(e)}
        finally:
            del site.open
            (
                sys.executable,
                sys.prefix,
                sys.exec_prefix,
                sys._home,
                site.PREFIXES,
                site.ENABLE_USER_SITE,
                sys.path[:],
            ) = saved

    def answer(req):
        data = unhex(req["b"])
        return {"getpath": getpath_home(data), "site": site_view(data)}

    return {}, answer


# ---------------------------------------------------------------------------------------- config


def read_as_zenml(text: str) -> str:
    """`open(path, encoding="utf-8").read()`: universal newlines."""
    return io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8").read()


def flat_yaml(value):
    """A loaded mapping as [dotted key, type, value text] leaves (nested mappings flattened)."""
    out = []

    def scalar(v):
        if v is None:
            return ["null", None]
        if isinstance(v, bool):
            return ["bool", "true" if v else "false"]
        if isinstance(v, int):
            return ["int", str(v)]
        if isinstance(v, float):
            return ["float", repr(v)]
        if isinstance(v, str):
            return ["str", v]
        if isinstance(v, (datetime.date, datetime.datetime)):
            return ["timestamp", v.isoformat()]
        return [type(v).__name__, None]

    def walk(d, prefix):
        for k, v in d.items():
            if not isinstance(k, str):
                out.append([prefix + repr(k), "badkey", None])
                continue
            if isinstance(v, dict) and v:
                walk(v, prefix + k + ".")
            elif isinstance(v, dict):
                out.append([prefix + k, "emptydict", None])
            else:
                out.append([prefix + k] + scalar(v))

    walk(value, "")
    return out


def config_setup():
    import yaml

    def answer(req):
        try:
            value = yaml.safe_load(read_as_zenml(req["t"]))
        except Exception as e:  # noqa: BLE001
            return {"error": error(e)}
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return {"notdict": type(value).__name__}
        return {"flat": flat_yaml(value)}

    return {}, answer


# ----------------------------------------------------------------------------------- credentials


def credentials_setup():
    import yaml
    from zenml.login.credentials import ServerCredentials

    epoch_aware = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    epoch_naive = datetime.datetime(1970, 1, 1)
    us = datetime.timedelta(microseconds=1)

    def micros(dt):
        if dt is None:
            return None
        return (dt - (epoch_naive if dt.tzinfo is None else epoch_aware)) // us

    def text(v):
        if v is None:
            return None
        return getattr(v, "value", None) if hasattr(v, "value") else str(v)

    def answer(req):
        # CredentialsStore._load_credentials: a load error or a non-mapping is logged (and the
        # store starts empty); an entry pydantic rejects is logged and skipped; an entry that is
        # not a mapping of names raises.
        try:
            store = yaml.safe_load(read_as_zenml(req["t"]))
        except Exception as e:  # noqa: BLE001
            return {"logged": "load: " + error(e)}
        if store is None:
            store = {}
        if not isinstance(store, dict):
            return {"logged": "not a mapping"}
        credentials = {}
        for url, entry in store.items():
            try:
                credentials[url] = ServerCredentials(**entry)
            except ValueError as e:
                return {"logged": f"entry {url!r}: " + error(e)}
            except Exception as e:  # noqa: BLE001
                return {"raises": f"entry {url!r}: " + error(e)}
        c = credentials.get(req["url"])
        if c is None:
            return {"found": False}
        token = c.api_token
        return {
            "found": True,
            "api_key": c.api_key,
            "username": c.username,
            "password": c.password,
            "token": None
            if token is None
            else {
                "access_token": token.access_token,
                "expires_us": micros(token.expires_at_with_leeway),
            },
            "fields": {
                name: text(getattr(c, name))
                for name in (
                    "deployment_type",
                    "server_id",
                    "server_name",
                    "status",
                    "version",
                    "organization_name",
                    "organization_id",
                    "workspace_name",
                    "workspace_id",
                    "pro_api_url",
                    "pro_dashboard_url",
                )
            },
        }

    # Files as ZenML writes them (`_save_credentials`: model_dump in JSON mode, write_yaml), for
    # the usual logins: an API key with a device-flow-like token, a local server's token, a
    # password; the launcher must read these.
    import tempfile
    import uuid

    from zenml.login.credentials import APIToken
    from zenml.utils import yaml_utils

    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    logins = [
        ServerCredentials(
            url="https://127.0.0.1:18443",
            api_key="ZENKEY_" + "eyJpZCI6ICIxMjM0NTY3OCJ9" * 4,
            api_token=APIToken(
                access_token="eyJhbGciOiJIUzI1NiJ9." + "x" * 200,
                expires_in=3600,
                expires_at=now,
                leeway=30,
                device_id=uuid.uuid4(),
            ),
            server_id=uuid.uuid4(),
            deployment_type="other",
            server_name="default",
            status="available",
            version="0.98.0",
        ),
        ServerCredentials(
            url="http://127.0.0.1:8237",
            api_token=APIToken(access_token="tok", expires_at=now.replace(tzinfo=None)),
        ),
        ServerCredentials(url="https://zenml.example.com", username="u", password="p"),
    ]
    written = []
    path = os.path.join(tempfile.mkdtemp(prefix="hostile-credentials-"), "credentials.yaml")
    for subset in ([c] for c in logins + [logins]):
        subset = logins if subset == [logins] else subset
        store = {
            c.url: c.model_dump(mode="json", exclude_none=True, exclude_unset=True)
            for c in subset
        }
        yaml_utils.write_yaml(path, store)
        with open(path, encoding="utf-8") as f:
            written.append([f.read(), [c.url for c in subset]])
    return {"written": written}, answer


# ---------------------------------------------------------------------------------------- markup


def markup_setup():
    import rich.markup
    import rich.text

    pieces = []

    class Recording(rich.text.Text):
        def append(self, text, style=None):
            if isinstance(text, str):
                pieces.append(text)
            return super().append(text, style)

    def answer(req):
        pieces.clear()
        saved = rich.markup.Text, rich.text.strip_control_codes
        rich.markup.Text = Recording
        rich.text.strip_control_codes = lambda s: s  # positions in the pieces as appended
        try:
            text = rich.markup.render(req["m"], emoji=False)
        except Exception as e:  # noqa: BLE001
            return {"error": error(e)}
        finally:
            rich.markup.Text, rich.text.strip_control_codes = saved
        if "[" not in req["m"]:
            pieces.append(req["m"])  # rendered without append
        return {
            "pieces": list(pieces),
            "spans": [[s.start, s.end, str(s.style)] for s in text.spans],
        }

    return {}, answer


# ----------------------------------------------------------------------------------------- proxy


def proxy_setup():
    import requests
    import requests.utils

    def answer(req):
        # CPython's convertenviron: the first of two equal names wins; bytes decoded as
        # os.environ decodes them.
        env = {}
        for name, value in req["env"]:
            env.setdefault(os.fsdecode(unhex(name)), os.fsdecode(unhex(value)))
        saved = os.environ
        os.environ = env
        try:
            try:
                url = requests.Request("GET", req["url"] + "/api/v1/info").prepare().url
            except Exception as e:  # noqa: BLE001
                return {"error": "prepare: " + error(e)}
            try:
                # Session.merge_environment_settings (trust_env) and HTTPAdapter.send.
                proxies = requests.utils.get_environ_proxies(url, no_proxy=None)
                return {"proxy": requests.utils.select_proxy(url, proxies)}
            except Exception as e:  # noqa: BLE001
                return {"error": "proxies: " + error(e)}
        finally:
            os.environ = saved

    return {}, answer


# ---------------------------------------------------------------------------------------- router


def router_setup():
    import click

    entry_module, entry_attr = sys.argv[2], sys.argv[3]
    # The launcher's own generator reads the root spec (src/gen_cache_theme.py + gen_cache.py).
    generator = {"__name__": "gen_cache"}
    for part in sys.argv[4:]:
        with open(part, encoding="utf-8") as f:
            exec(compile(f.read(), part, "exec"), generator)
    generator["meta"]["unsupported"] = {}
    generator["import_cli"](entry_module, entry_attr)
    generator["read_root"]()
    spec = generator["meta"]["root"]
    if "all" in generator["meta"]["unsupported"]:
        raise SystemExit(generator["meta"]["unsupported"]["all"])
    cli = generator["cli"]

    class Eager(Exception):
        pass

    def eager_version(ctx, param, value):
        if value and not ctx.resilient_parsing:
            raise Eager("version " + ctx.command_path)

    # The help option's callback echoes `ctx.get_help()` and exits; NoArgsIsHelpError gets the
    # help too. Neither prints here: the contexts whose help was asked for are recorded.
    helped = []

    def get_help(ctx):
        helped.append(ctx.command_path)
        return ""

    for param in cli.params:
        if param.name == "version":
            param.callback = eager_version
    click.Context.get_help = get_help
    click.core.echo = lambda *a, **k: None

    def params(ctx):
        out = {}
        for p in ctx.command.get_params(ctx):
            if not p.expose_value:
                continue
            source = ctx.get_parameter_source(p.name)
            out[p.name] = [
                ctx.params.get(p.name)
                if isinstance(ctx.params.get(p.name), (str, bool, int, type(None)))
                else repr(ctx.params.get(p.name)),
                source.name if source is not None else None,
            ]
        return out

    def answer(req):
        args = [os.fsdecode(unhex(a)) for a in req["args"]]
        path = []
        helped.clear()
        try:
            ctx = cli.make_context("zenml", list(args))
            command, rest = cli, ctx._protected_args + ctx.args
            while isinstance(command, click.Group):
                if not rest:
                    return {"path": path, "usage": "missing command"}
                name, sub, rest = command.resolve_command(ctx, rest)
                path.append(name)
                ctx = sub.make_context(name, rest, parent=ctx)
                command = sub
                rest = ctx._protected_args + ctx.args if isinstance(sub, click.Group) else []
            return {"path": path, "params": params(ctx)}
        except Eager as e:
            return {"path": path, "eager": str(e)}
        except click.exceptions.NoArgsIsHelpError:
            return {"path": path, "no_args_help": True}
        except click.UsageError as e:
            return {"path": path, "usage": error(e)}
        except click.exceptions.Exit as e:
            if helped:
                return {"path": path, "eager": "help " + helped[0]}
            return {"path": path, "exit": e.exit_code}

    return {"spec": spec}, answer


def printable(value):
    """`value` for JSON: strings with lone surrogates (from bytes that are not UTF-8) as their
    bytes, backslash-escaped."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def main():
    setup = {
        "pyvenv": pyvenv_setup,
        "config": config_setup,
        "credentials": credentials_setup,
        "markup": markup_setup,
        "proxy": proxy_setup,
        "router": router_setup,
    }[MODE]
    out = sys.stdout
    sys.stdout = sys.stderr  # anything printed by the code under test stays out of the answers
    ready, answer = setup()
    out.write(json.dumps({"ready": MODE, **ready}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            result = answer(json.loads(line))
        except Exception:  # noqa: BLE001
            result = {"reference_failed": traceback.format_exc()}
        out.write(json.dumps(printable(result)) + "\n")
        out.flush()


main()
