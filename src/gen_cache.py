# Generates the launcher's per-distribution cache from the *installed* ZenML CLI.
#
# Run by the launcher (`cache::generator_command`) with the env's own python, after
# `gen_cache_theme.py` (its steps 7 and 8) as one script:
#   python -c <gen_cache_theme.py + this> <bin dir> <out dir> <fingerprint> <entry module>
#          <entry attribute path> <verified releases>
# (the entry point is the console script's, `module:attr.path`; the verified releases, comma-
# separated, are those whose `clean` is known to ask before deleting: src/zenml/package.rs).
# It imports the CLI exactly as `bin/zenml` does, asks Click for the root options and commands,
# asks the CLI itself to render the root help (for every Click width) and the `version` banners
# through rich, and stores what rich produced as styled pieces. Nothing here is ZenML data
# copied into the launcher: it is all read from the installed package at run time.
# The result is `<out dir>` (renamed into place whole): meta.json, theme.json, help-<width>.json.
import importlib
import io
import json
import os
import random
import sys

SCHEMA = 1
BIG = 1_000_000

# What the steps share (the script's globals, set by `main`).
meta = {}  # -> meta.json (and theme.json: THEME_KEYS)
files = {}  # file name -> data, besides meta.json and theme.json
out_dir = None
VERIFIED_CLEAN = set()  # ZenML releases whose `clean` was verified to ask before deleting
real_stdout, real_stderr = sys.stdout, sys.stderr
cli = ctx = None  # the CLI's root group and its context
rerouted = False  # the CLI package reroutes sys.stdout to sys.stderr on import


class TtyStringIO(io.StringIO):
    def isatty(self):
        return True


# What only the commands that highlight need goes to theme.json, so that every launcher call
# parses a small meta.json.
THEME_KEYS = (
    "theme",
    "repr_highlights",
    "repr_base_style",
    "repr_alternatives",
    "emoji_pattern",
    "emoji_alternatives",
    "console_markup",
    "console_emoji",
    "emoji_name_chars",
    "emoji_digit_names",
    "palettes",
    "text_data",
)


def finish():
    tmp = f"{out_dir}.tmp-{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    theme_file = {"schema": SCHEMA, "unsupported": {}}
    for key in THEME_KEYS:
        if key in meta:
            theme_file[key] = meta.pop(key)
    files["theme.json"] = theme_file
    files["meta.json"] = meta
    for name, data in files.items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
    try:
        os.rename(tmp, out_dir)
    except OSError:
        # Another launcher won the race: its copy is equivalent.
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0)


def import_cli(module_name, attr_path):
    """1. Imports the CLI as bin/zenml does; anything printed on the way means "not reproducible"
    (then the cache says so for everything, and the script ends)."""
    global cli, rerouted, click, rich, ColorSystem, cell_len
    captured, captured_err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = captured, captured_err
    try:
        cli = importlib.import_module(module_name)
        for part in attr_path.split("."):
            cli = getattr(cli, part)
        import click
        import rich
        import rich.console
        from rich.color import ColorSystem
        from rich.cells import cell_len
    except BaseException as e:  # noqa: BLE001
        sys.stdout, sys.stderr = real_stdout, real_stderr
        meta["unsupported"]["all"] = f"import failed: {type(e).__name__}: {e}"
        finish()
    # Since 0.93 the CLI package reroutes sys.stdout to sys.stderr on import.
    rerouted = sys.stdout is captured_err
    meta["stdout_rerouted"] = rerouted
    import_output = captured.getvalue() + captured_err.getvalue()
    sys.stdout, sys.stderr = real_stdout, real_stderr
    if import_output:
        meta["unsupported"]["all"] = "importing the CLI prints output"
        sys.stdout, sys.stderr = real_stdout, real_stderr
        finish()

    meta["rich_version"] = getattr(__import__("importlib.metadata").metadata, "version")("rich")
    meta["click_version"] = getattr(__import__("importlib.metadata").metadata, "version")("click")


def read_root():
    """2. Root options and commands, as Click sees them."""
    global ctx
    ctx = cli.make_context("zenml", [], resilient_parsing=True)
    root = {
        "options": [],
        "flag_options": [],
        "version_options": [],
        "help_options": list(ctx.help_option_names),
    }
    for param in cli.params:
        if not isinstance(param, click.Option):
            root["options"] = None
            break
        names = list(param.opts) + list(param.secondary_opts)
        root["options"].extend(names)
        if param.is_flag and not param.secondary_opts:
            root["flag_options"].extend(names)
        if param.is_eager and param.expose_value is False and param.name == "version":
            root["version_options"].extend(param.opts)
    if root["options"] is not None:
        root["options"].extend(root["help_options"])
        root["flag_options"].extend(root["help_options"])
    commands = []
    hidden = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        if cmd is None:
            continue
        (hidden if cmd.hidden else commands).append(name)
    root["commands"] = commands
    root["hidden_commands"] = hidden
    root["no_args_is_help"] = bool(getattr(cli, "no_args_is_help", False))
    root["invoke_without_command"] = bool(getattr(cli, "invoke_without_command", False))
    meta["root"] = root


