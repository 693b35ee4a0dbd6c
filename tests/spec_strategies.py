"""Hypothesis strategies for the fuzz tests: random valid specs, and corruptions of them.

``valid_specs()`` draws a spec as plain data together with the output shape that torch's
documented size formulas give (written out here, not taken from netspec): a chain over most
registered kinds in 1-D, 2-D or 3-D (convolutions of every padding kind, transposed
convolutions, pools, adaptive pools, norms, dropouts, activations, upsampling, Linear on the
last dim, Flatten/Unflatten, and today's kinds: ``modern_strategies``), with composites
(Sequential, Repeat, Residual, Parallel) and, sometimes, ``params:`` and ``blocks:`` standing
in for literal values.

``corrupted_texts()`` takes such a spec written as YAML and damages it: at the text level
(delete, duplicate, swap or insert characters; delete, duplicate, swap or re-indent lines;
change a number; rename a key) or at the data level (a value of the wrong type, a negative or
huge number, a key removed or added, a kind replaced by another kind); ``corrupted_data()``
makes the data-level damage only, for specs given as a dict.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import yaml
from hypothesis import strategies as st

from netspec.layers.registry import registered_kinds
from tests.modern_strategies import modern_leaf

Shape = tuple[int, ...]
Entry = Any

SIZES = {1: (6, 24), 2: (4, 12), 3: (3, 6)}  # input spatial sizes per rank
MAX_SIZE = {1: 48, 2: 20, 3: 8}  # spatial sizes kept below this (forward stays cheap)
MAX_CHANNELS = 6
MAX_DEPTH = 2  # composites nest at most this deep
ACTIVATIONS = ("ReLU", "ReLU6", "ELU", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid",
               "Sigmoid", "Tanh", "Identity")


# --- torch's size formulas (torch.nn.Conv*d, ConvTranspose*d, MaxPool*d documentation) ---


def conv_size(n: int, k: int, s: int, pad_total: int, d: int) -> int:
    return (n + pad_total - d * (k - 1) - 1) // s + 1


def transposed_size(n: int, k: int, s: int, p: int, d: int, op: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def pool_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    top = n + 2 * p - d * (k - 1) - 1
    out = (-(-top // s) if ceil_mode else top // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


class Chain:
    """Draws layer entries while tracking the shape of one sample."""

    def __init__(self, draw: st.DrawFn, rank: int) -> None:
        self.draw = draw
        self.rank = rank

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, *options: Any) -> Any:
        return self.draw(st.sampled_from(options))

    def coin(self, chance: float = 0.5) -> bool:
        return self.draw(st.integers(0, 999)) < chance * 1000

    def kind(self, base: str, rank: int | None = None) -> str:
        return f"{base}{rank or self.rank}d"

    def spatial(self, shape: Shape) -> bool:
        return len(shape) == self.rank + 1

    def draw_permutation(self, rank: int) -> list[int]:
        return list(self.draw(st.permutations(range(rank))))

    def fits(self, sizes: Shape) -> bool:
        return all(1 <= n <= MAX_SIZE[self.rank] for n in sizes)

    # --- leaves on [C, *spatial] ---

    def conv(self, shape: Shape) -> tuple[Entry, Shape]:
        out = self.int(1, MAX_CHANNELS)
        k, s, d = self.int(1, 4), self.pick(1, 1, 2), self.pick(1, 1, 2)
        args: dict[str, Any] = {"out_channels": out, "kernel_size": k}
        if s > 1:
            args["stride"] = s
        if d > 1:
            args["dilation"] = d
        mode = self.pick("zeros", "zeros", "reflect", "replicate", "circular")
        if s == 1 and self.coin(0.25):
            args["padding"] = self.pick("same", "valid")
            total = d * (k - 1) if args["padding"] == "same" else 0
            pads = [(total // 2, total - total // 2)] * self.rank
        else:
            p = self.int(0, 2)
            args["padding"] = p
            pads = [(p, p)] * self.rank
        sizes = tuple(conv_size(n, k, s, left + right, d)
                      for n, (left, right) in zip(shape[1:], pads, strict=True))
        widest = max(max(pad) for pad in pads)
        if mode == "reflect" and any(widest >= n for n in shape[1:]):
            mode = "zeros"
        if mode == "circular" and any(widest > n for n in shape[1:]):
            mode = "zeros"
        if mode != "zeros":
            args["padding_mode"] = mode
        if not self.fits(sizes):
            return {self.kind("Conv"): {"out_channels": out, "kernel_size": 1}}, (out, *shape[1:])
        groups = math.gcd(shape[0], out)
        if groups > 1 and self.coin(0.3):
            args["groups"] = groups
        if self.coin(0.2):
            args["bias"] = False
        return {self.kind("Conv"): args}, (out, *sizes)

    def transposed(self, shape: Shape) -> tuple[Entry, Shape]:
        out = self.int(1, MAX_CHANNELS)
        k, s, d = self.int(1, 3), self.pick(1, 2), self.pick(1, 1, 2)
        p = self.int(0, k - 1)
        op = self.int(0, max(s, d) - 1)
        sizes = tuple(transposed_size(n, k, s, p, d, op) for n in shape[1:])
        if not self.fits(sizes):
            return self.conv(shape)
        args = {"out_channels": out, "kernel_size": k, "stride": s, "padding": p,
                "dilation": d, "output_padding": op}
        return {self.kind("ConvTranspose"): args}, (out, *sizes)

    def pool(self, shape: Shape) -> tuple[Entry, Shape]:
        k = self.int(1, 3)
        s = self.pick(None, 1, 2, 3)
        p = self.int(0, k // 2)
        ceil_mode = self.coin(0.3)
        maximum = self.coin()
        d = self.pick(1, 2) if maximum else 1
        step = k if s is None else s
        sizes = tuple(pool_size(n, k, step, p, d, ceil_mode) for n in shape[1:])
        if not maximum and self.rank == 3 and any(n < k for n in shape[1:]):
            maximum = True  # torch's avg_pool3d needs n >= k on every axis
        if not self.fits(sizes):
            return self.pointwise(shape)
        args: dict[str, Any] = {"kernel_size": k, "padding": p, "ceil_mode": ceil_mode}
        if s is not None:
            args["stride"] = s
        if maximum and d > 1:
            args["dilation"] = d
        if not maximum and self.coin(0.3):
            args["count_include_pad"] = False
        return {self.kind("MaxPool" if maximum else "AvgPool"): args}, (shape[0], *sizes)

    def adaptive(self, shape: Shape) -> tuple[Entry, Shape]:
        sizes = tuple(self.int(1, n) for n in shape[1:])
        value: Any = sizes[0] if len(set(sizes)) == 1 else list(sizes)
        kind = self.kind(self.pick("AdaptiveAvgPool", "AdaptiveMaxPool"))
        return {kind: {"output_size": value}}, (shape[0], *sizes)

    def upsample(self, shape: Shape) -> tuple[Entry, Shape]:
        mode = self.pick("nearest", "nearest-exact",
                         {1: "linear", 2: "bilinear", 3: "trilinear"}[self.rank])
        if self.rank == 2 and self.coin(0.2):
            mode = "bicubic"
        args: dict[str, Any] = {"mode": mode}
        if self.coin():
            scale = self.pick(2, 1.5, 0.5)
            sizes = tuple(math.floor(n * float(scale)) for n in shape[1:])
            args["scale_factor"] = scale
        else:
            sizes = tuple(self.int(1, MAX_SIZE[self.rank]) for _ in shape[1:])
            args["size"] = sizes[0] if len(set(sizes)) == 1 else list(sizes)
        if not self.fits(sizes):
            return self.pointwise(shape)
        if mode not in ("nearest", "nearest-exact") and self.coin(0.3):
            args["align_corners"] = self.coin()
        return {"Upsample": args}, (shape[0], *sizes)

    def norm(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 4)
        channels = shape[0]
        if choice == 0:
            args = {"affine": self.coin(0.7), "track_running_stats": self.coin(0.7)}
            return {self.kind("BatchNorm"): args}, shape
        if choice == 1 and math.prod(shape[1:]) > 1:
            return {self.kind("InstanceNorm"): {"affine": self.coin()}}, shape
        if choice == 2:
            divisors = [g for g in range(1, channels + 1) if channels % g == 0]
            groups = self.pick(*divisors)
            if channels // groups * math.prod(shape[1:]) > 1:
                return {"GroupNorm": {"num_groups": groups, "affine": self.coin(0.7)}}, shape
        if choice == 3:
            trailing = self.int(1, len(shape))
            dims = list(shape[len(shape) - trailing:])
            return {"LayerNorm": {"normalized_shape": dims, "bias": self.coin(0.7)}}, shape
        return {"LocalResponseNorm": {"size": self.int(1, channels + 1)}}, shape

    def pointwise(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 6)
        if choice == 0:
            return {"LeakyReLU": {"negative_slope": self.pick(0.01, 0.2)}}, shape
        if choice == 1:
            return {"PReLU": {"num_parameters": self.pick(1, shape[0])}}, shape
        if choice == 2:
            kind = self.pick("Softmax", "LogSoftmax")
            return {kind: {"dim": self.pick(1, -1, len(shape))}}, shape
        if choice == 3:
            kind = self.pick("Dropout", "AlphaDropout", *(
                [self.kind("Dropout")] if self.spatial(shape) else []))
            return {kind: {"p": self.pick(0.0, 0.1, 0.5)}}, shape
        return self.pick(*ACTIVATIONS), shape

    def spatial_leaf(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 10)
        if choice == 10:
            return modern_leaf(self, shape)
        if choice <= 2:
            return self.conv(shape)
        if choice == 3:
            return self.transposed(shape)
        if choice == 4:
            return self.pool(shape)
        if choice == 5:
            return self.adaptive(shape)
        if choice == 6:
            return self.upsample(shape)
        if choice == 7:
            return self.norm(shape)
        if choice == 8 and shape[-1] > 1:  # Linear on the last (spatial) dim: legal in torch
            out = self.int(1, MAX_SIZE[self.rank])
            return {"Linear": {"out_features": out}}, (*shape[:-1], out)
        return self.pointwise(shape)

    def vector_leaf(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 4)
        if choice <= 1:
            out = self.int(1, 16)
            args: dict[str, Any] = {"out_features": out}
            if self.coin(0.3):
                args["in_features"] = shape[-1]  # asserted, and right
            if self.coin(0.2):
                args["bias"] = False
            return {"Linear": args}, (*shape[:-1], out)
        if choice == 2:
            return self.pick("BatchNorm1d", "LayerNorm"), shape
        return self.pointwise(shape)

    # --- reshapes ---

    def flatten(self, shape: Shape) -> tuple[Entry, Shape]:
        if self.rank >= 2 and self.coin(0.3):  # merge the spatial axes only: [C, H*W...]
            return {"Flatten": {"start_dim": 2}}, (shape[0], math.prod(shape[1:]))
        return "Flatten", (math.prod(shape),)

    def unflatten(self, shape: Shape) -> tuple[Entry, Shape] | None:
        """[F] -> [C, L] (1-D networks only, so later layers see their own rank)."""
        size = shape[0]
        if self.rank != 1:
            return None
        channels = [c for c in range(1, MAX_CHANNELS + 1) if size % c == 0]
        c = self.pick(*channels)
        if not 1 <= size // c <= MAX_SIZE[1]:
            return None
        sizes: list[int] = [c, size // c] if self.coin() else [c, -1]
        return {"Unflatten": {"dim": 1, "unflattened_size": sizes}}, (c, size // c)

    # --- composites (centred bodies: odd kernels, padding d (k - 1) / 2) ---

    def centred(self, shape: Shape, out: int | None = None) -> tuple[Entry, Shape]:
        k, d = self.pick(1, 3), self.pick(1, 2)
        out = out or self.int(1, MAX_CHANNELS)
        args = {"out_channels": out, "kernel_size": k, "padding": d * (k - 1) // 2}
        if d > 1:
            args["dilation"] = d
        return {self.kind("Conv"): args}, (out, *shape[1:])

    def same_shape_chain(self, shape: Shape, depth: int) -> list[Entry]:
        layers: list[Entry] = []
        for _ in range(self.int(1, 3)):
            choice = self.int(0, 4)
            if choice == 0:
                layers.append(self.centred(shape, out=shape[0])[0])
            elif choice == 1:
                layers.append({self.kind("BatchNorm"): {}} if self.coin() else "ReLU")
            elif choice == 2 and depth < MAX_DEPTH:
                layers.append(self.composite(shape, depth + 1, same=True)[0])
            else:
                layers.append(self.pick(*ACTIVATIONS))
        return layers

    def composite(self, shape: Shape, depth: int, same: bool = False) -> tuple[Entry, Shape]:
        choice = self.int(0, 3)
        if choice == 0:
            return {"Repeat": {"times": self.int(0, 3),
                               "layers": self.same_shape_chain(shape, depth)}}, shape
        if choice == 1 and not same:
            body: list[Entry] = []
            out = shape
            for _ in range(self.int(1, 2)):
                entry, out = self.centred(out)
                body.append(entry)
            args: dict[str, Any] = {"body": body}
            if self.coin():
                args["post"] = ["ReLU"]
            return {"Residual": args}, out
        if choice == 2:
            shortcut = self.pick("identity", "auto", "if_same")
            args = {"body": self.same_shape_chain(shape, depth), "shortcut": shortcut}
            return {"Residual": args}, shape
        if same:
            return {"Sequential": {"layers": self.same_shape_chain(shape, depth)}}, shape
        branches: list[list[Entry]] = []
        channels = 0
        for _ in range(self.int(2, 3)):
            entry, out = self.centred(shape)
            branches.append([entry])
            channels += out[0]
        return {"Parallel": {"branches": branches}}, (channels, *shape[1:])


@st.composite
def valid_specs(draw: st.DrawFn) -> tuple[dict[str, Any], Shape]:
    """A random valid spec (plain data) and its output shape by torch's formulas."""
    rank = draw(st.integers(1, 3))
    chain = Chain(draw, rank)
    lo, hi = SIZES[rank]
    shape: Shape = (chain.int(1, MAX_CHANNELS), *(chain.int(lo, hi) for _ in range(rank)))
    data: dict[str, Any] = {"name": "fuzz", "input": list(shape)}
    layers: list[Entry] = []
    for _ in range(chain.int(1, 7)):
        if chain.spatial(shape):
            choice = chain.int(0, 9)
            if choice == 0:
                entry, shape = chain.flatten(shape)
            elif choice == 1:
                entry, shape = chain.composite(shape, 1)
            else:
                entry, shape = chain.spatial_leaf(shape)
        else:
            unflattened = chain.unflatten(shape) if len(shape) == 1 and chain.coin(0.2) else None
            entry, shape = unflattened or chain.vector_leaf(shape)
        layers.append(entry)
    data["layers"] = layers
    if chain.coin(0.3):
        templated(chain, data)
    return data, shape


