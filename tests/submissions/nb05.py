"""Pretend students for notebook 05 (gradient clipping).

``WRONG``: one plausible wrong solution per entry, replacing one solution cell; it must lose
exactly the points of that exercise.  ``RIGHT``: differently written correct solutions; they
must get full marks.
"""

ASSIGNMENT = "05_gradient_clipping"
NOTEBOOK = "05_gradient_clipping.ipynb"

# solution cell -> the test cells whose points it owns
EXERCISES = {
    "ex1-clip-value-norm": ["ex1-tests"],
    "ex2-clip-global-norm": ["ex2-tests"],
    "ex3-make-optimizer": ["ex3-tests"],
    "ex4-rescue-choice": ["ex4-tests"],
}

_EX1 = '''
def clip_by_value(gradient, threshold):
    gradient = np.asarray(gradient, dtype={dtype})
    return {value}


def clip_by_norm(gradient, threshold):
    gradient = np.asarray(gradient, dtype={dtype})
    norm = {norm}
    return {scaled}
'''


def _ex1(value="np.clip(gradient, -threshold, threshold)", norm="np.sqrt(np.sum(gradient ** 2))",
         scaled="gradient * threshold / max(norm, threshold)", dtype="float"):
    return _EX1.format(value=value, norm=norm, scaled=scaled, dtype=dtype)


_EX2 = '''
def clip_by_global_norm(gradients, threshold):
    gradients = [np.asarray(g, dtype={dtype}) for g in gradients]
    global_norm = {norm}
    {clip}
    return clipped, {returned_norm}
'''


def _ex2(norm="float(np.sqrt(sum(np.sum(g ** 2) for g in gradients)))",
         clip="clipped = [g * threshold / max(global_norm, threshold) for g in gradients]",
         returned_norm="global_norm", dtype="float"):
    return _EX2.format(norm=norm, clip=clip, returned_norm=returned_norm, dtype=dtype)


_EX3 = '''
def make_optimizer(kind, threshold, learning_rate=0.01):
    options = {{"value": "clipvalue", "norm": "clipnorm", "global": "{global_option}"}}
    if kind not in options:
        {unknown}
    return {build}
'''


def _ex3(global_option="global_clipnorm", unknown='raise ValueError(f"unknown kind {kind!r}")',
         build="keras.optimizers.SGD(learning_rate=learning_rate, **{options[kind]: threshold})"):
    return _EX3.format(global_option=global_option, unknown=unknown, build=build)


def _ex4(option, threshold):
    return f'CLIP_OPTION = "{option}"\nCLIP_THRESHOLD = {threshold}\n'


WRONG = {
    # exercise 1: clipping one array
    "ex1-one-sided-value": ("ex1-clip-value-norm", _ex1(value="np.minimum(gradient, threshold)")),
    "ex1-squared-norm": ("ex1-clip-value-norm", _ex1(norm="np.sum(gradient ** 2)")),
    "ex1-nan-on-zero": ("ex1-clip-value-norm", _ex1(scaled="gradient / norm * min(norm, threshold)")),
    # scales by threshold / (norm + eps): at a norm equal to the threshold TF returns the gradient unchanged
    "ex1-epsilon-in-norm": ("ex1-clip-value-norm",
                            _ex1(scaled="gradient * min(1.0, threshold / (norm + 1e-7))")),
    # ord=2 is the L2 norm of a vector, but the spectral norm of a matrix (and an error for 3-D arrays)
    "ex1-matrix-2-norm": ("ex1-clip-value-norm", _ex1(norm="np.linalg.norm(gradient, 2)")),
    # The same mistakes in float32 (compared at float32 precision): still caught. The epsilon is invisible at
    # float32 precision next to a norm of 5, so the small thresholds of the hidden tests are what catch it.
    "ex1-float32-epsilon-in-norm": ("ex1-clip-value-norm",
                                    _ex1(scaled="gradient * min(1.0, threshold / (norm + 1e-7))", dtype="np.float32")),
    "ex1-float32-one-sided-value": ("ex1-clip-value-norm",
                                    _ex1(value="np.minimum(gradient, threshold)", dtype="np.float32")),
    # exercise 2: clipping a list by its global norm
    "ex2-each-by-own-norm": (
        "ex2-clip-global-norm",
        _ex2(clip="clipped = [g * threshold / max(np.sqrt(np.sum(g ** 2)), threshold) for g in gradients]"),
    ),
    "ex2-norm-after-clipping": ("ex2-clip-global-norm", _ex2(returned_norm="min(global_norm, threshold)")),
    "ex2-sum-of-norms": ("ex2-clip-global-norm",
                         _ex2(norm="float(sum(np.sqrt(np.sum(g ** 2)) for g in gradients))")),
    "ex2-zero-division": ("ex2-clip-global-norm",
                          _ex2(clip="clipped = [g * min(1.0, threshold / global_norm) for g in gradients]")),
    "ex2-float32-each-by-own-norm": (
        "ex2-clip-global-norm",
        _ex2(clip="clipped = [g * threshold / max(np.sqrt(np.sum(g ** 2)), threshold) for g in gradients]",
             dtype="np.float32"),
    ),
    "ex2-one-flat-array": (
        "ex2-clip-global-norm",
        _ex2(clip="clipped = np.concatenate([g.ravel() for g in gradients]) * threshold / "
                  "max(global_norm, threshold)"),
    ),
    # exercise 3: the optimizer factory
    "ex3-clipnorm-for-global": ("ex3-make-optimizer", _ex3(global_option="clipnorm")),
    "ex3-zeros-not-none": (
        "ex3-make-optimizer",
        _ex3(build="keras.optimizers.SGD(learning_rate=learning_rate, "
                   "**{name: threshold if name == options[kind] else 0.0 for name in options.values()})"),
    ),
    "ex3-learning-rate-ignored": ("ex3-make-optimizer",
                                  _ex3(build="keras.optimizers.SGD(**{options[kind]: threshold})")),
    "ex3-unknown-kind-accepted": ("ex3-make-optimizer",
                                  _ex3(unknown="return keras.optimizers.SGD(learning_rate=learning_rate)")),
    "ex3-global-always-on": (
        "ex3-make-optimizer",
        _ex3(build="keras.optimizers.SGD(learning_rate=learning_rate, global_clipnorm=threshold, "
                   "**({} if kind == 'global' else {options[kind]: threshold}))"),
    ),
    # exercise 4: the rescue (the notebook's table says why these fail)
    "ex4-the-book-line": ("ex4-rescue-choice", _ex4("clipvalue", 1.0)),
    "ex4-threshold-too-large": ("ex4-rescue-choice", _ex4("global_clipnorm", 20.0)),
    "ex4-threshold-too-small": ("ex4-rescue-choice", _ex4("global_clipnorm", 0.001)),
    "ex4-zero-threshold": ("ex4-rescue-choice", _ex4("global_clipnorm", 0)),
    "ex4-misspelled-option": ("ex4-rescue-choice", _ex4("global_clip_norm", 0.5)),
    "ex4-clipnorm-one": ("ex4-rescue-choice", _ex4("clipnorm", 1.0)),
    # "a smaller threshold is safer", with the option that turns the gradient: finite, and learns little
    "ex4-small-clipvalue": ("ex4-rescue-choice", _ex4("clipvalue", 0.1)),
}

