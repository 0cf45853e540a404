"""The fast tar reader against Python's tarfile, on every tar dialect tarfile writes, and on broken tars."""

from __future__ import annotations

import io
import tarfile

import pytest
import webdataset as wds

from emozoo.data.shardset import find_shards
from emozoo.data.tario import iter_tar, tar_samples
from tests.conftest import make_shard_set

LONG_DIR = "d" * 120  # forces the ustar prefix field, a GNU long name or a pax path
NAMES = {
    "a.jpg": b"\xff\xd8 jpeg",
    "a.json": b'{"weak": null}',
    "empty.txt": b"",
    "block.bin": bytes(range(256)) * 2,  # exactly one 512-byte block: no padding
    "odd.bin": b"x" * 513,
    f"{LONG_DIR}/deep.png": b"png bytes",
    "k" * 150 + ".json": b"{}",  # a name no ustar field holds
    "émotion.json": b"{}",  # not ASCII: a pax record in PAX format
}


def _tar(fmt: int, extras: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        if extras:
            d = tarfile.TarInfo("somedir")
            d.type = tarfile.DIRTYPE
            tar.addfile(d)
            link = tarfile.TarInfo("link.jpg")
            link.type = tarfile.SYMTYPE
            link.linkname = "a.jpg"
            tar.addfile(link)
        for name, data in NAMES.items():
            if fmt == tarfile.USTAR_FORMAT and (len(name) > 100 and "/" not in name or not name.isascii()):
                continue  # ustar cannot hold these; tarfile refuses them
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _reference(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isreg()]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_reads_what_tarfile_reads(fmt):
    data = _tar(fmt)
    expected = _reference(data)
    assert len(expected) >= 6
    assert list(iter_tar(io.BytesIO(data))) == expected


def _content_end(data: bytes) -> int:
    """Where the last member's data ends (before the end-of-archive blocks and the record padding)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    return last.offset_data + last.size


def test_a_shard_cut_between_members_is_reported_after_its_members():
    data = _tar(tarfile.GNU_FORMAT, extras=False)
    end = _content_end(data)
    got = []
    with pytest.raises(tarfile.ReadError, match="no end-of-archive marker"):
        for member in iter_tar(io.BytesIO(data[: end + (-end) % 512])):
            got.append(member)
    assert got == _reference(data)  # every member before the cut still comes out


def test_an_empty_file_is_an_error():
    with pytest.raises(tarfile.ReadError, match="empty file"):
        list(iter_tar(io.BytesIO(b"")))


@pytest.mark.parametrize("record", [b"0 path=x\n", b"-5 path=x\n", b"99 path=x\n", b"12 pathx\n", b"zz path=x\n"])
def test_a_corrupt_pax_record_is_an_error_not_a_hang(record):
    pax = tarfile.TarInfo("PaxHeaders/x")
    pax.type = tarfile.XHDTYPE
    pax.size = len(record)
    buf = io.BytesIO()
    buf.write(pax.tobuf(tarfile.USTAR_FORMAT))
    buf.write(record + b"\0" * (-len(record) % 512))
    buf.write(b"\0" * 1024)
    with pytest.raises(tarfile.ReadError, match="corrupt pax header"):
        list(iter_tar(io.BytesIO(buf.getvalue())))


def test_compressed_shards_are_read_through_tarfile():
    import gzip

    data = _tar(tarfile.GNU_FORMAT, extras=False)
    assert list(iter_tar(io.BytesIO(gzip.compress(data)))) == _reference(data)


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_a_truncated_tar_yields_what_came_before_then_raises(cut):
    data = _tar(tarfile.GNU_FORMAT, extras=False)
    expected = _reference(data)
    cut_at = int(_content_end(data) * cut)
    got = []
    with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
        for member in iter_tar(io.BytesIO(data[:cut_at])):
            got.append(member)
    assert got == expected[: len(got)]
    assert len(got) < len(expected)


def test_a_corrupt_header_is_reported():
    data = bytearray(_tar(tarfile.GNU_FORMAT, extras=False))
    data[10] ^= 0x55  # inside the first member's name: the checksum no longer matches
    with pytest.raises(tarfile.ReadError, match="checksum"):
        list(iter_tar(io.BytesIO(bytes(data))))


def test_samples_equal_webdatasets_own_reader(tmp_path):
    make_shard_set(tmp_path, "train", 17, 5)
    urls = find_shards(tmp_path.parent, tmp_path.name, "train").urls
    ours = list(wds.DataPipeline(wds.SimpleShardList(urls), tar_samples(handler=wds.reraise_exception)))
    theirs = list(wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples()))
    assert len(ours) == 17
    assert ours == theirs


def test_metadata_members_are_skipped_as_webdataset_does(tmp_path):
    members = {"__meta__": b"m", "__meta__/x.json": b"{}", "__a.json": b"{}", "__a.jpg": b"j", "b.json": b"{}"}
    path = tmp_path / "shard.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ours = list(wds.DataPipeline(wds.SimpleShardList([str(path)]), tar_samples(handler=wds.reraise_exception)))
    theirs = list(wds.DataPipeline(wds.SimpleShardList([str(path)]), wds.tarfile_to_samples()))
    assert ours == theirs
    assert [s["__key__"] for s in ours] == ["__a", "b"]


def test_a_failing_pipe_is_reported_through_the_handler(tmp_path):
    make_shard_set(tmp_path, "train", 4, 4)
    shard = find_shards(tmp_path.parent, tmp_path.name, "train").urls[0]
    errors = []
    # WebDataset's Pipe checks the exit status on every read; the sleep makes the failure show after the data,
    # when the stream is closed (else it may surface mid-read, timing-dependent; both go to the handler).
    url = f"pipe:cat {shard}; sleep 1; exit 3"
    samples = list(
        wds.DataPipeline(wds.SimpleShardList([url]), tar_samples(handler=lambda e: errors.append(e) or True))
    )
    assert len(samples) == 4  # the shard's samples were read before the command's failure showed
    assert errors and url in errors[0].args