def templated(chain: Chain, data: dict[str, Any]) -> None:
    """Replace some literal values by parameters and expressions, and ReLU by a block."""
    widths: dict[int, str] = {}

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if node == "ReLU" and chain.coin():
            return "Act"
        if isinstance(node, dict):
            result = {}
            for key, value in node.items():
                if key == "out_channels" and isinstance(value, int) and chain.coin():
                    name = widths.setdefault(value, f"width{len(widths)}")
                    value = name if value == 1 or chain.coin() else f"2 * {name} - {name}"
                result[key] = visit(value)
            return result
        return node

    data["layers"] = visit(data["layers"])
    data["params"] = {name: value for value, name in widths.items()}
    data["blocks"] = {"Act": {"layers": ["ReLU"]}}


def to_yaml(draw: st.DrawFn, data: dict[str, Any]) -> str:
    """``data`` as YAML text, in block, flow or mixed style."""
    style = draw(st.sampled_from([None, False, True]))
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=style, width=100)


# --- corruptions ---

NASTY = list(" \t\n:-[]{},&*!|>'\"#%@`?~0123456789.eE_x")
NUMBERS = ["0", "-1", "-7", "1", "2", "3", "64", "1000", "100000", "10000000000", "1.5",
           "1e3", "-0.5", "0x10", "9" * 30, ".inf", "nan"]
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?=:)")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _text_corruption(draw: st.DrawFn, text: str) -> str:
    op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "delete_line",
                               "duplicate_line", "swap_lines", "indent", "number", "key"]))
    if not text:
        return draw(st.sampled_from(NASTY))
    at = draw(st.integers(0, len(text) - 1))
    lines = text.split("\n")
    line = draw(st.integers(0, len(lines) - 1))
    if op == "delete":
        return text[:at] + text[at + 1:]
    if op == "duplicate":
        return text[:at] + text[at] + text[at:]
    if op == "swap" and at + 1 < len(text):
        return text[:at] + text[at + 1] + text[at] + text[at + 2:]
    if op == "insert":
        return text[:at] + draw(st.sampled_from(NASTY)) + text[at:]
    if op == "delete_line":
        return "\n".join(lines[:line] + lines[line + 1:])
    if op == "duplicate_line":
        return "\n".join(lines[:line + 1] + lines[line:])
    if op == "swap_lines" and line + 1 < len(lines):
        lines[line], lines[line + 1] = lines[line + 1], lines[line]
        return "\n".join(lines)
    if op == "indent":
        shift = draw(st.sampled_from([-2, -1, 1, 2]))
        lines[line] = lines[line][-shift:] if shift < 0 else " " * shift + lines[line]
        return "\n".join(lines)
    if op == "number":
        matches = list(NUMBER.finditer(text))
        if matches:
            match = draw(st.sampled_from(matches))
            return text[:match.start()] + draw(st.sampled_from(NUMBERS)) + text[match.end():]
    if op == "key":
        matches = list(KEY.finditer(text))
        if matches:
            match = draw(st.sampled_from(matches))
            word = match.group()
            new = draw(st.sampled_from([
                word.lower(), word.upper(), word[:-1], word + "s", word[1:] or "x",
                *list(registered_kinds())[:8], "input", "layers", "params", "name",
            ]))
            return text[:match.start()] + new + text[match.end():]
    return text


