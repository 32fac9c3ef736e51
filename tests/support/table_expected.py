# What zenml's `_render_table` returns (= what `zenml stack list` writes to stdout, since the
# text always ends with "\n" and `clean_output` adds nothing) for generated row sets: the
# reference for tests/table_parity.rs.
#
#   python table_expected.py <answer.json>
#
# The terminal variables (NO_COLOR, TERM, LINES, COLORTERM, ...) come from this process's
# environment, set by the caller: one process per variable set, as in the real CLI. Each case
# sets ZENML_CLI_COLUMN_WIDTH (what `_get_terminal_width` reads first) before rendering.
#
# answer: [{"name", "columns", "rows" (str(row.get(key, "")) per column), "width" (the value of
#           ZENML_CLI_COLUMN_WIDTH), "supported" (false: the case deliberately holds a value the
#           Rust port refuses), "stdout", "warning" (whether the "Large tables" declare ran)}]
import datetime
import json
import os
import random
import sys
import uuid

import zenml.cli.utils as cli_utils

ACTIVE = "[green]●[/green]"
COMPONENT_KEYS = [
    "ALERTER",
    "ANNOTATOR",
    "ARTIFACT STORE",
    "CONTAINER REGISTRY",
    "DATA VALIDATOR",
    "EXPERIMENT TRACKER",
    "FEATURE STORE",
    "IMAGE BUILDER",
    "LOG STORE",
    "MODEL DEPLOYER",
    "ORCHESTRATOR",
    "STEP OPERATOR",
    "MODEL REGISTRY",
    "DEPLOYER",
    "SANDBOX",
]
ALL_KEYS = ["id", "name", "created", "updated", "user_id", "user", "active"] + COMPONENT_KEYS
DEFAULT_KEYS = ["active", "id", "name", "user", "ARTIFACT STORE", "ORCHESTRATOR", "DEPLOYER"]
WIDTHS = [80, 100, 120, 150, 200]
WORDS = (
    "default stack prod staging dev local aws gcp azure kubeflow airflow sagemaker vertex "
    "mlflow s3 gcs minio registry docker kaniko great_expectations wandb feast slack "
    "my-team experiment_tracker_with_a_long_name x y z"
).split()
STATUSES = [
    "active", "Healthy", "succeeded", "COMPLETED", "verified", "running", "pending",
    "initializing", "starting", "warning", "creating", "updating", "failed", "error",
    "unhealthy", "stopped", "crashed", "deleted", "unknown", "-", "", "paused",
]
UNSUPPORTED_VALUES = [
    "https://example.com/stack",  # rendered as an OSC 8 link
    "[bold]x[/bold]",  # console markup
    "arr[0]",
    "café",  # non-ASCII
    "日本語",  # wide characters
    "deploy :rocket: now",  # emoji code
    "tab\there",  # control character
    "two\nlines",
]

rng = random.Random(20260523)


def word_name(lo, hi, spaces=True):
    """A name of lo..hi characters made of words."""
    target = rng.randint(lo, hi)
    parts = []
    while len(" ".join(parts)) < target:
        parts.append(rng.choice(WORDS))
    sep = " " if spaces and rng.random() < 0.5 else rng.choice(["_", "-", ""])
    name = sep.join(parts)[:target].strip() or "s"
    return name


def stack_name():
    r = rng.random()
    if r < 0.25:
        return rng.choice(["default", "stack_two", "third stack", "s1", "prod"])
    if r < 0.55:
        return word_name(30, 60)
    if r < 0.65:
        return "a" + " " * rng.randint(1, 3) + word_name(3, 12)  # runs of spaces
    return word_name(2, 25)


def component_cell():
    r = rng.random()
    if r < 0.3:
        return "-"
    if r < 0.5:
        return "default"
    if r < 0.6:
        return ", ".join(word_name(3, 14, spaces=False) for _ in range(rng.randint(2, 3)))
    return word_name(2, 30)


