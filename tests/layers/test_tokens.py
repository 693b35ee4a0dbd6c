"""Token and attention kinds against independent references: torch's own modules, attention
written by hand (softmax(Q K^T / sqrt(d)) V), hand-counted parameters and MACs, and
FlopCounterMode / 2 on the built module run through an attention path it counts.

Why the special path: in eval under ``no_grad`` ``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer`` take a fused "fast path" that FlopCounterMode has no formula for
(it counts nothing), and on the CPU ``scaled_dot_product_attention`` picks a flash kernel it
does not know either (it misses Q K^T and A V). ``set_fastpath_enabled(False)`` plus the math
SDPA backend decompose attention into the ``addmm``/``bmm`` it counts.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netspec
from tests.reference_vit import SelfAttention


def flop_macs(module: nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode / 2, written here independently of netspec.torch_side.flop_count."""
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        counter = FlopCounterMode(display=False)
        with sdpa_kernel(SDPBackend.MATH), counter, torch.no_grad():
            module(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    return int(counter.get_total_flops()) // 2


def one_layer(entry: object, shape: list[int], dtype: str = "float") -> netspec.Spec:
    data = {"input": shape if dtype == "float" else {"shape": shape, "dtype": dtype},
            "layers": [entry]}
    return netspec.load(data)


def test_the_fast_path_hides_attention_from_the_flop_counter() -> None:
    """The reason for the switches above, measured: default eval counts no attention product."""
    attn = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(1, 10, 32)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        attn(x, x, x, need_weights=False)
    assert counter.get_total_flops() // 2 < 4 * 10 * 32 * 32 + 2 * 10 * 10 * 32
    assert flop_macs(netspec.build(one_layer({"MultiheadAttention": {"num_heads": 4}},
                                             [10, 32])).eval(), x) == (
        4 * 10 * 32 * 32 + 2 * 10 * 10 * 32)


def test_multihead_attention_equals_hand_written_attention() -> None:
    torch.manual_seed(0)
    model = netspec.build(one_layer({"MultiheadAttention": {"num_heads": 4}}, [10, 32])).eval()
    reference = SelfAttention(32, 4).eval()
    reference.load_state_dict(model[0].state_dict())
    x = torch.randn(3, 10, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)


def test_multihead_attention_is_torchs_module_with_torchs_tensors() -> None:
    model = netspec.build(one_layer({"MultiheadAttention": {"num_heads": 2}}, [5, 8]))
    torch_attn = nn.MultiheadAttention(8, 2, batch_first=True)
    shapes = {k: tuple(v.shape) for k, v in model[0].state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in torch_attn.state_dict().items()}
    torch_attn.load_state_dict(model[0].state_dict())
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x),
                                   torch_attn.eval()(x, x, x, need_weights=False)[0])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torchs(norm_first: bool, activation: str) -> None:
    entry = {"TransformerEncoderLayer": {"nhead": 2, "dim_feedforward": 24,
                                         "activation": activation, "norm_first": norm_first}}
    model = netspec.build(one_layer(entry, [7, 16])).eval()
    torch_layer = nn.TransformerEncoderLayer(16, 2, 24, activation=activation,
                                             norm_first=norm_first, batch_first=True).eval()
    torch_layer.load_state_dict(model[0].state_dict())
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch_layer(x))
    d, f = 16, 24
    assert netspec.analyze(one_layer(entry, [7, 16])).params == (
        4 * d * d + 4 * d + d * f + f + f * d + d + 4 * d)


def test_token_kinds_against_plain_torch() -> None:
    torch.manual_seed(0)
    spec = netspec.load({"input": [6, 8], "layers": [
        "ClassToken", "PositionEmbedding", {"SelectToken": {"index": 1}}]})
    model = netspec.build(spec).eval()
    x = torch.randn(2, 6, 8)
    token = model[0].class_token
    pos = model[1].pos_embedding
    expected = (torch.cat([token.expand(2, -1, -1), x], dim=1) + pos)[:, 1]
    torch.testing.assert_close(model(x), expected)
    assert netspec.analyze(spec).params == 8 + 7 * 8
    assert [r.out_shape for r in netspec.analyze(spec).layers] == [(7, 8), (7, 8), (8,)]
    mean = netspec.build(one_layer("TokenMean", [6, 8]))
    torch.testing.assert_close(mean(x), x.mean(dim=1))


