"""The software a result was made with: versions of the packages that shape numbers, and the device.

Written as the ``environment`` key of every ``dataset.json``, ``run.json`` and analysis
``summary.json`` (docs/formats.md, "Environment"), so that two results made under different versions
(e.g. Pillow reinstalled by another package: prepared PNGs differ) can be told apart. Versions come
from the installed distributions' metadata (``importlib.metadata``): nothing is imported.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping
from typing import Any

#: Distributions whose version can change a result (name as pip knows it → short label).
RESULT_PACKAGES: dict[str, str] = {
    "synthboost": "synthboost",
    "torch": "torch",
    "numpy": "numpy",
    "pillow": "Pillow",
    "simpleitk": "SimpleITK",
    "scikit-image": "scikit-image",
    "transformers": "transformers",
    "peft": "peft",
    "pydicom": "pydicom",
    "av": "PyAV",
    "lightning": "Lightning",
}
ENVIRONMENT_KEY = "environment"


def package_version(dist: str) -> str | None:
    """The installed version of distribution ``dist`` (``None`` when it is not installed)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_versions(device: Any = None) -> dict[str, Any]:
    """Python, platform, the versions of :data:`RESULT_PACKAGES` and ``device`` (``str``; ``None``: not
    recorded, e.g. a CPU-only stage)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "device": None if device is None else str(device),
        "packages": {label: package_version(dist) for dist, label in RESULT_PACKAGES.items()},
    }


def version_differences(environments: Mapping[str, Any]) -> list[str]:
    """Packages (and Python) whose recorded version differs between the named environments.

    Args:
        environments: name (a run, a dataset) → its recorded ``environment`` (``None`` or a
            malformed record: not compared, since an older synthboost did not write one).

    Returns:
        One line per differing package, e.g. ``"Pillow: 11.0.0 (run_a), 12.3.0 (run_b, run_c)"``;
        empty when every recorded environment agrees.
    """
    packages: dict[str, dict[str, list[str]]] = {}
    for name, env in environments.items():
        if not isinstance(env, Mapping) or not isinstance(env.get("packages"), Mapping):
            continue
        versions = {**env["packages"], "Python": env.get("python")}
        for package, version in versions.items():
            packages.setdefault(str(package), {}).setdefault(str(version), []).append(str(name))
    lines = []
    for package, by_version in sorted(packages.items()):
        if len(by_version) > 1:
            lines.append(
                f"{package}: "
                + ", ".join(f"{v} ({', '.join(names)})" for v, names in sorted(by_version.items()))
            )
    return lines
