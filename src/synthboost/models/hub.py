"""Files of an ``owner/name`` hub model, with hub errors turned into one line naming what was asked.

A name that is neither a local folder nor a reachable (or cached) hub model gives
``"<name>: not found ..."`` rather than ``huggingface_hub``'s text about connections and caches.
"""

from __future__ import annotations

from pathlib import Path


def hub_file(repo_id: str, filename: str) -> Path:
    """The local path of ``filename`` of the hub model ``repo_id`` (downloaded or from the cache).

    Raises:
        FileNotFoundError: ``"<repo_id>: not found (...)"`` when it is neither a local folder nor a
            hub model available here (offline: not in the cache).
    """
    import os

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError

    try:
        return Path(hf_hub_download(repo_id, filename))
    except (OSError, EntryNotFoundError, HFValidationError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        how = "not in the local hub cache (offline)" if offline else f"{type(err).__name__}"
        raise FileNotFoundError(
            f"{repo_id}: not found (no such local folder; as an owner/name hub model: {filename} {how})"
        ) from None
