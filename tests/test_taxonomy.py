"""The taxonomy against the real EmoNet-Face files: guide.json, binary.csv and ferd.jsonl head names."""

from __future__ import annotations

import csv
import json

import pytest

import emozoo
from emozoo.taxonomy import (
    EXTRA_HEAD_SLUGS,
    FAMILIES,
    NAMES,
    SLUGS,
    canonical_name,
    emotion_index,
    parse_label_key,
    slugify,
)


def test_names_and_order_match_guide(emonet_dir):
    guide = json.loads((emonet_dir / "guide.json").read_text())
    assert list(NAMES) == list(guide["options"]["labels"])
    assert len(emozoo.EMOTIONS) == 40
    for e in emozoo.EMOTIONS:
        assert list(e.synonyms) == guide["options"]["labels"][e.name]
    assert {f: list(n) for f, n in FAMILIES.items()} == guide["options"]["buttons"]
    assert len(FAMILIES) == 7
    assert sorted(n for names in FAMILIES.values() for n in names) == sorted(NAMES)


def test_exact_spellings_kept():
    assert "Pleasure/Ecstasy" in NAMES and "Jealousy & Envy" in NAMES
    assert slugify("Jealousy & Envy") == "jealousy_&_envy"


def test_slugs_match_published_head_files(emonet_dir):
    line = json.loads((emonet_dir / "ferd.jsonl").open().readline())
    heads = {k.removeprefix("model_").removesuffix("_best") for k in line["results"]}
    assert heads == set(SLUGS) | set(EXTRA_HEAD_SLUGS.values())
    assert len(set(SLUGS)) == 40


def test_every_binary_csv_emotion_resolves(emonet_dir):
    with (emonet_dir / "binary.csv").open() as f:
        names = {row["emotion"] for row in csv.DictReader(f)}
    resolved = {canonical_name(n) for n in names}
    assert resolved == set(NAMES)  # all 40 are queried, once aliases are applied
    assert canonical_name("Hopelessness") == "Helplessness"
    assert "Hopelessness" in names and "Helplessness" not in names


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Negative Low-Energy Emotions|Jealousy & Envy", ("emotion", "Jealousy & Envy")),
        ("Positive High-Energy Emotions|Pleasure/Ecstasy", ("emotion", "Pleasure/Ecstasy")),
        ("Extra Dimensions|Valence", ("extra", "valence")),
        ("Extra Dimensions|Emotional Vulnerability", ("extra", "vulnerability")),
        ("hope_enthusiasm_optimism", ("emotion", "Hope/Enthusiasm/Optimism")),
    ],
)
def test_parse_label_key(key, expected):
    assert parse_label_key(key) == expected


def test_unknown_emotion_suggests():
    with pytest.raises(KeyError, match="Did you mean 'Anger'"):
        emotion_index("Angr")
    with pytest.raises(KeyError):
        parse_label_key("Extra Dimensions|Happiness")
