"""Notebook 07: deep plain and residual MLPs, the normalization layers they use, and how they train.

One small setting for every experiment (:data:`SETUP`): the first 512 of scikit-learn's digits (64 standardized
features, 10 classes), mini-batches of 64, 6 epochs (48 steps), Adam at 2e-3, 32 units per layer. A network's
**depth** counts its Dense layers, the output layer included, as He et al. count a ResNet's weighted layers:

- plain: ``depth - 1`` hidden layers ``Dense -> [normalization] -> ReLU``, then the softmax output;
- residual: a linear ``Dense(width)`` stem (the projection from the 64 features), ``(depth - 2) // 2`` blocks of
  two Dense layers each, then the output. A block adds its branch ``F`` to its input: ``y = x + F(x)``, with the
  normalization inside the branch (``"pre"``, then a last one before the output, as pre-LN transformers do) or
  after the sum (``"post"``, as the original transformer does).

The explorer's curves come from :mod:`course.residual_grid`, measured by :func:`measure_grid` with this code
(``python -m course.residual`` writes it again; a unit test measures one configuration and compares).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np

from course import diagnostics
from course.data import load_digits_standardized
from course.lockout import exercise_helper
from course.training import TrainingLoop, epoch_batches

NORMALIZATIONS = ("none", "batch", "layer", "rms")
NORMALIZATION_NAMES = {"none": "no normalization", "batch": "BatchNorm", "layer": "LayerNorm", "rms": "RMSNorm"}
PLACEMENTS = ("pre", "post")
GRID_DEPTHS = (4, 10, 20, 40)
GRID_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Setup:
    """The training every experiment of notebook 07 uses."""

    n_examples: int = 512
    batch_size: int = 64
    epochs: int = 6
    learning_rate: float = 2e-3
    width: int = 32

    @property
    def steps(self) -> int:
        return self.n_examples // self.batch_size * self.epochs


SETUP = Setup()


def training_set(n_examples: int = SETUP.n_examples) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_examples`` standardized digits (64 features) and their labels."""
    X, y = load_digits_standardized()
    return X[:n_examples], y[:n_examples]


# --- the networks -----------------------------------------------------------------------------------------

def normalization_layer(kind: str) -> keras.layers.Layer:
    """A fresh normalization layer with Keras' defaults: ``"batch"``, ``"layer"`` or ``"rms"``."""
    layers = {"batch": keras.layers.BatchNormalization, "layer": keras.layers.LayerNormalization,
              "rms": keras.layers.RMSNormalization}
    if kind not in layers:
        raise ValueError(f"normalization should be one of {sorted(layers)}, got {kind!r}")
    return layers[kind]()


@exercise_helper  # exercise 1 (residual_block) refuses it
def block(x, units: int, *, norm: str = "layer", placement: str = "pre"):
    """One residual block on the Keras tensor ``x``: ``x + Dense(ReLU(Dense(x)))``, projected where widths differ.

    ``norm`` (``"none"``, ``"batch"``, ``"layer"``, ``"rms"``) goes at the branch's start (``"pre"``) or after the
    sum (``"post"``). The shortcut is ``x`` itself when it has ``units`` features, else ``Dense(units,
    use_bias=False)(x)``.
    """
    shortcut = x if x.shape[-1] == units else keras.layers.Dense(units, use_bias=False)(x)
    branch = normalization_layer(norm)(x) if norm != "none" and placement == "pre" else x
    branch = keras.layers.Dense(units, activation="relu", kernel_initializer="he_normal")(branch)
    branch = keras.layers.Dense(units, kernel_initializer="he_normal")(branch)
    y = keras.layers.Add()([shortcut, branch])
    return normalization_layer(norm)(y) if norm != "none" and placement == "post" else y


