# What the zenml console prints for each sample text: the reference for tests/highlight_parity.rs.
#
#   python highlight_expected.py <mode> <request.json> <answer.json>
#
# request: {"texts": [...], "bases": [null | "info" | "warning", ...], "widths": [...],
#           "latin": "<characters the Rust side accepts besides ASCII>"}
# answer:  {"outputs": [[[bytes per width] per base] per text], "latin_ok": bool, "console": {...}}
#
# One mode per process: rich caches a style's SGR codes for the first colour system it renders
# with, so a process must only ever use one (as the real CLI does).
import io
import itertools
import json
import sys

from rich.cells import cell_len
from rich.console import Console
from rich.highlighter import ReprHighlighter
import rich.style as rich_style
from rich.style import Style

import zenml.console as zconsole
from zenml.console import zenml_custom_theme, zenml_style_defaults

mode, request_path, answer_path = sys.argv[1:4]
with open(request_path, encoding="utf-8") as f:
    request = json.load(f)

MODES = {
    "pipe": dict(force_terminal=False, no_color=False),
    "standard": dict(force_terminal=True, color_system="standard", no_color=False),
    "eight_bit": dict(force_terminal=True, color_system="256", no_color=False),
    "truecolor": dict(force_terminal=True, color_system="truecolor", no_color=False),
    "no_color": dict(force_terminal=True, color_system="standard", no_color=True),
}


def base_style(name):
    # As cli_utils.declare / warning build it.
    if name is None:
        return None
    return Style.chain(zenml_style_defaults[name], Style(bold=None, italic=None))


outputs = []
consoles = {
    width: Console(
        theme=zenml_custom_theme,
        markup=True,
        file=io.StringIO(),
        width=width,
        legacy_windows=False,
        **MODES[mode],
    )
    for width in request["widths"]
}
for text in request["texts"]:
    per_base = []
    for base in request["bases"]:
        per_width = []
        for width in request["widths"]:
            console = consoles[width]
            console.file = io.StringIO()
            # Hyperlink ids: a fresh counter and parse cache per print (the Rust side starts
            # each print at 1000).
            rich_style._id_generator = itertools.count(1000)
            Style.parse.cache_clear()
            style = base_style(base)
            if style is None:
                console.print(text)
            else:
                console.print(text, style=style)
            per_width.append(console.file.getvalue())
        per_base.append(per_width)
    outputs.append(per_base)

# rich's measurement of single code points (run-length encoded) and of given strings, with
# their graphemes, folds and crops: the reference for cells.rs.
measures = None
if request.get("measure") and mode == "pipe":
    from rich.cells import chop_cells, set_cell_size, split_graphemes

    runs = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        width = cell_len(chr(code))
        if runs and runs[-1][2] == width and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code, width])
    strings = []
    for text in request["measure"]:
        length = cell_len(text)
        strings.append(
            {
                "cell_len": length,
                "graphemes": [list(span) for span in split_graphemes(text)[0]],
                "chop": {str(w): chop_cells(text, w) for w in (1, 2, 3, 5, 8)},
                "set_size": [set_cell_size(text, n) for n in range(0, length + 3)],
            }
        )
    measures = {"code_points": runs, "strings": strings}

real = zconsole.console
answer = {
    "measures": measures,
    "outputs": outputs,
    # The Rust side treats these as single-cell word characters.
    "latin_ok": all(
        cell_len(c) == 1 and c.isalnum() and not c.isspace() for c in request["latin"]
    ),
    # The assumptions the reference console above makes about zenml's console.
    "console": {
        "markup": real._markup,
        "emoji": real._emoji,
        "highlight": real._highlight,
        "repr_highlighter": type(real.highlighter) is ReprHighlighter,
        "style": real.style,
    },
}
with open(answer_path, "w", encoding="utf-8") as f:
    json.dump(answer, f)
