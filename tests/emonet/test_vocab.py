"""One yes/no vocabulary: ``emozoo agreement``'s reader and the shard converter read the same table the same way."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emozoo.emonet.annotations import read_annotations
from emozoo.emonet.convert import convert_emonet
from emozoo.emonet.labels import parse_bool
from emozoo.emonet.vocab import MISSING, NO, YES, parse_rating, parse_yes_no
from emozoo.errors import DataError
from emozoo.taxonomy import NAMES

# every word of the vocabulary, in the spellings people write (case, spaces)
WORDS = [(w, True) for w in YES] + [(w, False) for w in NO] + [(w.upper(), True) for w in YES]
WORDS += [(f" {w.title()} ", False) for w in NO] + [(w, None) for w in MISSING] + [("NULL", None), (" N/A ", None)]


def test_both_readers_share_one_function() -> None:
    assert parse_bool is parse_yes_no
    for word, want in WORDS:
        assert parse_yes_no(word) is want, word
        assert parse_rating(word) == (None if want is None else float(want)), word
    for bad in ("maybe", "2", "yess", "-1"):
        with pytest.raises(ValueError, match="not a yes/no answer"):
            parse_yes_no(bad)


def _png(path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


def test_same_table_same_answers_in_both_readers(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    rows = [("path", "annotator", "value", "emotion")]
    for i, (word, _) in enumerate(WORDS):
        _png(tmp_path / "imgs" / f"{i:03d}.png")
        rows.append((f"{i:03d}", "human-1", word, NAMES[i % len(NAMES)]))
        rows.append((f"{i:03d}", "human-2", "yes", NAMES[i % len(NAMES)]))  # every image keeps one answer
    table = tmp_path / "t.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(rows)

    read = read_annotations(table)
    by_reader = {(read.images[i], read.raters[r]): bool(v) for i, r, v in zip(read.image, read.rater, read.value)}
    convert_emonet("binary", [table], tmp_path / "out", images=tmp_path / "imgs", progress=False)
    by_converter = {}
    for shard in (tmp_path / "out").glob("*.tar"):
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                if m.name.endswith(".json"):
                    meta = json.loads(tar.extractfile(m).read())
                    for answers in meta["binary"].values():
                        by_converter.update({(m.name.split(".")[0], r): a for r, a in answers.items()})
    assert by_reader == by_converter
    want = {(f"{i:03d}", "human-1"): a for i, (_, a) in enumerate(WORDS) if a is not None}
    assert {k: v for k, v in by_reader.items() if k[1] == "human-1"} == want


def test_a_word_outside_the_vocabulary_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("path,annotator,value,emotion\nx,r,maybe,Anger\n")
    with pytest.raises(DataError, match=r"t.csv:2: value 'maybe' is neither a yes/no word nor a number"):
        read_annotations(table)
