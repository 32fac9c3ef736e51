# rich's SGR codes for many colours as foreground and background in each colour system: the
# reference for the colour-downgrade port (tests/highlight_parity.rs).
#
#   python colour_expected.py <answer.json>
import json
import sys

from rich.color import Color, ColorSystem, ColorType
from rich.style import Style

TYPES = {
    ColorType.DEFAULT: "default",
    ColorType.STANDARD: "standard",
    ColorType.EIGHT_BIT: "eight_bit",
    ColorType.TRUECOLOR: "truecolor",
}
SYSTEMS = {"standard": ColorSystem.STANDARD, "eight_bit": ColorSystem.EIGHT_BIT,
           "truecolor": ColorSystem.TRUECOLOR}

levels = (0, 1, 37, 47, 48, 94, 95, 96, 114, 115, 127, 128, 134, 135, 175, 200, 215, 254, 255)
colours = [Color.parse("default")] + [Color.from_ansi(n) for n in range(256)]
colours += [Color.from_rgb(r, g, b) for r in levels for g in levels for b in levels]
colours += [Color.from_rgb(v, v + d, v) for v in range(0, 250, 3) for d in (0, 1, 5)]

answer = []
for colour in colours:
    entry = {
        "spec": {
            "type": TYPES[colour.type],
            "number": colour.number,
            "triplet": list(colour.triplet) if colour.triplet is not None else None,
            "name": colour.name,
        }
    }
    for system_name, system in SYSTEMS.items():
        # Fresh styles: a Style caches its codes for the first system it renders with.
        entry[system_name] = [
            Style(color=colour)._make_ansi_codes(system),
            Style(bgcolor=colour, bold=True)._make_ansi_codes(system),
        ]
    answer.append(entry)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(answer, f)
