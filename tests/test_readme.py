"""The README runs as written: its Python tour (with one epoch instead of 300) and its export commands."""

import os
import re
import shlex
import subprocess
import sys

import pytest


def test_readme_python_tour_runs(tmp_path, monkeypatch):
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "model.fit(ds, epochs=300)" in code
    code = code.replace("epochs=300", "epochs=1")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["images"].shape == (64, 8, 8, 1)
    assert (tmp_path / "dcgan.keras").is_file() and (tmp_path / "generator.keras").is_file()


@pytest.mark.slow  # a one-epoch run, an export to both formats and two grids (~30 s)
def test_readme_export_commands_run(tmp_path):
    # The "Export and serving" block, verbatim, on a one-epoch run at the path it names: each command exits 0
    # and the sample commands write their grids (a wrong path in the README once failed here).
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = re.search(r"## Export and serving[^\n]*\n\n```bash\n(.*?)```", readme, re.S).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["keras-gan", "export"], ["keras-gan", "sample"], ["keras-gan", "sample"]]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)

    def cli(args):
        done = subprocess.run([sys.executable, "-m", "keras_gan.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (args, done.stderr[-2000:])

    cli(["train", "--epochs", "1", "--output", "runs/dcgan_digits"])
    for command in commands:
        cli(command[1:])
    for command in commands[1:]:
        out = command[command.index("--out") + 1]
        assert (tmp_path / out).is_file() and (tmp_path / out).stat().st_size > 0, out
