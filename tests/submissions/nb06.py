"""Pretend students for notebook 06 (the capstone: make this network train).

``WRONG``: plausible wrong solutions, each replacing one solution cell; each must lose all the points of its
exercise's test cells.  ``RIGHT``: differently written correct solutions; full marks.

Exercise 3 is graded in tiers (four test cells for one solution cell), so partial repairs earn partial points.
``PARTIAL`` holds them (name -> (solution cell, source)) and ``TIERS`` the points each must get in each test cell
of its exercise (name -> {test cell: points}); every other test cell must keep full marks.  The measured numbers
behind each entry are in the notebook's summary table (and in the comments here).
"""

ASSIGNMENT = "06_capstone"
NOTEBOOK = "06_capstone.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-health-report": ["ex1-tests"],
    "ex3-build-fixed-model": ["ex3-tier1", "ex3-tier2", "ex3-tier3", "ex3-ratio"],
}

_EX1 = '''
def health_report(model, X, y):
    {gradients}
    hidden = diagnostics.activation_stats(model, X){layers}
    return {{
        "gradient_ratio": {ratio},
        "largest_gradient": float(np.max(kernels)),
        "saturated": {reduce}(stats.saturated_fraction for stats in hidden),
        "dead": {reduce}(stats.dead_fraction for stats in hidden),
    }}
'''
_KERNELS = "kernels = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))"
_INFERENCE_MODE = '''variables = [v for v in model.trainable_variables if v.path.endswith("/kernel")]
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y, model(X, training=False))
    kernels = np.array([float(tf.norm(g)) for g in tape.gradient(loss, variables)])'''


def _ex1(gradients=_KERNELS, layers="[:-1]", ratio="diagnostics.first_last_ratio(kernels)", reduce="max"):
    return _EX1.format(gradients=gradients, layers=layers, ratio=ratio, reduce=reduce)


_MEAN = "(lambda values: float(np.mean(list(values))))"

# A builder: `depth` blocks of Dense + optional BatchNormalization + activation, then softmax; SGD(0.1, 0.9).
_EX3 = '''
def build_fixed_model(n_features, n_classes):
    layers = [keras.Input(shape=(n_features,))]
    for _ in range({depth}):
        layers += {block}
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    model = keras.Sequential(layers)
    {compile}
    return model
'''
_BN_BLOCK = ('[keras.layers.Dense({width}, kernel_initializer={init}), '
             'keras.layers.BatchNormalization({bn_args}), keras.layers.Activation("{activation}")]')
_PLAIN_BLOCK = '[keras.layers.Dense({width}, activation="{activation}", kernel_initializer={init})]'
_COMPILE = ('model.compile(optimizer=keras.optimizers.{optimizer}, loss="sparse_categorical_crossentropy", '
            'metrics=["accuracy"])')


def _ex3(activation="elu", init='"he_normal"', bn=True, bn_args="momentum=0.9", width=32, depth=20,
         optimizer="SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0)", compile_=True):
    block = (_BN_BLOCK if bn else _PLAIN_BLOCK).format(width=width, init=init, bn_args=bn_args,
                                                       activation=activation)
    compile_line = _COMPILE.format(optimizer=optimizer) if compile_ else "pass  # (forgot to compile)"
    return _EX3.format(depth=depth, block=block, compile=compile_line)


