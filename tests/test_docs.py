"""The documentation site builds strictly and offline, and every figure it shows is real (its code examples run in
tests/test_doc_examples.py)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Markdown images ![alt](path "title") and HTML <img src="path">.
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\s[^>]*src=[\"']([^\"']+)[\"']")
# Tags that make a browser (or the build) fetch a resource: scripts, stylesheets, fonts.
FETCHED = re.compile(r"<(?:script|link|img)\b[^>]*?(?:src|href)=[\"']([^\"']+)[\"'][^>]*>")
DOC_TOOLS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
API_PACKAGES = ("optim", "nn", "losses", "masks", "train", "sweep", "data", "checkpoint")


def missing_images(page: Path) -> list[str]:
    """The local images that ``page`` shows but that do not exist, as written in the page."""
    missing = []
    for match in IMAGE.finditer(page.read_text(encoding="utf-8")):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # remote images would need the network to build and view
            missing.append(f"{target} (remote)")
        elif not (page.parent / target.split("#")[0]).is_file():
            missing.append(target)
    return missing


def undocumented(package: str, anchors: set[str]) -> list[str]:
    """The public functions, classes and modules of ``jaxnn.<package>`` without an anchor on its API page.

    A name is public if listed in ``__all__``, else if defined in the module itself. A function that shares
    its name with its module (``optim.adam`` in ``optim/adam.py``) is documented under the module's path.
    """
    module = importlib.import_module(f"jaxnn.{package}")
    names = getattr(module, "__all__", None) or [
        name for name, obj in vars(module).items() if getattr(obj, "__module__", None) == module.__name__
    ]
    prefix = f"jaxnn.{package}."
    return [name for name in names
            if (inspect.isfunction(obj := getattr(module, name)) or inspect.isclass(obj) or inspect.ismodule(obj))
            and not {prefix + name, f"{prefix}{name}.{name}"} & anchors]


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_missing_images_finds_absent_and_remote_figures(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "here.png").write_bytes(b"\x89PNG")
    page = tmp_path / "page.md"
    page.write_text('![a](figures/here.png)\n![b](figures/gone.png "t")\n<img src="x.png">\n'
                    "![c](https://example.com/c.png)\n")
    assert missing_images(page) == ["figures/gone.png", "x.png", "https://example.com/c.png (remote)"]


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_image_a_page_shows_exists(page):
    assert missing_images(page) == [], f"{page.relative_to(ROOT)} shows images that are not in docs/"


def test_site_builds_strictly_and_fetches_nothing_remote(tmp_path):
    absent = [name for name in DOC_TOOLS if importlib.util.find_spec(name) is None]
    if absent:
        pytest.skip(f"documentation tools not installed ({', '.join(absent)}): pip install -e '.[docs]'")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner is not a build problem
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"

    # mkdocstrings rendered every public function, class and module of every package (an empty page builds too).
    for package in API_PACKAGES:
        html = (site / "api" / package / "index.html").read_text(encoding="utf-8")
        anchors = set(re.findall(r'id="([^"]+)"', html))
        assert not undocumented(package, anchors), f"api/{package}.md leaves out {undocumented(package, anchors)}"
    assert "bias correction" in (site / "api" / "optim" / "index.html").read_text(encoding="utf-8")

    fetched = {url for html in site.rglob("*.html") for url in FETCHED.findall(html.read_text(encoding="utf-8"))}
    remote = sorted(url for url in fetched if re.match(r"(https?:)?//", url))
    assert remote == [], f"the site fetches remote resources (fonts, scripts, styles): {remote}"
