"""The course's tables of activation functions and initializers: one home, read by every module and explorer.

``ACTIVATIONS`` are the activation functions the course compares, by their Keras names, in the order
notebook 03 shows them; an explorer that also offers the identity adds ``LINEAR``.  ``INITIALIZERS``
are Keras' six ``VarianceScaling`` initializers; an explorer adds its own deliberately bad ones.
"""

from __future__ import annotations

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu")
LINEAR = "linear"  # no activation: the identity, for the explorers that compare with a linear network

# activation -> (name of its parameter, Keras' default, slider min, slider max)
PARAMETERS = {
    "leaky_relu": ("negative slope", 0.2, 0.0, 1.0),
    "elu": ("alpha", 1.0, 0.1, 3.0),
}

# Keras' six VarianceScaling initializers (LeCun, Glorot, He; normal, then uniform), Var(w) = scale / fan
INITIALIZERS = ("lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform")
