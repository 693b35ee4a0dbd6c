"""``--explain`` for the token and attention kinds: each line with its numbers substituted, worked
out by hand for small token samples, and the parameter counts without biases against torch's
own modules built with ``bias=False``.
"""

from __future__ import annotations

from typing import Any

import torch

import netspec
from netspec.views.explain import explain_row


def explained(layers: list[Any], shape: Any) -> list[list[str]]:
    """The ``--explain`` lines of each layer of a spec made of ``layers``."""
    report = netspec.analyze(netspec.load({"input": shape, "layers": layers}))
    return [explain_row(row) for row in report.layers]


def numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_token_kinds_explain_their_counts() -> None:
    # [5, 8]: the class token makes 5 + 1 = 6 tokens and holds 8 values; the position codes
    # of the 6 tokens hold 6*8 = 48 values, trained or a buffer; the last token is 6 - 1 = 5
    layers = ["ClassToken", "PositionEmbedding", {"PositionEmbedding": {"mode": "sinusoidal"}},
              {"SelectToken": {"index": -1}}]
    assert explained(layers, [5, 8]) == [
        ["N_out = 5 + 1 = 6", "params = 8 (class_token [1, 1, 8]); MACs = 0"],
        ["params = 6*8 = 48; MACs = 0 (an add)"],
        ["buffers (not saved) = 6*8 = 48; MACs = 0 (an add)"],
        ["token 5 of 6: [8]"],
    ]
    assert explained(["TokenMean"], [5, 8]) == [["mean of 5 tokens: [8]"]]


def test_embedding_explains_its_table() -> None:
    assert numel(torch.nn.Embedding(50, 4)) == 50 * 4
    assert explained([{"Embedding": {"num_embeddings": 50, "embedding_dim": 4}}],
                     {"shape": [9], "dtype": "long"}) == [
        ["params = 50*4 = 200; MACs = 0 (a look-up)"]]


RF_LINE = "RF: every output reads all tokens: the input the tokens carry is seen whole"


def test_multihead_attention_explains_heads_params_and_macs() -> None:
    # D = 8 in 2 heads of 8/2 = 4; params 4*64 + 4*8 = 288 (256 without the biases);
    # MACs 4*5*64 = 1280 (projections) + 2*25*8 = 400 (two products) = 1680
    with_bias, without = explained([{"MultiheadAttention": {"num_heads": 2}},
                                    {"MultiheadAttention": {"num_heads": 2, "bias": False}}],
                                   [5, 8])
    assert with_bias == [
        "head dim = 8/2 = 4",
        "params = 4*8^2 + 4*8 = 288",
        "MACs = 4*5*8^2 (Q, K, V, out) + 2*5^2*8 (QK^T, AV) = 1680",
        RF_LINE,
    ]
    assert without == [
        "head dim = 8/2 = 4",
        "params = 4*8^2 = 256",
        "MACs = 4*5*8^2 (Q, K, V, out) + 2*5^2*8 (QK^T, AV) = 1680",
        RF_LINE,
    ]


def test_encoder_layer_explains_params_and_macs() -> None:
    # D = 8, F = 16: 256 + 256 + 72 + 16 = 600 with biases, 256 + 256 + 16 = 528 without;
    # MACs 1280 + 400 + 2*5*8*16 = 1280 (feed-forward) = 2960
    args = {"nhead": 2, "dim_feedforward": 16}
    with_bias, without = explained([{"TransformerEncoderLayer": args},
                                    {"TransformerEncoderLayer": {**args, "bias": False}}],
                                   [5, 8])
    assert with_bias == ["params = 4*8^2 + 2*8*16 + 9*8 + 16 = 600",
                         "MACs = 4*5*8^2 + 2*5^2*8 + 2*5*8*16 = 2960", RF_LINE]
    assert without == ["params = 4*8^2 + 2*8*16 + 2*8 = 528",
                       "MACs = 4*5*8^2 + 2*5^2*8 + 2*5*8*16 = 2960", RF_LINE]


def test_bias_free_attention_counts_are_torchs() -> None:
    """torch's own modules with ``bias=False``: the attention keeps only its four D x D
    matrices; the encoder layer keeps those, its two linears and the norms' weights."""
    attention = torch.nn.MultiheadAttention(8, 2, bias=False, batch_first=True)
    encoder = torch.nn.TransformerEncoderLayer(8, 2, 16, bias=False, batch_first=True)
    assert numel(attention) == 4 * 8 * 8 == 256
    assert numel(encoder) == 4 * 8 * 8 + 2 * 8 * 16 + 2 * 8 == 528
    for entry, module in (({"MultiheadAttention": {"num_heads": 2, "bias": False}}, attention),
                          ({"TransformerEncoderLayer": {"nhead": 2, "dim_feedforward": 16,
                                                        "bias": False}}, encoder)):
        spec = netspec.load({"input": [5, 8], "layers": [entry]})
        assert netspec.analyze(spec).params == numel(module) == numel(netspec.build(spec))
