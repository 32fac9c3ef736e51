# The cache generator's steps for theme.json (part of `gen_cache.py`: `src/cache.rs` runs this file
# and `gen_cache.py` as one script, this one first, so these functions share its globals: `meta`).
# What the Rust renderer needs from the installed rich, zenml and Python to print dynamic text:
# the zenml console's theme and highlighter, rich's colour palettes, cell widths, Python's `\w`,
# `\d`, `\s` and PyYAML's resolvers. All read at run time, nothing copied.


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


# 8. Text measurement data for names of any script (stored in theme.json): rich's cell-width
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
