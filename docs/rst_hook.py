"""MkDocs hook: render the reST markup that jaxnn's docstrings use inside their Google-style sections.

mkdocstrings renders docstrings as Markdown, where ``:func:`run``` would show its role literally and a
``.. math::`` directive would run into the next paragraph. Roles become plain code and math blocks become
preformatted LaTeX source (the site loads no MathJax, so it builds and reads offline).
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):(?=<code>)")
MATH = re.compile(r"<p>\.\. math::\s*(.*?)</p>", re.S)


def on_page_content(html: str, **kwargs: Any) -> str:
    """Strips role prefixes before inline code and turns ``.. math::`` paragraphs into code blocks."""
    html = ROLE.sub("", html)
    return MATH.sub(lambda m: f'<pre class="math"><code>{_dedent(m.group(1))}</code></pre>', html)


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)
