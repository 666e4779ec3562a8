"""Pretend students for notebook 02 (weight initialization).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "02_initialization"
NOTEBOOK = "02_initialization.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-fan-in-fan-out": ["ex1-tests"],
    "ex2-init-std": ["ex2-tests"],
    "ex3-my-he-normal": ["ex3-tests"],
    "ex4-build-leaky-he-mlp": ["ex4-tests"],
}

_EX1 = '''
def fan_in_fan_out(shape):
    shape = tuple(shape)
    if len(shape) == 1:
        return {one_d}
    receptive_field = {receptive_field}
    return {result}
'''


def _ex1(one_d="shape[0], shape[0]", receptive_field="int(np.prod(shape[:-2]))",
         result="shape[-2] * receptive_field, shape[-1] * receptive_field"):
    return _EX1.format(one_d=one_d, receptive_field=receptive_field, result=result)


_EX2 = '''
def init_variance(scheme, fan_in, fan_out):
    variances = {{"lecun": 1 / fan_in, "glorot": {glorot}, "he": {he}}}
    return {variance}


def init_std_or_limit(scheme, fan_in, fan_out, distribution):
    v = init_variance(scheme, fan_in, fan_out)
    if distribution == "untruncated_normal":
        return np.sqrt(v)
    if distribution == "truncated_normal":
        return {truncated}
    return {uniform}
'''


def _ex2(glorot="2 / (fan_in + fan_out)", he="2 / fan_in", variance="variances[scheme]",
         truncated="np.sqrt(v) / 0.87962566103423978", uniform="np.sqrt(3 * v)"):
    return _EX2.format(glorot=glorot, he=he, variance=variance, truncated=truncated, uniform=uniform)


_EX3 = '''
def my_he_normal(shape, seed=None):
    shape = tuple(shape)
    fan_in = int(np.prod({fan_axes}))
    sigma = np.sqrt(2.0 / fan_in){correction}
    rng = np.random.default_rng(seed)
    {draw}
    return w.astype({dtype})
'''
_REDRAW = '''w = rng.normal(0.0, sigma, size=shape)
    outside = np.abs(w) > 2 * sigma
    while outside.any():
        w[outside] = rng.normal(0.0, sigma, size=int(outside.sum()))
        outside = np.abs(w) > 2 * sigma'''


def _ex3(fan_axes="shape[:-1]", correction=" / 0.87962566103423978", draw=_REDRAW, dtype="np.float32"):
    return _EX3.format(fan_axes=fan_axes, correction=correction, draw=draw, dtype=dtype)


_EX4 = '''
def build_leaky_he_mlp(n_features, n_classes, depth=6, first_width=128, width=64, negative_slope=0.2):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for index in range({n_blocks}):
        model.add(keras.layers.Dense({units}, kernel_initializer="{init}"{dense_activation}))
        model.add(keras.layers.LeakyReLU({slope}))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def _ex4(n_blocks="depth", units="first_width if index == 0 else width", init="he_normal",
         dense_activation="", slope="negative_slope=negative_slope"):
    return _EX4.format(n_blocks=n_blocks, units=units, init=init, dense_activation=dense_activation,
                       slope=slope)


WRONG = {
    # exercise 1: the fans
    "ex1-fans-swapped": ("ex1-fan-in-fan-out",
                         _ex1(result="shape[-1] * receptive_field, shape[-2] * receptive_field")),
    "ex1-receptive-field-ignored": ("ex1-fan-in-fan-out", _ex1(receptive_field="1")),
    "ex1-conv2d-window-only": ("ex1-fan-in-fan-out",
                               _ex1(receptive_field="shape[0] * shape[1] if len(shape) > 2 else 1")),
    "ex1-fan-out-without-window": ("ex1-fan-in-fan-out",
                                   _ex1(result="shape[-2] * receptive_field, shape[-1]")),
    "ex1-no-1d-case": ("ex1-fan-in-fan-out", _ex1(one_d="1, shape[0]")),
    # exercise 2: the variances and the sampler's numbers
    "ex2-glorot-fan-in-only": ("ex2-init-std", _ex2(glorot="1 / fan_in")),
    "ex2-he-fans-swapped": ("ex2-init-std", _ex2(he="2 / fan_out")),
    "ex2-std-not-variance": ("ex2-init-std", _ex2(variance="np.sqrt(variances[scheme])")),
    "ex2-no-truncation-correction": ("ex2-init-std", _ex2(truncated="np.sqrt(v)")),
    "ex2-correction-multiplied": ("ex2-init-std", _ex2(truncated="np.sqrt(v) * 0.87962566103423978")),
    "ex2-uniform-limit-without-3": ("ex2-init-std", _ex2(uniform="np.sqrt(v)")),
    # exercise 3: He-normal in NumPy
    "ex3-no-truncation-correction": ("ex3-my-he-normal", _ex3(correction="")),
    "ex3-clipped-not-redrawn": (
        "ex3-my-he-normal",
        _ex3(draw="w = np.clip(rng.normal(0.0, sigma, size=shape), -2 * sigma, 2 * sigma)")),
    "ex3-untruncated": (
        "ex3-my-he-normal", _ex3(correction="", draw="w = rng.normal(0.0, sigma, size=shape)")),
    "ex3-uniform-same-variance": (
        "ex3-my-he-normal",
        _ex3(correction="", draw="w = rng.uniform(-np.sqrt(3) * sigma, np.sqrt(3) * sigma, size=shape)")),
    "ex3-fan-out": ("ex3-my-he-normal", _ex3(fan_axes="shape[:-2] + shape[-1:]")),
    "ex3-float64": ("ex3-my-he-normal", _ex3(dtype="np.float64")),
    # exercise 4: the LeakyReLU + He network
    "ex4-slope-default-0.3": ("ex4-build-leaky-he-mlp", _ex4(slope="")),
    "ex4-glorot-normal": ("ex4-build-leaky-he-mlp", _ex4(init="glorot_normal")),
    "ex4-a-layer-short": ("ex4-build-leaky-he-mlp", _ex4(n_blocks="depth - 1")),
    "ex4-no-first-width": ("ex4-build-leaky-he-mlp", _ex4(units="width")),
    "ex4-relu-and-leaky": ("ex4-build-leaky-he-mlp", _ex4(dense_activation=', activation="relu"')),
    # compiled without metrics=["accuracy"]: model.evaluate returns the loss only (a sentence, not a TypeError)
    "ex4-no-accuracy-metric": ("ex4-build-leaky-he-mlp", _ex4().replace(', metrics=["accuracy"]', "")),
    # LeakyReLU inside the Dense layer: the same function, but the text asks for its own layer (and says so)
    "ex4-leaky-inside-dense": ("ex4-build-leaky-he-mlp", '''
def build_leaky_he_mlp(n_features, n_classes, depth=6, first_width=128, width=64, negative_slope=0.2):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for index in range(depth):
        model.add(keras.layers.Dense(first_width if index == 0 else width, kernel_initializer="he_normal",
                                     activation=keras.layers.LeakyReLU(negative_slope=negative_slope)))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''),
}

RIGHT = {
    "other-correct": {
        "ex1-fan-in-fan-out": '''
import math

def fan_in_fan_out(shape):
    *window, n_in, n_out = (shape[0],) + tuple(shape) if len(shape) == 1 else tuple(shape)
    size = math.prod(window)
    return n_in * size, n_out * size
''',
        "ex2-init-std": '''
import math

SCHEMES = {"lecun": (1.0, "fan_in"), "glorot": (1.0, "fan_avg"), "he": (2.0, "fan_in")}

def init_variance(scheme, fan_in, fan_out):
    scale, mode = SCHEMES[scheme]
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / n

def init_std_or_limit(scheme, fan_in, fan_out, distribution):
    factor = {"untruncated_normal": 1.0, "truncated_normal": 1 / 0.87962566103423978, "uniform": math.sqrt(3)}
    return factor[distribution] * math.sqrt(init_variance(scheme, fan_in, fan_out))
''',
        "ex3-my-he-normal": '''
from scipy.stats import truncnorm

def my_he_normal(shape, seed=None):
    sigma = (2 / np.prod(shape[:-1])) ** 0.5 / 0.87962566103423978
    draws = truncnorm.rvs(-2, 2, scale=sigma, size=tuple(shape), random_state=np.random.default_rng(seed))
    return np.asarray(draws, dtype="float32")
''',
        # the functional API, initializer objects, and the Keras 2 name `alpha` (it warns: no points lost)
        "ex4-build-leaky-he-mlp": '''
def build_leaky_he_mlp(n_features, n_classes, depth=6, first_width=128, width=64, negative_slope=0.2):
    inputs = keras.Input(shape=(n_features,))
    h = inputs
    for i in range(depth):
        he = keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")
        h = keras.layers.Dense(width if i else first_width, kernel_initializer=he)(h)
        h = keras.layers.LeakyReLU(alpha=negative_slope)(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model
''',
    },
    "numpy-style": {
        "ex1-fan-in-fan-out": '''
def fan_in_fan_out(shape):
    dims = np.array(shape, dtype=np.int64)
    if dims.size == 1:
        return int(dims[0]), int(dims[0])
    window = int(np.prod(dims[:-2])) if dims.size > 2 else 1
    return int(dims[-2] * window), int(dims[-1] * window)
''',
        "ex3-my-he-normal": '''
def my_he_normal(shape, seed=None):
    rng = np.random.default_rng(seed)
    fan_in = 1
    for size in tuple(shape)[:-1]:
        fan_in *= size
    sigma = np.sqrt(2 / fan_in) / 0.87962566103423978
    n = int(np.prod(shape))
    kept = np.empty(0)
    while kept.size < n:  # draw in bulk, keep what lies within 2 sigma
        draws = rng.normal(0.0, sigma, size=2 * n)
        kept = np.concatenate([kept, draws[np.abs(draws) <= 2 * sigma]])
    return kept[:n].reshape(shape).astype(np.float32)
''',
        # Sequential, He-normal as a class instance, the accuracy metric under its full name
        "ex4-build-leaky-he-mlp": '''
def build_leaky_he_mlp(n_features, n_classes, depth=6, first_width=128, width=64, negative_slope=0.2):
    layers = [keras.Input(shape=(n_features,))]
    for units in [first_width] + [width] * (depth - 1):
        layers += [keras.layers.Dense(units, kernel_initializer=keras.initializers.HeNormal()),
                   keras.layers.LeakyReLU(negative_slope=negative_slope)]
    model = keras.Sequential(layers + [keras.layers.Dense(n_classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    return model
''',
    },
}