def test_sinusoidal_position_code_is_vaswanis_and_not_saved() -> None:
    spec = one_layer({"PositionEmbedding": {"mode": "sinusoidal"}}, [5, 6])
    model = netspec.build(spec)
    assert model.state_dict() == {} or list(model.state_dict()) == []
    table = model(torch.zeros(1, 5, 6))[0]
    for p in range(5):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert netspec.analyze(spec).buffers == 30 and netspec.analyze(spec).params == 0
    meta = netspec.build(spec, device="meta").to_empty(device="cpu")
    meta[0].reset_parameters()
    torch.testing.assert_close(meta(torch.zeros(1, 5, 6)), model(torch.zeros(1, 5, 6)))


def test_embedding_reads_integer_ids() -> None:
    spec = one_layer({"Embedding": {"num_embeddings": 50, "embedding_dim": 4}}, [9], "long")
    assert spec.input_dtype == "long"
    assert netspec.load(spec.to_yaml()) == spec
    report = netspec.analyze(spec)
    assert report.output_shape == (9, 4) and report.params == 200 and report.macs == 0
    model = netspec.build(spec)
    ids = torch.randint(0, 50, (2, 9))
    torch.testing.assert_close(model(ids), model[0].weight[ids])
    assert report.to_dict()["totals"]["receptive_field"][0]["undefined"] == "token ids"
    table = str(netspec.summary(spec))
    assert "n/a (token ids)" in table and "not defined" in table


def test_an_input_mapping_with_unknown_keys_is_refused() -> None:
    with pytest.raises(netspec.SpecError, match=r"shape \(required\) and dtype"):
        netspec.load({"input": {"shape": [4], "high": 3}, "layers": ["ReLU"]})


def test_heads_must_divide_the_features() -> None:
    with pytest.raises(netspec.SpecError, match="multiple of num_heads=3"):
        one_layer({"MultiheadAttention": {"num_heads": 3}}, [4, 8])
    with pytest.raises(netspec.SpecError, match="2 dims"):
        one_layer("ClassToken", [3, 4, 4])


def test_attention_makes_a_located_token_axis_whole() -> None:
    """[C, L] -> Permute -> tokens carry L: attention reads every position of L."""
    spec = netspec.load({"input": [4, 20], "layers": [
        {"Conv1d": {"out_channels": 8, "kernel_size": 3}},  # field 3, 18 positions
        {"Permute": {"dims": [1, 0]}},
        {"MultiheadAttention": {"num_heads": 2}},
        "TokenMean"]})
    rows = netspec.analyze(spec).layers
    assert rows[1].rf[0].size == 3 and rows[1].rf[0].positional
    assert rows[2].rf[0].size == 3 + 17 and not rows[2].rf[0].positional  # all 20 positions
    x = torch.randn(1, 4, 20, requires_grad=True)
    model = netspec.build(spec).eval()
    model(x)[0, 0].backward()
    assert (x.grad.abs().sum((0, 1)) > 0).sum().item() == 20


@settings(max_examples=15, deadline=None)
@given(tokens=st.integers(1, 12), heads=st.integers(1, 4), width=st.integers(1, 4),
       ff=st.integers(1, 24), layer=st.sampled_from(["mha", "tel"]),
       cls=st.booleans(), reduce=st.sampled_from(["SelectToken", "TokenMean"]))
def test_random_token_models_agree_with_torch(
    tokens: int, heads: int, width: int, ff: int, layer: str, cls: bool, reduce: str
) -> None:
    """Shapes, parameters and MACs of random token models against the built modules."""
    dim = heads * width
    attention = ({"MultiheadAttention": {"num_heads": heads}} if layer == "mha" else
                 {"TransformerEncoderLayer": {"nhead": heads, "dim_feedforward": ff}})
    layers = [*(["ClassToken"] if cls else []), "PositionEmbedding", attention, reduce,
              {"Linear": {"out_features": 3}}]
    spec = netspec.load({"input": [tokens, dim], "layers": layers})
    report = netspec.analyze(spec)
    model = netspec.build(spec).eval()
    x = torch.randn(2, tokens, dim)
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape[1:]) == report.output_shape == (3,)
    assert sum(p.numel() for p in model.parameters()) == report.params
    n = tokens + cls
    rows = {row.kind: row for row in report.top_level()}
    row = rows["MultiheadAttention" if layer == "mha" else "TransformerEncoderLayer"]
    index = [r.kind for r in report.top_level()].index(row.kind)
    assert row.macs == flop_macs(model[index], torch.randn(1, n, dim))
    hand = 4 * n * dim * dim + 2 * n * n * dim + (0 if layer == "mha" else 2 * n * dim * ff)
    assert row.macs == hand
