"""Pretend students for notebook 03 (activation functions).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "03_activations"
NOTEBOOK = "03_activations.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-activation-and-derivative": ["ex1-tests"],
    "ex2-dead-unit-fraction": ["ex2-tests"],
    "ex3-build-self-normalizing-mlp": ["ex3-tests"],
    "ex4-alive-activation": ["ex4-tests"],
}

_EX1 = '''
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def activation_and_derivative(name, z, alpha=None):
    z = np.asarray(z, dtype=float)
    positive = z > 0
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s, {sigmoid_derivative}
    if name == "tanh":
        t = np.tanh(z)
        return t, 1 - t**2
    if name == "relu":
        return np.where(positive, z, 0.0), np.where({relu_condition}, 1.0, 0.0)
    if name == "leaky_relu":
        slope = {leaky_default} if alpha is None else alpha
        return np.where(positive, z, slope * z), np.where(positive, 1.0, slope)
    exp_left = np.exp(np.minimum(z, 0.0))
    if name == "elu":
        a = 1.0 if alpha is None else alpha
        return np.where(positive, z, a * (exp_left - 1)), {elu_derivative}
    if name == "selu":
        values = {selu_scale} * np.where(positive, z, SELU_ALPHA * (exp_left - 1))
        return values, {selu_scale} * np.where({selu_condition}, 1.0, SELU_ALPHA * exp_left)
    raise ValueError(name)
'''


def _ex1(sigmoid_derivative="s * (1 - s)", relu_condition="positive", leaky_default="0.2",
         elu_derivative="np.where(positive, 1.0, a * exp_left)", selu_scale="SELU_SCALE",
         selu_condition="z >= 0"):
    return _EX1.format(sigmoid_derivative=sigmoid_derivative, relu_condition=relu_condition,
                       leaky_default=leaky_default, elu_derivative=elu_derivative, selu_scale=selu_scale,
                       selu_condition=selu_condition)


_EX2 = '''
def dead_unit_fraction(model, X):
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    hidden = {hidden}
    fractions, h = [], tf.convert_to_tensor(np.asarray(X, dtype=np.float32))
    for layer in {layers}:
        h = layer(h, training=False)
        if any(layer is hidden_layer for hidden_layer in hidden):
            outputs = keras.ops.convert_to_numpy(h)
            fractions.append({fraction})
    return np.array(fractions)
'''


def _ex2(hidden="dense_layers[:-1]", layers="model.layers",
         fraction="np.mean(np.all(outputs == 0, axis=0))"):
    return _EX2.format(hidden=hidden, layers=layers, fraction=fraction)


_EX3 = '''
def build_self_normalizing_mlp(depth, width, n_features, n_classes):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for _ in range({n_hidden}):
        model.add(keras.layers.Dense(width, activation="{activation}",
                                     kernel_initializer="{initializer}")){extra}
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    return model
'''


def _ex3(n_hidden="depth", activation="selu", initializer="lecun_normal", extra=""):
    return _EX3.format(n_hidden=n_hidden, activation=activation, initializer=initializer, extra=extra)


def _ex4(activation):
    return f'ALIVE_ACTIVATION = "{activation}"\n'


WRONG = {
    # exercise 1: activations and derivatives
    "ex1-sigmoid-derivative-plus": ("ex1-activation-and-derivative", _ex1(sigmoid_derivative="s * (1 + s)")),
    "ex1-relu-derivative-1-at-0": ("ex1-activation-and-derivative", _ex1(relu_condition="z >= 0")),
    "ex1-leaky-slope-of-the-layer": ("ex1-activation-and-derivative", _ex1(leaky_default="0.3")),
    "ex1-elu-derivative-exp-everywhere": ("ex1-activation-and-derivative",
                                          _ex1(elu_derivative="a * np.exp(z)")),
    "ex1-selu-without-scale": ("ex1-activation-and-derivative", _ex1(selu_scale="1.0")),
    "ex1-selu-left-slope-at-0": ("ex1-activation-and-derivative", _ex1(selu_condition="positive")),
    # the course's own curve (Keras and the tape) answers exercise 1: refused while the test calls the student's
    "ex1-calls-curve": ("ex1-activation-and-derivative", '''
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def activation_and_derivative(name, z, alpha=None):
    return activations.curve(name, z, alpha)
'''),
    # exercise 2: the dead-unit instrument
    "ex2-per-example": ("ex2-dead-unit-fraction", _ex2(fraction="np.mean(outputs == 0)")),
    "ex2-dead-on-any-example": ("ex2-dead-unit-fraction",
                                _ex2(fraction="np.mean(np.any(outputs == 0, axis=0))")),
    "ex2-output-layer-counted": ("ex2-dead-unit-fraction", _ex2(hidden="dense_layers")),
    "ex2-negative-counts-as-dead": ("ex2-dead-unit-fraction",
                                    _ex2(fraction="np.mean(np.all(outputs <= 0, axis=0))")),
    "ex2-every-layer-is-dense": ("ex2-dead-unit-fraction", _ex2(hidden="model.layers[:-1]")),
    # the course's own instruments answer exercise 2 (right without the lock): refused while the test calls it
    "ex2-calls-activation-stats": ("ex2-dead-unit-fraction", '''
def dead_unit_fraction(model, X):
    stats = diagnostics.activation_stats(model, X)
    dense = [s.dead_fraction for layer, s in zip(model.layers, stats) if isinstance(layer, keras.layers.Dense)]
    return np.array(dense[:-1])
'''),
    "ex2-calls-hidden-dense-stats": ("ex2-dead-unit-fraction", '''
from course.batchnorm import hidden_dense_stats


def dead_unit_fraction(model, X):
    return np.array([stats.dead_fraction for stats in hidden_dense_stats(model, X)])
'''),
    # exercise 3: the self-normalizing network
    "ex3-he-normal": ("ex3-build-self-normalizing-mlp", _ex3(initializer="he_normal")),
    "ex3-glorot-default": ("ex3-build-self-normalizing-mlp", _ex3(initializer="glorot_uniform")),
    "ex3-batch-normalization": ("ex3-build-self-normalizing-mlp",
                                _ex3(extra="\n        model.add(keras.layers.BatchNormalization())")),
    "ex3-a-layer-short": ("ex3-build-self-normalizing-mlp", _ex3(n_hidden="depth - 1")),
    "ex3-elu": ("ex3-build-self-normalizing-mlp", _ex3(activation="elu")),
    # exercise 4: an activation that keeps the network alive (the notebook's table says why these fail)
    "ex4-relu": ("ex4-alive-activation", _ex4("relu")),
    "ex4-relu6": ("ex4-alive-activation", _ex4("relu6")),
    "ex4-hard-sigmoid": ("ex4-alive-activation", _ex4("hard_sigmoid")),
    "ex4-linear": ("ex4-alive-activation", _ex4("linear")),
}

RIGHT = {
    "other-correct": {
        "ex1-activation-and-derivative": '''
SELU_ALPHA = 1.67326324  # the rounded constants of Keras' documentation are close enough
SELU_SCALE = 1.05070098


def _sigmoid(z):
    with np.errstate(over="ignore"):  # exp(-z) may overflow for very negative z: 1/(1+inf) = 0 is right
        s = 1.0 / (1.0 + np.exp(-z))
    return s, s * (1.0 - s)


def _elu(z, a):
    left = np.minimum(z, 0.0)
    values = np.where(z > 0, z, a * np.expm1(left))
    return values, np.where(z > 0, 1.0, a * np.exp(left))


def activation_and_derivative(name, z, alpha=None):
    z = np.array(z, dtype=np.float64)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z), 1.0 / np.cosh(np.clip(z, -300, 300)) ** 2
    if name == "relu":
        return z * (z > 0), np.heaviside(z, 0.0)
    if name == "leaky_relu":
        a = 0.2 if alpha is None else float(alpha)
        return np.maximum(z, 0) + a * np.minimum(z, 0), np.where(z > 0, 1.0, a)
    if name == "elu":
        return _elu(z, 1.0 if alpha is None else float(alpha))
    if name == "selu":
        values, derivatives = _elu(z, SELU_ALPHA)
        derivatives = np.where(z == 0, 1.0, derivatives)
        return SELU_SCALE * values, SELU_SCALE * derivatives
    raise ValueError(f"no activation called {name}")
''',
        "ex2-dead-unit-fraction": '''
def dead_unit_fraction(model, X):
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    probe = keras.Model(model.inputs[0], [layer.output for layer in dense])
    outputs = probe(np.asarray(X, dtype="float32"), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    result = []
    for out in outputs:
        out = np.asarray(out)
        never_fires = (out != 0).sum(axis=0) == 0
        result.append(never_fires.sum() / out.shape[1])
    return np.array(result, dtype=float)
''',
        "ex3-build-self-normalizing-mlp": '''
def build_self_normalizing_mlp(depth, width, n_features, n_classes):
    inputs = keras.Input(shape=(n_features,))
    h = inputs
    for _ in range(depth):
        init = keras.initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")
        h = keras.layers.Dense(width, activation=keras.activations.selu, kernel_initializer=init)(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="nadam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
        "ex4-alive-activation": _ex4("elu"),
    },
    "modern-choices": {
        "ex3-build-self-normalizing-mlp": '''
def build_self_normalizing_mlp(depth, width, n_features, n_classes):
    layers = [keras.Input(shape=(n_features,))]
    layers += [keras.layers.Dense(width, activation="selu",
                                  kernel_initializer=keras.initializers.LecunNormal())
               for _ in range(depth)]
    return keras.Sequential(layers + [keras.layers.Dense(n_classes, activation="softmax")])
''',
        "ex4-alive-activation": _ex4("gelu"),
    },
    # A Functional model; each hidden Dense layer without activation, followed by Activation("selu");
    # LeCun normal written as the VarianceScaling it is
    "functional-activation-layers": {
        "ex3-build-self-normalizing-mlp": '''
def build_self_normalizing_mlp(depth, width, n_features, n_classes):
    inputs = keras.Input(shape=(n_features,))
    h = inputs
    for _ in range(depth):
        lecun = keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")
        h = keras.layers.Dense(width, kernel_initializer=lecun)(h)
        h = keras.layers.Activation("selu")(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    return keras.Model(inputs, outputs)
''',
        "ex4-alive-activation": _ex4("selu"),
    },
    # SiLU under its other Keras name: the exercise's answer is any activation that trains, found by measuring
    "swish": {
        "ex4-alive-activation": _ex4("swish"),
    },
}
