"""LSP positions (line, column in the negotiated encoding) ↔ character offsets in one version of a buffer."""

from __future__ import annotations

import bisect
import re

from lsprotocol import types as lsp


class Positions:
    """Offsets in one version of a buffer ↔ LSP positions (lines, and columns in the negotiated encoding)."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = getattr(encoding, "value", encoding)  # "utf-8", "utf-16" or "utf-32"
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def _units(self, chars: str) -> int:
        if chars.isascii() or self.encoding == lsp.PositionEncodingKind.Utf32.value:
            return len(chars)
        if self.encoding == lsp.PositionEncodingKind.Utf8.value:
            return len(chars.encode("utf-8"))
        return len(chars.encode("utf-16-le")) // 2

    def offset(self, position: lsp.Position) -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self.starts[position.line + 1] - 1 if position.line + 1 < len(self.starts) else len(self.text)
        line = self.text[start:end]
        if line.isascii():
            return start + min(position.character, len(line))
        units = 0
        for i, char in enumerate(line):
            if units >= position.character:
                return start + i
            units += self._units(char)
        return end

    def position(self, offset: int) -> lsp.Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return lsp.Position(line, self._units(self.text[self.starts[line] : offset]))

    def range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(self.position(start), self.position(end))
