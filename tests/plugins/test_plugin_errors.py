"""Plugins that break their word get located errors naming them, and nothing else suffers:
the other layers' rows, the registry, netspec's own kinds.

The test plugins are in ``tests/plugins/kinds.py`` (no torch) and ``modules.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

import netspec
from netspec import NetspecError, PluginError, SpecError
from netspec.layers import Layer, registry
from netspec.layers.fields import PositiveInt
from netspec.torch_side.build import module_class
from tests.plugins.kinds import Explodes, Garbage, Liar, Swish
from tests.plugins.setup import SPEC, registered

AROUND = """\
input: [3, 8, 8]
layers:
  - Conv2d: {{out_channels: 4, kernel_size: 3, padding: 1}}
  - {kind}
  - ReLU
"""


def test_a_plugin_raising_in_its_shape_rule_is_a_located_error_naming_it() -> None:
    with registered(Explodes), pytest.raises(SpecError) as caught:
        netspec.load(AROUND.format(kind="Explodes"))
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.path) == (4, 5, ("layers", 1, "Explodes"))
    assert "plugin kind Explodes (from tests.plugins.kinds)" in problem.message
    assert "ZeroDivisionError" in problem.message


def test_the_registry_and_other_specs_are_unaffected_by_a_raising_plugin(example: Any) -> None:
    with registered(Explodes):
        with pytest.raises(SpecError):
            netspec.load(AROUND.format(kind="Explodes"))
        assert registry.registered_class("Explodes") is Explodes
        report = netspec.analyze(netspec.load(SPEC))  # the example and netspec's kinds work
        assert report.params == 224 + 216 + 96 + 2570


def test_a_plugin_returning_no_shape_is_a_located_error_naming_it() -> None:
    with registered(Garbage), pytest.raises(SpecError) as caught:
        netspec.load(AROUND.format(kind="Garbage"))
    (problem,) = caught.value.problems
    assert problem.line == 4
    assert "plugin kind Garbage (from tests.plugins.kinds) returned the output shape" in (
        problem.message)


def test_a_wrong_shape_that_torch_contradicts_is_a_located_plugin_error() -> None:
    with registered(Liar):
        spec = netspec.load(AROUND.format(kind="Liar"))  # Liar says [4, 8, 8]; torch: [8, 8, 8]
        report = netspec.analyze(spec)
        assert [row.out_shape for row in report.layers] == [(4, 8, 8)] * 3
        with pytest.raises(PluginError) as caught:
            netspec.summary(spec)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (4, 5)
    assert "torch disagrees with plugin kind Liar (from tests.plugins.kinds)" in problem.message
    assert "output shape: its rules say [4, 8, 8], its module gives [8, 8, 8]" in problem.message


def test_lints_ask_a_plugin_kind_the_same_questions() -> None:
    text = AROUND.format(kind="Swish").replace("  - ReLU", "  - BatchNorm2d")
    with registered(Swish):
        warnings = netspec.lint(netspec.load(text))
    (ns105,) = [w for w in warnings if w.code == "NS105"]
    assert ns105.line == 4 and "Swish directly before BatchNorm2d" in ns105.message


class _AsksBadly(Layer):
    kind = "AsksBadly"
    torch_name = "Identity"
    is_activation = True

    def receptive_field(self, rf: Any, in_shape: Any) -> Any:
        return rf

    def windows(self, in_shape: Any) -> Any:
        raise KeyError("no windows here")


def test_a_plugin_raising_when_the_lints_ask_is_a_located_error_naming_it() -> None:
    with registered(_AsksBadly), pytest.raises(SpecError) as caught:
        netspec.lint(netspec.load(AROUND.format(kind="AsksBadly")))
    (problem,) = caught.value.problems
    assert problem.line == 4 and "plugin kind AsksBadly" in problem.message
    assert "KeyError" in problem.message


# --- registering ---


class _Named(Layer):
    kind = "Conv2d"


class _Twin(Layer):
    kind = "Swish"


class _NoName(Layer):
    pass


def test_register_kind_refuses_clashes_and_leaves_the_registry_whole() -> None:
    with pytest.raises(NetspecError, match="one of netspec's own kinds"):
        netspec.register_kind(_Named)
    assert registry.kind_of("Conv2d").__module__ == "netspec.layers.conv"
    with pytest.raises(NetspecError, match="needs `kind"):
        netspec.register_kind(_NoName)
    with pytest.raises(NetspecError, match=r"subclass of netspec\.layers\.Layer"):
        netspec.register_kind(dict)  # type: ignore[type-var]
    with registered(Swish):
        assert netspec.register_kind(Swish) is Swish  # again: nothing happens
        with pytest.raises(NetspecError, match=r"registered by tests\.plugins\.kinds\.Swish"):
            netspec.register_kind(_Twin)
        assert registry.registered_class("Swish") is Swish


def test_a_field_pydantic_cannot_build_is_refused_at_registration() -> None:
    class Broken(Layer):
        kind = "BrokenFields"
        size: NotAType = 3  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(NetspecError, match=r"BrokenFields.*do not make a schema"):
        netspec.register_kind(Broken)
    assert registry.registered_class("BrokenFields") is None


# --- the torch side imports only what registered kinds declare ---


class _Declares(Layer):
    kind = "Declares"
    torch_name = "tests.plugins.modules:Doubler"
    out: PositiveInt = Field(default=1)


def test_only_a_registered_kinds_torch_name_is_ever_imported() -> None:
    assert module_class("tests.plugins.modules:Doubler") is None  # nobody declared it
    assert module_class("os:system") is None
    with registered(_Declares):
        assert module_class("tests.plugins.modules:Doubler").__name__ == "Doubler"
        assert module_class("os:system") is None
    assert module_class("tests.plugins.modules:Doubler") is None


def test_a_plugins_own_macs_are_shown_as_given_and_not_compared() -> None:
    """Widen(2) on [2, 4, 4]: 2*2*2 = 8 weights, each used at 4*4 positions: 128 MACs, where
    torchinfo's rule of thumb for a custom module would say 8 (one per parameter)."""
    from tests.plugins.kinds import Widen

    with registered(Widen):
        result = netspec.summary("input: [2, 4, 4]\nlayers:\n  - Widen: {factor: 2}\n  - ReLU\n")
    assert result.confirmed_by is not None
    assert (result.report.params, result.report.macs) == (8, 2 * 2 * 2 * 4 * 4)
    assert "Plugin kinds (Widen): torch confirms their shapes and parameters, not their MACs" in (
        result.to_table())
