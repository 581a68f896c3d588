"""Every relative link in README.md and docs/*.md points at a file that exists (the README links out to docs/)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text("utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text("utf-8")
    unlinked = [p.name for p in (ROOT / "docs").glob("*.md") if f"(docs/{p.name})" not in readme]
    assert not unlinked, f"README does not link {unlinked}"


def test_every_docs_page_named_outside_the_docs_exists():
    """docker-compose.yml and deploy/env.example pointed at a docs/archive.md that was never written."""
    import re

    places = [ROOT / "docker-compose.yml", *(ROOT / "deploy").rglob("*"), *(ROOT / "streams").rglob("*.py"),
              *(ROOT / "benchmarks").glob("*.py"), ROOT / "pyproject.toml"]
    missing = {(str(p.relative_to(ROOT)), name) for p in places if p.is_file()
               for name in re.findall(r"docs/[\w-]+\.md", p.read_text(errors="replace"))
               if not (ROOT / name).exists()}
    assert not missing
