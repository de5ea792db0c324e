"""Terminal and JSON output: rich for people, one JSON document for machines.

Tables are rich tables in a terminal, where a cell too wide for the screen folds onto the
next line instead of being cut with an ellipsis. Piped or redirected (no terminal, where
rich would assume 80 columns and cut), they are tab-separated lines, a header line first
and nothing shortened, for ``cut``, ``awk`` and ``grep``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["console", "err_console", "print_json", "print_table"]


def print_json(document: Any, stream: TextIO | None = None) -> None:
    """Write exactly one JSON document to stdout (or ``stream``), on one line."""
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    out.flush()


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _cell(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else "-"


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    show_header: bool = True,
    justify: Sequence[str] = (),
    whole: Collection[str] = (),
) -> None:
    """One table on stdout: rich in a terminal, tab-separated when not (see above).

    Cells are plain text (no markup). In a terminal the columns named in ``whole`` (ids
    people copy) are never folded. Without a terminal the title, when there is one, is a
    first line starting with ``# ``; the header line is left out with ``show_header=False``.
    """
    out = console()
    if not out.is_terminal:
        lines = [f"# {title}"] if title else []
        if show_header:
            lines.append("\t".join(columns))
        lines.extend("\t".join(_cell(v) for v in row) for row in rows)
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, show_header=show_header)
    for index, column in enumerate(columns):
        align = justify[index] if index < len(justify) else "left"
        table.add_column(
            column,
            overflow="fold",
            justify=align,  # type: ignore[arg-type]
            no_wrap=column in whole,
            min_width=len(column) if column in whole else None,
        )
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))
    out.print(table)
