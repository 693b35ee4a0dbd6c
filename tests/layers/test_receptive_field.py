"""Receptive fields confirmed empirically, on every spec in ``specs/`` and on cases worked by hand.

For each spec, the network is turned into a linear one with positive coefficients, and the set
of input pixels where the gradient of one output unit is non-zero must be exactly the window the
analysis gives (``tests/gradient_support.py`` documents the method). The hand-worked cases state
their size, jump and start from the formulas ``r_out = r_in + (k_eff - 1) j_in``,
``j_out = j_in s``, ``start_out = start_in + ((k_eff - 1) / 2 - p) j_in``, worked out in each id.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

import netspec
from tests.gradient_support import affordable, confirm_windows, observed, positive_linear

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=[path.stem for path in SPEC_FILES])
def test_gradient_support_is_the_analysed_window(path: Path) -> None:
    spec = netspec.load(path)
    if len(spec.input) < 2:
        pytest.skip("no spatial axis")
    if any(row.kind == "ShiftedWindowAttention" for row in netspec.analyze(spec).layers):
        pytest.skip("windowed attention's field is a bound past the first merge: "
                    "tests/layers/test_windows.py checks it by gradients")
    checked = confirm_windows(affordable(spec))
    assert checked, "no row of this spec has an integer receptive field to check"


# --- worked by hand ---


def conv(**args: object) -> dict[str, object]:
    return {"Conv2d": {"out_channels": 2, **args}}


HAND_WORKED = [
    # (layers, (size, jump, start) of the last layer, worked out by hand)
    pytest.param(
        [conv(kernel_size=3)] * 3, (7, 1, 3),
        id="three 3x3: 1+2+2+2=7, centre of unit 0 at (7-1)/2",
    ),
    pytest.param(
        [conv(kernel_size=3, padding=1)] * 3, (7, 1, 0),
        id="three padded 3x3: same field, unit 0 centred on pixel 0",
    ),
    pytest.param(
        [conv(kernel_size=7)], (7, 1, 3), id="one 7x7",
    ),
    pytest.param(
        [conv(kernel_size=3, stride=2), conv(kernel_size=3)], (7, 2, 3),
        id="3x3 stride 2 then 3x3: 3 + 2*2 = 7, jump 2, start 1 + 1*2",
    ),
    pytest.param(
        [conv(kernel_size=3, dilation=2)], (5, 1, 2),
        id="3x3 dilation 2: k_eff = 2*(3-1)+1 = 5",
    ),
    pytest.param(
        [conv(kernel_size=3, dilation=2), conv(kernel_size=3)], (7, 1, 3),
        id="dilated 3x3 then 3x3: 5 + 2 = 7, holes filled",
    ),
    pytest.param(
        [conv(kernel_size=2)], (2, 1, Fraction(1, 2)),
        id="2x2: unit 0 centred between pixels 0 and 1",
    ),
    pytest.param(
        [conv(kernel_size=4, padding="same")], (4, 1, Fraction(1, 2)),
        id="4x4 same: torch pads 1 left and 2 right, unit 0 centred at 3/2 - 1",
    ),
    pytest.param(
        [conv(kernel_size=3), {"MaxPool2d": {"kernel_size": 2, "stride": 2}}],
        (4, 2, Fraction(3, 2)),
        id="3x3 then 2x2 pool: 3 + 1 = 4, jump 2, start 1 + 1/2",
    ),
    pytest.param(
        [conv(kernel_size=3), {"MaxPool2d": {"kernel_size": 3, "stride": 2, "padding": 1,
                                             "ceil_mode": True}}],
        (5, 2, 1),
        id="3x3 then 3x3/2 pad 1 ceil pool: 3 + 2 = 5, jump 2, start 1 + (1 - 1)",
    ),
    pytest.param(
        [conv(kernel_size=5, stride=2, padding=2), conv(kernel_size=3, stride=2, padding=1)],
        (9, 4, 0),
        id="5x5/2 pad 2 then 3x3/2 pad 1: 5 + 2*2 = 9, jump 4, start 0",
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("layers", "expected"), HAND_WORKED)
def test_hand_worked_receptive_field(layers: list[object], expected: tuple[object, ...]) -> None:
    spec = netspec.load({"name": "hand", "input": [1, 23, 23], "layers": layers})
    rf = netspec.analyze(spec).rf
    assert [(axis.size, axis.jump, axis.start) for axis in rf] == [expected] * 2
    confirm_windows(spec)


def test_three_3x3_and_one_7x7_depend_on_the_same_pixels() -> None:
    """Measured, not computed: each output unit of both networks sees the same 7x7 patch."""
    windows = []
    for name in ("receptive_field.yaml", "receptive_field_7x7.yaml"):
        spec = netspec.load(SPECS / name)
        last = netspec.analyze(spec).top_level()[-1]
        windows.append({p.unit: p.window for p in confirm_windows(spec) if p.row == last})
    assert windows[0] == windows[1]
    assert windows[0][(15, 15)] == ((15 - 3, 15 + 3),) * 2  # centre unit: 3 pixels each side
    assert windows[0][(0, 0)] == ((0, 3),) * 2  # padding: the corner unit's window is clipped


def test_dilated_window_has_holes_the_extent_still_counts() -> None:
    """One 3x3 kernel with dilation 2 reads pixels 0, 2, 4 of its 5-pixel window."""
    spec = netspec.load({"input": [1, 9, 9], "layers": [conv(kernel_size=3, dilation=2)]})
    assert [axis.size for axis in netspec.analyze(spec).rf] == [5, 5]
    model = positive_linear(netspec.build(spec, device="meta")[0])
    x = torch.ones(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x)[0, 0, 0, 0], x)
    seen = observed(grad)
    assert seen.any(dim=1).nonzero().flatten().tolist() == [0, 2, 4]
    assert seen.any(dim=0).nonzero().flatten().tolist() == [0, 2, 4]


@pytest.mark.parametrize(
    ("length", "out", "expected"),
    [
        pytest.param(4, 2, (2, 2, Fraction(1, 2)), id="4 to 2: [0,2) [2,4), m divides n"),
        pytest.param(17, 2, (9, 8, 4), id="17 to 2: [0,9) [8,17), a 9-wide window, step 8"),
        pytest.param(4, 3, (2, 1, Fraction(1, 2)), id="4 to 3: [0,2) [1,3) [2,4), step 1"),
        pytest.param(16, 3, (6, 5, Fraction(5, 2)), id="16 to 3: [0,6) [5,11) [10,16), step 5"),
    ],
)
def test_adaptive_pool_with_evenly_sliding_windows_is_exact(
    length: int, out: int, expected: tuple[object, ...]
) -> None:
    """torch's adaptive windows ``[floor(i n / m), ceil((i + 1) n / m))`` often slide evenly even
    when ``m`` does not divide ``n`` (every ``m = 2`` on an odd length does): they are then an
    ordinary window of width ``w`` and step ``t``, and the field is exact (size ``w``, jump
    ``t``, start ``(w - 1) / 2``). Worked out by hand from the windows in each id.
    """
    for kind in ("AdaptiveAvgPool1d", "AdaptiveMaxPool1d"):
        spec = netspec.load({"name": "adaptive", "input": [1, length],
                             "layers": [{kind: {"output_size": out}}]})
        (axis,) = netspec.analyze(spec).rf
        assert (axis.size, axis.jump, axis.start) == expected, kind
        confirm_windows(spec)
