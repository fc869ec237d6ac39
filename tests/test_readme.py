"""The README and docs/ say what the committed results say, link only to what exists, and speak of the software:
their generated blocks must equal what benchmarks/readme_tables.py makes of benchmarks/results/*.json today."""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import readme_tables  # noqa: E402

PAGES = readme_tables.pages()
# The project's own pages: tracked or not yet tracked, never what .gitignore hides (mlruns/, data/, .venv/).
_LISTED = subprocess.run(
    ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
).stdout.split()
MARKDOWN = sorted({*PAGES, *(REPO / p for p in _LISTED)})


def test_every_page_equals_the_committed_json():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "readme_tables.py"), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_changed_figure_is_caught():
    for page in PAGES:
        text = page.read_text()
        assert readme_tables.render(text) == text, page
        for block in readme_tables.BLOCK.finditer(text):
            tampered = text.replace(block["body"], block["body"].replace("1", "7", 1) + "99.99%\n", 1)
            assert readme_tables.render(tampered) != tampered, block["name"]  # the JSON's figures come back


def test_every_generated_block_has_one_page():
    readme_tables.check_placement({page: page.read_text() for page in PAGES})
    with pytest.raises(SystemExit, match="exactly one page"):
        readme_tables.check_placement({PAGES[0]: PAGES[0].read_text() * 2})


def links(text: str) -> set[str]:
    """Relative link targets of a Markdown text, without their #anchors."""
    return {
        t.split("#")[0]
        for t in re.findall(r"\]\(([^)\s]+)\)", text)
        if "://" not in t and not t.startswith(("#", "mailto:"))
    }


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    missing = sorted(t for t in links(page.read_text()) if not (page.parent / t).exists())
    assert not missing, f"{page.relative_to(REPO)} links to files that are not in the repository: {missing}"


def test_the_link_check_finds_a_broken_link(tmp_path):
    assert links("see [a](docs/nothing.md#x), [b](https://x.org/y.md) and [c](#here)") == {"docs/nothing.md"}


def test_the_readme_is_short_and_links_every_page_and_screenshot():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert {"docs/mlflow_runs.png", "docs/mlflow_run.png", "docs/kedro_viz.png"} <= links(text)
    assert {f"docs/{p.name}" for p in PAGES[1:]} <= links(text)


HISTORY = re.compile(r"\bissues? *#?\d|(?<![\w/])#\d|\bsessions?\b|\bthis work\b", re.I)


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_the_markdown_speaks_of_the_software_not_of_its_history(page):
    found = [m.group(0) for m in HISTORY.finditer(page.read_text())]
    assert not found, f"{page.relative_to(REPO)} mentions {found}"


def test_the_history_check_finds_what_it_forbids():
    for text in ("as issue 17 asked", "see #4", "in this session", "this work's figures", "Issues #3"):
        assert HISTORY.search(text), text
    assert not HISTORY.search("its issue tracker; see results.md#why and C#")
