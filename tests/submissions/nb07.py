"""Pretend students for notebook 07 (residual connections and LayerNorm).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "07_residual_connections"
NOTEBOOK = "07_residual_connections.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-residual-block": ["ex1-tests"],
    "ex2-layer-norm": ["ex2-tests"],
    "ex3-deep-residual": ["ex3-tests"],
}

_EX1 = '''
def residual_block(n_features, units):
    inputs = keras.Input(shape=(n_features,))
    normalized = keras.layers.LayerNormalization()(inputs)
    {shortcut}
    branch = keras.layers.Dense(units, activation="relu", kernel_initializer="he_normal")(normalized)
    branch = keras.layers.Dense(units)(branch)
    {output}
    return keras.Model(inputs, outputs)
'''

_PROJECT_WHERE_NEEDED = ("shortcut = inputs if n_features == units else "
                         "keras.layers.Dense(units, use_bias=False)(inputs)")


def _ex1(shortcut=_PROJECT_WHERE_NEEDED, output="outputs = keras.layers.Add()([shortcut, branch])"):
    return _EX1.format(shortcut=shortcut, output=output)


_EX2 = '''
def layer_norm(X, gamma, beta, epsilon=1e-3):
    X = np.asarray(X, dtype=float)
    mean = {mean}
    variance = X.var(axis={axis}, keepdims=True{ddof})
    return {gamma} * (X - mean) / {scale} + {beta}
'''


def _ex2(mean="X.mean(axis=-1, keepdims=True)", axis="-1", ddof="", scale="np.sqrt(variance + epsilon)",
         gamma="gamma", beta="beta"):
    return _EX2.format(mean=mean, axis=axis, ddof=ddof, scale=scale, gamma=gamma, beta=beta)


_EX3 = '''
def build_deep_residual_network(n_features, n_classes, depth=40, width=32):
    inputs = keras.Input(shape=(n_features,))
    h = keras.layers.Dense(width, kernel_initializer="he_normal")(inputs)
    for _ in range({blocks}):
        {block}
    {last}
    outputs = keras.layers.Dense(n_classes, activation="softmax")(h)
    return keras.Model(inputs, outputs)
'''

_PRE_LN_BLOCK = '''branch = keras.layers.LayerNormalization()(h)
        branch = keras.layers.Dense(width, activation="relu", kernel_initializer="he_normal")(branch)
        branch = keras.layers.Dense(width, kernel_initializer="he_normal")(branch)
        h = keras.layers.Add()([h, branch])'''


def _ex3(blocks="(depth - 2) // 2", block=_PRE_LN_BLOCK, last="h = keras.layers.LayerNormalization()(h)"):
    return _EX3.format(blocks=blocks, block=block, last=last)


WRONG = {
    # exercise 1: the block
    "ex1-no-skip": ("ex1-residual-block", _ex1(output="outputs = branch")),
    "ex1-always-projects": ("ex1-residual-block", _ex1(shortcut="shortcut = keras.layers.Dense(units)(inputs)")),
    "ex1-never-projects": ("ex1-residual-block", _ex1(shortcut="shortcut = inputs")),
    "ex1-normalized-shortcut": (  # the skip taken after the LayerNorm: the identity path is no longer the input
        "ex1-residual-block", _ex1(shortcut="shortcut = normalized if n_features == units else "
                                            "keras.layers.Dense(units, use_bias=False)(normalized)")),
    # the course's own block answers the exercise in one line: refused while the test calls the answer
    "ex1-calls-the-course-block": ("ex1-residual-block", '''
def residual_block(n_features, units):
    inputs = keras.Input(shape=(n_features,))
    return keras.Model(inputs, residual.block(inputs, units))
'''),
    # exercise 2: LayerNorm in NumPy
    "ex2-over-the-batch": ("ex2-layer-norm", _ex2(mean="X.mean(axis=0, keepdims=True)", axis="0")),
    "ex2-unbiased-variance": ("ex2-layer-norm", _ex2(ddof=", ddof=1")),
    "ex2-epsilon-outside-sqrt": ("ex2-layer-norm", _ex2(scale="(np.sqrt(variance) + epsilon)")),
    "ex2-gamma-beta-swapped": ("ex2-layer-norm", _ex2(gamma="beta", beta="gamma")),
    # exercise 3: the deep residual network
    "ex3-plain-stack": ("ex3-deep-residual", _ex3(block='''h = keras.layers.Dense(width)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
        h = keras.layers.Dense(width)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))''')),
    "ex3-no-normalization": (  # the residual stream grows block after block: the loss blows up
        "ex3-deep-residual", _ex3(block='''branch = keras.layers.Dense(width, kernel_initializer="he_normal")(h)
        branch = keras.layers.ReLU()(branch)
        branch = keras.layers.Dense(width, kernel_initializer="he_normal")(branch)
        h = keras.layers.Add()([h, branch])''', last="pass")),
    "ex3-always-20-layers": ("ex3-deep-residual", _ex3(blocks="9")),
    # the course's own network answers the exercise in one line: refused while the test calls the builder
    "ex3-calls-the-course-network": ("ex3-deep-residual", '''
def build_deep_residual_network(n_features, n_classes, depth=40, width=32):
    return residual.deep_network(depth, residual=True, norm="layer", width=width, n_features=n_features,
                                 n_classes=n_classes)
'''),
    "ex3-one-long-skip": ("ex3-deep-residual", _ex3(blocks="1", block='''stem = h
        for _ in range(depth - 2):
            h = keras.layers.Dense(width, activation="relu", kernel_initializer="he_normal")(h)
        h = keras.layers.Add()([stem, h])''')),
}

RIGHT = {
    "other-correct": {
        # keras.layers.add, the ReLU as a layer of its own, a projection with a bias, initializers as objects
        "ex1-residual-block": '''
def residual_block(n_features, units):
    x = keras.Input(shape=(n_features,))
    he = keras.initializers.HeNormal()
    f = keras.layers.Dense(units, kernel_initializer=he)(keras.layers.LayerNormalization()(x))
    f = keras.layers.Dense(units)(keras.layers.ReLU()(f))
    skip = keras.layers.Dense(units)(x) if units != n_features else x
    return keras.Model(inputs=x, outputs=keras.layers.add([f, skip]))
''',
        "ex2-layer-norm": '''
def layer_norm(X, gamma, beta, epsilon=1e-3):
    centred = X - np.mean(X, axis=-1)[..., None]
    rms = np.sqrt(np.mean(centred ** 2, axis=-1) + epsilon)[..., None]
    return centred / rms * np.asarray(gamma) + np.asarray(beta)
''',
        # BatchNorm at the start of each branch (section 2's network), the blocks counted from depth
        "ex3-deep-residual": '''
def build_deep_residual_network(n_features, n_classes, depth=40, width=32):
    inputs = keras.Input(shape=(n_features,))
    stream = keras.layers.Dense(width, kernel_initializer="he_normal")(inputs)
    n_blocks = depth // 2 - 1
    for _ in range(n_blocks):
        f = keras.layers.BatchNormalization()(stream)
        f = keras.layers.Dense(width, kernel_initializer="he_normal")(f)
        f = keras.layers.Activation("relu")(f)
        f = keras.layers.Dense(width, kernel_initializer="he_normal")(f)
        stream = keras.layers.add([stream, f])
    stream = keras.layers.BatchNormalization()(stream)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(stream))
''',
    },
}
