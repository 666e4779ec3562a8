"""The notebooks that use Fashion-MNIST run on Keras' real loader, not only on the offline fallback.

Here there is no internet, so the notebooks' own runs take the digits fallback. This test writes a
small synthetic Fashion-MNIST (gzipped IDX files, learnable: each class brightens its own band of
rows) into a Keras cache, points the kernel's ``KERAS_HOME`` at it, and runs every solution notebook
that calls ``load_fashion_mnist`` top to bottom: the loader must report Fashion-MNIST, no fallback
notice may appear, and no cell may fail.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import nbformat
import numpy as np
import pytest

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[2]
USERS = sorted(path for path in (ROOT / "source").glob("*/*.ipynb") if "load_fashion_mnist(" in path.read_text())


def _write_idx(path: Path, array: np.ndarray) -> None:
    magic = {1: 2049, 3: 2051}[array.ndim]
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes())


def write_fake_fashion_mnist(keras_home: Path, n_train: int = 9000, n_test: int = 1000, seed: int = 0) -> None:
    """Fashion-MNIST's four files, as ``keras.datasets.fashion_mnist.load_data`` reads them from its cache."""
    rng = np.random.default_rng(seed)
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 90, (n, 28, 28))
        for label in range(10):  # class k: rows 2k+4 .. 2k+6 bright
            images[labels == label, 2 * label + 4:2 * label + 7, :] += 150
        _write_idx(cache / f"{prefix}-labels-idx1-ubyte.gz", labels)
        _write_idx(cache / f"{prefix}-images-idx3-ubyte.gz", images)


def test_some_notebook_uses_fashion_mnist():
    assert USERS, "no source notebook calls load_fashion_mnist"


@pytest.mark.parametrize("path", USERS, ids=lambda path: path.stem)
def test_solution_notebook_runs_on_keras_fashion_mnist_loader(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    write_fake_fashion_mnist(tmp_path / "keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # the kernel inherits it and reads it at import
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(output.get("text", "") for cell in nb.cells for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream")
    errors = [(cell.metadata.get("nbgrader", {}).get("grade_id"), output.get("ename"), output.get("evalue"))
              for cell in nb.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert errors == []
    assert "fashion_mnist:" in text, "the notebook did not load Fashion-MNIST through Keras' loader"
    assert "could not be downloaded" not in text
