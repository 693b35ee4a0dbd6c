"""``analyze`` walks each spec object once; equal specs and failures are not shared."""

from __future__ import annotations

import gc
import weakref

import pytest

import netspec
from netspec.analysis.memo import once_per_spec
from netspec.reading.spec import Spec

SPEC = {"input": [3, 16, 16], "layers": [{"Conv2d": {"out_channels": 4, "kernel_size": 3}}]}


def test_the_same_spec_is_analysed_once() -> None:
    spec = netspec.load(SPEC)
    assert netspec.analyze(spec) is netspec.analyze(spec)


def test_an_equal_spec_is_analysed_on_its_own() -> None:
    first, second = netspec.load(SPEC), netspec.load(SPEC)
    assert first == second
    assert netspec.analyze(first) is not netspec.analyze(second)
    assert netspec.analyze(first) == netspec.analyze(second)


def test_another_input_is_another_spec() -> None:
    spec = netspec.load(SPEC)
    assert netspec.analyze(spec.with_input((3, 32, 32))).output_shape == (4, 30, 30)
    assert netspec.analyze(spec).output_shape == (4, 14, 14)


def test_failures_are_not_kept() -> None:
    calls = []

    @once_per_spec
    def failing(spec: Spec) -> int:
        calls.append(spec)
        raise ValueError("no")

    spec = netspec.load(SPEC)
    for _ in range(2):
        with pytest.raises(ValueError):
            failing(spec)
    assert len(calls) == 2


def test_a_remembered_result_does_not_keep_its_spec_alive() -> None:
    spec = netspec.load(SPEC)
    netspec.analyze(spec)
    ref = weakref.ref(spec)
    del spec
    gc.collect()
    assert ref() is None
