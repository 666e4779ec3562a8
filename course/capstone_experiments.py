"""The capstone's experiments and explorer (notebook 06): Glorot & Bengio's saturation and He et al.'s depth
sweep reproduced at CPU scale, the figures of a run, and the repair explorer.

The budget, its rules and the trainer the grader uses are in :mod:`course.capstone`. ``explorer_model`` builds the
broken network's shape with other parts for the explorer widget, and refuses to run inside a builder that
``train_under_budget`` or ``gradient_ratio_at_init`` checks (see :mod:`course.lockout`): the repair is the
notebook's exercise.
"""

from __future__ import annotations

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np

from course import diagnostics, lockout
from course.capstone import N_CLASSES, N_FEATURES, BudgetRun, digits_split
from course.plots import plot_layer_norms
from course.reproducibility import set_seed
from course.training import TrainingLoop, epoch_batches
from course.widgets import image_explorer

# --- classic experiments ---------------------------------------------------------------------------

def standard_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """The "standard" initialization of Glorot & Bengio (2010): W ~ U[-1/sqrt(n_in), 1/sqrt(n_in)]."""
    # VarianceScaling draws U[-sqrt(3 scale / n_in), +sqrt(3 scale / n_in)]: scale 1/3 gives the bound 1/sqrt(n_in).
    return keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform", seed=seed)


def saturation_experiment(*, split_seed: int = 0, depth: int = 4, width: int = 100, epochs: int = 20,
                          batch_size: int = 10, learning_rate: float = 0.1, record_every: int = 50,
                          n_probe: int = 300, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot & Bengio (2010), figure 2, at CPU scale: sigmoid layers' outputs over the course of training.

    A ``depth``-layer sigmoid MLP with the standard initialization is trained with plain SGD; every
    ``record_every`` steps, :func:`course.diagnostics.activation_stats` measures each hidden layer's output
    on ``n_probe`` fixed test examples. Returns ``step`` (records), ``mean`` and ``std`` (records x depth),
    ``low``/``high`` (the 2nd and 98th percentiles, as the paper's bars), and ``loss`` (mean training loss
    of the steps since the previous record).
    """
    split = digits_split(split_seed)
    set_seed(seed)
    n_features, n_classes = split.X_train.shape[1], int(split.y_train.max()) + 1
    model = keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(width, activation="sigmoid", kernel_initializer=standard_initializer(seed + i))
           for i in range(depth)]
        + [keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=standard_initializer(seed + depth))]
    )
    loop = TrainingLoop(model, keras.optimizers.SGD(learning_rate=learning_rate),
                        loss=keras.losses.SparseCategoricalCrossentropy())
    order = epoch_batches(len(split.X_train), batch_size=batch_size, epochs=epochs, seed=seed)
    order = order.reshape(-1, batch_size)
    probe = split.X_test[:n_probe]
    records: dict[str, list] = {"step": [], "mean": [], "std": [], "low": [], "high": [], "loss": []}

    def record(step: int, loss: float) -> None:
        outputs = [out for _, out in diagnostics.layer_outputs(model, probe)[:depth]]
        stats = diagnostics.activation_stats(model, probe)[:depth]
        records["step"].append(step)
        records["mean"].append([s.mean for s in stats])
        records["std"].append([s.std for s in stats])
        records["low"].append([np.percentile(out, 2) for out in outputs])
        records["high"].append([np.percentile(out, 98) for out in outputs])
        records["loss"].append(loss)

    record(0, float("nan"))
    for start in range(0, len(order), record_every):
        chunk = order[start:start + record_every]
        steps = loop.run(split.X_train, split.y_train, chunk)
        record(start + len(chunk), float(np.mean(steps.loss)))
    return {key: np.array(value, dtype=float) for key, value in records.items()}


def depth_sweep(depths=(5, 10, 20, 30, 40), initializers=("glorot_uniform", "he_normal"), *,
                activation: str = "relu", width: int = 64, n_examples: int = 256, seed: int = 0) -> dict:
    """He et al. (2015) at initialization: plain ReLU networks of growing depth, Glorot against He.

    For each initializer and depth, a fresh :func:`course.diagnostics.probe_network` on the first
    ``n_examples`` digits: the geometric mean of its kernel-gradient norms (:func:`diagnostics.gradient_norms`),
    its first/last ratio, and the standard deviation of the last hidden layer's output
    (:func:`diagnostics.activation_stats`). Returns ``{initializer: {"mean_norm", "ratio", "last_std"}}``,
    arrays over ``depths``.
    """
    split = digits_split(0)
    X, y = split.X_train[:n_examples], split.y_train[:n_examples]
    result = {}
    for name in initializers:
        rows = {"mean_norm": [], "ratio": [], "last_std": []}
        for depth in depths:
            model = diagnostics.probe_network(X.shape[1], 10, depth=depth, activation=activation,
                                              initializer=name, width=width, seed=seed)
            norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
            rows["mean_norm"].append(float(np.exp(np.mean(np.log(norms)))))
            rows["ratio"].append(diagnostics.first_last_ratio(norms))
            rows["last_std"].append(diagnostics.activation_stats(model, X)[-2].std)
        result[name] = {key: np.array(value) for key, value in rows.items()}
    return result


# --- figures (extra code: not the lesson) ----------------------------------------------------------

def plot_runs(runs: dict[str, BudgetRun], *, axes=None):
    """Per-step training loss, global gradient norm, and first/last kernel-gradient norms of several runs."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for label, run in runs.items():
        steps = np.arange(1, len(run.step_loss) + 1)
        line, = axes[0].plot(steps, np.where(np.isfinite(run.step_loss), run.step_loss, np.nan), label=label)
        norms = run.global_grad_norm
        axes[1].plot(steps, np.where(np.isfinite(norms) & (norms > 0), norms, np.nan), label=label,
                     color=line.get_color())
        kernels = run.kernel_grad_norms()
        for column, style, which in ((0, "-", "first layer"), (-1, ":", "output layer")):
            values = kernels[:, column]
            axes[2].plot(steps, np.where(np.isfinite(values) & (values > 0), values, np.nan), style,
                         color=line.get_color(), label=f"{label}: {which}")
    axes[0].axhline(np.log(10), color="grey", lw=0.8, ls="--")
    axes[0].set_ylabel("training loss (grey: ln 10, a uniform guess)")
    axes[1].set_ylabel("global gradient norm (log)")
    axes[2].set_ylabel("kernel-gradient norm (log)")
    for ax in axes[1:]:
        ax.set_yscale("log")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    return axes


def plot_saturation(result: dict[str, np.ndarray], *, axes=None):
    """Glorot & Bengio's figure 2: mean (line) and 2nd-98th percentiles (band) of each sigmoid layer, and the loss."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.5), gridspec_kw={"width_ratios": [2, 1]})
    steps = result["step"]
    for layer in range(result["mean"].shape[1]):
        line, = axes[0].plot(steps, result["mean"][:, layer], label=f"layer {layer + 1}")
        axes[0].fill_between(steps, result["low"][:, layer], result["high"][:, layer], alpha=0.12,
                             color=line.get_color())
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("sigmoid output: mean, 2nd-98th percentile")
    axes[1].plot(steps[1:], result["loss"][1:])
    axes[1].axhline(np.log(10), color="grey", lw=0.8, ls="--")
    axes[1].set_ylabel("training loss (grey: ln 10)")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small", ncol=2)
    return axes


def plot_depth_sweep(result: dict, depths, *, axes=None):
    """The three measures of :func:`depth_sweep` against depth, one line per initializer."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    labels = {"mean_norm": "kernel-gradient norm (geometric mean, log)",
              "ratio": "first/last ratio (log)", "last_std": "std of the last hidden layer (log)"}
    for name, rows in result.items():
        for ax, (key, label) in zip(axes, labels.items(), strict=True):
            ax.plot(depths, rows[key], marker="o", label=name)
            ax.set_ylabel(label)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("hidden layers (ReLU, 64 units)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    return axes


# --- the explorer ----------------------------------------------------------------------------------

EXPLORER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "elu", "selu")
EXPLORER_INITIALIZERS = ("N(0, 1) (broken)", "glorot_uniform", "he_normal", "lecun_normal")


