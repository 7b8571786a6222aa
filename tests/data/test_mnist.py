import gzip
import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxnn.data import DownloadError
from jaxnn.data.mnist import SOURCES, load_mnist

SUBSET = Path("/work/shared/data/mnist-5k")


def test_loads_local_files_as_float32_and_int32(fake_mnist):
    data = load_mnist("mnist", fake_mnist.folder)
    a = fake_mnist.arrays
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    assert data.train.x.shape == (6, 784) and data.test.x.shape == (4, 784)
    np.testing.assert_allclose(data.train.x, a["train_x"].reshape(6, -1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.test.x, a["test_x"].reshape(4, -1) / 255.0, rtol=1e-6)
    assert data.train.y.tolist() == [3, 1, 4, 1, 5, 9] and data.test.y.tolist() == [2, 6, 5, 3]
    assert data.val is None


def test_keeps_image_shape_and_raw_values(fake_mnist):
    data = load_mnist("mnist", fake_mnist.folder, normalize=False, flatten=False)
    assert data.train.x.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(data.train.x[..., 0], fake_mnist.arrays["train_x"].astype(np.float32))


def test_default_folder_follows_the_env_var(fake_mnist, data_home):
    shutil.copytree(fake_mnist.folder, data_home / "fashion_mnist")
    data = load_mnist("fashion_mnist", download=False)
    assert data.test.y.tolist() == [2, 6, 5, 3]


def test_downloads_missing_files_from_a_mirror(fake_mnist, server, tmp_path):
    shutil.copytree(fake_mnist.folder, server.root / "mnist")
    folder = tmp_path / "empty"
    data = load_mnist("mnist", folder, mirrors=[server.url + "mnist/"], checksums=fake_mnist.checksums)
    assert sorted(os.listdir(folder)) == sorted(fake_mnist.checksums)
    assert data.train.y.tolist() == [3, 1, 4, 1, 5, 9]
    assert len(server.requests) == 4


def test_download_with_wrong_checksum_keeps_nothing(fake_mnist, server, tmp_path):
    shutil.copytree(fake_mnist.folder, server.root / "mnist")
    folder = tmp_path / "empty"
    # The real MNIST digests: the served files are not MNIST, so every download must be rejected.
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        load_mnist("mnist", folder, mirrors=[server.url + "mnist/"])
    assert not folder.exists() or os.listdir(folder) == []


def test_offline_error_lists_files_and_folder(dead_url, tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(DownloadError) as e:
        load_mnist("mnist", folder, mirrors=[dead_url])
    names = ", ".join(SOURCES["mnist"].checksums)
    assert f"Files missing from {folder}: {names}" in str(e.value)


def test_local_files_skip_checksums_unless_verify(fake_mnist):
    load_mnist("mnist", fake_mnist.folder)  # not the real MNIST, yet loads: structure checks only
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz has SHA-256 .* verify=False"):
        load_mnist("mnist", fake_mnist.folder, verify=True)
    data = load_mnist("mnist", fake_mnist.folder, verify=True, checksums=fake_mnist.checksums)
    assert len(data.train.x) == 6


def _rewrite(path, transform):
    path.write_bytes(gzip.compress(transform(gzip.decompress(path.read_bytes()))))


def test_wrong_magic_is_rejected(fake_mnist):
    path = fake_mnist.folder / "t10k-labels-idx1-ubyte.gz"
    _rewrite(path, lambda raw: b"\x00\x00\x00\x00" + raw[4:])
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*magic number"):
        load_mnist("mnist", fake_mnist.folder)


def test_truncated_images_are_rejected(fake_mnist):
    path = fake_mnist.folder / "train-images-idx3-ubyte.gz"
    _rewrite(path, lambda raw: raw[:-784])
    with pytest.raises(ValueError, match="wrong length"):
        load_mnist("mnist", fake_mnist.folder)


def test_labels_must_be_idx1_ubyte(fake_mnist, make_idx):
    path = fake_mnist.folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(make_idx(np.arange(6, dtype=np.int32))))
    with pytest.raises(ValueError, match="expected uint8 labels"):
        load_mnist("mnist", fake_mnist.folder)


def test_images_must_be_28_by_28(fake_mnist, make_idx):
    path = fake_mnist.folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(make_idx(np.zeros((4, 28, 27), np.uint8))))
    with pytest.raises(ValueError, match=r"shape \(4, 28, 27\); expected uint8 images"):
        load_mnist("mnist", fake_mnist.folder)


def test_label_out_of_range(fake_mnist, make_idx):
    path = fake_mnist.folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(make_idx(np.array([1, 2, 10, 3], np.uint8))))
    with pytest.raises(ValueError, match=r"labels in \[0, 10\)"):
        load_mnist("mnist", fake_mnist.folder)


def test_image_and_label_counts_must_agree(fake_mnist, make_idx):
    path = fake_mnist.folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(make_idx(np.zeros(5, np.uint8))))
    with pytest.raises(ValueError, match="holds 6 images but train-labels-idx1-ubyte.gz holds 5 labels"):
        load_mnist("mnist", fake_mnist.folder)


def test_argument_errors(fake_mnist):
    with pytest.raises(ValueError, match="name='kmnist'"):
        load_mnist("kmnist", fake_mnist.folder)
    with pytest.raises(ValueError, match=r"unknown file names \['train.gz'\]"):
        load_mnist("mnist", fake_mnist.folder, checksums={"train.gz": "0" * 64})


def test_known_checksums_are_well_formed():
    for source in SOURCES.values():
        assert len(source.checksums) == 4
        assert all(re.fullmatch("[0-9a-f]{64}", s) for s in source.checksums.values())
    assert not set(SOURCES["mnist"].checksums.values()) & set(SOURCES["fashion_mnist"].checksums.values())


@pytest.mark.skipif(not SUBSET.is_dir(), reason="the shared MNIST subset is not on this machine")
def test_real_mnist_subset():
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SUBSET.glob("*.gz")}
    data = load_mnist("mnist", SUBSET, download=False, checksums=digests, verify=True)
    assert data.train.x.shape == (4000, 784) and data.test.x.shape == (1000, 784)
    assert 0.0 <= data.train.x.min() and data.train.x.max() == 1.0
    assert np.bincount(data.train.y).min() > 300 and set(data.test.y.tolist()) == set(range(10))
    assert 0.1 < data.train.x.mean() < 0.15  # MNIST's mean pixel is about 0.13
