"""``LayerScale`` and ``StochasticDepth`` as a user reads them: the ``--explain`` line of each
case of stochastic depth (``p`` 0, 1 or between; one draw per sample or per batch), checked
against what the built module does in training, and LayerScale's refusal of a sample without
a channel dim."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.scaling import LayerScale
from netspec.views.explain import explain


def drop(p: float, mode: str) -> netspec.Spec:
    return netspec.load({"input": [3, 4, 4],
                         "layers": [{"StochasticDepth": {"p": p, "mode": mode}}]})


def explained(p: float, mode: str) -> str:
    return explain(netspec.analyze(drop(p, mode)))


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_p_zero_is_the_identity_in_training(mode: str) -> None:
    model = netspec.build(drop(0, mode)).train()
    x = torch.randn(5, 3, 4, 4)
    assert torch.equal(model(x), x)
    assert "training: identity; eval: identity" in explained(0, mode)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_p_one_zeroes_everything_in_training(mode: str) -> None:
    model = netspec.build(drop(1, mode)).train()
    x = torch.randn(5, 3, 4, 4)
    assert torch.equal(model(x), torch.zeros_like(x))
    assert "training: all zero; eval: identity" in explained(1, mode)


@pytest.mark.parametrize(("mode", "unit"), [("row", "sample"), ("batch", "batch")])
def test_a_probability_between_names_what_is_drawn_and_the_scale(mode: str, unit: str) -> None:
    """p = 0.2: kept with probability 1 - 0.2 = 0.8, what is kept divided by 0.8."""
    assert (f"training: each {unit} kept with probability 1 - 0.2 = 0.8 and scaled by 1/0.8; "
            "eval: identity") in explained(0.2, mode)
    model = netspec.build(drop(0.2, mode)).train()
    x = torch.ones(64, 3, 4, 4)
    y = model(x)
    assert all(v == 0 or v == pytest.approx(1 / 0.8) for v in y.unique().tolist())
    per_sample = {float(v) for v in y.flatten(1).max(dim=1).values}
    if mode == "batch":  # one draw for the whole batch: every sample alike
        assert len(per_sample) == 1


def test_layer_scale_refuses_a_sample_without_a_channel_dim() -> None:
    with pytest.raises(NetspecError) as error:
        LayerScale(init_value=0.5).output_shape(())
    (problem,) = error.value.problems
    assert problem.message == "LayerScale needs a sample with a channel dim; received []"
