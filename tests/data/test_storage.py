import os

import pytest

from jaxnn.data.storage import atomic_write, dataset_dir


def test_data_dir_wins(tmp_path):
    assert dataset_dir("mnist", tmp_path / "mine") == tmp_path / "mine"
    assert dataset_dir("mnist", "~/x") == tmp_path / "home" / "x"


def test_env_var_is_a_root_per_data_set(data_home):
    assert dataset_dir("mnist") == data_home / "mnist"


def test_default_is_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXNN_DATA_DIR")
    assert dataset_dir("fashion_mnist") == tmp_path / "home" / ".cache" / "jaxnn" / "fashion_mnist"


def test_atomic_write_creates_folder_and_file(tmp_path):
    path = tmp_path / "a" / "b" / "f.bin"
    with atomic_write(path) as f:
        f.write(b"hello")
        assert not path.exists()  # invisible until the block completes
    assert path.read_bytes() == b"hello"
    assert os.listdir(path.parent) == ["f.bin"]


def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"new, half written")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_honours_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "f.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644
