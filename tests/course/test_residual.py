"""course.residual: the networks, the graph readers the tests use, the normalizations, and the explorer's grid."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course import residual


def _block_model(n_features: int, units: int, **kwargs) -> keras.Model:
    inputs = keras.Input(shape=(n_features,))
    return keras.Model(inputs, residual.block(inputs, units, **kwargs))


def _shortcut_and_branch(model: keras.Model) -> list[list[str]]:
    (_, parents), = residual.add_layers(model)
    return sorted(residual.chain_summary(residual.chain_to_input(model, parent)) for parent in parents)


def test_block_is_an_identity_where_widths_agree_and_a_projection_where_they_differ():
    same = _block_model(8, 8)
    assert _shortcut_and_branch(same) == [[], ["LayerNormalization", "Dense(8, relu)", "Dense(8, linear)"]]
    wider = _block_model(5, 8)
    assert _shortcut_and_branch(wider) == [["Dense(8, linear)"],
                                           ["LayerNormalization", "Dense(8, relu)", "Dense(8, linear)"]]
    post = _block_model(8, 8, norm="layer", placement="post")
    assert isinstance(post.layers[-1], keras.layers.LayerNormalization)
    assert _shortcut_and_branch(post) == [[], ["Dense(8, relu)", "Dense(8, linear)"]]


def test_block_computes_its_input_plus_its_branch():
    model = _block_model(6, 6, norm="none")
    X = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    first, second = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    branch = np.maximum(X @ first.kernel.numpy() + first.bias.numpy(), 0) @ second.kernel.numpy() + second.bias.numpy()
    np.testing.assert_allclose(model(X).numpy(), X + branch, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("residual_network", [False, True])
def test_depth_counts_the_dense_layers_on_the_longest_path(residual_network):
    model = residual.deep_network(10, residual=residual_network, norm="batch")
    assert residual.longest_dense_path(model) == 10
    assert len(residual.add_layers(model)) == (4 if residual_network else 0)
    assert len([layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]) == 10


def test_graph_refuses_a_model_used_as_a_layer():
    inner = _block_model(4, 4)
    inputs = keras.Input(shape=(4,))
    outer = keras.Model(inputs, keras.layers.Dense(3)(inner(inputs)))
    with pytest.raises(AssertionError, match="as a layer"):
        residual.graph(outer)


def test_layer_and_rms_normalization_follow_their_formulas():
    X = np.random.default_rng(1).normal(2.0, 3.0, size=(5, 7)).astype("float32")
    centred = X - X.mean(axis=-1, keepdims=True)
    layer_norm = centred / np.sqrt(X.var(axis=-1, keepdims=True) + 1e-3)
    rms_norm = X / np.sqrt(np.mean(X ** 2, axis=-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(residual.normalization_layer("layer")(X).numpy(), layer_norm, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(residual.normalization_layer("rms")(X).numpy(), rms_norm, rtol=1e-4, atol=1e-5)


def test_training_and_inference_agree_for_layer_norm_not_for_batch_norm():
    X, y = residual.training_set(64)
    layer = residual.Config(4, residual=True, norm="layer").build(seed=0)
    in_training, in_inference = residual.train_and_inference_loss(layer, X, y)
    assert in_training == pytest.approx(in_inference, rel=1e-6)
    batch = residual.Config(4, residual=True, norm="batch").build(seed=0)
    before = [variable.numpy().copy() for variable in batch.non_trainable_variables]
    in_training, in_inference = residual.train_and_inference_loss(batch, X, y)
    assert abs(in_training - in_inference) > 1e-3  # fresh moving statistics (0 and 1) are not the data's
    for variable, value in zip(batch.non_trainable_variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)  # the training-mode call changed nothing


def test_the_grid_holds_every_configuration_of_the_explorer():
    grid = residual.load_grid()
    configs = residual.grid_configs()
    assert sorted(grid) == sorted(residual.grid_key(config) for config in configs)
    for config in configs:
        entry = grid[residual.grid_key(config)]
        assert len(entry["profile"]) == config.depth, residual.grid_key(config)
        assert [len(losses) for losses in entry["step_loss"]] == [residual.SETUP.steps] * len(residual.GRID_SEEDS)


def test_the_grid_is_what_the_code_measures():
    """One configuration measured again: the stored gradient profile and loss curves come back."""
    config = residual.Config(4, residual=True, norm="layer", placement="pre")
    X, y = residual.training_set()
    measured = residual.measure(config, X, y)
    stored = residual.load_grid()[residual.grid_key(config)]
    np.testing.assert_allclose(measured["profile"], stored["profile"], rtol=2e-3)
    np.testing.assert_allclose(measured["step_loss"], stored["step_loss"], rtol=0.05)


def test_the_capstone_refuses_a_residual_network():
    """Notebook 06's budget keeps to plain stacks: a Functional model with skips is refused, and says why."""
    from course import capstone

    with pytest.raises(AssertionError, match="no residual connections"):
        capstone.check_budget(residual.deep_network(20, residual=True, norm="layer"))
