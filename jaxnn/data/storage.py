"""Where data sets live on disk, and how files get there without ever leaving a half-written one behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

ENV_VAR = "JAXNN_DATA_DIR"


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds the files of data set ``name``.

    ``data_dir`` is that folder itself when given. Otherwise it is ``$JAXNN_DATA_DIR/<name>`` when the
    variable is set, else ``~/.cache/jaxnn/<name>``.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    root = os.environ.get(ENV_VAR)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "jaxnn") / name


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Opens a temporary file beside ``path`` and renames it onto ``path`` only if the block succeeds.

    A reader therefore sees either no file or a complete one, even if the writer is interrupted; on any
    exception the temporary file is removed and the exception propagates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so that the final rename stays on one file system and is atomic; mode 0o666
    # (less the umask) rather than mkstemp's 0o600, so that a shared data folder stays readable by others.
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
