"""The errors of ``Permute``, ``ChannelShuffle``, ``Chunk`` and ``Narrow`` as a user reads them:
the whole message (what was received, what is allowed) and the argument it points at; where
torch refuses the same input on the batch, the test shows torch's refusal too. Also the edges
that torch takes and netspec must take alike (a start of exactly ``-n``, an empty dim)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec
from netspec.core.errors import NetspecError, Problem
from netspec.layers.split import chunk_sizes


def problem_of(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> Problem:
    """The one problem netspec reports on the layer of a spec of a single layer (a sample of
    one channel also draws a warning on ``input``, left out here)."""
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": list(in_shape), "layers": [{kind: args}]}))
    (problem,) = (p for p in error.value.problems if p.path[:1] == ("layers",))
    return problem


def out_shape(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> tuple[int, ...]:
    spec = netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    return netspec.analyze(spec).output_shape


@pytest.mark.parametrize("kind", ["Chunk", "Narrow"])
def test_a_dim_past_the_sample_names_the_range_and_points_at_dim(kind: str) -> None:
    """[4, 5, 6] has 3 dims: 0 to 2, or -3 to -1; torch refuses dim 3 + 1 (the batch) too."""
    with pytest.raises(IndexError):
        torch.zeros(1, 4, 5, 6).chunk(2, dim=4)
    args = {"chunks": 2, "dim": 3} if kind == "Chunk" else {"dim": 3, "start": 0, "length": 1}
    problem = problem_of(kind, args, (4, 5, 6))
    assert problem.message == (
        "dim must be in [-3, 2] for the sample [4, 5, 6] (dims of one sample: 0 is its first "
        "dim, the batch is not counted); received dim=3"
    )
    assert problem.path == ("layers", 0, kind, "dim")


def test_permute_listing_a_dim_twice_names_the_dims_allowed() -> None:
    problem = problem_of("Permute", {"dims": [0, 0, 1]}, (2, 3, 4))
    assert problem.message == ("dims must list each of the 3 dims of a sample once (0 to 2, or "
                               "negative from the end); received [0, 0, 1]")
    assert problem.path[:4] == ("layers", 0, "Permute", "dims")


def test_permute_of_too_few_dims_counts_both() -> None:
    with pytest.raises(RuntimeError):  # torch: 2 dims + the batch for a 4-dim batch
        torch.zeros(1, 3, 4, 5).permute(0, 2, 1)
    problem = problem_of("Permute", {"dims": [1, 0]}, (3, 4, 5))
    assert problem.message == ("dims has 2 entries but the sample [3, 4, 5] has 3 dims; list "
                               "each dim of one sample once (no batch dim)")
    assert problem.path == ("layers", 0, "Permute", "dims")


def test_channel_shuffle_of_a_one_dim_sample_is_refused_as_torch_does() -> None:
    with pytest.raises(RuntimeError, match="channel_shuffle expects input with > 2 dims"):
        torch.nn.ChannelShuffle(2)(torch.zeros(1, 6))
    problem = problem_of("ChannelShuffle", {"groups": 2}, (6,))
    assert problem.message == ("ChannelShuffle expects one sample shaped [C, *spatial] (at "
                               "least 2 dims, as torch needs); received [6]")
    assert problem.path == ("layers", 0, "ChannelShuffle")


def test_channel_shuffle_groups_not_dividing_the_channels_points_at_groups() -> None:
    """6 channels (dim 0, not dim 1's 5) in 4 groups."""
    with pytest.raises(RuntimeError):
        torch.nn.ChannelShuffle(4)(torch.zeros(1, 6, 5, 5))
    problem = problem_of("ChannelShuffle", {"groups": 4}, (6, 5, 5))
    assert problem.message == ("the channels, 6 (dim 0 of [6, 5, 5]), must be a multiple of "
                               "groups; received groups=4")
    assert problem.path == ("layers", 0, "ChannelShuffle", "groups")


@pytest.mark.parametrize(
    ("shape", "chunks", "index", "sizes", "message"),
    [
        # 5 in 4: ceil(5/4) = 2 per piece: 2, 2, 1 (three pieces)
        ((5, 2), 4, 3, [2, 2, 1],
         "torch.chunk cuts dim 0 of [5, 2] (5) into 3 pieces [2, 2, 1] for chunks=4; received "
         "index=3"),
        # 3 in 2: ceil(3/2) = 2: 2, 1 (two pieces, so index 2 is past them)
        ((3, 4, 4), 2, 2, [2, 1],
         "torch.chunk cuts dim 0 of [3, 4, 4] (3) into 2 pieces [2, 1] for chunks=2; received "
         "index=2"),
        # 1 in 2: ceil(1/2) = 1: a single piece
        ((1, 8, 8), 2, 1, [1],
         "torch.chunk cuts dim 0 of [1, 8, 8] (1) into 1 piece [1] for chunks=2; received "
         "index=1"),
    ],
)
def test_chunk_index_past_the_pieces_lists_them(
    shape: tuple[int, ...], chunks: int, index: int, sizes: list[int], message: str
) -> None:
    assert [p.shape[1] for p in torch.zeros(1, *shape).chunk(chunks, dim=1)] == sizes
    problem = problem_of("Chunk", {"chunks": chunks, "index": index}, shape)
    assert problem.message == message
    assert problem.path == ("layers", 0, "Chunk", "index")


def test_chunk_of_an_empty_dim_gives_chunks_empty_pieces() -> None:
    pieces = torch.zeros(2, 0, 3).chunk(3, dim=1)
    assert chunk_sizes(0, 3) == [piece.shape[1] for piece in pieces] == [0, 0, 0]


@pytest.mark.parametrize("start", [6, -7])
def test_narrow_start_outside_the_dim_names_the_range(start: int) -> None:
    """Dim 1 of [4, 6] has size 6: starts -6 to 5."""
    with pytest.raises((IndexError, RuntimeError)):
        torch.narrow(torch.zeros(1, 4, 6), 2, start, 1)
    problem = problem_of("Narrow", {"dim": 1, "start": start, "length": 1}, (4, 6))
    assert problem.message == (f"start must be in [-6, 5] for dim 1 of [4, 6] (size 6); "
                               f"received start={start}")
    assert problem.path == ("layers", 0, "Narrow", "start")


def test_narrow_from_minus_n_is_the_first_position_as_in_torch() -> None:
    assert torch.narrow(torch.zeros(1, 4, 6), 2, -6, 2).shape[1:] == (4, 2)
    assert out_shape("Narrow", {"dim": 1, "start": -6, "length": 2}, (4, 6)) == (4, 2)


def test_narrow_past_the_end_adds_start_and_length() -> None:
    """start -2 of 6 is position 4; 4 + 3 = 7 > 6."""
    with pytest.raises(RuntimeError):
        torch.narrow(torch.zeros(1, 4, 6), 2, -2, 3)
    problem = problem_of("Narrow", {"dim": 1, "start": -2, "length": 3}, (4, 6))
    assert problem.message == "start (4) + length (3) exceeds the size of dim 1 of [4, 6], 6"
    assert problem.path == ("layers", 0, "Narrow", "length")
