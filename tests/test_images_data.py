"""gentoolkit.data.images: MNIST from IDX files (parsing, checks, md5, download, cache, root
lookup) and StackedMNIST, on generated files (and on the shared MNIST copy when present)."""

import gzip
import hashlib
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import chi2

import gentoolkit
from gentoolkit.data import MNIST, StackedMNIST, images
from tests.conftest import DEVICES

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


# ---------------------------------------------------------------- helpers


def idx_bytes(array, magic=None) -> bytes:
    """IDX bytes of a uint8 array: big-endian magic (0x0800 | ndim by default), dims, data."""
    a = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | a.ndim if magic is None else magic
    return struct.pack(">i", magic) + struct.pack(f">{a.ndim}i", *a.shape) + a.tobytes()


def write(root: Path, name: str, raw: bytes, gz: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / (name + ".gz" if gz else name)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def digits(n=30, seed=0):
    """n random 28 x 28 digits (uint8) and labels k % 10."""
    x = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return x, np.arange(n, dtype=np.uint8) % 10


def write_split(root: Path, x, y, split="test", gz=True) -> tuple[Path, Path]:
    names = TEST_FILES if split == "test" else TRAIN_FILES
    return write(root, names[0], idx_bytes(x), gz), write(root, names[1], idx_bytes(y), gz)


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


@pytest.fixture(autouse=True)
def _fresh_cache():
    images.clear_cache()
    yield
    images.clear_cache()


@pytest.fixture
def small(tmp_path):
    """A generated 'test' split of 30 digits, gzipped, loaded with verify=False."""
    x, y = digits()
    write_split(tmp_path, x, y)
    return MNIST(tmp_path, split="test", verify=False), x, y


def constant_mnist(tmp_path, n=30):
    """n images, image k with all pixels k, label k % 10."""
    x = np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)
    write_split(tmp_path, x, np.arange(n, dtype=np.uint8) % 10)
    return MNIST(tmp_path, split="test", verify=False)


def scaled(v) -> torch.Tensor:
    """The float32 of v / 127.5 - 1 (computed in float64, rounded once)."""
    return torch.tensor(np.asarray(v, dtype=np.float64) / 127.5 - 1, dtype=torch.float32)


# ---------------------------------------------------------------- parsing and items


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_round_trip(tmp_path, gz, split):
    x, y = digits(seed=1)
    write_split(tmp_path, x, y, split=split, gz=gz)
    m = MNIST(str(tmp_path), split=split, verify=False)
    assert m.data.dtype == torch.uint8 and m.data.shape == (30, 28, 28)
    assert m.targets.dtype == torch.int64 and m.targets.shape == (30,)
    np.testing.assert_array_equal(m.data.numpy(), x)
    np.testing.assert_array_equal(m.targets.numpy(), y)
    assert len(m) == 30 and m.split == split and m.root == tmp_path and m.image_size == 28


def test_raw_file_wins_over_gz(tmp_path):
    x, y = digits(seed=1)
    write_split(tmp_path, x, y, gz=False)
    write_split(tmp_path, 255 - x, y, gz=True)
    np.testing.assert_array_equal(MNIST(tmp_path, split="test", verify=False).data.numpy(), x)


