"""One progress view with nested stage loops; logs once, Lightning's chatter below --verbose."""

from __future__ import annotations

import logging

import pytest

from synthboost import progress
from synthboost.logs import CurrentStderrHandler, quiet_lightning, setup_logging


def test_track_nests_in_the_open_view_and_removes_its_task() -> None:
    assert list(progress.track(range(3), "alone")) == [0, 1, 2] and not progress.is_open()
    with progress.progress_view() as view:
        top = view.add_task("demo", total=2)
        seen = []
        for i in progress.track([10, 20], "inner"):
            seen.append(i)
            assert [t.description for t in view.tasks] == ["demo", "inner"]
        view.advance(top)
        assert seen == [10, 20] and [t.description for t in view.tasks] == ["demo"]
        assert progress.current() is view
    assert progress.current() is None


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level
    for name in ("lightning", "lightning.pytorch", "synthboost"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_each_record_once_and_lightning_info_silenced(root_logging, capsys) -> None:
    import lightning  # noqa: F401 - adds its own console handler

    logging.getLogger().handlers[:] = []
    setup_logging(False)
    setup_logging(False)  # idempotent: still one handler
    assert sum(isinstance(h, CurrentStderrHandler) for h in logging.getLogger().handlers) == 1
    quiet_lightning()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
    logging.getLogger("lightning.pytorch").warning("something real")
    logging.getLogger("synthboost.demo").info("[train] 4 runs")
    err = capsys.readouterr().err
    assert "GPU available" not in err
    assert err.count("something real") == 1 and err.count("[train] 4 runs") == 1


def test_verbose_keeps_lightning_info(root_logging, capsys) -> None:
    logging.getLogger().handlers[:] = []
    setup_logging(True)
    quiet_lightning()
    logging.getLogger("lightning.pytorch").info("GPU available: False")
    assert capsys.readouterr().err.count("GPU available") == 1


def test_repeated_warnings_are_capped_with_a_count(root_logging, capsys) -> None:
    from synthboost.logs import capped_logs

    logging.getLogger().handlers[:] = []
    setup_logging(False)
    with capped_logs(2):
        for i in range(5):
            logging.getLogger("synthboost.clinical").warning("patient%d: no LV volume", i)
        for i in range(4):
            logging.getLogger("synthboost.demo").info("[stage %d] running", i)  # INFO is never capped
    err = capsys.readouterr().err
    assert "patient1" in err and "patient2" not in err
    assert err.count("[stage") == 4 and "3 more messages like these" in err


def test_transformers_imported_first_still_shows_no_loading_bar(root_logging, monkeypatch) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as a library imported before the CLI set up logging leaves it
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    try:
        setup_logging(verbose_=False)
        assert not hf_logging.is_progress_bar_enabled()
        hf_logging.enable_progress_bar()
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")  # a person's explicit choice is kept
        setup_logging(verbose_=False)
        assert hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.disable_progress_bar()