WRONG = {
    # exercise 1: the instrument panel
    "ex1-ratio-inverted": ("ex1-health-report",
                           _ex1(ratio="diagnostics.first_last_ratio(kernels[::-1])")),
    "ex1-mean-over-layers": ("ex1-health-report", _ex1(reduce=_MEAN)),
    "ex1-biases-in-the-ratio": (
        "ex1-health-report",
        _ex1(gradients="all_norms = np.array(list(diagnostics.gradient_norms(model, X, y).values()))\n"
                       "    kernels = diagnostics.kernel_norms(diagnostics.gradient_norms(model, X, y))",
             ratio="diagnostics.first_last_ratio(all_norms)"),
    ),
    "ex1-inference-mode-gradients": ("ex1-health-report", _ex1(gradients=_INFERENCE_MODE)),
    # exercise 3: repairs that lose every tier
    "ex3-broken-resubmitted": ("ex3-build-fixed-model", '''
def build_fixed_model(n_features, n_classes):
    return capstone.broken_model(n_features, n_classes)
'''),
    "ex3-too-shallow": ("ex3-build-fixed-model", _ex3(depth=10)),
    "ex3-adam-instead": ("ex3-build-fixed-model", _ex3(optimizer="Adam(learning_rate=0.001)")),
    "ex3-not-compiled": ("ex3-build-fixed-model", _ex3(compile_=False)),
    # Shortcuts and rule breaks (issue 13). The course's own explorer_model builds the repaired shape: refused
    # while the grader runs the builder (without the lock it would earn tiers 1 and 2 and the ratio).
    "ex3-calls-the-explorer-model": ("ex3-build-fixed-model", '''
def build_fixed_model(n_features, n_classes):
    model = capstone_experiments.explorer_model("elu", "he_normal", batch_norm=True, n_features=n_features,
                                                n_classes=n_classes)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''),
    # The broken network trained on all 1,797 digits (the grader's test images included) inside the builder,
    # then compiled with a fresh SGD (its optimizer has made no step). Trained on as it was returned, it starts
    # from weights that already read the digits (with 30 epochs of this: test accuracy 0.86 on the notebook's
    # split, seed 42; 10 here keep the suite fast); the grader trains a fresh copy instead
    # (keras.models.clone_model), which is the broken network again: every tier lost.
    "ex3-pretrained-in-the-builder": ("ex3-build-fixed-model", '''
def build_fixed_model(n_features, n_classes):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    model = capstone.broken_model(n_features, n_classes)
    X, y = load_digits(return_X_y=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
    model.fit(StandardScaler().fit_transform(X).astype("float32"), y, epochs=10, batch_size=64, verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''),
    # The reference repair with an optimizer the budget does not allow: Nesterov momentum, weight decay.
    "ex3-nesterov": ("ex3-build-fixed-model",
                     _ex3(optimizer="SGD(learning_rate=0.1, momentum=0.9, nesterov=True, global_clipnorm=1.0)")),
    "ex3-weight-decay": ("ex3-build-fixed-model",
                         _ex3(optimizer="SGD(learning_rate=0.1, momentum=0.9, weight_decay=1e-4, "
                                        "global_clipnorm=1.0)")),
}

RIGHT = {
    "another-repair": {
        # SELU with LeCun initialization (self-normalizing, no BatchNormalization) and global clipping,
        # written as a comprehension; a panel written without the diagnostics' helpers for the ratio.
        "ex3-build-fixed-model": '''
def build_fixed_model(n_features, n_classes):
    hidden = [keras.layers.Dense(32, activation="selu", kernel_initializer="lecun_normal") for _ in range(20)]
    model = keras.Sequential([keras.Input(shape=(n_features,)), *hidden,
                              keras.layers.Dense(n_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    return model
''',
        "ex1-health-report": '''
def health_report(model, X, y):
    norms = diagnostics.gradient_norms(model, X, y)
    kernels = [value for path, value in norms.items() if path.endswith("kernel")]
    stats = diagnostics.activation_stats(model, X)
    hidden = stats[:len(stats) - 1]
    return dict(gradient_ratio=diagnostics.first_last_ratio(kernels), largest_gradient=max(kernels),
                saturated=float(np.max([s.saturated_fraction for s in hidden])),
                dead=float(np.max([s.dead_fraction for s in hidden])))
''',
    },
}

# Partial repairs of exercise 3 and the points each earns in each of its test cells (measured on the grader's
# seeds; the notebook's summary table gives each one's range over 12 other seeds).
PARTIAL = {
    # ELU + He without clipping or BN: a healthy start, but the learning rate blows it up (NaN in every run).
    "only-activation-and-init": ("ex3-build-fixed-model",
                                 _ex3(bn=False, optimizer="SGD(learning_rate=0.1, momentum=0.9)")),
    # sigmoid + Glorot + BN with Keras' default momentum 0.99, clipped: the training loss falls, but after 110
    # steps the moving statistics are stale: inference-mode accuracy near chance.
    "stale-batch-norm": ("ex3-build-fixed-model", _ex3(activation="sigmoid", init='"glorot_uniform"', bn_args="")),
    # the reference repair with BN's default momentum: beats the baseline, misses the target.
    "default-momentum": ("ex3-build-fixed-model", _ex3(bn_args="")),
    # BN + clipping but the broken N(0, 1) weights and sigmoid kept: BN makes it train, but its start is unhealthy.
    "kept-the-bad-weights": ("ex3-build-fixed-model",
                             _ex3(activation="sigmoid", init="keras.initializers.RandomNormal(stddev=1.0)")),
}
TIERS = {
    "only-activation-and-init": {"ex3-tier1": 0, "ex3-tier2": 0, "ex3-tier3": 0, "ex3-ratio": 2},
    "stale-batch-norm": {"ex3-tier1": 3, "ex3-tier2": 0, "ex3-tier3": 0, "ex3-ratio": 2},
    "default-momentum": {"ex3-tier1": 3, "ex3-tier2": 3, "ex3-tier3": 0, "ex3-ratio": 2},
    "kept-the-bad-weights": {"ex3-tier1": 3, "ex3-tier2": 3, "ex3-tier3": 4, "ex3-ratio": 0},
}
