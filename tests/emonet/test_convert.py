"""EmoNet-Face converters: every label survives the round trip from each source layout to shards and back."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from emozoo.data.schema import validate_labels
from emozoo.emonet.columns import ColumnMap, load_column_map
from emozoo.emonet.convert import assign_split, convert_emonet, parse_splits
from emozoo.errors import DataError
from emozoo.taxonomy import EMOTIONS, NAMES

RATERS = [f"human-{i}" for i in range(1, 9)]


def read_shards(directory: Path) -> dict[str, dict]:
    """key -> {"split", "json" (parsed), image ext: bytes} over all shards of a directory."""
    out: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tar")):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                key, ext = member.name.split(".", 1)
                data = tar.extractfile(member).read()
                entry = out.setdefault(key, {"split": path.name.split("-")[0]})
                entry[ext] = json.loads(data) if ext == "json" else data
    return out


def png(i: int, size: int = 8) -> bytes:
    a = np.zeros((size, size, 3), np.uint8)
    a[0, 0] = (i % 256, i // 256 % 256, 7)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), i % 256, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def full_key(name: str) -> str:
    return f"{EMOTIONS[NAMES.index(name)].family}|{name}"


def hq_labels(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """One image's HQ annotation: {rater: {Family|Emotion: rating, Extra Dimensions|...: value}}."""
    out = {}
    for rater in rng.choice(RATERS, size=rng.integers(2, 5), replace=False):
        ann = {full_key(n): int(v) for n, v in zip(NAMES, rng.integers(0, 8, 40)) if v or rng.random() < 0.5}
        ann["Extra Dimensions|Arousal"] = int(rng.integers(0, 8))
        ann["Extra Dimensions|Valence"] = int(rng.integers(-3, 4))
        out[str(rater)] = ann
    return out


def expected_ratings(ann: dict[str, dict]) -> dict[str, list[float]]:
    return {r: [float(a.get(full_key(n), 0)) for n in NAMES] for r, a in ann.items()}


def test_hq_parquet_with_embedded_images(tmp_path):
    """HF layout: `image` as an Image struct {bytes, path}, `label` as Python-literal text of [{rater: {...}}]."""
    rng = np.random.default_rng(0)
    n = 23
    labels = [hq_labels(rng) for _ in range(n)]
    images = [{"bytes": png(i), "path": None} for i in range(n)]
    images[4] = {"bytes": None, "path": None}  # a row without its image
    table = pa.table(
        {
            "image": pa.array(images, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "label": [str([{r: a} for r, a in lab.items()]) for lab in labels],
            "age": [int(a) for a in rng.integers(18, 80, n)],
            "gender": [str(g) for g in rng.choice(["female", "male"], n)],
            "ethnicity": [str(e) for e in rng.choice(["a", "b", "c"], n)],
            "prompt": [f"prompt {i}" for i in range(n)],
        }
    )
    pq.write_table(table, tmp_path / "train-00000-of-00001.parquet", row_group_size=5)
    manifest = convert_emonet("hq", [tmp_path], tmp_path / "out", shard_size=4, progress=False)
    got = read_shards(tmp_path / "out")
    assert manifest["count"] == len(got) == n - 1 and manifest["missing_images"]["count"] == 1
    for i in range(n):
        key = f"train-00000-of-00001-{i:07d}"
        if i == 4:
            assert key not in got
            continue
        meta = got[key]["json"]
        assert got[key]["png"] == images[i]["bytes"]
        assert meta["source"] == "emonet-hq" and meta["weak"] is None and meta["binary"] == {}
        assert meta["ratings"] == expected_ratings(labels[i])
        assert meta["extra_ratings"] == {
            r: {"arousal": a["Extra Dimensions|Arousal"], "valence": a["Extra Dimensions|Valence"]}
            for r, a in labels[i].items()
        }
        assert meta["demographics"] == {
            "age": table["age"][i].as_py(),
            "gender": table["gender"][i].as_py(),
            "ethnicity": table["ethnicity"][i].as_py(),
        }
        assert meta["prompt"] == f"prompt {i}"
        validate_labels(meta)
    assert set(manifest["splits"]) <= {"val", "test"}  # HQ is the test set, with a slice for validation
    stats = manifest["label_stats"]["all"]
    assert stats["ratings"]["num_ratings"] == sum(len(lab) for i, lab in enumerate(labels) if i != 4)
    assert sum(stats["demographics"]["gender"].values()) == n - 1


def test_big_parquet_with_image_paths(tmp_path):
    """Big: weak integer labels and the 4 extra dimensions, images named by path in a folder."""
    rng = np.random.default_rng(1)
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    n, rows = 30, []
    for i in range(n):
        (tmp_path / "imgs" / "sub" / f"face_{i:04d}.jpg").write_bytes(jpeg(i))
        weak = {full_key(NAMES[e]): int(rng.integers(1, 8)) for e in rng.choice(40, 4, replace=False)}
        weak |= {
            "Extra Dimensions|Arousal": 3,
            "Extra Dimensions|Valence": -2,
            "Extra Dimensions|Dominance": 1,
            "Extra Dimensions|Emotional Vulnerability": 4,
        }
        rows.append({"file": f"sub/face_{i:04d}.jpg", "annotation": json.dumps(weak), "age": "30s"})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "big.parquet")
    cmap = load_column_map(["image=file", "label=annotation"])
    manifest = convert_emonet(
        "big",
        [tmp_path / "big.parquet"],
        tmp_path / "out",
        images=tmp_path / "imgs",
        columns=cmap,
        splits="train=0.5,val=0.25,test=0.25",
        progress=False,
    )
    got = read_shards(tmp_path / "out")
    assert len(got) == n == manifest["count"]
    for i, row in enumerate(rows):
        meta = got[f"face_{i:04d}"]["json"]
        weak = json.loads(row["annotation"])
        assert meta["weak"] == [weak.get(full_key(name), 0) for name in NAMES]
        assert meta["extra"] == {"arousal": 3, "valence": -2, "dominance": 1, "vulnerability": 4}
        assert meta["ratings"] == {} and meta["source"] == "emonet-big" and meta["demographics"] == {"age": "30s"}
        assert got[f"face_{i:04d}"]["jpg"] == jpeg(i)
    assert {v["split"] for v in got.values()} == {"train", "val", "test"}
    assert manifest["label_stats"]["all"]["weak"]["nonzero_per_image"] == 4


