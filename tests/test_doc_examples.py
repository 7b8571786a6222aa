"""Every code example the project shows runs: the ``Example::`` blocks of the docstrings under ``jaxnn/`` and the
```` ```python ```` blocks of README.md and docs/*.md.

A docstring example runs after :data:`PRELUDE`, the imports docs/index.md says every example assumes, and, for
an example on a member of a package (``jaxnn.sweep.run``), after the package's own example (``jaxnn.sweep``), which
heads its API page; that overview runs once and each member starts from a copy of its namespace.
A page's blocks run in order in one namespace, as a reader would run them, without the prelude: a page states its
own imports. A block whose first line is a comment ``# not run: <reason>`` is compiled but not run, and is
reported as skipped with that reason. Examples run in a fresh working folder with a private data folder, so
that files they write (checkpoints, figures) and data they generate land in neither the checkout nor the
user's cache.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jaxnn"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"#\s*not run:\s*(.+)")
PRELUDE = """\
import jax
import jax.numpy as jnp
import numpy as np
from jaxnn import checkpoint, data, losses, nn, optim, sweep, train
"""
# Optional extras an example may need; without them its block is skipped, not failed.
OPTIONAL = ("mnist1d", "sklearn", "optax", "flax", "equinox", "tensorboardX", "optuna")


@dataclass(frozen=True)
class Example:
    """One code block: ``name`` is its test id, ``page`` the Markdown file whose namespace it shares (if any)."""

    name: str
    code: str
    page: Path | None = None
    index: int = 0


def example_blocks(docstring: str) -> list[str]:
    """The dedented literal blocks that follow an ``Example::`` line in a (cleaned) docstring."""
    blocks, lines = [], docstring.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Example::":
            continue
        indent, body = len(line) - len(line.lstrip()), []
        for following in lines[i + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    return blocks


def docstrings(path: Path) -> list[tuple[str, str]]:
    """``(dotted name, docstring)`` of a module file and of every class and function in it, in source order."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    found = []

    def visit(node: ast.AST, name: str) -> None:
        doc = ast.get_docstring(node)  # type: ignore[arg-type]
        if doc:
            found.append((name, doc))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{name}.{child.name}")

    visit(ast.parse(path.read_text(encoding="utf-8")), module)
    return found


def docstring_examples() -> list[Example]:
    examples = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, doc in docstrings(path):
            blocks = example_blocks(doc)
            examples += [Example(name if len(blocks) == 1 else f"{name}:{i}", code)
                         for i, code in enumerate(blocks, 1)]
    return examples


def page_blocks(page: Path) -> list[str]:
    return PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))


def page_examples() -> list[Example]:
    return [Example(f"{page.relative_to(ROOT)}:{i}", code, page, i - 1)
            for page in PAGES for i, code in enumerate(page_blocks(page), 1)]


def not_run_reason(code: str) -> str | None:
    """The reason a block gives on its first line for not running, or None if it runs."""
    match = NOT_RUN.fullmatch(code.lstrip().split("\n", 1)[0].strip())
    return match.group(1) if match else None


def execute(code: str, namespace: dict, name: str) -> None:
    """Runs ``code`` in ``namespace``; a missing optional extra skips the example instead of failing it."""
    try:
        exec(compile(code, name, "exec"), namespace)
    except ImportError as e:
        if (e.name or "").split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs the optional package {e.name}")
        raise


@pytest.fixture(scope="session")
def example_data_dir(tmp_path_factory) -> Path:
    """A private data folder for the whole session (MNIST-1D is generated once into it)."""
    return tmp_path_factory.mktemp("doc_examples_data")


# page -> (blocks run so far, namespace, working folder). Under pytest-xdist a worker may be handed a later
# block of a page without the earlier ones: it then runs those first, in a fresh namespace.
_page_runs: dict[Path, tuple[int, dict, Path]] = {}


def _page_namespace(example: Example, tmp_path_factory) -> tuple[dict, Path]:
    blocks = page_blocks(example.page)
    done, namespace, folder = _page_runs.get(example.page, (-1, {}, None))
    if not 0 <= done <= example.index or any(not_run_reason(code) is None for code in blocks[done:example.index]):
        namespace, folder = {"__name__": "__main__"}, tmp_path_factory.mktemp("page")
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(folder)
            for i, code in enumerate(blocks[:example.index]):
                if not_run_reason(code) is None:
                    execute(code, namespace, f"{example.name.rsplit(':', 1)[0]}:{i + 1} (run before this block)")
    return namespace, folder


