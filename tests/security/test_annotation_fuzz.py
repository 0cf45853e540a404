"""Fuzzing ``emozoo agreement``'s readers and metrics with a few hundred mutated annotation tables.

Each mutant of a slice of the real ``binary.csv`` goes through what the command runs (``read_annotations`` then
``interrater_agreement_sparse``) in one child process whose address space is capped (``setrlimit``). Every mutant
must give either a result or a one-line emozoo error; mutants that keep the table's meaning (rows reordered,
whitespace, upper-case yes/no, a BOM) must give exactly the unmutated table's numbers.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from tests.security.capped import run_capped

SAME_MEANING = ("shuffle", "spaces", "upper", "bom", "crlf")
BREAKING = (
    "drop_column", "rename_header", "junk_value", "nan_value", "huge_value", "unknown_emotion", "empty_cell",
    "many_raters", "huge_field", "garbage_bytes", "truncate", "empty", "header_only", "bad_quote", "latin1",
    "duplicate_rows", "semicolons",
)  # fmt: skip


def _rows(emonet_dir: Path, n_images: int = 600) -> tuple[list[str], list[list[str]]]:
    """The rows of the first ``n_images`` images of ``binary.csv`` that some emotion has 2+ ratings of (so that
    κ and α are defined), in file order."""
    with (emonet_dir / "binary.csv").open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    per: dict[tuple[str, str], int] = {}
    for path, _, _, emotion in rows:
        per[path, emotion] = per.get((path, emotion), 0) + 1
    multi = list(dict.fromkeys(path for (path, _), k in per.items() if k >= 2))[:n_images]
    keep = set(multi)
    return header, [r for r in rows if r[0] in keep]


def _csv(header: list[str], rows: list[list[str]], newline: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows([header, *rows])
    return buf.getvalue().encode()


def mutate(kind: str, header: list[str], rows: list[list[str]], rng: random.Random) -> bytes:
    """One mutant of the table, as file bytes."""
    rows = [list(r) for r in rows]
    col = {name: i for i, name in enumerate(header)}
    pick = rng.randrange(len(rows))
    if kind == "shuffle":
        rng.shuffle(rows)
    elif kind == "spaces":
        rows = [[f" {c} " if i == col["value"] else c for i, c in enumerate(r)] for r in rows]
    elif kind == "upper":
        rows = [[c.upper() if i == col["value"] else c for i, c in enumerate(r)] for r in rows]
    elif kind == "bom":
        return b"\xef\xbb\xbf" + _csv(header, rows)
    elif kind == "crlf":
        return _csv(header, rows, "\r\n")
    elif kind == "drop_column":
        drop = rng.randrange(len(header))
        return _csv(
            [h for i, h in enumerate(header) if i != drop], [[c for i, c in enumerate(r) if i != drop] for r in rows]
        )
    elif kind == "rename_header":
        header = [h + "x" if i == rng.randrange(len(header)) else h for i, h in enumerate(header)]
    elif kind == "junk_value":
        rows[pick][col["value"]] = rng.choice(["maybe", "-", "☃", "1e", "[1]", "{}", "yes no"])
    elif kind == "nan_value":
        rows[pick][col["value"]] = rng.choice(["nan", "NaN", "inf", "-inf"])
    elif kind == "huge_value":
        rows[pick][col["value"]] = rng.choice(["9" * 400, "1e308", "-1e308", "3"])
    elif kind == "unknown_emotion":
        rows[pick][col["emotion"]] = rng.choice(["Joyful", "", "Anger|Extra", "x" * 300])
    elif kind == "empty_cell":
        rows[pick][rng.randrange(len(header))] = ""
    elif kind == "many_raters":  # every row its own rater: sparse, no pairs
        rows = [[f"rater-{i}" if j == col["annotator"] else c for j, c in enumerate(r)] for i, r in enumerate(rows)]
    elif kind == "huge_field":
        rows[pick][col["path"]] = "p" * rng.choice([200_000, 2_000_000])
    elif kind == "garbage_bytes":
        return bytes(rng.randrange(256) for _ in range(rng.choice([10, 5000])))
    elif kind == "truncate":
        data = _csv(header, rows)
        return data[: rng.randrange(1, len(data))]
    elif kind == "empty":
        return b""
    elif kind == "header_only":
        return _csv(header, [])
    elif kind == "bad_quote":
        rows[pick][col["path"]] = '"unterminated'
        return _csv(header, rows).replace(b'"""unterminated"', b'"unterminated')
    elif kind == "latin1":
        rows[pick][col["annotator"]] = "r\u00e9ter"
        return _csv(header, rows).decode().encode("latin-1")
    elif kind == "duplicate_rows":
        rows += rows[: rng.randrange(1, 50)]
    elif kind == "semicolons":
        return _csv(header, rows).replace(b",", b";")
    return _csv(header, rows)


AGREE_EACH = """
from emozoo.emonet.annotations import read_annotations
from emozoo.metrics.interrater import interrater_agreement_sparse
out = []
for path in sys.argv[2:]:
    try:
        t = read_annotations(path)
        r = interrater_agreement_sparse(t.image, t.rater, t.emotion, t.value, t.raters)
        ov = r["overall"]
        out.append({"ok": True, "kappa": ov["kappa_mean"], "alpha": ov["alpha_mean"], "units": ov["kappa_units"]})
    except EmozooError as err:
        out.append({"ok": False, "message": str(err)})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_mutated_tables_give_a_result_or_one_line(emonet_dir, tmp_path):
    header, rows = _rows(emonet_dir)
    rng = random.Random(0)
    kinds = ["base"] + [k for k in SAME_MEANING for _ in range(10)] + [k for k in BREAKING for _ in range(12)]
    paths = []
    for i, kind in enumerate(kinds):
        path = tmp_path / f"{i:03d}-{kind}.csv"
        path.write_bytes(_csv(header, rows) if kind == "base" else mutate(kind, header, rows, rng))
        paths.append(path)
    results = run_capped(AGREE_EACH, 1024, *map(str, paths))
    assert len(results) == len(kinds)
    base = results[0]
    assert base["ok"] and base["units"] > 0
    counts = {"result": 0, "one-line error": 0}
    for kind, res in zip(kinds, results):
        if res["ok"]:
            counts["result"] += 1
        else:
            counts["one-line error"] += 1
            assert "\n" not in res["message"] and 0 < len(res["message"]) < 600, (kind, res["message"][:200])
        if kind in SAME_MEANING:
            assert res["ok"], (kind, res.get("message"))
            assert json.dumps(res) == json.dumps(base), kind  # the same numbers, to the last digit
    print(f"annotation-table fuzz: {len(kinds)} tables, {counts}")
    assert counts["one-line error"] >= len(BREAKING)  # the breaking kinds do break somewhere
