"""Real-data checks on the official MNIST test set (grader/datasets.py).

The data lives outside the repo (shared/data/MNIST/raw beside it, or wherever
GRADER_MNIST_DIR points); tests that need it skip cleanly where it is absent.
"""

import gzip
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from grader import datasets
from grader.datasets import IMAGES, LABELS, find_mnist_dir, load_mnist_test

ROOT = Path(__file__).resolve().parent.parent


def _require_mnist() -> Path:
    folder = find_mnist_dir()
    if folder is None:
        searched = ", ".join(str(d) for d in datasets.candidate_dirs())
        pytest.skip(
            f"MNIST test set not found at {searched}; set {datasets.ENV_VAR} "
            f"to a folder holding {IMAGES}.gz and {LABELS}.gz to run this test"
        )
    return folder


@pytest.fixture(scope="module")
def mnist():
    _require_mnist()
    return load_mnist_test()


@pytest.fixture
def one_thread():
    """One intra-op thread, restored afterwards.

    The matmuls here are small (100x784 by 784x100): on a 2-core machine that
    is busy with anything else, 2 OpenMP threads measured 10-20x slower than 1
    (23-30 s against 1.4-2.1 s for this training run), and 1 thread is never
    much slower even when both cores are free.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_import_does_not_load_torch_or_torchvision():
    code = "import sys, grader.datasets; print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.strip()
    assert "torchvision" not in loaded, f"import grader.datasets loaded {loaded}"
    assert "torch" not in loaded, f"import grader.datasets loaded {loaded}"


def test_loader_shapes_dtypes_range_and_labels(mnist):
    X, Y = mnist
    assert X.shape == (10000, 784) and X.dtype == torch.float32
    assert Y.shape == (10000,) and Y.dtype == torch.int64
    assert X.is_contiguous() and Y.is_contiguous()
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    # the scaling is by 255 exactly: every pixel is k/255 for an integer k
    k = X * 255
    assert torch.equal(k, k.round())
    assert set(Y.unique().tolist()) == set(range(10))
    # the official test set's class counts
    assert torch.bincount(Y, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert Y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_loader_reads_decompressed_files(mnist, tmp_path):
    folder = _require_mnist()
    for name in (IMAGES, LABELS):
        gz, plain = folder / (name + ".gz"), folder / name
        if gz.is_file():
            with gzip.open(gz, "rb") as src, open(tmp_path / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(plain, tmp_path / name)
    X, Y = load_mnist_test(tmp_path)
    assert torch.equal(X, mnist[0]) and torch.equal(Y, mnist[1])


def test_env_var_is_searched_first(tmp_path, monkeypatch):
    (tmp_path / (IMAGES + ".gz")).write_bytes(b"anything")
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path))
    assert find_mnist_dir() == tmp_path


def test_missing_directory_gives_file_not_found(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist_test(tmp_path / "no-such-folder")
    with pytest.raises(FileNotFoundError, match=IMAGES):
        load_mnist_test(tmp_path)  # exists but empty
    # nothing anywhere: the message names the folders searched and the env var
    monkeypatch.setattr(datasets, "candidate_dirs", lambda: [tmp_path])
    assert find_mnist_dir() is None
    with pytest.raises(FileNotFoundError, match=datasets.ENV_VAR) as info:
        load_mnist_test()
    assert str(tmp_path) in str(info.value)


def test_corrupted_gz_gives_value_error(tmp_path):
    garbage = gzip.compress(b"\x00\x00\x08\x03" + b"not mnist" * 100)
    (tmp_path / (IMAGES + ".gz")).write_bytes(garbage)
    (tmp_path / (LABELS + ".gz")).write_bytes(b"not even gzip")
    with pytest.raises(ValueError, match=IMAGES + ".gz") as info:
        load_mnist_test(tmp_path)
    assert "md5" in str(info.value)
    # a good image file would not hide a bad label file
    folder = find_mnist_dir()
    if folder is not None and (folder / (IMAGES + ".gz")).is_file():
        shutil.copyfile(folder / (IMAGES + ".gz"), tmp_path / (IMAGES + ".gz"))
        with pytest.raises(ValueError, match=LABELS + ".gz"):
            load_mnist_test(tmp_path)


def test_corrupted_plain_files_give_value_error(tmp_path):
    (tmp_path / IMAGES).write_bytes(b"garbage" * 50)
    (tmp_path / LABELS).write_bytes(b"garbage" * 50)
    with pytest.raises(ValueError, match=IMAGES):
        load_mnist_test(tmp_path)


@pytest.mark.slow
def test_reference_two_layer_net_learns_real_mnist(mnist, one_thread):
    from reference import SGD, epoch, two_layer_net

    X, Y = mnist
    X_train, Y_train, X_test, Y_test = X[:8000], Y[:8000], X[8000:], Y[8000:]
    torch.manual_seed(0)
    model = two_layer_net()
    opt = SGD(model.parameters(), lr=0.5)
    start = time.perf_counter()
    for _ in range(20):
        train_err, train_loss = epoch(model, X_train, Y_train, opt, batch_size=100)
    test_err, test_loss = epoch(model, X_test, Y_test, batch_size=100)
    seconds = time.perf_counter() - start
    print(
        f"two_layer_net on MNIST: train err {train_err:.4f}, test err {test_err:.4f} "
        f"(loss {test_loss:.4f}) after 20 epochs in {seconds:.2f}s"
    )
    assert test_err < 0.05, f"test error {test_err:.4f} after 20 epochs (train error {train_err:.4f})"