EXAMPLES = docstring_examples() + page_examples()
_overviews: dict[str, dict] = {}


def overview(name: str) -> str | None:
    """The example a docstring example continues: its package's (``jaxnn.sweep`` for ``jaxnn.sweep.run``), which
    heads the package's API page; None for a package's own example."""
    parts = name.split(":")[0].split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else None


def _overview_namespace(name: str, tmp_path_factory) -> dict:
    """The prelude, then the example called ``name`` if there is one, run once per session."""
    if name not in _overviews:
        namespace = {"__name__": "__main__"}
        exec(compile(PRELUDE, "prelude", "exec"), namespace)
        for example in (e for e in EXAMPLES if e.page is None and e.name == name):
            with pytest.MonkeyPatch.context() as mp:
                mp.chdir(tmp_path_factory.mktemp("overview"))
                execute(example.code, namespace, example.name)
        _overviews[name] = namespace
    return _overviews[name]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs(example, example_data_dir, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("JAXNN_DATA_DIR", str(example_data_dir))
    compile(example.code, example.name, "exec")  # a block that is not run must still be valid Python
    if reason := not_run_reason(example.code):
        pytest.skip(f"not run: {reason}")
    if example.page is None and overview(example.name) is None:
        _overview_namespace(example.name, tmp_path_factory)  # runs the overview itself, once
        return
    if example.page is None:
        namespace = dict(_overview_namespace(overview(example.name), tmp_path_factory))
        folder = tmp_path_factory.mktemp("example")
    else:
        namespace, folder = _page_namespace(example, tmp_path_factory)
        _page_runs.pop(example.page, None)  # if this block fails, the namespace is not one to build on
    monkeypatch.chdir(folder)
    execute(example.code, namespace, example.name)
    if example.page is not None:
        _page_runs[example.page] = (example.index + 1, namespace, folder)


def test_docstring_examples_are_all_found():
    """Each ``Example::`` line of the package yields one block: none is dropped by the collection above."""
    lines = sum(line.strip() == "Example::" for path in PACKAGE.rglob("*.py")
                for line in path.read_text(encoding="utf-8").splitlines())
    blocks = [e for e in EXAMPLES if e.page is None]
    assert lines == len(blocks) > 30
    assert all(e.code.strip() for e in blocks), [e.name for e in blocks if not e.code.strip()]


def test_the_docs_state_the_prelude_docstring_examples_assume():
    assert PRELUDE in page_blocks(ROOT / "docs" / "index.md"), \
        "docs/index.md must show PRELUDE (tests/test_doc_examples.py) as a python block; keep the two the same"


def test_example_blocks_reads_the_indented_block_after_example():
    doc = "Summary.\n\nExample::\n\n    a = 1\n\n        b = (a,\n    )\n\nReturns:\n    x\n"
    assert example_blocks(doc) == ["a = 1\n\n    b = (a,\n)\n"]
    assert example_blocks("Example::\n    x = 1") == ["x = 1\n"]


def test_not_run_reason_reads_only_the_first_line():
    assert not_run_reason("\n# not run: needs 2 processes\nimport jax\n") == "needs 2 processes"
    assert not_run_reason("import jax\n# not run: later\n") is None


def test_execute_skips_for_a_missing_optional_package_only():
    with pytest.raises(pytest.skip.Exception, match="optional package flax"):
        execute("raise ModuleNotFoundError('no flax', name='flax.linen')", {}, "block")
    with pytest.raises(ModuleNotFoundError):
        execute("import jaxnn_has_no_such_module", {}, "block")


def test_a_later_block_runs_after_the_earlier_blocks_of_its_page(tmp_path, tmp_path_factory, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("```python\na = 1\n```\n\n```python\n# not run: a reason\nb = 1 / 0\n```\n\n"
                    "```python\nc = a + 1\n```\n")
    monkeypatch.setitem(_page_runs, page, (0, {}, tmp_path))  # a worker that ran nothing of this page yet
    namespace, _ = _page_namespace(Example("page.md:3", page_blocks(page)[2], page, 2), tmp_path_factory)
    assert namespace["a"] == 1 and "b" not in namespace
    exec(page_blocks(page)[2], namespace)
    assert namespace["c"] == 2