def test_getitem_scaling_is_exact(tmp_path):
    x = np.zeros((2, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1], x[0, 0, 2] = 0, 255, 51
    x[1].flat[:256] = np.arange(256)
    write_split(tmp_path, x, np.array([3, 7]))
    m = MNIST(tmp_path, split="test", verify=False)
    img, label = m[0]
    assert img.dtype == torch.float32 and img.shape == (1, 28, 28)
    assert type(label) is int and label == 3
    assert img[0, 0, 0].item() == -1.0 and img[0, 0, 1].item() == 1.0
    assert img[0, 0, 2] == torch.tensor(51 / 127.5 - 1, dtype=torch.float32)
    assert img[0, 0, 2].item() == pytest.approx(-0.6, abs=1e-7)
    # every pixel value 0..255, in __getitem__ and images()
    torch.testing.assert_close(m[1][0].flatten()[:256], scaled(np.arange(256)), rtol=0, atol=0)
    torch.testing.assert_close(m.images()[:, 0], scaled(x), rtol=0, atol=0)
    # float64 on request: the correctly rounded value, within an ulp of x/127.5 - 1
    x64 = m.images(dtype=torch.float64)
    assert x64.dtype == torch.float64 and x64.shape == (2, 1, 28, 28)
    torch.testing.assert_close(x64[:, 0], torch.from_numpy(x / 127.5 - 1), rtol=0, atol=1e-15)


def test_batch_equals_stacked_getitem(small):
    m, x, y = small
    for idx in ([3, 0, 29, 3, -1], torch.tensor([5, 7, 11]), range(4), torch.tensor([], dtype=torch.long), []):
        xs, ys = m.batch(idx)
        items = [m[int(i)] for i in idx]
        assert xs.dtype == torch.float32 and xs.shape == (len(items), 1, 28, 28)
        assert ys.dtype == torch.int64 and ys.shape == (len(items),)
        if items:
            torch.testing.assert_close(xs, torch.stack([a for a, _ in items]), rtol=0, atol=0)
            assert ys.tolist() == [b for _, b in items]
    xs, ys = m.batch([29, 0])
    torch.testing.assert_close(xs[:, 0], scaled(x[[29, 0]]), rtol=0, atol=0)
    assert ys.tolist() == [y[29], y[0]]


def test_getitem_accepts_negative_and_tensor_indices_and_iteration_stops(small):
    m, x, y = small
    torch.testing.assert_close(m[-1][0], m[29][0], rtol=0, atol=0)
    assert m[torch.tensor(4)][1] == y[4]
    assert m[np.int64(6)][1] == y[6]
    items = list(m)
    assert len(items) == 30 and [b for _, b in items] == y.tolist()


def test_first_item_by_its_negative_index(small):
    """-n is the first item, as in torch and Python (not out of range); an error names the bad end."""
    m, _, _ = small
    for ds in (m, StackedMNIST(m, size=30)):
        torch.testing.assert_close(ds[-30][0], ds[0][0], rtol=0, atol=0)
        torch.testing.assert_close(ds.batch([-30, 29])[0], ds.batch([0, 29])[0], rtol=0, atol=0)
        with pytest.raises(ValueError, match=r"^index 30 out of range"):
            ds.batch([-30, 30])  # the low end is valid: the message names the high one
        with pytest.raises(ValueError, match=r"^index -31 out of range"):
            ds.batch([-31, 29])


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.tensor([3, 1, 4], dtype=torch.uint8),  # a uint8 tensor would index as a mask
        lambda: torch.tensor([3, 1, 4], dtype=torch.int32),
        lambda: np.array([3, 1, 4], dtype=np.uint8),
        lambda: (3, 1, 4),
        lambda: range(3, 0, -1),
    ],
    ids=["uint8-tensor", "int32-tensor", "uint8-array", "tuple", "range"],
)
def test_integer_indices_of_any_kind_are_positions(small, make):
    m, x, y = small
    idx = make()
    want = [int(i) for i in idx]
    assert images._indices(make(), 30).dtype == torch.int64
    for ds in (m, StackedMNIST(m, size=30)):
        got_x, got_y = ds.batch(make())
        want_x, want_y = ds.batch(want)
        torch.testing.assert_close(got_x, want_x, rtol=0, atol=0)
        assert torch.equal(got_y, want_y)


def test_bool_lists_are_not_indices(small):
    m, _, _ = small
    with pytest.raises(TypeError, match=r"^indices must be integers, got \[True, False\]$"):
        m.batch([True, False])


@pytest.mark.parametrize("device", DEVICES)
def test_batch_and_images_on_device(small, device):
    m, x, _ = small
    xs, ys = m.batch([1, 2], device=device)
    assert xs.device.type == device and ys.device.type == device
    torch.testing.assert_close(xs.cpu(), m.batch([1, 2])[0], rtol=0, atol=0)
    all_images = m.images(device=device)
    assert all_images.device.type == device and all_images.shape == (30, 1, 28, 28)
    torch.testing.assert_close(all_images.cpu()[:, 0], scaled(x), rtol=0, atol=0)


def test_image_size_32_pads_with_background(tmp_path):
    x, y = digits(seed=2)
    write_split(tmp_path, x, y)
    m28 = MNIST(tmp_path, split="test", verify=False)
    m32 = MNIST(tmp_path, split="test", verify=False, image_size=32)
    assert m32.data.shape == (30, 28, 28)  # .data stays unpadded
    for a, b in (
        (m32[4][0][None], m28[4][0][None]),
        (m32.batch([4, 9])[0], m28.batch([4, 9])[0]),
        (m32.images(), m28.images()),
    ):
        assert a.shape[-2:] == (32, 32)
        torch.testing.assert_close(a[..., 2:30, 2:30], b, rtol=0, atol=0)
        border = torch.ones(32, 32, dtype=torch.bool)
        border[2:30, 2:30] = False
        assert bool((a[..., border] == -1).all())


# ---------------------------------------------------------------- format errors