WRONG_VALUES: list[Any] = ["abc", "", -1, 0, -3, 1.5, True, False, None, [], {}, [1, 2, 3, 4],
                           10**12, 2**63, "same", "ReLU", {"a": 1}, [[1]], float("inf"),
                           float("nan"), {1: 2}, "2 * (", "max(1, 2", "width ** 2"]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _data_corruption(draw: st.DrawFn, data: Any) -> Any:
    paths = [p for p in _paths(data) if p]
    path = draw(st.sampled_from(paths))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    op = draw(st.sampled_from(["wrong", "wrong", "delete", "add", "kind"]))
    if op == "wrong":
        parent[last] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[draw(st.sampled_from(["extra", "kernal_size", "stride", "name", "Conv2d"]))] = (
            copy.deepcopy(draw(st.sampled_from(WRONG_VALUES))))
    elif op == "kind" and isinstance(parent, dict) and isinstance(last, str):
        kind = draw(st.sampled_from(list(registered_kinds())))
        parent[kind] = parent.pop(last)
    elif isinstance(parent, list) and op == "kind":
        parent[last] = draw(st.sampled_from(list(registered_kinds())))
    return data


@st.composite
def corrupted_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec as plain data (``netspec.load(dict)``), damaged once to three times."""
    data, _ = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        data = _data_corruption(draw, data)
    return data


@st.composite
def corrupted_texts(draw: st.DrawFn) -> str:
    """A valid spec damaged once to three times, as YAML text."""
    data, _ = draw(valid_specs())
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 2))):
            data = _data_corruption(draw, data)
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    else:
        text = to_yaml(draw, data)
    for _ in range(draw(st.integers(0 if text else 1, 3))):
        text = _text_corruption(draw, text)
    return text
