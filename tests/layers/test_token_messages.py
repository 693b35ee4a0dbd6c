"""The errors of the token and attention kinds as a user reads them: the whole message (what was
received, what is allowed, what to do), the argument it points at, and where torch draws the
same line, torch's own verdict on the boundary values.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec
from netspec.core.errors import NetspecError, Problem


def problem_of(entry: dict[str, Any], in_shape: list[int]) -> Problem:
    """The one problem netspec reports for a spec of a single layer."""
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": in_shape, "layers": [entry]}))
    (problem,) = error.value.problems
    return problem


def out_shape(entry: dict[str, Any], in_shape: list[int]) -> tuple[int, ...]:
    return netspec.analyze(netspec.load({"input": in_shape, "layers": [entry]})).output_shape


@pytest.mark.parametrize("index", [-4, 3])
def test_select_token_takes_both_ends_of_the_sequence(index: int) -> None:
    """4 tokens: ``x[:, -4]`` and ``x[:, 3]`` are the first and the last token in torch."""
    x = torch.arange(4 * 8).view(1, 4, 8)
    assert x[:, index].shape == (1, 8)
    assert out_shape({"SelectToken": {"index": index}}, [4, 8]) == (8,)


@pytest.mark.parametrize("index", [-5, 4])
def test_select_token_out_of_range_says_the_range_and_points_at_index(index: int) -> None:
    """4 tokens: torch refuses ``x[:, 4]`` and ``x[:, -5]``; the allowed range is [-4, 3]."""
    with pytest.raises(IndexError):
        torch.zeros(1, 4, 8)[:, index]
    problem = problem_of({"SelectToken": {"index": index}}, [4, 8])
    assert problem.message == (
        f"index must be in [-4, 3] for 4 tokens ([4, 8]); received index={index}")
    assert problem.path == ("layers", 0, "SelectToken", "index")


@pytest.mark.parametrize("padding_idx", [-10, -3, 0, 9])
def test_embedding_takes_every_padding_idx_torch_takes(padding_idx: int) -> None:
    """10 embeddings: torch takes a padding_idx from -10 to 9 (and keeps that row zero)."""
    torch_embedding = torch.nn.Embedding(10, 4, padding_idx=padding_idx)
    assert torch_embedding.weight[padding_idx].abs().sum() == 0
    spec = netspec.load({"input": {"shape": [6], "dtype": "long"}, "layers": [
        {"Embedding": {"num_embeddings": 10, "embedding_dim": 4, "padding_idx": padding_idx}}]})
    assert netspec.analyze(spec).output_shape == (6, 4)
    assert netspec.build(spec)[0].padding_idx == padding_idx % 10


@pytest.mark.parametrize("padding_idx", [-11, 10])
def test_embedding_padding_idx_out_of_range_says_the_range(padding_idx: int) -> None:
    with pytest.raises(AssertionError, match="adding_idx must be within num_embeddings"):
        torch.nn.Embedding(10, 4, padding_idx=padding_idx)
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": {"shape": [6], "dtype": "long"}, "layers": [
            {"Embedding": {"num_embeddings": 10, "embedding_dim": 4,
                           "padding_idx": padding_idx}}]}))
    (problem,) = error.value.problems
    assert problem.message == (
        f"padding_idx must be in [-10, 9]; received padding_idx={padding_idx}")
    assert problem.path == ("layers", 0, "Embedding", "padding_idx")


@pytest.mark.parametrize(("kind", "args", "key"), [
    ("ClassToken", {}, "embed_dim"),
    ("MultiheadAttention", {"num_heads": 2}, "embed_dim"),
    ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16}, "d_model"),
])
def test_a_written_feature_count_must_be_the_tokens_features(
    kind: str, args: dict[str, Any], key: str
) -> None:
    """Tokens [4, 8] have 8 features; writing 6 is a wrong assertion, refused by the analysis
    (not only when torch builds the module) at that argument."""
    problem = problem_of({kind: {**args, key: 6}}, [4, 8])
    assert problem.message == (
        f"{key} follows from the input shape [4, 8] and must be 8; received {key}=6 "
        "(leave it out to have it inferred)")
    assert problem.path == ("layers", 0, kind, key)
    assert out_shape({kind: {**args, key: 8}}, [4, 8]) == (4 + (kind == "ClassToken"), 8)


@pytest.mark.parametrize(("kind", "args"), [
    ("MultiheadAttention", {"num_heads": 2}), ("TransformerEncoderLayer", {"nhead": 2})])
@pytest.mark.parametrize("dropout", [-0.5, 1.5])
def test_attention_dropout_outside_zero_one_says_the_range(
    kind: str, args: dict[str, Any], dropout: float
) -> None:
    # torch's encoder layer refuses it (its nn.Dropout); its attention drops in F.dropout
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        torch.nn.TransformerEncoderLayer(8, 2, dropout=dropout)
    problem = problem_of({kind: {**args, "dropout": dropout}}, [4, 8])
    assert problem.message == f"dropout must be between 0 and 1; received {dropout}"
    assert problem.path == ("layers", 0, kind, "dropout")


def test_heads_that_do_not_divide_the_features_point_at_the_heads() -> None:
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        torch.nn.MultiheadAttention(8, 3)
    for kind, key in (("MultiheadAttention", "num_heads"), ("TransformerEncoderLayer", "nhead")):
        problem = problem_of({kind: {key: 3}}, [4, 8])
        assert problem.message == (
            f"the features D = 8 (last dim of [4, 8]) must be a multiple of {key}=3, each "
            f"head taking D / {key}")
        assert problem.path == ("layers", 0, kind, key)


@pytest.mark.parametrize(("kind", "args"), [
    ("ClassToken", {}), ("TokenMean", {}), ("MultiheadAttention", {"num_heads": 2}),
    ("TransformerEncoderLayer", {"nhead": 2})])
def test_a_map_is_not_tokens(kind: str, args: dict[str, Any]) -> None:
    problem = problem_of({kind: args}, [3, 4, 4])
    assert problem.message == (
        f"{kind} expects one sample shaped [N, D] (N tokens of D features) (2 dims); "
        "received [3, 4, 4]")
    assert problem.path == ("layers", 0, kind)
