"""``netspec.load_weights`` and ``build(weights=...)``: checkpoints of plain-PyTorch models.

The references are written here in plain PyTorch with their own module names (as torchvision
names them), so their state dicts load into the netspec models by order; what is compared is
the output (eval mode) and every tensor. Refusals must name every entry that does not fit at
its spec line, leave the model untouched, and never run code from a file.
"""

from __future__ import annotations

import pickle
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netspec
from netspec.torch_side.load_weights import load_weights_with_report

BLOCKNET = """\
name: blocknet
input: [3, 16, 16]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3, padding: 1, bias: false, name: conv1}
  - BatchNorm2d: {name: bn1}
  - ReLU
  - Residual:
      body:
        - Conv2d: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1, bias: false}
        - BatchNorm2d
        - ReLU
        - Conv2d: {out_channels: 16, kernel_size: 3, padding: 1, bias: false}
        - BatchNorm2d
      shortcut: auto
      post: [ReLU]
  - AdaptiveAvgPool2d: {output_size: 1}
  - Flatten
  - Linear: {out_features: 5, name: fc}
"""


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of ``BLOCKNET`` that holds ``fragment`` (once)."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, fragment
    return lines[0]


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv1, bn1, relu, conv2, bn2, then the downsample."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                        nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.downsample(x))


class BlockNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.layer1 = BasicBlock(8, 16, 2)
        self.head = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(F.relu(self.stem_bn(self.stem(x))))
        return self.head(x.mean(dim=(2, 3)))


def trained_reference(seed: int = 3) -> BlockNet:
    """A reference with random weights and non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    reference = BlockNet()
    for module in reference.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(7)
    return reference.eval()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_reference_checkpoint_loads_by_order_and_computes_the_same(tmp_path: Path) -> None:
    reference = trained_reference()
    torch.save(reference.state_dict(), tmp_path / "blocknet.pt")
    model = netspec.build(BLOCKNET, weights=tmp_path / "blocknet.pt").eval()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
    theirs = list(reference.state_dict().values())
    mine = list(model.state_dict().values())
    assert len(mine) == len(theirs) == 26  # 4 convs, 4 batch norms x 5 (buffers too), fc x 2
    for a, b in zip(mine, theirs, strict=True):
        assert torch.equal(a, b)
    report = load_weights_with_report(netspec.build(BLOCKNET), tmp_path / "blocknet.pt")
    assert (report.tensors, report.matched_by) == (26, "order")


def test_a_netspec_state_dict_loads_by_key_in_any_order() -> None:
    torch.manual_seed(1)
    source = netspec.build(BLOCKNET)
    torch.manual_seed(2)
    target = netspec.build(BLOCKNET)
    shuffled = OrderedDict(reversed(list(source.state_dict().items())))
    assert netspec.load_weights(target, shuffled) is target
    assert_same(snapshot(target), snapshot(source))
    assert load_weights_with_report(target, shuffled).matched_by == "key"


def test_checkpoint_dicts_are_unwrapped(tmp_path: Path) -> None:
    reference = trained_reference()
    x = torch.randn(2, 3, 16, 16)
    for key in ("state_dict", "model"):
        torch.save({"epoch": 12, key: reference.state_dict(), "optimizer": {"lr": 0.1}},
                   tmp_path / f"{key}.pt")
        model = netspec.build(BLOCKNET, weights=tmp_path / f"{key}.pt").eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


def test_wrong_shape_missing_and_extra_are_all_named_and_nothing_is_loaded() -> None:
    state = OrderedDict()
    for key, value in trained_reference().state_dict().items():
        if key == "layer1.conv2.weight":
            value = torch.zeros(16, 16, 1, 1)  # the model's is 3x3
        if key == "head.bias":
            continue  # missing
        state[key] = value
        if key == "stem.weight":
            state["extra.weight"] = torch.zeros(7)  # no counterpart
    model = netspec.build(BLOCKNET)
    before = snapshot(model)
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load_weights(model, state)
    assert_same(snapshot(model), before)
    header, *entries = caught.value.problems
    assert "3 entries do not fit" in header.message and "by order" in header.message
    by_text = {problem.message.split(" ", 1)[0]: problem for problem in entries}
    assert len(entries) == 3
    wrong = by_text["'3.body.3.weight'"]
    assert "'layer1.conv2.weight'" in wrong.message
    assert "[16, 16, 1, 1]" in wrong.message and "[16, 16, 3, 3]" in wrong.message
    assert wrong.line == line_of(BLOCKNET, "- Conv2d: {out_channels: 16, kernel_size: 3, padding")
    missing = by_text["'fc.bias'"]
    assert "[5]" in missing.message and "missing" in missing.message
    assert missing.line == line_of(BLOCKNET, "- Linear:")
    extra = next(problem for problem in entries if "unexpected" in problem.message)
    assert "'extra.weight' [7]" in extra.message


def test_by_key_the_same_three_are_named_at_their_lines() -> None:
    torch.manual_seed(0)
    state = OrderedDict(netspec.build(BLOCKNET).state_dict())
    state["3.shortcut.0.weight"] = torch.zeros(16, 8, 3, 3)  # the projection is 1x1
    del state["bn1.running_var"]
    state["bn1.running_varr"] = torch.ones(8)
    model = netspec.build(BLOCKNET)
    before = snapshot(model)
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load_weights(model, state)
    assert_same(snapshot(model), before)
    header, *entries = caught.value.problems
    assert "3 entries do not fit, matched by key" in header.message
    text = "\n".join(str(problem) for problem in entries)
    assert "'3.shortcut.0.weight': the weights have [16, 8, 3, 3], the model [16, 8, 1, 1]" in text
    assert "'bn1.running_var' [8] is missing" in text
    assert "unexpected entry 'bn1.running_varr' [8]" in text
    lines = {problem.message.split(" ", 1)[0]: problem.line for problem in entries}
    assert lines["'3.shortcut.0.weight':"] == line_of(BLOCKNET, "shortcut: auto")
    assert lines["'bn1.running_var'"] == line_of(BLOCKNET, "name: bn1")


def test_a_float_where_the_model_counts_batches_is_a_misfit() -> None:
    torch.manual_seed(0)
    state = OrderedDict(netspec.build(BLOCKNET).state_dict())
    state["bn1.num_batches_tracked"] = torch.tensor(3.0)
    with pytest.raises(netspec.NetspecError, match=r"\[\] float32, the model int64"):
        netspec.load_weights(netspec.build(BLOCKNET), state)


class ScaleFirst(nn.Module):
    """A parameter registered on the parent before its children (as ConvNeXt's layer scale)."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.rand(8))  # PReLU's slopes, used after conv1
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.prelu(self.conv1(x), self.alpha))


