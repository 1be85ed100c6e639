import torch
import typer
from typer.testing import CliRunner
from vlsm_helpers import make_batch, tiny_model

from synthboost.cli.models import register
from synthboost.models import load_pretrained


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep subcommand names with a single command
        pass

    return app


def test_convert_cris_cli(tmp_path):
    model = tiny_model("cris").eval()
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, tmp_path / "c.pth")
    result = CliRunner().invoke(_app(), ["convert-cris", str(tmp_path / "c.pth"), str(tmp_path / "out"),
                                         "--config", "tiny"])  # fmt: skip
    assert result.exit_code == 0, result.output
    batch = make_batch(model)
    with torch.no_grad():
        torch.testing.assert_close(load_pretrained(tmp_path / "out").eval()(**batch), model(**batch))


def test_convert_cris_cli_rejects_incomplete_checkpoint(tmp_path):
    state = tiny_model("cris").state_dict()
    del state["proj.txt.weight"]
    torch.save(state, tmp_path / "c.pth")
    args = ["convert-cris", str(tmp_path / "c.pth"), str(tmp_path / "out"), "--config", "tiny"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code != 0 and isinstance(result.exception, ValueError)
    assert "proj.txt.weight" in str(result.exception) and not (tmp_path / "out").exists()