@exercise_helper  # exercise 3 (build_deep_residual_network) refuses it
def deep_network(depth: int, *, residual: bool, norm: str = "none", placement: str = "pre",
                 width: int = SETUP.width, n_features: int = 64, n_classes: int = 10) -> keras.Model:
    """A plain or residual MLP of ``depth`` Dense layers, the output included (see the module's docstring)."""
    if norm not in NORMALIZATIONS or placement not in PLACEMENTS:
        raise ValueError(f"norm in {NORMALIZATIONS} and placement in {PLACEMENTS}, got {norm!r}, {placement!r}")
    inputs = keras.Input(shape=(n_features,))
    if residual:
        if depth < 4 or depth % 2:
            raise ValueError(f"a residual network here has an even depth of at least 4, got {depth}")
        h = keras.layers.Dense(width, kernel_initializer="he_normal")(inputs)
        for _ in range((depth - 2) // 2):
            h = block.__wrapped__(h, width, norm=norm, placement=placement)
        if norm != "none" and placement == "pre":
            h = normalization_layer(norm)(h)
    else:
        h = inputs
        for _ in range(depth - 1):
            h = keras.layers.Dense(width, kernel_initializer="he_normal")(h)
            if norm != "none":
                h = normalization_layer(norm)(h)
            h = keras.layers.ReLU()(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    return keras.Model(inputs, outputs)


@dataclass(frozen=True)
class Config:
    """One network of the explorer's grid."""

    depth: int
    residual: bool
    norm: str = "none"
    placement: str = "pre"

    @property
    def label(self) -> str:
        kind = "residual" if self.residual else "plain"
        norm = NORMALIZATION_NAMES[self.norm]
        where = f", {self.placement}" if self.residual and self.norm != "none" else ""
        return f"{kind} {self.depth}, {norm}{where}"

    def build(self, seed: int = 0) -> keras.Model:
        """The network, its weights drawn under ``seed``."""
        keras.utils.set_random_seed(seed)
        return deep_network.__wrapped__(self.depth, residual=self.residual, norm=self.norm,
                                        placement=self.placement)


# --- training and measuring -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResidualRun:
    """One training run: the loss of every step, and the model after training."""

    step_loss: np.ndarray  # (steps,) mini-batch loss before each step's update
    epoch_loss: np.ndarray  # (epochs,) mean of the steps of each epoch
    model: keras.Model


class Trainer:
    """One architecture trained under several seeds: TensorFlow traces its loop once (see course.training)."""

    def __init__(self, model: keras.Model, setup: Setup = SETUP):
        self.model, self.setup = model, setup
        self._loop = TrainingLoop(model, keras.optimizers.Adam(setup.learning_rate),
                                  loss=keras.losses.SparseCategoricalCrossentropy())
        self._used = False

    def train(self, X, y, *, seed: int, weights: Sequence[np.ndarray] | None = None,
              batch_size: int | None = None) -> ResidualRun:
        """Train from ``weights`` (default: the model's own, on the first call) with batches drawn from ``seed``."""
        if weights is not None or self._used:
            self._loop.reset(self.model.get_weights() if weights is None else weights)
        self._used = True
        size = batch_size or self.setup.batch_size
        steps_per_epoch = len(X) // size
        epochs = max(1, self.setup.steps // steps_per_epoch)
        batches = epoch_batches(len(X), batch_size=size, epochs=epochs, seed=seed).reshape(-1, size)
        steps = self._loop.run(X, y, batches[:self.setup.steps])
        per_epoch = min(steps_per_epoch, len(steps.loss))
        epoch_loss = steps.loss[:len(steps.loss) // per_epoch * per_epoch].reshape(-1, per_epoch)
        return ResidualRun(steps.loss, epoch_loss.mean(axis=1), self.model)


def train(config: Config, X, y, *, seed: int = 0, setup: Setup = SETUP) -> ResidualRun:
    """Build ``config`` under ``seed`` and train it as every experiment of the notebook does."""
    return Trainer(config.build(seed), setup).train(X, y, seed=seed)


def train_seeds(config: Config, X, y, seeds: Sequence[int] = GRID_SEEDS, setup: Setup = SETUP) -> list[ResidualRun]:
    """``config`` trained once per seed, one traced loop for all (the final losses are ``run.epoch_loss[-1]``)."""
    trainer = Trainer(config.build(seeds[0]), setup)
    return [trainer.train(X, y, seed=seed, weights=config.build(seed).get_weights()) for seed in seeds]


def gradient_profile(model: keras.Model, X, y) -> np.ndarray:
    """Kernel-gradient norms, input side first, of one gradient on (X, y) in training mode."""
    return diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))


def mean_loss(model: keras.Model, X, y, *, training: bool) -> float:
    """The mean cross-entropy on (X, y), in training mode (batch statistics) or inference mode."""
    probabilities = model(np.asarray(X, dtype=np.float32), training=training)
    return float(keras.losses.SparseCategoricalCrossentropy()(y, probabilities))


def train_and_inference_loss(model: keras.Model, X, y) -> tuple[float, float]:
    """(training-mode loss, inference-mode loss) on (X, y); a training-mode call leaves BN's statistics as they were."""
    saved = [(variable, keras.ops.convert_to_numpy(variable)) for variable in model.non_trainable_variables]
    in_training = mean_loss(model, X, y, training=True)
    for variable, value in saved:
        variable.assign(value)
    return in_training, mean_loss(model, X, y, training=False)


# --- what the tests read: a Functional model's graph -------------------------------------------------------

def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def graph(model: keras.Model) -> dict[keras.layers.Layer, list[keras.layers.Layer]]:
    """Each layer of ``model`` (input to output) with the layers whose outputs it takes (its parents)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise AssertionError(f"the model uses the model {layer.name!r} as a layer; build it from Keras layers "
                                 "only, so that the test can read each of them")
    produced = {}
    for layer in model.layers:
        try:
            produced.update({id(tensor): layer for tensor in _as_list(layer.output)})
        except (AttributeError, ValueError) as exc:
            raise AssertionError(f"the layer {layer.name!r} is called more than once; use a new layer object "
                                 "for every call") from exc
    parents = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            parents[layer] = []
            continue
        parents[layer] = [produced[id(tensor)] for tensor in _as_list(layer.input) if id(tensor) in produced]
    return parents


def describe_layer(layer: keras.layers.Layer) -> str:
    """``Dense(32, relu)``, ``LayerNormalization``, ``Add``, ``Input``: how the messages name a layer."""
    from course.checks import activation_spec

    if isinstance(layer, keras.layers.InputLayer):
        return "Input"
    if isinstance(layer, keras.layers.Dense):
        return f"Dense({layer.units}, {activation_spec(layer)})"
    return type(layer).__name__


def longest_dense_path(model: keras.Model) -> int:
    """The number of Dense layers on the longest path from the input to the output (the output layer included)."""
    parents = graph(model)
    depth: dict[keras.layers.Layer, int] = {}
    for layer, above in parents.items():  # model.layers is in the order the layers run
        depth[layer] = max((depth[parent] for parent in above), default=0) + isinstance(layer, keras.layers.Dense)
    return max(depth.values(), default=0)


def add_layers(model: keras.Model) -> list[tuple[keras.layers.Layer, list[keras.layers.Layer]]]:
    """Each ``Add`` layer of ``model`` with the layers that feed it."""
    return [(layer, above) for layer, above in graph(model).items() if isinstance(layer, keras.layers.Add)]


def chain_to_input(model: keras.Model, layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers from the input to ``layer`` when each has a single parent (input side first, Input excluded)."""
    parents = graph(model)
    chain = []
    while not isinstance(layer, keras.layers.InputLayer):
        chain.append(layer)
        if len(parents[layer]) != 1:
            break
        layer = parents[layer][0]
    return chain[::-1]


def chain_summary(layers: Sequence[keras.layers.Layer]) -> list[str]:
    """:func:`describe_layer` of each layer, a linear Dense layer and the activation layer after it read as one."""
    from course.checks import ACTIVATION_LAYERS, activation_spec

    summary: list[str] = []
    for layer in layers:
        previous = summary[-1] if summary else ""
        if isinstance(layer, ACTIVATION_LAYERS) and previous.startswith("Dense(") and previous.endswith(", linear)"):
            summary[-1] = previous.replace(", linear)", f", {activation_spec(layer)})")
        else:
            summary.append(describe_layer(layer))
    return summary


def fresh_copy(model: keras.Model, seed: int) -> keras.Model:
    """``model`` rebuilt from its configuration, new weights drawn under ``seed`` (what the grader trains)."""
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


# --- the explorer's grid ------------------------------------------------------------------------------------

def grid_configs(depths: Sequence[int] = GRID_DEPTHS) -> list[Config]:
    """Every network the explorer shows: plain with each normalization, residual with each and each placement."""
    configs = []
    for depth in depths:
        configs += [Config(depth, False, norm) for norm in ("none", "batch", "layer")]
        configs.append(Config(depth, True, "none"))
        configs += [Config(depth, True, norm, placement) for norm in ("batch", "layer") for placement in PLACEMENTS]
    return configs


def measure(config: Config, X, y, seeds: Sequence[int] = GRID_SEEDS) -> dict:
    """What the explorer draws for ``config``: the gradient profile at initialization (first seed, 256
    examples) and the step losses of each seed."""
    profile = gradient_profile(config.build(seeds[0]), X[:256], y[:256])
    runs = train_seeds(config, X, y, seeds)
    return {"profile": _rounded(profile), "step_loss": [_rounded(run.step_loss) for run in runs]}


def _rounded(values) -> list[float]:
    return [float(f"{value:.4g}") for value in np.asarray(values, dtype=float)]


def grid_key(config: Config) -> str:
    """The grid's key of a configuration: ``"40/residual/layer/pre"``."""
    placement = config.placement if config.residual and config.norm != "none" else "-"
    return f"{config.depth}/{'residual' if config.residual else 'plain'}/{config.norm}/{placement}"


def measure_grid(depths: Sequence[int] = GRID_DEPTHS) -> dict[str, dict]:
    """Every configuration of :func:`grid_configs` measured (minutes on 2 cores)."""
    X, y = training_set()
    return {grid_key(config): measure(config, X, y) for config in grid_configs(depths)}


def write_grid(path: Path | None = None) -> Path:
    """Measure the grid and write it as :mod:`course.residual_grid`."""
    import tensorflow as tf

    path = path or Path(__file__).with_name("residual_grid.py")
    grid = measure_grid()
    lines = ['"""The explorer\'s data of notebook 07, measured by course.residual.measure_grid (generated by',
             f'`python -m course.residual`: TensorFlow {tf.__version__}, Keras {keras.__version__}; do not edit)."""',
             "", "# ruff: noqa: E501", "GRID = {"]
    lines += [f"    {key!r}: {value!r}," for key, value in grid.items()]
    path.write_text("\n".join(lines + ["}", ""]))
    return path


def load_grid() -> dict[str, dict]:
    """The measured grid (:mod:`course.residual_grid`)."""
    from course.residual_grid import GRID

    return GRID


def epoch_losses(entry: dict, setup: Setup = SETUP) -> np.ndarray:
    """(seeds, epochs): the mean training loss of each epoch of each seed of a grid entry."""
    per_epoch = setup.n_examples // setup.batch_size
    return np.asarray(entry["step_loss"], dtype=float).reshape(len(entry["step_loss"]), -1, per_epoch).mean(axis=2)


def final_losses(entry: dict, setup: Setup = SETUP) -> np.ndarray:
    """The last epoch's mean training loss of each seed of a grid entry."""
    return epoch_losses(entry, setup)[:, -1]


# --- plots and the explorer -----------------------------------------------------------------------------

def plot_profiles(profiles: dict[str, Sequence[float]], *, ax: plt.Axes | None = None) -> plt.Axes:
    """Kernel-gradient norm per Dense layer (log scale), a line per network."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for label, norms in profiles.items():
        norms = np.asarray(norms, dtype=float)
        ax.plot(np.arange(1, len(norms) + 1), np.where(np.isfinite(norms) & (norms > 0), norms, np.nan),
                marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("Dense layer (1 = next to the input)")
    ax.set_ylabel("kernel-gradient norm (log)")
    ax.set_title("gradient at initialization", fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_losses(curves: dict[str, Sequence[Sequence[float]]], *, ax: plt.Axes | None = None) -> plt.Axes:
    """Training loss per step, a colour per network, a line per seed (log scale)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for index, (label, runs) in enumerate(curves.items()):
        for number, losses in enumerate(runs):
            losses = np.asarray(losses, dtype=float)
            ax.plot(np.arange(1, len(losses) + 1), np.where(np.isfinite(losses), losses, np.nan),
                    color=f"C{index}", alpha=0.9 if number == 0 else 0.45, label=label if number == 0 else None)
    ax.axhline(np.log(10), color="grey", linestyle=":", linewidth=1, label="ln 10 (guessing)")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("mini-batch loss (log)")
    ax.set_title("training loss", fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def residual_explorer(grid: dict[str, dict] | None = None) -> widgets.VBox:
    """Depth, architecture, normalization and its placement in; gradient profile and training loss out.

    Every configuration was measured beforehand (:mod:`course.residual_grid`), so each move only redraws.
    """
    from course.widgets import figure_png

    grid = grid or load_grid()
    depth = widgets.SelectionSlider(options=list(GRID_DEPTHS), value=10, description="depth",
                                    continuous_update=False)
    architecture = widgets.Dropdown(options=["plain", "residual"], value="plain", description="network")
    norm = widgets.Dropdown(options=[(NORMALIZATION_NAMES[k], k) for k in ("none", "batch", "layer")],
                            value="batch", description="normalization", style={"description_width": "initial"})
    placement = widgets.Dropdown(options=[("pre (in the branch)", "pre"), ("post (after the sum)", "post")],
                                 value="pre", description="placement", disabled=True)
    summary, image = widgets.Label(), widgets.Image(format="png")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    plt.close(fig)  # shown through the Image widget only

    def redraw(_change=None) -> None:
        residual = architecture.value == "residual"
        placement.disabled = not residual or norm.value == "none"
        config = Config(depth.value, residual, norm.value, placement.value)
        entry = grid[grid_key(config)]
        left.clear()
        right.clear()
        plot_profiles({config.label: entry["profile"]}, ax=left)
        plot_losses({config.label: entry["step_loss"]}, ax=right)
        # the same scales for every network that fits them, so that a move compares like with like
        left.set_ylim(1e-2, max(1e3, 2 * np.nanmax(entry["profile"])))
        right.set_ylim(0.05, max(5.0, 1.5 * np.nanmax(entry["step_loss"])))
        profile = np.asarray(entry["profile"], dtype=float)
        losses = ", ".join(f"{loss:.3g}" for loss in final_losses(entry))
        summary.value = (f"{config.label}: first/last gradient ratio {diagnostics.first_last_ratio(profile):.3g}; "
                         f"last epoch's loss, seeds {GRID_SEEDS[0]}-{GRID_SEEDS[-1]}: {losses}")
        image.value = figure_png(fig)

    for control in (depth, architecture, norm, placement):
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([widgets.VBox([depth, architecture]), widgets.VBox([norm, placement])]),
                        image, summary])
    box.figure = fig
    return box


if __name__ == "__main__":
    from course.reproducibility import set_seed

    set_seed(0)  # deterministic TensorFlow ops, as in the notebooks (each configuration seeds its own weights)
    print(f"wrote {write_grid()}")
