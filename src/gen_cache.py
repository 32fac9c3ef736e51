# Generates the launcher's per-distribution cache from the *installed* ZenML CLI.
#
# Run by the launcher with the env's own python:  python -c <this> <bin dir> <out dir> <fingerprint>
# It imports the CLI exactly as `bin/zenml` does, asks Click for the root options and commands,
# asks the CLI itself to render the root help (for every Click width) and the `version` banners
# through rich, and stores what rich produced as styled pieces. Nothing here is ZenML data
# copied into the launcher: it is all read from the installed package at run time.
import importlib
import io
import json
import os
import random
import sys

SCHEMA = 1
BIG = 1_000_000

_bin, out_dir, fingerprint, module_name, attr_path, verified = sys.argv[1:7]
# ZenML releases whose `clean` was verified to ask before deleting (src/zenml/package.rs).
VERIFIED_CLEAN = set(verified.split(","))
sys.path[0] = _bin
sys.argv = [_bin + "/zenml"]

meta = {"schema": SCHEMA, "fingerprint": fingerprint, "unsupported": {}}
files = {}


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


# 1. Import the CLI as bin/zenml does; anything printed on the way means "not reproducible".
real_stdout, real_stderr = sys.stdout, sys.stderr
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

# 2. Root options and commands, as Click sees them.
ctx = cli.make_context("zenml", [], resilient_parsing=True)
root = {"options": [], "flag_options": [], "version_options": [], "help_options": list(ctx.help_option_names)}
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


# 7. What the Rust highlighter (src/render/highlight.rs) needs to style *dynamic* text the way the zenml
#    console prints it: the console's resolved theme styles as data, ReprHighlighter's regexes,
#    rich's emoji-code regex (and the characters emoji names use), and rich's colour palettes
#    (for colour downgrades). All read from the installed rich/zenml, nothing copied.
STYLE_ATTRIBUTES = (
    "bold", "dim", "italic", "underline", "blink", "blink2", "reverse", "conceal", "strike",
    "underline2", "frame", "encircle", "overline",
)
BASE_STYLES = ("none", "info", "warning", "error", "success", "danger", "title")


def regex_alternatives(pattern):
    """Splits `pattern` at its top-level `|` into alternatives, each with what any match of it
    needs (from Python's own parse of it): sets of strings, one of which the text must contain
    for each set; so the Rust side only compiles and runs the alternatives that can match a
    text. One whole alternative without requirements when anything is unclear."""
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from re import _constants as C, _parser as P
        except ImportError:  # Python < 3.11
            import sre_constants as C
            import sre_parse as P

    def requirements(items):
        reqs = []
        run = ""  # consecutive literals: a required substring

        def flush():
            nonlocal run
            if run:
                reqs.append({run})
            run = ""

        for op, av in items:
            if op is C.LITERAL:
                run += chr(av)
                continue
            flush()
            if op is C.IN:
                chars = set()
                for item_op, item_av in av:
                    if item_op is C.LITERAL:
                        chars.add(chr(item_av))
                    elif item_op is C.RANGE and item_av[1] - item_av[0] < 128:
                        chars.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
                    else:  # a category, a negation, a big range: no requirement
                        chars = None
                        break
                if chars:
                    reqs.append(chars)
            elif op is C.SUBPATTERN:
                _group, add_flags, _del_flags, sub = av
                if not add_flags & re.IGNORECASE:
                    reqs.extend(requirements(sub))
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                low, _high, body = av
                if low >= 1:
                    reqs.extend(requirements(body))
            elif op is C.BRANCH:
                union = set()
                for branch in av[1]:
                    sub = requirements(branch)
                    if not sub:
                        union = None
                        break
                    # The most selective: the longest shortest string, then the fewest strings.
                    union |= max(sub, key=lambda r: (min(map(len, r)), -len(r)))
                if union:
                    reqs.append(union)
        flush()
        return reqs

    def split_top(pattern):
        parts, depth, in_class, start, i = [], 0, False, 0, 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\\":
                i += 2
                continue
            if in_class:
                if c == "]":
                    in_class = False
            elif c == "[":
                in_class = True
                if pattern[i + 1 : i + 2] == "^":
                    i += 1
                if pattern[i + 1 : i + 2] == "]":
                    i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "|" and depth == 0:
                parts.append(pattern[start:i])
                start = i + 1
            i += 1
        parts.append(pattern[start:])
        return parts

    whole = [{"pattern": pattern, "requires": []}]
    try:
        parsed = P.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return whole
        parts = split_top(pattern)
        if len(parts) > 1:
            # The split must be the parser's own top-level alternation, with the same groups.
            if len(parsed.data) != 1 or parsed.data[0][0] is not C.BRANCH:
                return whole
            if len(parsed.data[0][1][1]) != len(parts):
                return whole
            names = [name for part in parts for name in re.compile(part).groupindex]
            if names != list(re.compile(pattern).groupindex):
                return whole
        result = []
        for part in parts:
            sub = P.parse(part)
            if sub.state.flags & re.IGNORECASE:
                return whole
            requires = []
            for strings in requirements(sub.data):
                strings = sorted(strings)
                if strings not in requires:
                    requires.append(strings)
            result.append({"pattern": part, "requires": requires})
        return result
    except Exception:  # noqa: BLE001
        return whole