SCALE_LAST = """\
input: [3, 10, 10]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3, padding: 1, bias: false}
  - PReLU: {num_parameters: 8}
  - Conv2d: {out_channels: 4, kernel_size: 1}
"""


def test_an_order_that_differs_only_between_shapes_matches_within_each_shape() -> None:
    torch.manual_seed(4)
    reference = ScaleFirst().eval()
    shapes = [tuple(t.shape) for t in reference.state_dict().values()]
    assert shapes == [(8,), (8, 3, 3, 3), (4, 8, 1, 1), (4,)]  # netspec: conv1, PReLU, conv2
    model = netspec.build(SCALE_LAST)
    assert load_weights_with_report(model, reference.state_dict()).matched_by == (
        "order within each shape")
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), rtol=0, atol=0)


class Evil:
    """Unpickling this opens (creates) ``marker``: code that weights_only loading must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(
        tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    payload = {"0.weight": Evil(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(netspec.NetspecError, match="refused: the file holds Python code") as e:
        netspec.build(BLOCKNET, weights=path)
    assert "open" in str(e.value) and "Traceback" not in str(e.value)
    assert not marker.exists()
    if writer == "torch.save":  # the file is dangerous indeed: an unsafe load runs it
        torch.load(path, weights_only=False)
        assert marker.exists()


def test_unreadable_files_are_errors_in_netspec_words(tmp_path: Path) -> None:
    model = netspec.build(BLOCKNET)
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("not a checkpoint at all")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    torch.save({"weight": torch.zeros(3), "note": "hello"}, tmp_path / "mixed.pt")
    cases = {
        "empty.pt": "the file is empty",
        "text.pt": "not a file saved by torch.save",
        "missing.pt": "no such file",
        ".": "is a directory",
        "tensor.pt": "holds a Tensor, not a state dict",
        "mixed.pt": r"'note' \(str\) is not a named tensor",
    }
    for name, message in cases.items():
        with pytest.raises(netspec.NetspecError, match=message) as caught:
            netspec.load_weights(model, tmp_path / name)
        assert caught.value.problems[0].file == str(tmp_path / name)


def test_a_meta_model_and_a_foreign_model(tmp_path: Path) -> None:
    state = netspec.build(BLOCKNET).state_dict()
    with pytest.raises(netspec.NetspecError, match="meta device"):
        netspec.build(BLOCKNET, device="meta", weights=state)
    plain = nn.Sequential(nn.Linear(3, 2))  # not built by netspec: no spec lines to give
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load_weights(plain, {"0.weight": torch.zeros(2, 4), "0.bias": torch.zeros(2)})
    assert [p.line for p in caught.value.problems] == [None, None]
    assert "'0.weight': the weights have [2, 4], the model [2, 3]" in str(caught.value)


def test_a_long_list_of_misfits_is_cut_with_a_count() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(60)])
    state = {key: torch.zeros(3) for key in model.state_dict()}
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load_weights(model, state)
    assert len(caught.value.problems) == 102
    assert "... and 20 more" in caught.value.problems[-1].message


def test_safetensors_files(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    torch.manual_seed(5)
    source = netspec.build(BLOCKNET)
    safetensors.save_file(dict(source.state_dict()), tmp_path / "w.safetensors")
    model = netspec.build(BLOCKNET, weights=tmp_path / "w.safetensors")
    assert_same(snapshot(model), snapshot(source))
    renamed = {f"m.{key}": value for key, value in trained_reference().state_dict().items()}
    safetensors.save_file(renamed, tmp_path / "renamed.safetensors")
    with pytest.raises(netspec.NetspecError, match="does not keep its tensors' order"):
        netspec.build(BLOCKNET, weights=tmp_path / "renamed.safetensors")


def test_safetensors_without_the_package_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"{}")
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # import fails
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(netspec.NetspecError, match="pip install safetensors"):
        netspec.build(BLOCKNET, weights=tmp_path / "w.safetensors")


def test_a_tensor_held_by_a_container_is_located_at_the_layer_holding_its_leaves() -> None:
    model = netspec.build(BLOCKNET)
    model[3].register_parameter("layer_scale", nn.Parameter(torch.ones(16, 1, 1)))
    state = {key: value for key, value in model.state_dict().items() if key != "3.layer_scale"}
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load_weights(model, state)
    (missing,) = caught.value.problems[1:]
    assert "'3.layer_scale' [16, 1, 1] is missing" in missing.message
    assert missing.line == line_of(BLOCKNET, "- Residual:")
    assert "(layer 3, Residual;" in missing.message
