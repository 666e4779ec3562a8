"""Pretend students for notebook 04 (Batch Normalization).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "04_batch_normalization"
NOTEBOOK = "04_batch_normalization.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-bn-train-step": ["ex1-tests"],
    "ex2-bn-inference": ["ex2-tests"],
    "ex3-build-bn-model": ["ex3-tests"],
    "ex4-bn-before-activation": ["ex4-tests"],
}

_EX1 = '''
def bn_train_step(X, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3):
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    variance = X.var(axis=0{ddof})
    Y = gamma * (X - {center}) / {scale} + beta
    new_moving_mean = {keep} * moving_mean + {new} * mean
    new_moving_variance = {keep} * moving_variance + {new} * {moving_batch_variance}
    return Y, new_moving_mean, new_moving_variance
'''


def _ex1(ddof="", center="mean", scale="np.sqrt(variance + epsilon)", keep="momentum", new="(1 - momentum)",
         moving_batch_variance="variance"):
    return _EX1.format(ddof=ddof, center=center, scale=scale, keep=keep, new=new,
                       moving_batch_variance=moving_batch_variance)


_EX2 = '''
def bn_inference(X, gamma, beta, moving_mean, moving_variance, epsilon=1e-3):
    X = np.asarray(X, dtype=float)
    {statistics}
    return {gamma} * (X - mean) / {scale} + {beta}
'''


def _ex2(statistics="mean, variance = moving_mean, moving_variance", scale="np.sqrt(variance + epsilon)",
         gamma="gamma", beta="beta"):
    return _EX2.format(statistics=statistics, scale=scale, gamma=gamma, beta=beta)


_EX3 = '''
def build_bn_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten()])
    {input_bn}
    for index in range({n_hidden}):
        model.add(keras.layers.Dense(units, activation="{activation}", kernel_initializer="{initializer}"))
        if {bn_condition}:
            model.add(keras.layers.BatchNormalization())
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def _ex3(input_bn="model.add(keras.layers.BatchNormalization())", n_hidden="n_hidden", activation="elu",
         initializer="he_normal", bn_condition="index < n_hidden - 1"):
    return _EX3.format(input_bn=input_bn, n_hidden=n_hidden, activation=activation, initializer=initializer,
                       bn_condition=bn_condition)


_EX4 = '''
def build_bn_before_activation_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten()])
    {input_bn}
    for index in range(n_hidden):
        {hidden}
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

_BEFORE = '''model.add(keras.layers.Dense(units, use_bias={use_bias}, kernel_initializer="he_normal"))
        model.add(keras.layers.BatchNormalization())
        model.add(keras.layers.Activation("{activation}"))'''


def _ex4(input_bn="model.add(keras.layers.BatchNormalization())", hidden=None, use_bias="False",
         activation="elu"):
    hidden = hidden or _BEFORE.format(use_bias=use_bias, activation=activation)
    return _EX4.format(input_bn=input_bn, hidden=hidden)


WRONG = {
    # exercise 1: the training pass and the update
    "ex1-momentum-reversed": ("ex1-bn-train-step", _ex1(keep="(1 - momentum)", new="momentum")),
    "ex1-unbiased-variance": ("ex1-bn-train-step", _ex1(ddof=", ddof=1")),
    "ex1-epsilon-outside-sqrt": ("ex1-bn-train-step", _ex1(scale="(np.sqrt(variance) + epsilon)")),
    "ex1-pytorch-running-variance": (  # biased to normalize, unbiased in the running estimate
        "ex1-bn-train-step", _ex1(moving_batch_variance="X.var(axis=0, ddof=1)")),
    "ex1-moving-statistics-in-training": (
        "ex1-bn-train-step", _ex1(center="moving_mean", scale="np.sqrt(moving_variance + epsilon)")),
    # exercise 2: the inference pass
    "ex2-batch-statistics": (
        "ex2-bn-inference", _ex2(statistics="mean, variance = X.mean(axis=0), X.var(axis=0)")),
    "ex2-epsilon-outside-sqrt": ("ex2-bn-inference", _ex2(scale="(np.sqrt(variance) + epsilon)")),
    "ex2-no-square-root": ("ex2-bn-inference", _ex2(scale="(variance + epsilon)")),
    "ex2-gamma-beta-swapped": ("ex2-bn-inference", _ex2(gamma="beta", beta="gamma")),
    # exercise 3: the original model
    "ex3-no-input-bn": ("ex3-build-bn-model", _ex3(input_bn="pass")),
    "ex3-bn-after-last-hidden": ("ex3-build-bn-model", _ex3(bn_condition="True")),
    "ex3-relu": ("ex3-build-bn-model", _ex3(activation="relu")),
    "ex3-glorot": ("ex3-build-bn-model", _ex3(initializer="glorot_uniform")),
    "ex3-always-three-layers": ("ex3-build-bn-model", _ex3(n_hidden="3")),
    # the activation as a layer of its own counts like a built-in one: the wrong one is still wrong
    "ex3-relu-layer": ("ex3-build-bn-model", _ex3(activation="linear").replace(
        '"linear", kernel_initializer="he_normal"))',
        '"linear", kernel_initializer="he_normal"))\n        model.add(keras.layers.ReLU())')),
    # exercise 4: BN before the activation
    "ex4-with-bias": ("ex4-bn-before-activation", _ex4(use_bias="True")),
    "ex4-bn-after-activation": ("ex4-bn-before-activation", _ex4(hidden='''model.add(keras.layers.Dense(
            units, activation="elu", use_bias=False, kernel_initializer="he_normal"))
        model.add(keras.layers.BatchNormalization())''')),
    "ex4-no-input-bn": ("ex4-bn-before-activation", _ex4(input_bn="pass")),
    "ex4-relu": ("ex4-bn-before-activation", _ex4(activation="relu")),
}

RIGHT = {
    "other-correct": {
        "ex1-bn-train-step": '''
def bn_train_step(X, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3):
    m = X.shape[0]
    mu = np.sum(X, axis=0) / m
    centred = X - mu
    var = np.sum(centred ** 2, axis=0) / m
    x_hat = centred / np.sqrt(var + epsilon)
    moving_mean = moving_mean + (1.0 - momentum) * (mu - moving_mean)   # the same average, written as a step
    moving_variance = moving_variance + (1.0 - momentum) * (var - moving_variance)
    return gamma * x_hat + beta, moving_mean, moving_variance
''',
        "ex2-bn-inference": '''
def bn_inference(X, gamma, beta, moving_mean, moving_variance, epsilon=1e-3):
    scale = gamma / np.sqrt(moving_variance + epsilon)  # one multiply-add, as deployed models fold it
    shift = beta - moving_mean * scale
    return np.asarray(X) * scale + shift
''',
        "ex3-build-bn-model": '''
def build_bn_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    inputs = keras.Input(shape=input_shape)
    h = keras.layers.BatchNormalization()(keras.layers.Flatten()(inputs))
    for i in range(n_hidden):
        h = keras.layers.Dense(units, activation=keras.activations.elu,
                               kernel_initializer=keras.initializers.HeNormal())(h)
        if i != n_hidden - 1:
            h = keras.layers.BatchNormalization()(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    return model
''',
        "ex4-bn-before-activation": '''
def build_bn_before_activation_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    layers = [keras.layers.Flatten(input_shape=input_shape), keras.layers.BatchNormalization()]
    for _ in range(n_hidden):
        layers += [keras.layers.Dense(units, kernel_initializer="he_normal", use_bias=False),
                   keras.layers.BatchNormalization(),
                   keras.layers.Activation(keras.activations.elu)]
    model = keras.Sequential(layers + [keras.layers.Dense(n_classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
    # He initialization as notebook 02 teaches it (VarianceScaling), and ELU as a layer after a linear Dense.
    "variance-scaling-and-activation-layer": {
        "ex3-build-bn-model": '''
def build_bn_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    he = keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal")
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                              keras.layers.BatchNormalization()])
    for index in range(n_hidden):
        model.add(keras.layers.Dense(units, kernel_initializer=he))
        model.add(keras.layers.Activation("elu"))
        if index < n_hidden - 1:
            model.add(keras.layers.BatchNormalization())
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
        "ex4-bn-before-activation": '''
def build_bn_before_activation_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                              keras.layers.BatchNormalization()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(units, use_bias=False, kernel_initializer=keras.initializers.HeNormal()))
        model.add(keras.layers.BatchNormalization())
        model.add(keras.layers.ELU())
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
    # Functional models with the ELU layer class after each linear Dense layer.
    "functional-elu-layers": {
        "ex3-build-bn-model": '''
def build_bn_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.BatchNormalization()(keras.layers.Flatten()(inputs))
    for index in range(n_hidden):
        x = keras.layers.ELU()(keras.layers.Dense(units, kernel_initializer="he_normal")(x))
        if index < n_hidden - 1:
            x = keras.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
        "ex4-bn-before-activation": '''
def build_bn_before_activation_model(input_shape=(28, 28), n_hidden=3, units=50, n_classes=10):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.BatchNormalization()(keras.layers.Flatten()(inputs))
    for _ in range(n_hidden):
        x = keras.layers.Dense(units, use_bias=False,
                               kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_in",
                                                                                     "truncated_normal"))(x)
        x = keras.layers.ELU()(keras.layers.BatchNormalization()(x))
    model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''',
    },
}