def user_cell():
    return rng.choice([None, None, "default", "alice", "a-very-long-user-name-for-testing", ""])


def when():
    base = datetime.datetime(2026, 11, 23, 20, 26, 23, 363031)
    return base + datetime.timedelta(seconds=rng.randint(-10**7, 10**7), microseconds=rng.randint(0, 999999))


def stack_row(active):
    row = {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "name": stack_name(),
        "created": when(),
        "updated": when(),
        "user_id": rng.choice([None, uuid.UUID(int=rng.getrandbits(128), version=4)]),
        "user": user_cell(),
        "active": ACTIVE if active else "",
    }
    for key in COMPONENT_KEYS:
        row[key] = component_cell()
    return row


def stack_rows(n):
    active_at = rng.choice([0, 0, rng.randrange(n), None])
    return [stack_row(i == active_at) for i in range(n)]


def synthetic_rows(columns, n):
    rows = []
    for _ in range(n):
        row = {}
        for key in columns:
            lower = key.lower()
            if any(k in lower for k in ("status", "state", "health")):
                value = rng.choice(STATUSES)
            elif key.strip().lower() == "active":
                value = rng.choice([ACTIVE, "", ""])
            elif lower.endswith("id"):
                value = str(uuid.UUID(int=rng.getrandbits(128), version=4))[: rng.randint(4, 36)]
            else:
                value = rng.choice([stack_name(), component_cell(), "-", "", "   ", " - ", None, 42, True])
            row[key] = value
        rows.append(row)
    return rows


cases = []


def add(name, columns, rows, width, supported=True):
    data = [{k: r[k] for k in columns if k in r} for r in rows]
    cases.append(dict(name=name, columns=columns, data=data, width=width, supported=supported))


# The default columns, 1 / 4 / 25 rows, every width.
for n in (1, 4, 25):
    for width in WIDTHS:
        add(f"default-{n}rows-w{width}", DEFAULT_KEYS, stack_rows(n), width)
# The CLI's examples in docs/zenml-cli-behaviour.md §3.7.5 (the rows of a capture).
fixed = [
    {"active": ACTIVE, "id": "a12b131a-f23f-4d37-8eaa-5967eb06661d", "name": "default", "user": None,
     "ARTIFACT STORE": "default", "ORCHESTRATOR": "default", "DEPLOYER": "default"},
    {"active": "", "id": "b06d3e08-46a7-4b64-bdbc-f415dfbfabda", "name": "third stack", "user": "default",
     "ARTIFACT STORE": "as2", "ORCHESTRATOR": "default", "DEPLOYER": "-"},
]
for width in (80, 120):
    add(f"notes-example-w{width}", DEFAULT_KEYS, fixed, width)
# -c all: 22 columns with datetimes.
for width in WIDTHS + [rng.randint(80, 200)]:
    add(f"all-columns-w{width}", ALL_KEYS, stack_rows(rng.choice([1, 4, 25])), width)
# -c all with a hydrated first row (extra keys the other rows lack ⇒ "" cells).
for width in (80, 150):
    rows = stack_rows(3)
    keys = ALL_KEYS[:5] + ["description", "stack_spec_path"] + ALL_KEYS[5:]
    rows[0]["description"] = word_name(10, 40)
    rows[0]["stack_spec_path"] = None
    add(f"hydrated-first-row-w{width}", keys, rows, width)
# Two columns, both orders.
for width in (80, 200):
    for cols in (["name", "active"], ["active", "name"], ["user", "id"]):
        add(f"two-{'-'.join(cols)}-w{width}", cols, stack_rows(rng.choice([1, 4, 25])), width)
# One column.
for key in ("active", "name", "ARTIFACT STORE", "created"):
    add(f"one-{key}", [key], stack_rows(4), rng.choice(WIDTHS))
# No matching column.
for n in (1, 4):
    add(f"zero-columns-{n}rows", [], stack_rows(n), rng.choice(WIDTHS))
