"""Pretend students for notebook 01 (vanishing and exploding gradients).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "01_vanishing_exploding"
NOTEBOOK = "01_vanishing_exploding.ipynb"
BAD_INPUT = True  # also grade broken notebooks (cells deleted, duplicated, raising) built from this one

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-kernel-gradient-norms": ["ex1-tests"],
    "ex2-diagnose-gradients": ["ex2-tests"],
    "ex3-build-deep-mlp": ["ex3-tests"],
    "ex4-fix-choice": ["ex4-tests"],
}

_EX1 = '''
def kernel_gradient_norms(model, X, y):
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    loss_fn = keras.losses.SparseCategoricalCrossentropy({loss_args})
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(X, training=True))
    grads = tape.gradient(loss, {variables})
    return np.array([{norm} for grad in grads]){order}
'''


def _ex1(loss_args="", variables="kernels", norm="float(tf.norm(grad))", order=""):
    return _EX1.format(loss_args=loss_args, variables=variables, norm=norm, order=order)


_EX2 = '''
def diagnose_gradients(norms, low=1e-2, high=10.0, max_norm=1e3):
    norms = np.asarray(norms, dtype=float)
    {nan_rule}
    if np.any(norms > max_norm):
        return "exploding"
    if np.{zero_rule}(norms == 0):
        return "vanishing"
    first, last = {first_last}
    if first {lt} low * last:
        return "vanishing"
    if first > high * last:
        return "exploding"
    return "healthy"
'''


def _ex2(nan_rule='if not np.all(np.isfinite(norms)):\n        return "exploding"',
         first_last="norms[0], norms[-1]", lt="<", zero_rule="any"):
    return _EX2.format(nan_rule=nan_rule, first_last=first_last, lt=lt, zero_rule=zero_rule)


_EX3 = '''
def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    model.add(keras.layers.Dense(first_width, activation=activation, kernel_initializer=initializer))
    for _ in range({n_more}):
        model.add(keras.layers.Dense({units}, activation=activation, kernel_initializer={init}))
    model.add(keras.layers.Dense(n_classes, activation="{output}"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def _ex3(n_more="depth - 1", units="width", init="initializer", output="softmax"):
    return _EX3.format(n_more=n_more, units=units, init=init, output=output)


def _ex4(activation, initializer):
    return f'FIX_ACTIVATION = "{activation}"\nFIX_INITIALIZER = "{initializer}"\n'


WRONG = {
    # exercise 1: the instrument
    "ex1-output-to-input": ("ex1-kernel-gradient-norms", _ex1(order="[::-1]")),
    "ex1-bias-gradients": (
        "ex1-kernel-gradient-norms",
        _ex1(variables="[layer.bias for layer in model.layers if hasattr(layer, 'bias')]"),
    ),
    "ex1-squared-norms": ("ex1-kernel-gradient-norms", _ex1(norm="float(tf.reduce_sum(grad ** 2))")),
    "ex1-summed-loss": ("ex1-kernel-gradient-norms", _ex1(loss_args='reduction="sum"')),
    # the course's own instrument answers exercise 1: refused while the test calls the function
    "ex1-calls-the-course-instrument": (
        "ex1-kernel-gradient-norms",
        "\ndef kernel_gradient_norms(model, X, y):\n"
        "    return diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))\n",
    ),
    # exercise 2: the rules
    "ex2-no-nan-rule": ("ex2-diagnose-gradients", _ex2(nan_rule="pass")),
    "ex2-ratio-reversed": ("ex2-diagnose-gradients", _ex2(first_last="norms[-1], norms[0]")),
    "ex2-not-strict": ("ex2-diagnose-gradients", _ex2(lt="<=")),
    "ex2-min-over-max": ("ex2-diagnose-gradients", _ex2(first_last="norms.min(), norms.max()")),
    # rule 3 as it read before issue 23 (every norm 0): [0.2, 0.0, 0.0] comes out "exploding", not "vanishing"
    "ex2-zero-rule-needs-every-norm": ("ex2-diagnose-gradients", _ex2(zero_rule="all")),
    # rule 3 read as "every norm 0"; a ZeroDivisionError on [0.2, 0.0, 0.0] (must be a sentence)
    "ex2-divides-by-the-last-norm": ("ex2-diagnose-gradients", '''
import math

def diagnose_gradients(norms, low=1e-2, high=10.0, max_norm=1e3):
    values = [float(v) for v in norms]
    if any(math.isnan(v) or math.isinf(v) for v in values) or max(values) > max_norm:
        return "exploding"
    if all(v == 0 for v in values):
        return "vanishing"
    ratio = values[0] / values[-1]
    if ratio < low:
        return "vanishing"
    return "exploding" if ratio > high else "healthy"
'''),
    # exercise 3: the builder
    "ex3-a-layer-short": ("ex3-build-deep-mlp", _ex3(n_more="depth - 2")),
    "ex3-init-first-layer-only": ("ex3-build-deep-mlp", _ex3(init='"glorot_uniform"')),
    "ex3-no-first-width": ("ex3-build-deep-mlp", _ex3(units="first_width")),
    "ex3-output-activation": ("ex3-build-deep-mlp", _ex3(output="sigmoid")),
    # exercise 4: the fix (the tables in the notebook say why these fail)
    "ex4-only-the-initializer": ("ex4-fix-choice", _ex4("sigmoid", "he_normal")),
    "ex4-relu-he": ("ex4-fix-choice", _ex4("relu", "he_normal")),
    "ex4-misspelled": ("ex4-fix-choice", _ex4("elu", "he-normal")),
}

RIGHT = {
    # Keras 2 habits that still work in Keras 3, with a warning: warnings must not cost points
    "keras2-habits": {
        "ex3-build-deep-mlp": '''
import warnings

def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    warnings.warn("a student's own warning")
    model = keras.Sequential()
    model.add(keras.layers.Dense(first_width, activation=activation, kernel_initializer=initializer,
                                 input_shape=(n_features,)))
    for _ in range(depth - 1):
        model.add(keras.layers.Dense(width, activation=activation, kernel_initializer=initializer))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
    "other-correct": {
        "ex1-kernel-gradient-norms": '''
def kernel_gradient_norms(model, X, y):
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    with tf.GradientTape() as tape:
        probabilities = model(X, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))
    return np.array([np.linalg.norm(g.numpy()) for g in tape.gradient(loss, kernels)])
''',
        "ex2-diagnose-gradients": '''
import math

def diagnose_gradients(norms, low=0.01, high=10.0, max_norm=1000.0):
    values = [float(v) for v in norms]
    if any(math.isnan(v) or math.isinf(v) for v in values) or max(values) > max_norm:
        return "exploding"
    if 0.0 in values:
        return "vanishing"
    if values[0] < low * values[-1]:
        return "vanishing"
    return "exploding" if values[0] > high * values[-1] else "healthy"
''',
        "ex3-build-deep-mlp": '''
def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    inputs = keras.Input(shape=(n_features,))
    h = inputs
    for i in range(depth):
        h = keras.layers.Dense(width if i else first_width, activation=keras.activations.get(activation),
                               kernel_initializer=keras.initializers.get(initializer))(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    return model
''',
        "ex4-fix-choice": _ex4("tanh", "glorot_uniform"),
    },
    # The activation as its own layer after a Dense layer without one, in a Functional model
    "functional-activation-layers": {
        "ex3-build-deep-mlp": '''
def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    inputs = keras.Input(shape=(n_features,))
    h = inputs
    for i in range(depth):
        h = keras.layers.Dense(first_width if i == 0 else width, kernel_initializer=initializer)(h)
        h = keras.layers.Activation(activation)(h)
    logits = keras.layers.Dense(n_classes)(h)
    outputs = keras.layers.Activation("softmax")(logits)
    model = keras.Model(inputs=inputs, outputs=outputs, name="deep_mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
    # Sequential, each Dense layer followed by Activation(activation): Activation("sigmoid") with the defaults
    "sequential-activation-layers": {
        "ex3-build-deep-mlp": '''
def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    layers = [keras.Input(shape=(n_features,))]
    for units in [first_width] + [width] * (depth - 1):
        layers += [keras.layers.Dense(units, kernel_initializer=initializer), keras.layers.Activation(activation)]
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
    # The initializers written as the VarianceScaling they are (glorot_uniform = VarianceScaling(1.0, "fan_avg",
    # "uniform")), and the activation layers ELU() and ReLU() where Keras has one
    "variance-scaling-and-layer-classes": {
        "ex3-build-deep-mlp": '''
SCHEMES = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"), "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"), "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"), "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
LAYER_CLASSES = {"elu": keras.layers.ELU, "relu": keras.layers.ReLU}


def build_deep_mlp(n_features, n_classes, depth=6, first_width=128, width=64,
                   activation="sigmoid", initializer="glorot_uniform"):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for index in range(depth):
        init = keras.initializers.VarianceScaling(*SCHEMES[initializer]) if initializer in SCHEMES else initializer
        if activation in LAYER_CLASSES:
            model.add(keras.layers.Dense(first_width if index == 0 else width, kernel_initializer=init))
            model.add(LAYER_CLASSES[activation]())
        else:
            model.add(keras.layers.Dense(first_width if index == 0 else width, activation=activation,
                                         kernel_initializer=init))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
''',
        "ex4-fix-choice": _ex4("elu", "HeNormal"),
    },
}
