"""dev.py: the `run` verb (any command inside the venv) and what `quickstart` says.

Reference: dev.py's docstring (``python3 dev.py run CMD ...`` runs CMD with the venv's bin/
first on PATH; quickstart starts afresh and says which previous outputs it removes).  The venv
itself is replaced by a temporary directory: nothing is installed.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dev(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    monkeypatch.setattr(mod, "ROOT", root)
    monkeypatch.setattr(mod, "VENV", root / ".venv")
    monkeypatch.setattr(mod, "BIN", root / ".venv" / "bin")
    monkeypatch.setattr(mod, "ensure_venv", lambda: None)
    (root / ".venv" / "bin").mkdir(parents=True)
    return mod


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(os.name == "nt", reason="POSIX shebang scripts")
def test_run_verb_uses_the_venv(dev, tmp_path, capfd):
    out = tmp_path / "seen.txt"
    _script(dev.BIN / "tgsweep", "import os, sys\n"
            f"open({str(out)!r}, 'w').write(os.environ['PATH'].split(os.pathsep)[0] + '|' + "
            "os.environ['VIRTUAL_ENV'] + '|' + ' '.join(sys.argv[1:]))\n")
    assert dev.main(["run", "tgsweep", "status", "data/quickstart.zarr"]) == 0
    first, venv, args = out.read_text().split("|")
    assert first == str(dev.BIN) and venv == str(dev.VENV)
    assert args == "status data/quickstart.zarr"
    assert dev.main(["run", "no-such-command-xyz"]) == 127
    assert "command not found" in capfd.readouterr().err
    assert dev.main(["run"]) == 2


def test_quickstart_says_what_it_removes(dev, monkeypatch, capsys):
    store = dev.ROOT / "data" / "quickstart.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    calls = []
    monkeypatch.setattr(dev, "run", lambda cmd, cwd=None: calls.append(cmd) or 0)
    assert dev.main(["quickstart"]) == 0
    out = capsys.readouterr().out
    assert "removing the previous data/quickstart.zarr" in out
    assert not store.exists()
    assert calls[0][1:3] == ["run", "workflows/quickstart.toml"]
    assert calls[1][1] == "plot" and calls[1][-1] == str(dev.ROOT / "data" / "quickstart-figures")
    assert ". .venv/bin/activate" in out and "dev.py run tgsweep status" in out
    # nothing to remove: nothing said about removing
    assert dev.main(["quickstart"]) == 0
    assert "removing" not in capsys.readouterr().out