def test_wrong_magic_number(tmp_path):
    x, y = digits()
    path = write(tmp_path, TEST_FILES[0], idx_bytes(x, magic=2049))
    write(tmp_path, TEST_FILES[1], idx_bytes(y))
    msg = rf"^{re.escape(str(path))}: magic number 2049, expected 2051 \(IDX images, ubyte, 3 dims\)$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_wrong_labels_magic_number(tmp_path):
    x, y = digits()
    write(tmp_path, TEST_FILES[0], idx_bytes(x))
    path = write(tmp_path, TEST_FILES[1], idx_bytes(y, magic=2051), gz=False)
    msg = rf"^{re.escape(str(path))}: magic number 2051, expected 2049 \(IDX labels, ubyte, 1 dim\)$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_truncated_images(tmp_path):
    x, y = digits(n=10)
    path = write(tmp_path, TEST_FILES[0], idx_bytes(x)[:-1000])
    write(tmp_path, TEST_FILES[1], idx_bytes(y))
    msg = rf"^{re.escape(str(path))}: truncated: 6,856 bytes, expected 7,856 for 10 x 28 x 28$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_header_too_short(tmp_path):
    path = write(tmp_path, TEST_FILES[0], b"\x00\x00\x08\x03\x00\x00")
    write(tmp_path, TEST_FILES[1], idx_bytes(np.zeros(3)))
    msg = rf"^{re.escape(str(path))}: 6 bytes, too short for an IDX header \(expected at least 16\)$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_extra_bytes_in_labels(tmp_path):
    x, y = digits(n=10)
    write(tmp_path, TEST_FILES[0], idx_bytes(x))
    path = write(tmp_path, TEST_FILES[1], idx_bytes(y) + b"\x00\x01")
    msg = rf"^{re.escape(str(path))}: extra bytes: 20 bytes, expected 18 for 10$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_label_count_mismatch(tmp_path):
    x, y = digits(n=30)
    ipath = write(tmp_path, TEST_FILES[0], idx_bytes(x))
    lpath = write(tmp_path, TEST_FILES[1], idx_bytes(y[:29]))
    msg = rf"^{re.escape(str(lpath))}: 29 labels, expected 30 \(one per image in {re.escape(str(ipath))}\)$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_label_out_of_range(tmp_path):
    x, y = digits(n=30)
    y[17] = 10
    write(tmp_path, TEST_FILES[0], idx_bytes(x))
    path = write(tmp_path, TEST_FILES[1], idx_bytes(y))
    msg = rf"^{re.escape(str(path))}: label 10 at index 17, expected labels in 0\.\.9$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


@pytest.mark.parametrize("shape", [(5, 27, 28), (5, 28, 27), (5, 32, 32)])
def test_wrong_image_size(tmp_path, shape):
    path = write(tmp_path, TEST_FILES[0], idx_bytes(np.zeros(shape)))
    write(tmp_path, TEST_FILES[1], idx_bytes(np.zeros(5)))
    msg = rf"^{re.escape(str(path))}: images are {shape[1]} x {shape[2]}, expected 28 x 28$"
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test", verify=False)


def test_corrupt_gzip_names_the_file(tmp_path):
    x, y = digits()
    path = tmp_path / (TEST_FILES[0] + ".gz")
    path.write_bytes(gzip.compress(idx_bytes(x))[:-50])
    write(tmp_path, TEST_FILES[1], idx_bytes(y))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not a valid gzip file \(.*\); re-download it$"):
        MNIST(tmp_path, split="test", verify=False)


# ---------------------------------------------------------------- md5


def test_verify_rejects_a_file_with_another_md5(tmp_path):
    x, y = digits()
    ipath, _ = write_split(tmp_path, x, y)
    found, expected = md5(idx_bytes(x)), images.RAW_MD5[TEST_FILES[0]]
    msg = (
        rf"^{re.escape(str(ipath))}: md5 {found} of the decompressed file, expected {expected}; the file is "
        r"corrupt or not the canonical MNIST: delete it and download it again \(download=True\), "
        r"or pass verify=False if it is deliberately different$"
    )
    with pytest.raises(ValueError, match=msg):
        MNIST(tmp_path, split="test")
    MNIST(tmp_path, split="test", verify=False)  # the same files load without the md5 check


def test_verify_checks_labels_too_and_hashes_decompressed_bytes(tmp_path, monkeypatch):
    x, y = digits()
    _, lpath = write_split(tmp_path, x, y)
    monkeypatch.setitem(images.RAW_MD5, TEST_FILES[0], md5(idx_bytes(x)))  # raw md5 of a gzipped file
    with pytest.raises(ValueError, match=rf"^{re.escape(str(lpath))}: md5 {md5(idx_bytes(y))} "):
        MNIST(tmp_path, split="test")
    monkeypatch.setitem(images.RAW_MD5, TEST_FILES[1], md5(idx_bytes(y)))
    m = MNIST(tmp_path, split="test")
    np.testing.assert_array_equal(m.data.numpy(), x)


def test_format_errors_come_before_md5(tmp_path):
    x, y = digits()
    path = write(tmp_path, TEST_FILES[0], idx_bytes(x)[:-1])
    write(tmp_path, TEST_FILES[1], idx_bytes(y))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: truncated: "):
        MNIST(tmp_path, split="test", verify=True)


