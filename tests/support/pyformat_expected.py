# What ZenML's `_render_json`, `_render_yaml` and `_render_delimited` produce (before
# `clean_output` and highlighting) for generated rows: the reference for tests/pyformat_parity.rs.
#
#   python pyformat_expected.py <request.json> <answer.json>
#
# request: [[[key, value], ...] per row] per case (value: str, bool or null)
# answer:  [{"json", "yaml", "csv", "tsv"}] per case
import json
import sys

import zenml.cli.utils as cli_utils

cli_utils._syntax_highlight = lambda text, _lexer: text  # what a pipe gets

with open(sys.argv[1], encoding="utf-8") as f:
    cases = json.load(f)
pagination = {"index": 1, "max_size": 20, "total_pages": 1, "total": 1}
answer = []
for rows in cases:
    data = [{k: v for k, v in row} for row in rows]
    answer.append(
        {
            "json": cli_utils._render_json(data, pagination),
            "yaml": cli_utils._render_yaml(data, pagination),
            "csv": cli_utils._render_delimited(data, ","),
            "tsv": cli_utils._render_delimited(data, "\t"),
        }
    )
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(answer, f)