# Status / state / health colouring and other synthetic column names.
synthetic_columns = [
    ["name", "status", "id"],
    ["run id", "STATE", "health_check", "pipeline_name"],
    ["active", "status_name", "Deployment State", "url"],
    [" Active ", "name", "HEALTH", "comment"],
]
for i, cols in enumerate(synthetic_columns):
    for width in (80, 120):
        add(f"synthetic{i}-w{width}", cols, synthetic_rows(cols, rng.choice([2, 6, 12])), width)
# Many narrow columns (widths collapse to 0-2 cells, the last-resort reduction runs), the active
# column in the middle or last.
for i, ncols in enumerate((30, 45, 60)):
    cols = [f"c{j}" for j in range(ncols)]
    cols[rng.randrange(ncols)] = "active"
    cols[rng.randrange(ncols)] = "name"
    add(f"narrow{i}-{ncols}cols", cols, synthetic_rows(cols, 3), rng.choice([80, 120, 200]))
# No room at all: the non-wrapping active columns alone exceed the width (rich's last-resort even
# reduction), or the width left for the columns is 0.
for i, (ncols, actives) in enumerate(((60, 6), (76, 1), (79, 1), (85, 2))):
    cols = [f"c{j}" for j in range(ncols)]
    for k, variant in enumerate(["active", " Active", "ACTIVE ", "aCtIvE", "Active", "ACTIVE"][:actives]):
        cols[rng.randrange(ncols)] = variant
    add(f"no-room{i}-{ncols}cols", cols, synthetic_rows(cols, 2), 80)
for width in (80, 150):
    cols = ["id", "user", "active"]
    add(f"active-last-w{width}", cols, stack_rows(4), width)
    cols = ["name", "active", "ORCHESTRATOR"]
    add(f"active-middle-w{width}", cols, stack_rows(4), width)
# Spaces: leading, trailing, runs; a very long value.
spaced = ["  lead", "trail  ", "a  b   c", " ", "x" * 150, "word " * 30, "-  ", "a - b"]
for width in (80, 120, 200):
    rows = [
        {"name": rng.choice(spaced), "comment": rng.choice(spaced), "user": rng.choice(spaced)}
        for _ in range(6)
    ]
    add(f"spaces-w{width}", ["name", "comment", "user"], rows, width)
# Random column subsets in random order.
while len(cases) < 160:
    k = rng.randint(1, 12)
    cols = rng.sample(ALL_KEYS, k)
    width = rng.choice(WIDTHS + [rng.randint(80, 200), rng.randint(80, 200)])
    add(f"random{len(cases)}-{k}cols-w{width}", cols, stack_rows(rng.choice([1, 2, 3, 4, 7, 25])), width)
# Widths outside [80, 200] (the caller clamps).
for width in (40, 79, 201, 300):
    add(f"clamped-w{width}", DEFAULT_KEYS, stack_rows(4), width)
# Values the port refuses.
for i, bad in enumerate(UNSUPPORTED_VALUES):
    rows = stack_rows(3)
    rows[rng.randrange(3)][rng.choice(["name", "ORCHESTRATOR", "user"])] = bad
    # Without colouring (NO_COLOR non-empty) no link markup is added: that case is supported.
    link_ok = bad.startswith("http") and bool(os.getenv("NO_COLOR"))
    add(f"unsupported{i}", DEFAULT_KEYS, rows, rng.choice(WIDTHS), supported=link_ok)