# ---------------------------------------------------------------- missing files


@pytest.mark.parametrize("split", ["train", "test"])
def test_missing_files_message(tmp_path, split):
    names = TRAIN_FILES if split == "train" else TEST_FILES
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root, split=split)
    msg = str(info.value)
    assert msg.startswith(f"MNIST {split} split: 2 file(s) missing from {root}:\n")
    assert msg.endswith(f"\npass download=True or put the files in {root}")
    for name in names:
        assert f"  {name} (or {name}.gz), md5 {images.RAW_MD5[name]} of the decompressed file, " in msg
        assert f"{images.RAW_SIZE[name]:,} bytes" in msg
        for mirror in images.MIRRORS:
            assert f"    {mirror}{name}.gz\n" in msg + "\n"
    other = TEST_FILES if split == "train" else TRAIN_FILES
    assert not any(n in msg for n in other)


def test_missing_labels_only(tmp_path):
    x, _ = digits()
    write(tmp_path, TEST_FILES[0], idx_bytes(x))
    with pytest.raises(FileNotFoundError, match=r"^MNIST test split: 1 file\(s\) missing from ") as info:
        MNIST(tmp_path, split="test", verify=False)
    assert TEST_FILES[1] in str(info.value) and TEST_FILES[0] not in str(info.value)