RIGHT = {
    "other-correct": {
        "ex1-clip-value-norm": '''
def clip_by_value(gradient, threshold):
    clipped = np.array(gradient, dtype=float)  # a copy
    clipped[clipped > threshold] = threshold
    clipped[clipped < -threshold] = -threshold
    return clipped


def clip_by_norm(gradient, threshold):
    gradient = np.array(gradient, dtype=np.float32)  # float32, like a Keras gradient
    norm = np.linalg.norm(gradient.ravel())
    if norm <= threshold:
        return gradient
    return gradient * (threshold / norm)
''',
        "ex2-clip-global-norm": '''
def clip_by_global_norm(gradients, threshold):
    flat = np.concatenate([np.ravel(g) for g in gradients])
    norm = float(np.linalg.norm(flat))
    if norm <= threshold:
        return [np.array(g, dtype=float) for g in gradients], norm
    factor = threshold / norm
    return [factor * np.asarray(g) for g in gradients], norm
''',
        "ex3-make-optimizer": '''
def make_optimizer(kind, threshold, learning_rate=0.01):
    if kind == "value":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipvalue=threshold)
    elif kind == "norm":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipnorm=threshold)
    elif kind == "global":
        return keras.optimizers.SGD(learning_rate, global_clipnorm=threshold)
    raise ValueError("kind must be 'value', 'norm' or 'global'")
''',
        "ex4-rescue-choice": _ex4("clipnorm", 0.1),
    },
    # float32 throughout, "like a Keras gradient": compared at float32 precision, full marks.
    "float32": {
        "ex1-clip-value-norm": '''
def clip_by_value(gradient, threshold):
    g = np.asarray(gradient, dtype=np.float32)
    return np.clip(g, -threshold, threshold)


def clip_by_norm(gradient, threshold):
    g = np.asarray(gradient, dtype=np.float32)
    norm = np.sqrt(np.sum(g * g))
    if norm <= threshold:
        return g
    return g * (threshold / norm)
''',
        "ex2-clip-global-norm": '''
def clip_by_global_norm(gradients, threshold):
    gradients = [np.asarray(g, dtype=np.float32) for g in gradients]
    norm = np.sqrt(sum(np.sum(np.square(g)) for g in gradients))
    scale = np.float32(threshold) / np.maximum(norm, np.float32(threshold))
    return [g * scale for g in gradients], float(norm)
''',
        # exercise 4 chosen by the notebook's diagnosis: the gradient norm is about 3, lr 0.01 then steps 0.03,
        # which global_clipnorm gives at lr 0.15 with a threshold of 0.2
        "ex4-rescue-choice": _ex4("global_clipnorm", 0.2),
    },
    "small-global-threshold": {
        "ex4-rescue-choice": _ex4("global_clipnorm", 0.1),
    },
}