# Names of other scripts (issue #13), from their own seeded generator so the cases above stay
# as they were. "supported_unicode" says whether the port with rich's cell table must render
# the case (it refuses real markup tags, emoji codes, links, control characters).
urng = random.Random(13)
TOKENS = [
    ["é", "ü", "ñ", "Ø", "ß", "ç", "Å", "ł", "ő", "ș", "ǅ"],
    ["α", "β", "Ω", "λ", "ς", "Ж", "д", "я"],
    ["ש", "ל", "ו", "ם", "ع", "ر", "ب"],
    ["日", "本", "語", "中", "文", "한", "국", "ア", "ｶ", "Ａ", "\u3000", "ー"],
    ["😀", "🚀", "❤", "❤\ufe0f", "☕", "👍🏽", "👨\u200d👩\u200d👧", "🏳\ufe0f\u200d🌈", "✔\ufe0f", "🇯🇵"],
    ["e\u0301", "a\u0308", "\u0301", "\u200b", "\u00ad", "\ufeff"],
    ["[1]", "[A]", "[ x]", "\\[b]", "\\", "'", '"', "(", ")", "=", "...", "/", "-", "_", " ", "  "],
    ["prod", "stack", "v2", "42", "3.14", "True", "None", "/tmp/x", "ml_ops", "x=1"],
]


def unicode_name(lo=1, hi=8):
    parts = [urng.choice(urng.choice(TOKENS)) for _ in range(urng.randint(lo, hi))]
    name = "".join(parts)
    if urng.random() < 0.12:
        while len(name) < 90:
            name += urng.choice(urng.choice(TOKENS))
    return name


def unicode_row(active):
    row = stack_row(active)
    row["name"] = unicode_name()
    row["user"] = urng.choice([None, "default", unicode_name(1, 4)])
    for key in COMPONENT_KEYS:
        r = urng.random()
        row[key] = "-" if r < 0.3 else (unicode_name(1, 5) if r < 0.8 else component_cell())
    return row


def narrow_ok(value):
    return all(0x20 <= ord(c) < 0x7F for c in value) and "[" not in value


def unicode_ok(value):
    from rich.markup import _parse

    if any(tag is not None for _, _, tag in _parse(value)):
        return False
    if value.startswith("http") and " " not in value and not os.getenv("NO_COLOR"):
        return False
    from rich._emoji_replace import _emoji_replace

    if _emoji_replace(value) != value:
        return False
    return not any(c == "\t" or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value)


n_before = len(cases)
for i in range(40):
    width = urng.choice(WIDTHS + [urng.randint(80, 200)])
    n = urng.choice([1, 2, 4, 7])
    rows = [unicode_row(j == 0) for j in range(n)]
    cols = DEFAULT_KEYS if i % 3 else urng.sample(ALL_KEYS, urng.randint(2, 12))
    add(f"unicode{i}-w{width}", cols, rows, width)
for case in cases:
    values = [str(r.get(k, "")) for r in case["data"] for k in case["columns"]]
    values = [v for v in values if v != ACTIVE]
    case["supported_unicode"] = case["supported"] or (
        case["name"].startswith("unsupported") and all(unicode_ok(v) for v in values)
    )
for case in cases[n_before:]:
    values = [str(r.get(k, "")) for r in case["data"] for k in case["columns"]]
    values = [v for v in values if v != ACTIVE]
    case["supported"] = all(narrow_ok(v) for v in values)
    case["supported_unicode"] = all(unicode_ok(v) for v in values)

declared = []
cli_utils.declare = lambda text, *a, **k: declared.append(text)

answer = []
for case in cases:
    os.environ["ZENML_CLI_COLUMN_WIDTH"] = str(case["width"])
    declared.clear()
    data = case["data"]
    text = cli_utils._render_table(data)
    stdout = text if text.endswith("\n") else text + "\n"
    warnings = [d for d in declared if d.startswith("Large tables may wrap")]
    assert len(declared) == len(warnings), declared
    answer.append(
        dict(
            name=case["name"],
            columns=case["columns"],
            rows=[[str(row.get(k, "")) for k in case["columns"]] for row in data],
            width=case["width"],
            supported=case["supported"],
            supported_unicode=case["supported_unicode"],
            stdout=stdout,
            warning=bool(warnings),
        )
    )

with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(answer, f)