# 3. A console that records what rich renders, as segments, instead of writing it.
styles = []
style_ids = {}



def style_id(style):
    if not style:
        return -1
    if style.link:
        raise ValueError("hyperlink style")
    key = str(style)
    if key not in style_ids:

        def sgr(s, system):
            s = s.copy()
            s._ansi = None  # Style caches its codes for the first colour system it renders with
            r = s.render("X", color_system=system)
            return "" if r == "X" else r[2 : r.index("m")]

        style_ids[key] = len(styles)
        styles.append(
            {
                "standard": sgr(style, ColorSystem.STANDARD),
                "eight_bit": sgr(style, ColorSystem.EIGHT_BIT),
                "truecolor": sgr(style, ColorSystem.TRUECOLOR),
                "no_color": sgr(style.without_color, ColorSystem.TRUECOLOR),
            }
        )
    return style_ids[key]


def prepare(console):
    """Turns `console` into a recorder: terminal, truecolor, practically unbounded width."""
    console.file = io.StringIO()
    console._force_terminal = True
    console._color_system = ColorSystem.TRUECOLOR
    console._width = BIG
    console._height = 25
    console.begin_capture()


def collect(console):
    segments = list(console._buffer)
    console.end_capture()
    return segment_lines(segments)


def segment_lines(segments, keep_last=False):
    """Segments -> lines of [text, style id]; the final newline is implied (or kept as a flag)."""
    lines = [[]]
    for text, style, control in segments:
        if control:
            raise ValueError("control segment")
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                if "\t" in part or any(cell_len(ch) != 1 for ch in part):
                    raise ValueError("tab or non single-cell character")
                lines[-1].append([part, style_id(style)])
    if keep_last:
        newline = bool(lines) and not lines[-1]
        if newline:
            lines.pop()
        return {"lines": lines, "newline": newline}
    if lines and not lines[-1]:
        lines.pop()  # the print's final newline
    return lines


def cli_streams(tty=False):
    """Fresh (stdout, stderr) for a CLI call, wired the way the CLI wires them."""
    cls = TtyStringIO if tty else io.StringIO
    out, err = cls(), cls()
    sys.stdout, sys.stderr = (err if rerouted else out), err
    return out, err


def run_main(args):
    """Runs the CLI like bin/zenml; returns (exit code, real stdout text, real stderr text)."""
    saved = sys.stdout, sys.stderr
    out, err = cli_streams()
    try:
        cli.main(args, prog_name="zenml")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved
    return code, out.getvalue(), err.getvalue()


