"""Access to the official MNIST test set (10,000 digits) in its raw IDX files.

Only the test set is used: the 60,000-image training set is not shipped with
the course machines.  The files are looked for, in order, in

1. the folder named by the environment variable ``GRADER_MNIST_DIR``;
2. ``<repo root>/../shared/data/MNIST/raw`` (repo root = the folder holding
   the ``grader`` package);
3. ``./data/MNIST/raw`` (torchvision's layout, relative to the current folder).

Each may hold the gzip files as distributed (``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``, whose md5 is checked) or their decompressed
forms (same names without ``.gz``).

torch and torchvision are imported only inside :func:`load_mnist_test`, so
importing this module costs nothing at start-up.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from grader import settings

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ENV_VAR", "IMAGES", "LABELS", "MD5", "candidate_dirs", "find_mnist_dir", "load_mnist_test"]

ENV_VAR = settings.MNIST_DIR.name
IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"
#: md5 of the official gzip files (the values torchvision's datasets.MNIST checks).
MD5 = {
    IMAGES + ".gz": "9fb629c4189551a2d022fa330f9573f3",
    LABELS + ".gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
N_TEST = 10_000


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def candidate_dirs() -> list[Path]:
    """The folders searched by :func:`find_mnist_dir`, in order."""
    dirs = []
    env = (settings.MNIST_DIR.value() or "").strip()
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(_repo_root().parent / "shared" / "data" / "MNIST" / "raw")
    dirs.append(Path("data") / "MNIST" / "raw")
    return dirs


def _has_images(folder: Path) -> bool:
    return (folder / (IMAGES + ".gz")).is_file() or (folder / IMAGES).is_file()


def find_mnist_dir() -> Path | None:
    """The first candidate folder holding the MNIST test images, or None."""
    for folder in candidate_dirs():
        try:
            if _has_images(folder):
                return folder
        except OSError:  # unreadable folder: try the next one
            continue
    return None


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _locate(folder: Path, name: str) -> Path:
    """``folder/name.gz`` (md5-checked) if present, else ``folder/name``."""
    gz = folder / (name + ".gz")
    if gz.is_file():
        digest = _md5(gz)
        if digest != MD5[gz.name]:
            raise ValueError(
                f"MNIST file {gz} is corrupted or not the official one: md5 {digest}, "
                f"expected {MD5[gz.name]}. Delete it and copy the official file again."
            )
        return gz
    plain = folder / name
    if plain.is_file():
        return plain
    raise FileNotFoundError(f"MNIST file {name}.gz (or {name}) not found in {folder}.")


def _decompressed(path: Path, scratch: Path) -> Path:
    """A path to the uncompressed bytes of ``path`` (decompressed into ``scratch``)."""
    if path.suffix != ".gz":
        return path
    out = scratch / path.name[:-3]
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"MNIST file {path} could not be decompressed: {e}") from e
    return out


def _read(path: Path, source: Path, reader, shape: tuple):
    try:
        t = reader(str(path))
    except (AssertionError, TypeError, ValueError, RuntimeError, IndexError) as e:
        raise ValueError(f"MNIST file {source} is not a valid IDX file: {e!r}") from e
    if tuple(t.shape) != shape:
        raise ValueError(
            f"MNIST file {source} holds a tensor of shape {tuple(t.shape)}, expected {shape} "
            "(the official 10,000-digit test set)."
        )
    return t


def load_mnist_test(root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The official MNIST test set as ``(X, Y)``.

    ``X``: float32, shape (10000, 784), pixel values scaled to [0, 1];
    ``Y``: int64, shape (10000,), digits 0-9.

    ``root`` is the folder holding the raw files; by default
    :func:`find_mnist_dir` chooses it.  Raises ``FileNotFoundError`` when the
    files are absent and ``ValueError`` (naming the file) when one is corrupted.
    """
    if root is None:
        folder = find_mnist_dir()
        if folder is None:
            searched = "\n".join(f"  {d.resolve()}" for d in candidate_dirs())
            raise FileNotFoundError(
                f"MNIST test set ({IMAGES}.gz and {LABELS}.gz) not found. Searched:\n{searched}\n"
                f"Set the environment variable {ENV_VAR} to the folder holding these files."
            )
    else:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"MNIST folder {folder} does not exist; it should hold {IMAGES}.gz and {LABELS}.gz."
            )

    images_src = _locate(folder, IMAGES)
    labels_src = _locate(folder, LABELS)

    import torch
    from torchvision.datasets.mnist import read_image_file, read_label_file

    with tempfile.TemporaryDirectory(prefix="grader-mnist-") as scratch:
        scratch = Path(scratch)
        images = _read(_decompressed(images_src, scratch), images_src, read_image_file, (N_TEST, 28, 28))
        labels = _read(_decompressed(labels_src, scratch), labels_src, read_label_file, (N_TEST,))
        # torch.frombuffer copies from a bytearray, so the tensors outlive the files.
        X = images.reshape(N_TEST, 28 * 28).to(torch.float32).div_(255.0)
        Y = labels.to(torch.int64)
    if int(Y.min()) < 0 or int(Y.max()) > 9:
        raise ValueError(f"MNIST file {labels_src} holds labels outside 0-9.")
    return X.contiguous(), Y.contiguous()
