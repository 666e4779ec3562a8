"""Gradient clipping (notebook 05): the exploding run, a loop that records the gradient norm, the explorer.

Keras optimizers clip inside ``apply_gradients``: the gradient a training step computes is
clipped only on its way into the update.  So the loop here measures the **global norm of
the gradient before clipping** (what the threshold is compared with) at every step, then
hands the unclipped gradient to the optimizer.  The whole run is one compiled TensorFlow
loop (:mod:`course.training`); :class:`SeedRunner` re-runs one setting under many seeds without
compiling it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course.reproducibility import set_seed
from course.training import TrainingLoop, step_batches

# The exploding run: a deep ReLU network on the standardized digits, SGD with momentum at a
# learning rate 15 times Keras' default (notebook 05 tabulates what it does over 20 seeds).
DEPTH, WIDTH = 10, 64
LEARNING_RATE, MOMENTUM = 0.15, 0.9
STEPS, BATCH_SIZE = 200, 32
CLIP_OPTIONS = ("clipvalue", "clipnorm", "global_clipnorm")  # Keras' names, one per optimizer


def exploding_mlp(n_features: int = 64, n_classes: int = 10, *, depth: int = DEPTH,
                  width: int = WIDTH) -> keras.Model:
    """The network of the exploding run: ``depth`` ReLU layers (He-normal), logits out, uncompiled."""
    return keras.Sequential(
        [keras.Input(shape=(n_features,))]
        + [keras.layers.Dense(width, activation="relu", kernel_initializer="he_normal") for _ in range(depth)]
        + [keras.layers.Dense(n_classes)]
    )


@dataclass(frozen=True)
class ClippingRun:
    """What one training run recorded, step by step."""

    loss: np.ndarray       # loss of each step's mini-batch, before the step
    grad_norm: np.ndarray  # global L2 norm of each step's gradient, BEFORE the optimizer clips it
    final_loss: float      # mean loss on the whole training set after the last step
    final_accuracy: float  # accuracy on the whole training set after the last step

    @property
    def finite(self) -> bool:
        """No step's loss or gradient norm was inf or NaN, and neither is the final loss."""
        return bool(np.all(np.isfinite(self.loss)) and np.all(np.isfinite(self.grad_norm))
                    and np.isfinite(self.final_loss))

    @property
    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss or gradient norm is inf or NaN (None if there is none)."""
        bad = ~(np.isfinite(self.loss) & np.isfinite(self.grad_norm))
        return int(np.argmax(bad)) if bad.any() else None

    def summary(self) -> str:
        """One line: where it blew up, or where it ended."""
        step = self.first_nonfinite_step
        if step is not None:
            return f"blew up at step {step} (largest finite gradient norm {_finite_max(self.grad_norm):.3g})"
        return (f"final loss {self.final_loss:.3f}, accuracy {self.final_accuracy:.3f}, "
                f"largest gradient norm {self.grad_norm.max():.3g}")


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that grows linearly to ``target`` over ``warmup_steps`` steps, then stays there.

    Step ``k`` (counted from 0, as ``optimizer.iterations`` counts) gets ``target * min(1, (k + 1) /
    warmup_steps)``: the first step already moves (at ``target / warmup_steps``), and step
    ``warmup_steps - 1`` and every later one use ``target``.  Give it to an optimizer as its
    ``learning_rate``.
    """

    def __init__(self, target: float, warmup_steps: int):
        if target <= 0 or warmup_steps < 1:
            raise ValueError(f"target must be positive and warmup_steps at least 1, got {target}, {warmup_steps}")
        self.target, self.warmup_steps = float(target), int(warmup_steps)

    def __call__(self, step):
        fraction = (keras.ops.cast(step, "float32") + 1.0) / float(self.warmup_steps)
        return self.target * keras.ops.minimum(1.0, fraction)

    def get_config(self) -> dict:
        return {"target": self.target, "warmup_steps": self.warmup_steps}


def _finite_max(values) -> float:
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else float("nan")


