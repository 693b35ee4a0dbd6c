"""Each plugin kind's module against the plugin's own rules, one layer at a time.

A user's kind (``netspec.register_kind``) promises an output shape, parameter and buffer counts;
its ``nn.Module`` is the user's too. Before the whole network is confirmed, every row of a
plugin kind is built alone on its input shape and run on one sample of zeros: a disagreement,
or a module that cannot be built or run, is a ``PluginError`` at that layer naming the plugin
(``kind`` and its module), rather than a netspec bug reported for the network as a whole (a
wrong shape would otherwise surface as a later layer that torch cannot run).
"""

from __future__ import annotations

import torch

from netspec.analysis.analysis import Report
from netspec.core.errors import NetspecError, PluginError, Problem
from netspec.layers.base import LayerReport
from netspec.layers.plugins import describe
from netspec.reading.spec import Spec
from netspec.torch_side.build import build_layer


def check_plugins(spec: Spec, report: Report) -> None:
    """Raise ``PluginError`` listing every plugin row whose module disagrees with it."""
    problems: list[Problem] = []
    for row in report.layers:
        if row.layer is not None and row.layer.plugin:
            problems += _check_row(spec, row)
    if problems:
        raise PluginError(problems)


def _check_row(spec: Spec, row: LayerReport) -> list[Problem]:
    layer = row.layer
    if layer is None:  # pragma: no cover - only plugin rows come here
        return []
    name = describe(type(layer))
    where = spec.source.path_of_row(row.path)
    try:
        module = build_layer(layer, row.in_shape)
        with torch.no_grad():
            output = module(torch.zeros((1, *row.in_shape)))
    except Exception as error:
        reason = error.problems[0].message if isinstance(error, NetspecError) else (
            f"{type(error).__name__}: {error}")
        return [spec.source.problem(where, (
            f"torch could not build or run the module of {name} on one sample of "
            f"{list(row.in_shape)}: {reason}"))]
    if not isinstance(output, torch.Tensor):
        return [spec.source.problem(where, (
            f"the module of {name} returned {type(output).__name__}, not one tensor"))]
    theirs = {
        "output shape": list(output.shape[1:]),
        "parameters": sum(p.numel() for p in module.parameters()),
        "trainable parameters": sum(p.numel() for p in module.parameters() if p.requires_grad),
        "buffers": sum(b.numel() for b in module.buffers()),
    }
    ours = {
        "output shape": list(row.out_shape),
        "parameters": row.params,
        "trainable parameters": row.trainable_params,
        "buffers": row.buffers,
    }
    return [
        spec.source.problem(where, (
            f"torch disagrees with {name}: {what}: its rules say {ours[what]}, its module "
            f"gives {theirs[what]}"))
        for what in ours
        if ours[what] != theirs[what]
    ]
