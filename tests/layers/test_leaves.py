"""Leaf kinds made when first named (``netspec.layers.leaves``): the class a class statement
would make, made once, and only for the kinds a spec names."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

from netspec.layers.registry import KIND_MODULES, kind_of, registered_kinds


def test_a_leaf_is_the_class_its_module_and_pickle_find() -> None:
    from netspec.layers import conv
    from netspec.layers.conv import Conv2d  # type: ignore[attr-defined]

    assert Conv2d is kind_of("Conv2d") is conv.Conv2d
    assert (Conv2d.__name__, Conv2d.__qualname__, Conv2d.__module__) == (
        "Conv2d", "Conv2d", "netspec.layers.conv")
    assert Conv2d.kind == "Conv2d" and Conv2d.rank == 2
    assert issubclass(Conv2d, conv.ConvNd)
    layer = Conv2d(out_channels=8, kernel_size=3)
    assert pickle.loads(pickle.dumps(layer)) == layer


def test_a_leaf_keeps_its_docstring_and_attributes() -> None:
    relu, dropout3d = kind_of("ReLU"), kind_of("Dropout3d")
    assert inspect.getdoc(relu) == (
        "``max(0, x)``, exactly ``torch.nn.ReLU``. Shape and receptive field unchanged.\n\n"
        "Example: ``- ReLU``")
    assert dropout3d.sample_dims == 4 and dropout3d.torch_takes_any_rank
    assert kind_of("Sigmoid").is_activation and not kind_of("Identity").is_activation


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    from netspec.layers import conv

    with pytest.raises(AttributeError, match="Conv4d"):
        conv.Conv4d  # noqa: B018


def test_every_kind_is_registered_under_its_own_name() -> None:
    kinds = registered_kinds()
    for name in KIND_MODULES:
        assert kinds[name].kind == name
        assert kinds[name].__module__ == KIND_MODULES[name]


def test_threads_naming_a_kind_at_once_make_one_class() -> None:
    code = """
import threading
from netspec.layers.registry import kind_of
made = []
threads = [threading.Thread(target=lambda: made.append(kind_of("MaxPool3d"))) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(len(made), len({id(cls) for cls in made}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["8", "1"]


def test_a_spec_makes_only_the_kinds_it_names() -> None:
    code = """
import netspec
from netspec.layers import registry
netspec.load({"input": [3, 8, 8], "layers": [{"Conv2d": {"out_channels": 4, "kernel_size": 3}},
                                              "ReLU", {"MaxPool2d": {"kernel_size": 2}}]})
print(" ".join(sorted(name for name in registry.KIND_MODULES
                      if registry.registered_class(name) is not None)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    made = set(out.stdout.split())
    assert {"Conv2d", "ReLU", "MaxPool2d"} <= made
    # their families' other leaves are not made: neither other ranks nor siblings
    assert not made & {"Conv1d", "Conv3d", "ConvTranspose2d", "ReLU6", "SiLU", "Sigmoid",
                       "MaxPool1d", "AvgPool2d"}
