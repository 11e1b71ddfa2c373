"""A small Markdown document builder (headings, paragraphs, lists, tables, images, code) and
its HTML page, rendered by markdown-it-py (CommonMark with tables) in one template."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Doc:
    """A tiny document model rendered to Markdown and HTML."""

    blocks: list = field(default_factory=list)

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def ul(self, items: Sequence[str]):
        self.blocks.append(("ul", list(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], align: str = ""):
        """``align``: one letter per column, 'l' or 'r' (default: first left, rest right)."""
        align = align or "l" + "r" * (len(header) - 1)
        self.blocks.append(("table", list(header), [list(r) for r in rows], align))

    def img(self, path: str, alt: str):
        self.blocks.append(("img", path, alt))

    def code(self, text: str, lang: str = ""):
        self.blocks.append(("code", text, lang))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("#" * b[1] + " " + b[2])
            elif kind == "p":
                out.append(b[1])
            elif kind == "ul":
                out.append("\n".join(f"- {x}" for x in b[1]))
            elif kind == "table":
                header, rows, align = b[1], b[2], b[3]
                esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
                lines = ["| " + " | ".join(esc(h) for h in header) + " |",
                         "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
                lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
                out.append("\n".join(lines))
            elif kind == "img":
                out.append(f"![{b[2]}]({b[1]})")
            elif kind == "code":
                fence = "````" if "```" in b[1] else "```"
                out.append(f"{fence}{b[2]}\n{b[1].rstrip()}\n{fence}")
        return "\n\n".join(out) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
        "padding:.25em .6em}td{text-align:right}td.l{text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%}figcaption{color:#555;font-size:.9em}"
        "code{background:#f3f3f3;padding:0 .2em}pre{background:#f6f6f6;padding:.6em;"
        "overflow-x:auto}")


def markdown_to_html(markdown: str, title: str) -> str:
    """The HTML page of a Markdown document: markdown-it-py (CommonMark with tables; raw HTML
    in the text is escaped, not passed through) in one template."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return _TEMPLATE.format(title=html.escape(title), css=_CSS, body=body)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style></head><body>
{body}</body></html>
"""