def _logits_loss() -> keras.losses.Loss:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _recorded_run(loop: TrainingLoop, X, y, indices: np.ndarray) -> ClippingRun:
    """Train ``loop`` on the mini-batches ``indices``; then measure loss and accuracy on all of (X, y)."""
    steps = loop.run(X, y, indices)
    logits = loop.model(np.asarray(X, dtype=np.float32), training=False)
    final_loss = float(_logits_loss()(np.asarray(y), logits))
    accuracy = float(np.mean(np.argmax(keras.ops.convert_to_numpy(logits), axis=1) == np.asarray(y)))
    return ClippingRun(steps.loss.astype(float), steps.global_grad_norm, final_loss, accuracy)


def record_training(model: keras.Model, optimizer: keras.optimizers.Optimizer, X, y, *, steps: int = STEPS,
                    batch_size: int = BATCH_SIZE, seed: int = 0) -> ClippingRun:
    """Train ``model`` in place with ``optimizer`` on mini-batches of (X, y); record every step.

    The loss is the mean sparse categorical cross-entropy of the model's logits.  At each step the
    loop (:class:`course.training.TrainingLoop`) computes the gradient, records its global norm (all
    variables together, **before** the optimizer's clipping) and the batch loss, then calls
    ``optimizer.apply_gradients``.
    """
    loop = TrainingLoop(model, optimizer, loss=_logits_loss())
    return _recorded_run(loop, X, y, step_batches(len(X), steps=steps, batch_size=batch_size, seed=seed))


class SeedRunner:
    """One setting (a model builder and an optimizer) run under several seeds, compiled once.

    ``run(seed)`` seeds everything, builds a fresh model with ``build_model()`` and copies its
    initial weights into the compiled model, restores the optimizer's initial state (step count,
    momentum), and trains: the same run as a fresh model and optimizer would give, without the
    second or two TensorFlow needs to compile a new training loop.
    """

    def __init__(self, build_model: Callable[[], keras.Model], optimizer: keras.optimizers.Optimizer,
                 X, y, *, steps: int = STEPS, batch_size: int = BATCH_SIZE):
        self.build_model, self.steps, self.batch_size = build_model, steps, batch_size
        self.X, self.y = X, y
        self._loop = TrainingLoop(build_model(), optimizer, loss=_logits_loss())

    def run(self, seed: int) -> ClippingRun:
        set_seed(seed)
        self._loop.reset(self.build_model().get_weights())
        indices = step_batches(len(self.X), steps=self.steps, batch_size=self.batch_size, seed=seed)
        return _recorded_run(self._loop, self.X, self.y, indices)


