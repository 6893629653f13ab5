"""Tables on narrow terminals: identifiers are never wrapped or cut.

A column built with ``no_wrap=True`` holds identifiers (names, versions, revisions, URIs,
sha256 prefixes, sizes): each of its cells is printed whole, on one line; the other
columns may wrap, between words only (a list of alias names wraps after a comma). When a table
does not fit the terminal that way, the columns its builder listed as droppable go first,
in order (less important ones: times, aliases, ...); when even that is not enough, or the
terminal is narrower than :data:`NARROW`, each row prints as a ``key: value`` list (every
value whole; a line longer than the terminal is left to the terminal to wrap).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from typing import Any, Final

from rich.console import Console, RenderableType
from rich.table import Column, Table
from rich.text import Text

#: below this many columns, records print as ``key: value`` lists
NARROW: Final = 60


class RecordTable(Table):
    """A table of records whose ``drop_order`` columns (by header) may be left out, first
    ones first, to keep the identifiers whole on a narrow terminal."""

    drop_order: Sequence[str] = ()


def plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return "" if cell is None else str(cell)


def _rendered(table: Table, width: int) -> list[str]:
    console = Console(
        width=width, file=io.StringIO(), highlight=False, markup=False, color_system=None
    )
    with console.capture() as capture:
        console.print(table)
    return capture.get().splitlines()


def intact(table: Table, width: int) -> bool:
    """Whether, at ``width``, every cell of every no_wrap column shows whole on one line,
    and every word of the other columns too (they may wrap between words only)."""
    lines = _rendered(table, width)
    for column in table.columns:
        for cell in column.cells:
            text = plain(cell)
            parts = text.splitlines() if column.no_wrap else text.split()
            if any(part and not any(part in line for line in lines) for part in parts):
                return False
    return True


def without(table: Table, headers: set[str]) -> Table:
    """A copy of ``table`` without the columns whose header is in ``headers``."""
    narrowed = copy.copy(table)
    kept: list[Column] = []
    for column in table.columns:
        if plain(column.header) in headers:
            continue
        clone = copy.copy(column)
        clone._index = len(kept)
        kept.append(clone)
    narrowed.columns = kept
    return narrowed


def fitted(table: Table, width: int) -> Table | None:
    """``table``, or it without droppable columns, with its identifiers whole at
    ``width``; None when no such table fits."""
    if width < NARROW:
        return None
    if intact(table, width):
        return table
    dropped: set[str] = set()
    for header in getattr(table, "drop_order", ()):
        dropped.add(header)
        candidate = without(table, dropped)
        if intact(candidate, width):
            return candidate
    return None


def record_lines(table: Table) -> list[str]:
    """The table as ``key: value`` lines, a blank line between rows (a two-column table
    without headers, such as one version's fields, is one record of field: value)."""
    lines = [plain(table.title)] if table.title else []
    columns = table.columns
    if not table.show_header and len(columns) == 2:
        for key, value in zip(columns[0].cells, columns[1].cells, strict=True):
            lines.append(f"{plain(key)}: {', '.join(plain(value).splitlines())}")
        return lines
    for row, cells in enumerate(zip(*(column.cells for column in columns), strict=True)):
        if row or lines:
            lines.append("")
        for column, cell in zip(columns, cells, strict=True):
            value = ", ".join(plain(cell).splitlines())
            if value:
                lines.append(f"{plain(column.header)}: {value}")
    return lines


def print_fitted(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable``; a table fitted to the console's width (see the module)."""
    if not isinstance(renderable, Table):
        console.print(renderable)
        return
    table = fitted(renderable, console.width)
    if table is not None:
        console.print(table)
        return
    for line in record_lines(renderable):
        console.print(line, soft_wrap=True)
