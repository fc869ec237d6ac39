"""The README's measured figures are the committed JSON's: its generated blocks must equal what
benchmarks/readme_tables.py makes of benchmarks/results/*.json today."""

import subprocess
import sys

from tests.conftest import REPO


def test_readme_results_equal_the_committed_json():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "readme_tables.py"), "--check"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_changed_figure_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import readme_tables

    text = readme_tables.README.read_text()
    assert readme_tables.render(text) == text
    block = next(readme_tables.BLOCK.finditer(text))
    tampered = text.replace(block["body"], block["body"].replace("1", "7", 1) + "99.99%\n", 1)
    assert readme_tables.render(tampered) != tampered  # the generator puts the JSON's figures back


def test_every_file_the_readme_links_exists():
    import re

    text = (REPO / "README.md").read_text()
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t and not t.startswith("#")}
    assert {"docs/mlflow_runs.png", "docs/mlflow_run.png", "docs/kedro_viz.png"} <= targets
    missing = sorted(t for t in targets if not (REPO / t).exists())
    assert not missing, f"README links to files that are not in the repository: {missing}"