def gen_theme():
    import inspect
    import re

    import zenml.console as zconsole
    from rich import _emoji_replace
    from rich.color import ColorType
    from rich.highlighter import ReprHighlighter
    from rich.style import Style

    console = zconsole.console
    highlighter = console.highlighter
    if type(highlighter) is not ReprHighlighter:
        raise ValueError("the zenml console's highlighter is not rich's ReprHighlighter")
    if not console._highlight or console.style is not None:
        raise ValueError("the zenml console does not highlight, or has a console style")
    color_types = {
        ColorType.DEFAULT: "default",
        ColorType.STANDARD: "standard",
        ColorType.EIGHT_BIT: "eight_bit",
        ColorType.TRUECOLOR: "truecolor",
    }

    def color_spec(color):
        if color is None:
            return None
        if color.type not in color_types:
            raise ValueError(f"colour type {color.type!r}")
        return {
            "type": color_types[color.type],
            "number": color.number,
            "triplet": list(color.triplet) if color.triplet is not None else None,
            "name": color.name,
        }

    def style_spec(style):
        if style.link:
            raise ValueError("hyperlink style")
        spec = {name: getattr(style, name) for name in STYLE_ATTRIBUTES}
        spec["color"] = color_spec(style.color)
        spec["bgcolor"] = color_spec(style.bgcolor)
        spec["link"] = None
        return spec

    patterns = []
    for pattern in highlighter.highlights:
        patterns.append(pattern if isinstance(pattern, str) else pattern.pattern)
    base = highlighter.base_style
    theme = {}
    for pattern in patterns:
        for group in re.compile(pattern).groupindex:
            # As Text.render looks span styles up: unknown names fall back to the null style.
            theme[base + group] = style_spec(console.get_style(base + group, default=Style.null()))
    for name in BASE_STYLES:
        try:
            theme[name] = style_spec(console.get_style(name))
        except Exception:  # noqa: BLE001
            pass  # not a style of this console: callers asking for it delegate
    emoji_sub = inspect.signature(_emoji_replace._emoji_replace).parameters["_emoji_sub"].default
    meta["theme"] = theme
    meta["repr_highlights"] = patterns
    meta["repr_base_style"] = base
    meta["repr_alternatives"] = [regex_alternatives(p) for p in patterns]
    meta["emoji_pattern"] = emoji_sub.__self__.pattern
    meta["emoji_alternatives"] = regex_alternatives(meta["emoji_pattern"])
    meta["console_markup"] = bool(console._markup)
    meta["console_emoji"] = bool(console._emoji)
    try:
        from rich._emoji_codes import EMOJI

        meta["emoji_name_chars"] = "".join(sorted({ch for name in EMOJI for ch in name}))
        # The names made of ASCII digits only (`:100:`): every other `:12:` stays as it is.
        meta["emoji_digit_names"] = sorted(n for n in EMOJI if n.isascii() and n.isdigit())
    except Exception:  # noqa: BLE001
        pass  # without it every emoji-code-like match is treated as an emoji
    try:
        from rich._palettes import EIGHT_BIT_PALETTE, STANDARD_PALETTE

        meta["palettes"] = {  # "rrggbb" per colour: cheap to read on every launcher call
            "standard": "".join("%02x%02x%02x" % tuple(c) for c in STANDARD_PALETTE._colors),
            "eight_bit": "".join("%02x%02x%02x" % tuple(c) for c in EIGHT_BIT_PALETTE._colors),
        }
    except Exception:  # noqa: BLE001
        pass  # without them, downgrades to fewer colours are not reproduced


