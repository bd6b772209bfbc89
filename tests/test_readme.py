"""The README's Python tour runs as written (with one epoch instead of 300)."""

import os
import re


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