def run_quietly(fn):
    """Runs fn with sys.stdout/stderr captured; returns (result, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        return fn(), out.getvalue(), err.getvalue()
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr


# 4. The `version` command: which list random.choice picks a banner from, each banner as rich
#    renders it on the console the command prints to, and the line Click echoes after it.
def gen_version():
    cmd = cli.get_command(ctx, "version")
    if cmd is None or cmd.params and any(p.name != "help" for p in cmd.params):
        raise ValueError("no plain `version` command")
    import zenml.console as zconsole

    console = zconsole.console
    seen = []
    real_choice = random.choice

    def invoke(index, tty):
        def choice(seq):
            seen.append(list(seq))
            return seq[index]

        random.choice = choice
        sub = cmd.make_context("version", [], parent=ctx)
        prepare(console)
        previous = sys.stdout, sys.stderr
        try:
            out, err = cli_streams(tty)
            with sub:
                cmd.invoke(sub)
        finally:
            sys.stdout, sys.stderr = previous
            random.choice = real_choice
        if out.getvalue() and err.getvalue():
            raise ValueError("version prints on both streams")
        return collect(console), out.getvalue() + err.getvalue()

    first, tail_plain = invoke(0, False)
    if len(seen) != 1 or not all(isinstance(a, str) for a in seen[0]):
        raise ValueError("version does not pick one banner with random.choice")
    banners = [first] + [invoke(i, False)[0] for i in range(1, len(seen[0]))]
    _, tail_tty = invoke(0, True)
    meta["version"] = {"banners": banners, "tail_plain": tail_plain, "tail_tty": tail_tty}


# 5. Root help for every Click width (W_click = max(min(COLUMNS, 80) - 2, 50)): what the CLI
#    sends through rich (ZenMLCLI.get_help) and what Click echoes after it.
def gen_help():
    saved = os.environ.get("COLUMNS")
    rich._console = None
    console = rich.get_console()
    try:
        for columns in range(52, 81):
            os.environ["COLUMNS"] = str(columns)
            prepare(console)
            hctx = cli.make_context("zenml", [], resilient_parsing=True)
            echoed = hctx.get_help()
            lines = collect(console)
            files[f"help-{columns - 2}.json"] = {"lines": lines, "echo": echoed}
        # How Click wraps the help: which stream gets what after the body, and the exit code.
        os.environ["COLUMNS"] = "80"
        for key, args in (("help_flag", ["--help"]), ("no_args", [])):
            prepare(console)
            code, out, err = run_main(args)
            collect(console)
            meta[key] = {"exit": code, "stdout_after": out, "stderr_after": err}
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
        rich._console = None


# 6. `--version`: Click's message, with the version turned into a placeholder.
def gen_version_flag():
    import zenml

    version = zenml.__version__
    code, out, err = run_main(["--version"])
    if code != 0 or (out and err) or version not in out + err:
        raise ValueError("unexpected --version behaviour")
    meta["version_flag"] = {
        "stream": "stdout" if out else "stderr",
        "template": (out + err).replace(version, "{version}"),
    }


# 9. The stack component types, in enum order (the component columns of `stack list`).
def gen_stack_types():
    from zenml.enums import StackComponentType

    meta["stack_component_types"] = [t.value for t in StackComponentType]


# 10. `clean`'s confirmation: the prompt, the invalid-answer message and `Aborting clean.` as rich
#     renders them (answers fed through input(): "maybe", then "n"), and what EOF prints.
def gen_clean():
    import builtins

    import rich.prompt
    import zenml.console as zconsole

    import tempfile

    import zenml

    if cli.get_command(ctx, "clean") is None:
        raise ValueError("no clean command")
    if zenml.__version__ not in VERIFIED_CLEAN:
        raise ValueError(f"clean not verified for {zenml.__version__}")
    console = zconsole.console
    # Defence in depth: even a clean that did not ask could only touch a scratch dir.
    scratch = tempfile.mkdtemp(prefix="zenml-launcher-gen-")
    saved_cwd, saved_config = os.getcwd(), os.environ.get("ZENML_CONFIG_PATH")
    os.chdir(scratch)
    os.environ["ZENML_CONFIG_PATH"] = os.path.join(scratch, "config")
    real_input = builtins.input

    def feed(answers):
        marks = []
        it = iter(answers)

        def fake_input(prompt=""):
            if prompt:
                raise ValueError("input() with a prompt")
            marks.append(len(console._buffer))
            answer = next(it)
            if answer is None:
                raise EOFError
            return answer

        builtins.input = fake_input
        prepare(console)
        try:
            code, out, err = run_main(["clean"])
        finally:
            builtins.input = real_input
        segments = list(console._buffer)
        console.end_capture()
        return marks, segments, code, out, err

    try:
        marks, segments, code, out, err = feed(["maybe", "n"])
        eof_marks, eof_segments, eof_code, eof_out, eof_err = feed([None])
    finally:
        os.chdir(saved_cwd)
        if saved_config is None:
            os.environ.pop("ZENML_CONFIG_PATH", None)
        else:
            os.environ["ZENML_CONFIG_PATH"] = saved_config
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    if code != 0 or out or err or len(marks) != 2:
        raise ValueError(f"unexpected clean flow {code} {out!r} {err!r} {marks}")
    prompt = segments[: marks[0]]
    again = segments[marks[0] : marks[1]]
    if again[-len(prompt) :] != prompt:
        raise ValueError("the prompt is not repeated as is")
    if eof_segments != prompt or len(eof_marks) != 1:
        raise ValueError("EOF prompt differs")
    meta["clean"] = {
        "prompt": segment_lines(prompt, keep_last=True),
        "invalid": segment_lines(again[: -len(prompt)], keep_last=True),
        "aborting": segment_lines(segments[marks[1] :], keep_last=True),
        "eof": {"exit": eof_code, "stdout_after": eof_out, "stderr_after": eof_err},
        "choices": list(rich.prompt.Confirm.choices),
    }



# The steps after the root, each recorded as unsupported (with why) when it fails or prints.
STEPS = (
    ("stack_types", gen_stack_types),
    ("clean", gen_clean),
    ("version", gen_version),
    ("help", gen_help),
    ("version_flag", gen_version_flag),
    ("theme", gen_theme_guarded),
    ("text_data", gen_text_data),
)


def main(argv):
    """Generates the cache entry; `argv` as `sys.argv` (see the top of this file). Ends the
    process (exit 0) once the entry is in place, whatever the steps found."""
    global out_dir, VERIFIED_CLEAN, real_stdout, real_stderr
    _bin, out_dir, fingerprint, module_name, attr_path, verified = argv[1:7]
    VERIFIED_CLEAN = set(verified.split(","))
    sys.path[0] = _bin
    sys.argv = [_bin + "/zenml"]
    meta.update({"schema": SCHEMA, "fingerprint": fingerprint, "unsupported": {}})
    real_stdout, real_stderr = sys.stdout, sys.stderr
    import_cli(module_name, attr_path)
    read_root()
    for name, gen in STEPS:
        try:
            _, out, err = run_quietly(gen)
            if out or err:
                meta["unsupported"][name] = "generation printed output"
        except BaseException as e:  # noqa: BLE001
            sys.stdout, sys.stderr = real_stdout, real_stderr
            meta["unsupported"][name] = f"{type(e).__name__}: {e}"
    meta["styles"] = styles
    finish()


if __name__ == "__main__":
    main(sys.argv)