def gen_theme_guarded():
    keys = ("theme", "repr_highlights", "repr_base_style", "repr_alternatives", "emoji_pattern",
            "emoji_alternatives", "console_markup", "console_emoji", "emoji_name_chars",
            "emoji_digit_names", "palettes")
    try:
        gen_theme()
    except BaseException:
        for key in keys:
            meta.pop(key, None)
        raise


# 9. Text measurement data for names of any script (stored in theme.json): rich's cell-width
#    table as `rich.cells` loads it ("latest": callers decline when UNICODE_VERSION asks for
#    another), its single-cell fast-path ranges and narrow-to-wide (VS16) set; which code
#    points Python's `re` counts as `\w`, `\d` and `\s` (the highlighter's regexes run on them);
#    and PyYAML's implicit resolvers (which plain scalars would read back as another type).
def gen_text_data():
    import re

    import rich.cells as cells
    from rich._unicode_data import load

    table = load("latest")

    def strip_verbose(pattern):
        # re.X: whitespace outside character classes (and not escaped) is ignored.
        out, in_class, escaped = [], False, False
        for ch in pattern:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                out.append(ch)
                escaped = True
            elif in_class:
                out.append(ch)
                if ch == "]":
                    in_class = False
            elif ch == "[":
                out.append(ch)
                in_class = True
            elif ch == "#":
                raise ValueError("comment in a verbose resolver pattern")
            elif not ch.isspace():
                out.append(ch)
        return "".join(out)

    # Every code point in order: each maximal run a class matches is one range.
    everything = "".join(map(chr, range(0x110000)))
    classes = {}
    for name, pattern in (("word", r"\w+"), ("digit", r"\d+"), ("space", r"\s+")):
        classes[name] = [[m.start(), m.end() - 1] for m in re.finditer(pattern, everything)]
    import yaml

    resolvers = []
    for first, entries in yaml.Dumper.yaml_implicit_resolvers.items():
        for tag, regexp in entries:
            pattern = regexp.pattern
            if regexp.flags & re.VERBOSE:
                pattern = strip_verbose(pattern)
            if re.compile(pattern).pattern != pattern:
                raise ValueError("resolver pattern")
            resolvers.append({"first": first, "tag": tag, "pattern": pattern})
    meta["text_data"] = {
        "unicode_version": table.unicode_version,
        "widths": [list(w) for w in table.widths],
        "narrow_to_wide": sorted(ord(c) for c in table.narrow_to_wide if len(c) == 1),
        "single_cell_ranges": [list(r) for r in cells._SINGLE_CELL_UNICODE_RANGES],
        "python_classes": classes,
        "yaml_resolvers": resolvers,
        "yaml_str_tag": yaml.Dumper.DEFAULT_SCALAR_TAG,
    }


# 8. The stack component types, in enum order (the component columns of `stack list`).
def gen_stack_types():
    from zenml.enums import StackComponentType

    meta["stack_component_types"] = [t.value for t in StackComponentType]


# 9. `clean`'s confirmation: the prompt, the invalid-answer message and `Aborting clean.` as rich
#    renders them (answers fed through input(): "maybe", then "n"), and what EOF prints.
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


for name, gen in (
    ("stack_types", gen_stack_types),
    ("clean", gen_clean),
    ("version", gen_version),
    ("help", gen_help),
    ("version_flag", gen_version_flag),
    ("theme", gen_theme_guarded),
    ("text_data", gen_text_data),
):
    try:
        _, out, err = run_quietly(gen)
        if out or err:
            meta["unsupported"][name] = "generation printed output"
    except BaseException as e:  # noqa: BLE001
        sys.stdout, sys.stderr = real_stdout, real_stderr
        meta["unsupported"][name] = f"{type(e).__name__}: {e}"

meta["styles"] = styles
finish()
