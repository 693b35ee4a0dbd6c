"""The torch side, the only place that imports torch and torchinfo: build a spec's kinds into
modules, the modules netspec adds, weights, torchinfo confirmation, export and the round trip."""
