"""Shared helpers, one module per job: :mod:`~synthboost.utils.files` (atomic writes, JSON/YAML),
:mod:`~synthboost.utils.device` (device, autocast, seeds), :mod:`~synthboost.utils.lazy` (lazy package names).
The package logger is :func:`synthboost.logs.get_logger`."""
