"""The fuzz generator's entries for the kinds of today's CNNs (``spec_strategies.Chain`` draws
them on a ``[C, *spatial]`` sample): a channels-last detour through ``Permute``, channel
shuffle, ``Chunk``/``Narrow`` slices, layer scale, stochastic depth, a squeeze-and-excitation
``Gate``, ``Parallel`` with ``merge: mul``, and a detour through tokens (position embedding,
attention). Output shapes follow torch's documented rules,
written out here (``torch.chunk``: pieces of ``ceil(n / chunks)``, the last one smaller)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.spec_strategies import Chain

Shape = tuple[int, ...]


def modern_leaf(chain: Chain, shape: Shape) -> tuple[Any, Shape]:
    choice = chain.int(0, 7)
    rank = len(shape)
    if choice == 7 and rank >= 2:
        return token_detour(chain, shape), shape
    if choice == 0:  # there and back: [C, *spatial] -> a permutation -> LayerNorm -> back
        order = list(chain.draw_permutation(rank))
        back = [order.index(d) for d in range(rank)]
        return {"Sequential": {"layers": [{"Permute": {"dims": order}}, "LayerNorm",
                                          {"Permute": {"dims": back}}]}}, shape
    if choice == 1:
        groups = chain.pick(*(g for g in range(1, shape[0] + 1) if shape[0] % g == 0))
        return {"ChannelShuffle": {"groups": groups}}, shape
    if choice == 2:
        dim = chain.int(0, rank - 1)
        n, chunks = shape[dim], chain.int(1, 4)
        step = -(-n // chunks)
        pieces = [min(step, n - start) for start in range(0, n, step)]
        index = chain.int(0, len(pieces) - 1)
        return ({"Chunk": {"chunks": chunks, "index": index, "dim": dim}},
                (*shape[:dim], pieces[index], *shape[dim + 1:]))
    if choice == 3:
        dim = chain.int(0, rank - 1)
        length = chain.int(1, shape[dim])
        start = chain.int(0, shape[dim] - length)
        return ({"Narrow": {"dim": dim, "start": start, "length": length}},
                (*shape[:dim], length, *shape[dim + 1:]))
    if choice == 4:
        if chain.coin():
            return {"LayerScale": {"init_value": chain.pick(1e-6, 0.5)}}, shape
        return {"StochasticDepth": {"p": chain.pick(0.0, 0.2, 1.0),
                                    "mode": chain.pick("row", "batch")}}, shape
    pool = {chain.kind("AdaptiveAvgPool"): {"output_size": 1}}
    if choice == 5:
        squeeze = chain.int(1, 4)
        return {"Gate": {"layers": [
            pool, {chain.kind("Conv"): {"out_channels": squeeze, "kernel_size": 1}}, "ReLU",
            {chain.kind("Conv"): {"out_channels": shape[0], "kernel_size": 1}}, "Sigmoid"]}}, shape
    return {"Parallel": {"merge": "mul", "branches": [["Identity"], [pool, "Sigmoid"]]}}, shape


def token_detour(chain: Chain, shape: Shape) -> Any:
    """``[C, *spatial]`` as tokens and back: flatten the positions, ``[L, C]``, a position
    embedding and attention (heads dividing C), ``[C, L]``, unflatten."""
    channels, spatial = shape[0], list(shape[1:])
    heads = chain.pick(*(h for h in range(1, min(channels, 4) + 1) if channels % h == 0))
    attention = ({"MultiheadAttention": {"num_heads": heads}} if chain.coin() else
                 {"TransformerEncoderLayer": {"nhead": heads,
                                              "dim_feedforward": chain.int(1, 8)}})
    layers: list[Any] = []
    if len(spatial) > 1:
        layers.append({"Flatten": {"start_dim": 2}})
    layers += [{"Permute": {"dims": [1, 0]}}, "PositionEmbedding", attention,
               {"Permute": {"dims": [1, 0]}}]
    if len(spatial) > 1:
        layers.append({"Unflatten": {"dim": 2, "unflattened_size": spatial}})
    return {"Sequential": {"layers": layers}}