def test_long_csv_and_image_folder_with_aliases(tmp_path):
    (tmp_path / "imgs").mkdir()
    answers = []
    for i in range(12):
        (tmp_path / "imgs" / f"{i:05d}.png").write_bytes(png(i))
        answers += [
            (f"{i:05d}", "human-1", "True", "Hopelessness"),
            (f"{i:05d}", "human-3", "False", "Anger"),
            (f"{i:05d}", "human-4", "True", "Anger"),
        ]
    answers.append(("00099", "human-1", "True", "Fear"))  # an image that is not in the folder
    with open(tmp_path / "binary.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "annotator", "value", "emotion"), *answers])
    manifest = convert_emonet(
        "binary", [tmp_path / "binary.csv"], tmp_path / "out", images=tmp_path / "imgs", progress=False
    )
    got = read_shards(tmp_path / "out")
    assert len(got) == 12 and manifest["missing_images"] == {"count": 1, "images": ["00099"]}
    for i in range(12):
        assert got[f"{i:05d}"]["json"]["binary"] == {
            "Helplessness": {"human-1": True},
            "Anger": {"human-3": False, "human-4": True},
        }
    assert manifest["label_stats"]["all"]["binary"]["num_answers"] == 36


def test_wide_hq_csv_with_family_keys_and_model_rows(tmp_path):
    """The authors' HQ layout, wide: one row per image and rater, emotion columns, model rows marked human=False."""
    rng = np.random.default_rng(2)
    (tmp_path / "imgs").mkdir()
    header = [
        "image",
        "annotator",
        "human",
        *[full_key(n) if i % 2 else n for i, n in enumerate(NAMES)],
        "Extra Dimensions|Dominance",
    ]
    rows, expected = [], {}
    for i in range(6):
        (tmp_path / "imgs" / f"hq_{i}.webp").write_bytes(_webp(i))
        for rater in ("human-2", "human-5", "human-7"):
            values = np.round(rng.uniform(0, 7, 40), 2)
            rows.append([f"hq_{i}.webp", rater, "True", *values.tolist(), -1.5])
            expected.setdefault(f"hq_{i}", {})[rater] = values.tolist()
        rows.append([f"hq_{i}.webp", "Some VLM", "False", *([9] * 40), 0])  # out of range, but skipped anyway
    with open(tmp_path / "hq.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    manifest = convert_emonet("hq", [tmp_path / "hq.csv"], tmp_path / "out", images=tmp_path / "imgs", progress=False)
    got = read_shards(tmp_path / "out")
    assert manifest["skipped_rows"] == {"rows by model annotators (human=false)": 6}
    for key, ratings in expected.items():
        assert got[key]["json"]["ratings"] == ratings
        assert got[key]["json"]["extra_ratings"] == {r: {"dominance": -1.5} for r in ratings}
        assert "webp" in got[key]


def _webp(i: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(buf, format="WEBP")
    return buf.getvalue()


def test_missing_column_names_the_columns_and_the_map_key(tmp_path):
    with open(tmp_path / "t.csv", "w") as f:
        f.write("picture,annotator,value,feeling\nx,human-1,True,Anger\n")
    with pytest.raises(DataError, match=r"no column for 'image'.*columns present: picture, annotator.*--map image="):
        convert_emonet("binary", [tmp_path / "t.csv"], tmp_path / "out", progress=False)
    with pytest.raises(DataError, match=r"no labels found.*--map label=COLUMN"):
        convert_emonet(
            "binary", [tmp_path / "t.csv"], tmp_path / "out", columns=load_column_map(["image=picture"]), progress=False
        )
    with pytest.raises(DataError, match="unknown column-map key 'imag'; valid keys: key, image"):
        load_column_map(["imag=picture"])


def test_all_images_missing_is_an_error_that_says_what_to_pass(tmp_path):
    with open(tmp_path / "b.csv", "w") as f:
        f.write("path,annotator,value,emotion\n00001,human-1,True,Anger\n")
    with pytest.raises(DataError, match=r"no usable sample: 1 images not found.*--images.*'00001'"):
        convert_emonet("binary", [tmp_path / "b.csv"], tmp_path / "out", progress=False)


def test_packed_cells_in_every_shape():
    from emozoo.emonet.labels import split_packed

    ann = {"Negative Low-Energy Emotions|Jealousy & Envy": 3, "Extra Dimensions|Arousal": 2}
    assert split_packed(ann, "r1") == [("r1", ann)]
    assert split_packed(json.dumps({"r1": ann, "r2": None}), None) == [("r1", ann), ("r2", None)]
    assert split_packed(str([{"r1": ann}, {"r2": ann}]), None) == [("r1", ann), ("r2", ann)]
    assert split_packed(list(ann.items()), "r1") == [("r1", ann)]  # a parquet map column
    assert split_packed({"Anger": {"human-1": True}}, None) == [(None, {"Anger": {"human-1": True}})]
    with pytest.raises(ValueError, match="cannot parse label cell"):
        split_packed("{not: valid", None)


def test_splits_are_a_stable_function_of_the_key():
    fractions = parse_splits("train=0.8,val=0.1,test=0.1", "binary")
    keys = [f"{i:05d}" for i in range(5000)]
    first = [assign_split(k, fractions) for k in keys]
    assert first == [assign_split(k, fractions) for k in reversed(keys)][::-1]
    counts = {s: first.count(s) / len(keys) for s in fractions}
    assert counts["train"] == pytest.approx(0.8, abs=0.02) and counts["val"] == pytest.approx(0.1, abs=0.015)
    assert [assign_split(k, fractions, salt="x") for k in keys] != first
    with pytest.raises(DataError, match="sum to 1"):
        parse_splits("train=0.9,val=0.2", "binary")
    assert ColumnMap().override({"key": ""}).key == ()


def test_other_formats_become_png_of_the_decoded_image_and_shard_formats_keep_their_bytes(tmp_path):
    """BMP and GIF are stored as PNG whose pixels equal what ``load_image`` reads from the original file."""
    from emozoo.images import load_image

    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "imgs" / "a.bmp")
    Image.fromarray(pixels).convert("P").save(tmp_path / "imgs" / "b.gif")
    (tmp_path / "imgs" / "c.jpg").write_bytes(jpeg(40))
    (tmp_path / "t.csv").write_text("path,annotator,value,emotion\n" + "".join(f"{n},h1,True,Anger\n" for n in "abc"))
    convert_emonet("binary", [tmp_path / "t.csv"], tmp_path / "out", images=tmp_path / "imgs", progress=False)
    got = read_shards(tmp_path / "out")
    for key, name in (("a", "a.bmp"), ("b", "b.gif")):
        decoded = np.asarray(Image.open(io.BytesIO(got[key]["png"])))
        assert np.array_equal(decoded, np.asarray(load_image(tmp_path / "imgs" / name)))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(got["a"]["png"]))), pixels)
    assert got["c"]["jpg"] == jpeg(40)