# ---------------------------------------------------------------- download


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror of a generated test split (gzipped), with RAW_MD5 set to its md5s."""
    x, y = digits(seed=3)
    good = tmp_path / "mirror"
    write_split(good, x, y)
    monkeypatch.setitem(images.RAW_MD5, TEST_FILES[0], md5(idx_bytes(x)))
    monkeypatch.setitem(images.RAW_MD5, TEST_FILES[1], md5(idx_bytes(y)))
    return good, x, y


def test_download_into_empty_root(tmp_path, mirror, monkeypatch):
    good, x, y = mirror
    monkeypatch.setattr(images, "MIRRORS", [good.as_uri() + "/"])
    root = tmp_path / "data" / "mnist"
    m = MNIST(root, split="test", download=True)
    np.testing.assert_array_equal(m.data.numpy(), x)
    np.testing.assert_array_equal(m.targets.numpy(), y)
    assert sorted(p.name for p in root.iterdir()) == sorted(n + ".gz" for n in TEST_FILES)
    # now present: loads without download and without mirrors
    monkeypatch.setattr(images, "MIRRORS", [])
    assert len(MNIST(root, split="test")) == 30


@pytest.mark.parametrize("bad", ["missing", "corrupt", "not-gzip", "truncated-gzip"])
def test_download_falls_through_to_the_next_mirror(tmp_path, mirror, monkeypatch, bad):
    good, x, _ = mirror
    first = tmp_path / "bad-mirror"
    first.mkdir()
    if bad != "missing":
        for name in TEST_FILES:
            payload = {
                "corrupt": gzip.compress(b"\x00" * 100),
                "not-gzip": b"<html>not found</html>",
                "truncated-gzip": (good / f"{name}.gz").read_bytes()[:-20],
            }[bad]
            (first / f"{name}.gz").write_bytes(payload)
    monkeypatch.setattr(images, "MIRRORS", [first.as_uri(), good.as_uri() + "/"])  # with and without a slash
    root = tmp_path / "root"
    m = MNIST(root, split="test", download=True)
    np.testing.assert_array_equal(m.data.numpy(), x)
    assert sorted(p.name for p in root.iterdir()) == sorted(n + ".gz" for n in TEST_FILES)


def test_download_all_mirrors_bad_leaves_nothing(tmp_path, mirror, monkeypatch):
    good, _, _ = mirror
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in TEST_FILES:
        (corrupt / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03"))
    missing = tmp_path / "empty"
    missing.mkdir()
    mirrors = [corrupt.as_uri() + "/", missing.as_uri() + "/"]
    monkeypatch.setattr(images, "MIRRORS", mirrors)
    root = tmp_path / "root"
    with pytest.raises(images.DownloadError) as info:
        MNIST(root, split="test", download=True)
    msg = str(info.value)
    assert isinstance(info.value, OSError)
    name, served = TEST_FILES[0], md5(b"\x00\x00\x08\x03")
    assert msg.startswith(f"could not download {name}.gz into {root}; every mirror failed:\n")
    lines = msg.splitlines()[1:]
    assert len(lines) == 2
    assert lines[0].startswith(f"  {mirrors[0]}{name}.gz: ValueError: md5 {served} ")
    assert lines[0].endswith(f"expected {images.RAW_MD5[name]}")
    assert lines[1].startswith(f"  {mirrors[1]}{name}.gz: ")
    assert list(root.iterdir()) == []  # no partial or temporary file


def test_download_writes_a_hidden_part_file_beside_the_target(tmp_path, mirror, monkeypatch):
    """The payload goes to '.NAME.*.part' in root and is renamed into place there: an atomic rename
    needs the same directory, and a leftover is recognisably partial."""
    good, x, _ = mirror
    monkeypatch.setattr(images, "MIRRORS", [good.as_uri() + "/"])
    root = tmp_path / "root"
    renames = []
    real = os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst)))
        return real(src, dst)

    monkeypatch.setattr(images.os, "replace", spy)
    m = MNIST(root, split="test", download=True)
    np.testing.assert_array_equal(m.data.numpy(), x)
    assert [d for _, d in renames] == [root / f"{n}.gz" for n in TEST_FILES]
    for (src, _), name in zip(renames, TEST_FILES):
        assert src.parent == root
        assert src.name.startswith(f".{name}.") and src.name.endswith(".part")


def test_failed_rename_removes_the_part_file(tmp_path, mirror, monkeypatch):
    good, _, _ = mirror
    monkeypatch.setattr(images, "MIRRORS", [good.as_uri() + "/"])

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images.os, "replace", broken)
    root = tmp_path / "root"
    with pytest.raises(images.DownloadError, match=r"OSError: \[Errno 28\] No space left on device"):
        MNIST(root, split="test", download=True)
    assert list(root.iterdir()) == []


def test_mirror_urls(monkeypatch):
    monkeypatch.setattr(images, "MIRRORS", ["https://example.org/MNIST_X/", "https://example.org/y"])
    assert images._urls("t10k-labels-idx1-ubyte") == [
        "https://example.org/MNIST_X/t10k-labels-idx1-ubyte.gz",
        "https://example.org/y/t10k-labels-idx1-ubyte.gz",
    ]


def test_download_with_no_mirrors(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MIRRORS", [])
    with pytest.raises(images.DownloadError, match=r"every mirror failed:\n  \(MIRRORS is empty\)$"):
        MNIST(tmp_path / "r", split="test", download=True)


def test_download_fetches_only_missing_files(tmp_path, mirror, monkeypatch):
    good, x, y = mirror
    root = tmp_path / "root"
    write(root, TEST_FILES[0], idx_bytes(x), gz=False)
    fetched = []
    real = images.urllib.request.urlopen

    def spy(url, timeout=None):
        fetched.append((url, timeout))
        return real(url, timeout=timeout)

    monkeypatch.setattr(images.urllib.request, "urlopen", spy)
    monkeypatch.setattr(images, "MIRRORS", [good.as_uri() + "/"])
    m = MNIST(root, split="test", download=True)
    np.testing.assert_array_equal(m.targets.numpy(), y)
    assert fetched == [(good.as_uri() + "/" + TEST_FILES[1] + ".gz", images.TIMEOUT)]
    assert images.TIMEOUT > 0
    fetched.clear()
    MNIST(root, split="test", download=True)  # everything present: nothing fetched
    assert fetched == []


def test_download_does_not_fetch_the_other_split(tmp_path, mirror, monkeypatch):
    good, _, _ = mirror
    monkeypatch.setattr(images, "MIRRORS", [good.as_uri() + "/"])
    MNIST(tmp_path, split="test", download=True)
    assert not any(n in p.name for p in tmp_path.iterdir() for n in TRAIN_FILES)


# ---------------------------------------------------------------- in-process cache


def test_parsed_files_are_cached(tmp_path, monkeypatch):
    x, y = digits()
    ipath, _ = write_split(tmp_path, x, y)
    reads = []
    real = images._read

    def spy(path):
        reads.append(path.name)
        return real(path)

    monkeypatch.setattr(images, "_read", spy)
    a = MNIST(tmp_path, split="test", verify=False)
    b = MNIST(tmp_path, split="test", verify=False)
    assert reads == [TEST_FILES[0] + ".gz", TEST_FILES[1] + ".gz"]
    a.data[0] = 0  # private copies: editing one instance changes neither the other nor the cache
    np.testing.assert_array_equal(b.data.numpy(), x)
    np.testing.assert_array_equal(MNIST(tmp_path, split="test", verify=False).data.numpy(), x)
    # a rewritten file (new size and mtime) is read again
    write(tmp_path, TEST_FILES[0], idx_bytes(255 - x) + b"")
    os.utime(ipath, ns=(1, 1))
    np.testing.assert_array_equal(MNIST(tmp_path, split="test", verify=False).data.numpy(), 255 - x)
    assert reads.count(TEST_FILES[0] + ".gz") == 2


def test_cache_tells_files_of_equal_size_and_mtime_apart(tmp_path):
    """The cache key holds the path: two roots whose files have the same size and mtime are two files."""
    x, y = digits(seed=1)
    for root, xs in ((tmp_path / "a", x), (tmp_path / "b", 255 - x)):
        for path in write_split(root, xs, y):
            os.utime(path, ns=(1, 1))
    a = MNIST(tmp_path / "a", split="test", verify=False)
    b = MNIST(tmp_path / "b", split="test", verify=False)
    np.testing.assert_array_equal(a.data.numpy(), x)
    np.testing.assert_array_equal(b.data.numpy(), 255 - x)


def test_cache_holds_at_most_cache_max_files(tmp_path):
    """Past _CACHE_MAX parsed files the oldest is dropped; every file still parses right."""
    n = images._CACHE_MAX + 3
    for k in range(n):
        x, y = digits(n=4, seed=k)
        write_split(tmp_path / str(k), x, y)
        m = MNIST(tmp_path / str(k), split="test", verify=False)
        np.testing.assert_array_equal(m.data.numpy(), x)
        assert len(images._CACHE) == min(2 * (k + 1), images._CACHE_MAX)
    # the newest entries survive: the last split's two files are cached
    assert all(str((tmp_path / str(n - 1)).resolve()) in key[0] for key in list(images._CACHE)[-2:])


def test_empty_idx_files_are_valid(tmp_path):
    """A header with a zero dimension and no data is a well-formed IDX file of 0 items."""
    write_split(tmp_path, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    m = MNIST(tmp_path, split="test", verify=False)
    assert m.data.shape == (0, 28, 28) and m.targets.shape == (0,) and len(m) == 0


# ---------------------------------------------------------------- where the data is


def test_find_root_order(tmp_path, monkeypatch):
    shared = tmp_path / "shared" / "data"
    monkeypatch.setattr(images, "_shared_data_dir", lambda: shared)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GENTOOLKIT_DATA", raising=False)
    # no shared copy: the cache
    assert images.find_root() == tmp_path / "xdg" / "gentoolkit" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert images.find_root("fashion") == tmp_path / "home" / ".cache" / "gentoolkit" / "fashion"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert images.find_root() == tmp_path / "home" / ".cache" / "gentoolkit" / "mnist"
    # a shared copy: it wins over the cache
    (shared / "mnist").mkdir(parents=True)
    assert images.find_root() == shared / "mnist"
    assert images.find_root("other") == tmp_path / "home" / ".cache" / "gentoolkit" / "other"
    # GENTOOLKIT_DATA wins over everything, existing or not
    monkeypatch.setenv("GENTOOLKIT_DATA", str(tmp_path / "mine"))
    assert images.find_root() == tmp_path / "mine" / "mnist"
    monkeypatch.setenv("GENTOOLKIT_DATA", "")  # empty: as if unset
    assert images.find_root() == shared / "mnist"


def test_shared_data_dir_is_next_to_the_project():
    project = Path(gentoolkit.__file__).resolve().parents[1]
    assert images._shared_data_dir() == project.parent / "shared" / "data"


def test_root_none_uses_find_root(tmp_path, monkeypatch):
    x, y = digits()
    write_split(tmp_path / "mnist", x, y)
    monkeypatch.setenv("GENTOOLKIT_DATA", str(tmp_path))
    m = MNIST(split="test", verify=False)
    assert m.root == tmp_path / "mnist"
    np.testing.assert_array_equal(m.data.numpy(), x)


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", 3, None])
def test_find_root_bad_name(name):
    with pytest.raises(
        ValueError, match=rf"^name must be a non-empty folder name \(a str without '/'\), got {re.escape(repr(name))}$"
    ):
        images.find_root(name)


# ---------------------------------------------------------------- the real MNIST (shared copy)


def _shared_mnist() -> Path:
    root = images._shared_data_dir() / "mnist"  # find_root's shared location, whatever GENTOOLKIT_DATA says
    if not root.is_dir():
        pytest.skip(f"no shared MNIST copy at {root} (find_root's shared location); nothing to check offline")
    return root


def test_real_mnist_test_split():
    root = _shared_mnist()
    m = MNIST(root, split="test")  # verify=True: the canonical md5s
    assert len(m) == 10_000 and m.data.shape == (10_000, 28, 28)
    assert torch.bincount(m.targets, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert m[0][1] == 7  # the first test digit is a 7
    # the known mean pixel of the MNIST test set, 0.1325 in [0, 1] (33.79 / 255)
    assert m.data.double().mean().item() / 255 == pytest.approx(0.1325, abs=1e-3)
    assert m.images().double().mean().item() == pytest.approx(2 * 0.1325 - 1, abs=2e-3)


def test_real_mnist_train_split():
    root = _shared_mnist()
    m = MNIST(root, split="train")
    assert len(m) == 60_000
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(m.targets, minlength=10).tolist() == counts
    assert m.targets[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first five train labels
    assert m.data.double().mean().item() / 255 == pytest.approx(0.1307, abs=1e-3)


# ---------------------------------------------------------------- StackedMNIST


def test_stacked_channels_are_the_source_digits(tmp_path):
    m = constant_mnist(tmp_path)
    s = StackedMNIST(m, size=50, seed=3)
    assert len(s) == 50 and s.indices.shape == (50, 3) and s.indices.dtype == torch.int64
    assert s.targets.shape == (50,) and s.targets.dtype == torch.int64 and s.n_modes == 1000
    for i in range(50):
        img, label = s[i]
        assert img.dtype == torch.float32 and img.shape == (3, 28, 28) and type(label) is int
        a, b, c = s.indices[i].tolist()
        for ch, k in enumerate((a, b, c)):
            assert bool((img[ch] == scaled(k)).all())  # image k has every pixel k
        assert label == 100 * (a % 10) + 10 * (b % 10) + c % 10 == s.targets[i].item()


def test_stacked_channels_on_real_like_digits(small):
    m, x, y = small
    s = StackedMNIST(m, size=20, seed=1)
    xs, ys = s.batch(torch.arange(20))
    for ch in range(3):
        torch.testing.assert_close(xs[:, ch], scaled(x[s.indices[:, ch].numpy()]), rtol=0, atol=0)
    d = torch.from_numpy(y.astype(np.int64))[s.indices]
    assert torch.equal(ys, 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])


def test_stacked_seed_and_default_size(small):
    m, _, _ = small
    assert torch.equal(StackedMNIST(m).indices, StackedMNIST(m, seed=0).indices)  # the default seed is 0
    top = StackedMNIST(m, seed=2**63 - 1)  # the largest seed a torch.Generator takes
    assert top.seed == 2**63 - 1 and len(top) == 30
    a, b, c = StackedMNIST(m, seed=5), StackedMNIST(m, seed=5), StackedMNIST(m, seed=6)
    assert len(a) == len(m) == 30
    assert torch.equal(a.indices, b.indices) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.indices, c.indices)
    assert a.seed == 5 and a.mnist is m


def test_stacked_batch_equals_getitem(small):
    m, _, _ = small
    s = StackedMNIST(m, size=40, seed=2)
    idx = [0, 39, 7, 7, -2]
    xs, ys = s.batch(idx)
    assert xs.shape == (5, 3, 28, 28) and ys.dtype == torch.int64
    torch.testing.assert_close(xs, torch.stack([s[i][0] for i in idx]), rtol=0, atol=0)
    assert ys.tolist() == [s[i][1] for i in idx]


@pytest.mark.parametrize("device", DEVICES)
def test_stacked_batch_on_device(small, device):
    m, _, _ = small
    s = StackedMNIST(m, size=10)
    xs, ys = s.batch([1, 2, 3], device=device)
    assert xs.device.type == device and ys.device.type == device
    torch.testing.assert_close(xs.cpu(), s.batch([1, 2, 3])[0], rtol=0, atol=0)


def test_stacked_indices_are_uniform(tmp_path):
    m = constant_mnist(tmp_path)  # 30 digits, 3 of each label
    s = StackedMNIST(m, size=30_000, seed=0)
    assert int(s.indices.min()) == 0 and int(s.indices.max()) == 29
    assert int(s.targets.min()) >= 0 and int(s.targets.max()) <= 999
    counts = torch.bincount(s.targets, minlength=1000).double()
    assert counts.shape == (1000,) and bool((counts > 0).all())
    stat = float(((counts - 30.0) ** 2 / 30.0).sum())
    assert stat < chi2.ppf(0.999, 999), stat
    # each source index, too (30 values, 90,000 draws)
    per_index = torch.bincount(s.indices.flatten(), minlength=30).double()
    assert float(((per_index - 3000.0) ** 2 / 3000.0).sum()) < chi2.ppf(0.999, 29)


def test_stacked_image_size_32(small):
    m, _, _ = small
    s28, s32 = StackedMNIST(m, size=6, seed=1), StackedMNIST(m, size=6, seed=1, image_size=32)
    for a, b in ((s32[2][0], s28[2][0]), (s32.batch([0, 5])[0], s28.batch([0, 5])[0])):
        assert a.shape[-3:] == (3, 32, 32)
        torch.testing.assert_close(a[..., 2:30, 2:30], b, rtol=0, atol=0)
        border = torch.ones(32, 32, dtype=torch.bool)
        border[2:30, 2:30] = False
        assert bool((a[..., border] == -1).all())


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"split": "val"}, ValueError, r"split must be 'train' or 'test', got 'val'"),
        ({"split": 1}, TypeError, r"split must be 'train' or 'test' \(a str\), got 1 \(int\)"),
        ({"image_size": 30}, ValueError, r"image_size must be 28 or 32, got 30"),
        ({"image_size": "28"}, TypeError, r"image_size must be an int \(28 or 32\), got '28' \(str\)"),
        ({"image_size": True}, TypeError, r"image_size must be an int \(28 or 32\), got True \(bool\)"),
        ({"download": "yes"}, TypeError, r"download must be True or False, got 'yes' \(str\)"),
        ({"verify": 1}, TypeError, r"verify must be True or False, got 1 \(int\)"),
        ({"root": 5}, TypeError, r"root must be a path \(str or os.PathLike\) or None, got 5 \(int\)"),
    ],
)
def test_mnist_bad_arguments(tmp_path, kwargs, exc, msg):
    kwargs = {"root": tmp_path, **kwargs}
    with pytest.raises(exc, match=rf"^{msg}$"):
        MNIST(**kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"size": 0}, ValueError, r"size must be a positive integer, got 0"),
        ({"size": -3}, ValueError, r"size must be a positive integer, got -3"),
        ({"size": 2.5}, TypeError, r"size must be an int, got 2.5 \(float\)"),
        ({"seed": 1.5}, TypeError, r"seed must be an int, got 1.5 \(float\)"),
        ({"seed": None}, TypeError, r"seed must be an int, got None \(NoneType\)"),
        ({"seed": -1}, ValueError, r"seed must be an int in 0..2\*\*63-1, got -1"),
        ({"seed": 2**63}, ValueError, rf"seed must be an int in 0..2\*\*63-1, got {2**63}"),
        ({"image_size": 30}, ValueError, r"image_size must be 28 or 32, got 30"),
    ],
)
def test_stacked_bad_arguments(small, kwargs, exc, msg):
    m, _, _ = small
    with pytest.raises(exc, match=rf"^{msg}$"):
        StackedMNIST(m, **kwargs)


@pytest.mark.parametrize("bad", [None, "mnist", [1, 2, 3], torch.zeros(3, 28, 28)])
def test_stacked_needs_an_mnist(bad):
    with pytest.raises(TypeError, match=rf"^mnist must be an MNIST instance, got {type(bad).__name__}$"):
        StackedMNIST(bad)


def _datasets(small):
    m, _, _ = small
    return {"mnist": m, "stacked": StackedMNIST(m, size=30)}


@pytest.mark.parametrize("which", ["mnist", "stacked"])
@pytest.mark.parametrize("i", [30, -31, 1000])
def test_index_out_of_range(small, which, i):
    ds = _datasets(small)[which]
    msg = rf"^index {i} out of range for a dataset of 30 items \(expected -30 <= index < 30\)$"
    with pytest.raises(IndexError, match=msg):
        ds[i]
    with pytest.raises(ValueError, match=msg):
        ds.batch([0, i])
    with pytest.raises(ValueError, match=msg):
        ds.batch(torch.tensor([i, 1]))


@pytest.mark.parametrize("which", ["mnist", "stacked"])
def test_bad_index_types(small, which):
    ds = _datasets(small)[which]
    with pytest.raises(TypeError, match=r"^index must be an int, got 1\.0 \(float\); use batch\(\) for many$"):
        ds[1.0]
    with pytest.raises(TypeError, match=r"^index must be an int, got True \(bool\); use batch\(\) for many$"):
        ds[True]
    with pytest.raises(TypeError, match=r"^index must be an int, got \[1, 2\] \(list\); use batch\(\) for many$"):
        ds[[1, 2]]
    with pytest.raises(TypeError, match=r"^indices must be integers, got a tensor of dtype torch\.float32$"):
        ds.batch(torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"^indices must be integers, got a tensor of dtype torch\.bool$"):
        ds.batch(torch.ones(30, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"^indices must be integers, got \[1\.5\]$"):
        ds.batch([1.5])
    with pytest.raises(TypeError, match=r"^indices must be a 1-D LongTensor or a list of ints, got \['a'\]$"):
        ds.batch(["a"])
    with pytest.raises(ValueError, match=r"^indices must be 1-D, got shape \(2, 2\)$"):
        ds.batch(torch.zeros(2, 2, dtype=torch.long))


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, "float32", None])
def test_images_bad_dtype(small, dtype):
    m, _, _ = small
    with pytest.raises(
        TypeError, match=rf"^dtype must be a floating-point torch\.dtype, got {re.escape(repr(dtype))}$"
    ):
        m.images(dtype=dtype)


def test_repr(small):
    m, _, _ = small
    assert repr(m) == f"MNIST(split='test', n=30, image_size=28, root='{m.root}')"
    assert repr(StackedMNIST(m, size=4, seed=2)) == f"StackedMNIST(size=4, seed=2, image_size=28, mnist={m!r})"


def test_exports():
    import gentoolkit.data as data

    assert {"toy2d", "Mixture2D", "images", "MNIST", "StackedMNIST"} <= set(data.__all__)
    assert data.MNIST is images.MNIST and data.StackedMNIST is images.StackedMNIST