@lockout.exercise_helper  # exercise 3 (build_fixed_model) refuses it: train_under_budget locks it
def explorer_model(activation: str, initializer: str, batch_norm: bool, n_features: int = N_FEATURES,
                   n_classes: int = N_CLASSES, depth: int = 20, width: int = 32) -> keras.Model:
    """The broken network's shape with another activation, initializer, and optional BatchNormalization."""
    init = keras.initializers.RandomNormal(stddev=1.0) if initializer == EXPLORER_INITIALIZERS[0] else initializer
    layers = [keras.Input(shape=(n_features,))]
    for _ in range(depth):
        if batch_norm:
            layers += [keras.layers.Dense(width, kernel_initializer=init), keras.layers.BatchNormalization(),
                       keras.layers.Activation(activation)]
        else:
            layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=init))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


def repair_explorer(X, y, *, seed: int = 0):
    """Activation, initializer and BatchNormalization in; per-layer gradient norms and saturation at init out.

    Each change builds the broken network's shape (20 layers of 32 units) with the chosen parts and measures
    one gradient and the layers' outputs on (X, y) with :mod:`course.diagnostics` (a second or two). It looks
    at initialization only: clipping and the learning rate show up in training, not here.
    """
    activation = widgets.Dropdown(options=EXPLORER_ACTIVATIONS, value="sigmoid", description="activation")
    initializer = widgets.Dropdown(options=EXPLORER_INITIALIZERS, value=EXPLORER_INITIALIZERS[0],
                                   description="initializer")
    batch_norm = widgets.Checkbox(value=False, description="BatchNormalization before each activation")

    def draw(ax) -> str:
        set_seed(seed)
        model = explorer_model(activation.value, initializer.value, batch_norm.value, X.shape[1], int(max(y)) + 1)
        norms = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))
        stats = diagnostics.activation_stats(model, X)[:-1]
        label = f"{activation.value}, {initializer.value}" + (", BN" if batch_norm.value else "")
        plot_layer_norms({label: norms}, ax=ax)
        return (f"first/last ratio {diagnostics.first_last_ratio(norms):.3g} | most saturated layer "
                f"{max(s.saturated_fraction for s in stats):.0%} | most dead {max(s.dead_fraction for s in stats):.0%}")

    layout = widgets.HBox([widgets.VBox([activation, initializer]), batch_norm])
    return image_explorer([activation, initializer, batch_norm], layout, draw)