def plot_norm_traces(runs: Mapping[str, ClippingRun], *, threshold: float | None = None, ax: plt.Axes | None = None,
                     title: str = "Global gradient norm per step (before clipping)") -> plt.Axes:
    """One line per run: the gradient's global norm at each step, log scale; x where a run blew up."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for label, run in runs.items():
        norms = np.where(np.isfinite(run.grad_norm), run.grad_norm, np.nan)
        (line,) = ax.plot(norms, label=label, lw=1)
        step = run.first_nonfinite_step
        if step is not None:
            ax.axvline(step, color=line.get_color(), ls=":", lw=1)
            ax.plot([step], [_finite_max(run.grad_norm)], "x", color=line.get_color(), ms=9)
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=0.8, label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("global gradient norm (log)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_loss_traces(runs: Mapping[str, ClippingRun], *, ax: plt.Axes | None = None) -> plt.Axes:
    """One line per run: the mini-batch loss at each step (log scale; a run that blew up stops)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for label, run in runs.items():
        ax.plot(np.where(np.isfinite(run.loss), run.loss, np.nan), label=label, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("mini-batch loss (log)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


# --- what the three options do to one gradient (the explorer's computation) ----------------------

def keras_clipped(gradients, option: str, threshold: float) -> list[np.ndarray]:
    """What a Keras optimizer with ``option=threshold`` does to ``gradients`` before its update.

    Measured, not re-implemented: plain SGD with a learning rate of 1 takes one step from zero
    variables, so each variable ends at minus the clipped gradient.  ``option`` is one of
    ``CLIP_OPTIONS``; ``gradients`` is a list of arrays (one per variable).
    """
    if option not in CLIP_OPTIONS:
        raise ValueError(f"option must be one of {CLIP_OPTIONS}, got {option!r}")
    gradients = [np.asarray(g, dtype=np.float32) for g in gradients]
    variables = [keras.Variable(np.zeros_like(g)) for g in gradients]
    optimizer = keras.optimizers.SGD(learning_rate=1.0, **{option: threshold})
    optimizer.apply_gradients(zip([tf.constant(g) for g in gradients], variables, strict=True))
    return [-v.numpy() for v in variables]


def clip_demo(gradient, other, threshold: float) -> dict[str, list[np.ndarray]]:
    """Two variables' 2-D gradients, clipped by each Keras option: option -> [gradient, other]."""
    gradients = [np.asarray(gradient, dtype=float), np.asarray(other, dtype=float)]
    return {option: keras_clipped(gradients, option, threshold) for option in CLIP_OPTIONS}


def angle_between(a, b) -> float:
    """Angle between two vectors in degrees (0 when either is zero)."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


COLORS = {"gradient": "black", "clipvalue": "tab:orange", "clipnorm": "tab:blue", "global_clipnorm": "tab:green"}


def draw_clip_demo(ax: plt.Axes, gradient, other, threshold: float) -> str:
    """Draw variable 1's gradient and what each option makes of it; variable 2 dashed.  Returns a summary."""
    clipped = clip_demo(gradient, other, threshold)
    gradient, other = np.asarray(gradient, dtype=float), np.asarray(other, dtype=float)
    ax.add_patch(plt.Rectangle((-threshold, -threshold), 2 * threshold, 2 * threshold, fill=False,
                               ls=":", color=COLORS["clipvalue"], label="clipvalue's box"))
    ax.add_patch(plt.Circle((0, 0), threshold, fill=False, ls=":", color=COLORS["clipnorm"],
                            label="clipnorm's circle"))

    def arrow(vector, color, label, style="-", width=2.0):
        ax.annotate("", xy=tuple(vector), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=color, lw=width, ls=style, alpha=0.85))
        ax.plot([], [], color=color, ls=style, lw=width, label=label)  # legend entry

    arrow(gradient, COLORS["gradient"], "g1: variable 1's gradient", width=1.2)
    # clipnorm drawn wide underneath: it often nearly coincides with global_clipnorm
    for option, width in (("clipvalue", 2.0), ("clipnorm", 5.0), ("global_clipnorm", 2.0)):
        arrow(clipped[option][0], COLORS[option], f"g1, {option}", width=width)
    arrow(other, "grey", "g2: variable 2's gradient", "--", width=1.2)
    arrow(clipped["global_clipnorm"][1], COLORS["global_clipnorm"], "g2, global_clipnorm", "--")
    extent = 1.15 * max(np.abs(gradient).max(), np.abs(other).max(), threshold)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    total = float(np.sqrt(np.sum(gradient**2) + np.sum(other**2)))
    kept = float(np.sqrt(sum(np.sum(g**2) for g in clipped["global_clipnorm"])))
    return (f"clipvalue turns g1 by {angle_between(gradient, clipped['clipvalue'][0]):.1f}°;  "
            f"global norm {total:.2f}, after global_clipnorm {kept:.2f}")


def clip_explorer():
    """Variable 1's gradient (length and angle), variable 2's gradient length, and the threshold in.

    Each change asks a Keras optimizer for each option (:func:`clip_demo`) and draws the result.
    Returns the widget box: make it the last expression of a cell to show it.
    """
    import ipywidgets as widgets

    from course.widgets import image_explorer, tooltip

    length = widgets.FloatSlider(value=3.0, min=0.0, max=5.0, step=0.1, description="|g1|",
                                 continuous_update=False)
    angle = widgets.FloatSlider(value=20.0, min=-180.0, max=180.0, step=5.0, description="angle g1 (°)",
                                continuous_update=False)
    other = widgets.FloatSlider(value=3.0, min=0.0, max=5.0, step=0.1, description="|g2|",
                                continuous_update=False, **tooltip("variable 2's gradient (drawn dashed)"))
    threshold = widgets.FloatSlider(value=1.0, min=0.1, max=4.0, step=0.1, description="threshold",
                                    continuous_update=False)

    def draw(ax) -> str:
        radians = np.radians(angle.value)
        gradient = length.value * np.array([np.cos(radians), np.sin(radians)])
        return draw_clip_demo(ax, gradient, other.value * np.array([-0.6, 0.8]), threshold.value)

    layout = widgets.HBox([widgets.VBox([length, angle]), widgets.VBox([other, threshold])])
    return image_explorer([length, angle, other, threshold], layout, draw)
