"""course.data: iris petals, Fashion-MNIST through Keras' real loader (fake cache), offline fallback."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.backend import config as keras_config
from keras.src.utils import file_utils
from sklearn.datasets import load_digits, load_iris

from course import data

N_TRAIN_FULL, N_TEST = 5_020, 7  # the last 5,000 training images become the validation set


def test_iris_petals():
    X, y = data.load_iris_petals()
    assert X.shape == (150, 2) and X.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    iris = load_iris()
    np.testing.assert_array_equal(X, iris.data[:, 2:].astype(np.float32))  # petal length, petal width
    np.testing.assert_array_equal(y, iris.target)
    assert X.max() > 6  # unscaled centimetres


def _no_network(*args, **kwargs):
    raise AssertionError(f"the test tried to download: {args[:1]}")


def _write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped IDX file: magic (2049 labels, 2051 images), big-endian sizes, then uint8 data."""
    magic = {1: 2049, 3: 2051}[array.ndim]
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_keras_home(tmp_path, monkeypatch):
    """A Keras cache holding a small synthetic Fashion-MNIST; image i is filled with i % 256, label i % 10.

    Keras reads ``KERAS_HOME`` once, when ``keras.src.backend.config`` is imported, into ``_KERAS_DIR``;
    ``get_file`` then calls ``config.keras_home()`` on every call. So setting the variable now is not
    enough: the module variable is patched too. Downloads are blocked so a wrong path fails loudly.
    """
    cache = tmp_path / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for prefix, n, offset in [("train", N_TRAIN_FULL, 0), ("t10k", N_TEST, 100)]:
        index = np.arange(n) + offset
        _write_idx(cache / f"{prefix}-labels-idx1-ubyte.gz", index % 10)
        _write_idx(cache / f"{prefix}-images-idx3-ubyte.gz",
                   np.broadcast_to((index % 256)[:, None, None], (n, 28, 28)))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", _no_network)
    return tmp_path


def test_fake_cache_is_what_keras_reads(fake_keras_home):
    (X_train, y_train), (X_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert X_train.shape == (N_TRAIN_FULL, 28, 28) and X_test.shape == (N_TEST, 28, 28)
    assert X_train[300, 0, 0] == 300 % 256 and y_test[3] == 3


def test_fashion_mnist_through_keras_loader(fake_keras_home, capsys):
    d = data.load_fashion_mnist()
    assert d.source == "fashion_mnist"
    assert d.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert "could not be downloaded" not in capsys.readouterr().out
    assert d.X_train.shape == (20, 28, 28) and d.X_valid.shape == (5_000, 28, 28)
    assert d.X_test.shape == (N_TEST, 28, 28)
    for X in (d.X_train, d.X_valid, d.X_test):
        assert X.dtype == np.float32
    for y in (d.y_train, d.y_valid, d.y_test):
        assert y.dtype == np.int64
    # train = the first images, valid = the last 5,000, in order; pixels are value/255 exactly
    pixel = (np.arange(N_TRAIN_FULL) % 256).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(d.X_train, np.broadcast_to(pixel[:20, None, None], (20, 28, 28)))
    np.testing.assert_array_equal(d.X_valid[:, 0, 27], pixel[20:])
    np.testing.assert_array_equal(d.y_train, np.arange(20) % 10)
    np.testing.assert_array_equal(d.y_valid, np.arange(20, N_TRAIN_FULL) % 10)
    test_pixel = np.arange(100, 107).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(d.X_test[:, 5, 5], test_pixel)
    np.testing.assert_array_equal(d.y_test, np.arange(100, 107) % 10)
    assert d.X_valid.max() == 1.0 and d.X_train.min() == 0.0


def test_fashion_mnist_n_train(fake_keras_home):
    d = data.load_fashion_mnist(n_train=5, verbose=False)
    assert d.X_train.shape == (5, 28, 28) and d.y_train.tolist() == [0, 1, 2, 3, 4]
    assert len(d.X_valid) == 5_000 and len(d.X_test) == N_TEST
    with pytest.raises(ValueError):
        data.load_fashion_mnist(n_train=-1)


def _offline(*args, **kwargs):
    raise OSError("no network in this test")


def test_offline_fallback_to_digits(monkeypatch, capsys):
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", _offline)
    d = data.load_fashion_mnist(verbose=False)
    notice = capsys.readouterr().out
    assert "Fashion-MNIST could not be downloaded" in notice and "digits" in notice
    assert "differ" in notice and notice.count("\n") >= 3
    assert d.source == "digits" and d.class_names == tuple("0123456789")
    splits = [(d.X_train, d.y_train), (d.X_valid, d.y_valid), (d.X_test, d.y_test)]
    for X, y in splits:
        assert X.ndim == 3 and X.shape[1:] == (28, 28) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert y.dtype == np.int64 and y.shape == (len(X),) and set(np.unique(y)) <= set(range(10))
    sizes = [len(X) for X, _ in splits]
    assert sum(sizes) == 1_797
    assert abs(sizes[0] / 1_797 - 0.7) < 0.02 and abs(sizes[1] / 1_797 - 0.1) < 0.02
    # each image is a digits image enlarged 3x (each pixel a 3x3 block) with a 2-pixel blank border,
    # values / 16; the splits partition the 1,797 digits (which contain no duplicate images)
    digits = load_digits()
    index_of = {image.tobytes(): i for i, image in enumerate(digits.images)}
    seen = []
    for X, y in splits:
        small = X[:, 2:26:3, 2:26:3].astype(np.float64) * 16
        enlarged = np.kron(small, np.ones((3, 3))) / 16
        np.testing.assert_array_equal(X, np.pad(enlarged, ((0, 0), (2, 2), (2, 2))))
        indices = [index_of[image.tobytes()] for image in small]
        np.testing.assert_array_equal(y, digits.target[indices])
        seen += indices
    assert sorted(seen) == list(range(1_797))
    assert d.X_train.max() == 1.0
    # deterministic
    again = data.load_fashion_mnist(verbose=False, n_train=10)
    np.testing.assert_array_equal(again.X_train, d.X_train[:10])
    np.testing.assert_array_equal(again.X_test, d.X_test)


def test_offline_notice_even_when_quiet_and_raise_without_fallback(monkeypatch, capsys):
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", _offline)
    data.load_fashion_mnist(verbose=False)
    assert "could not be downloaded" in capsys.readouterr().out
    with pytest.raises(OSError, match="no network"):
        data.load_fashion_mnist(offline_fallback=False)
