"""The draft's own macros, expanded before its sentences become retrieval text.

Drafts define shorthands such as `\\newcommand\\refsec[1]{Section~\\ref{sec:#1}}`.
The text converter does not know them and keeps their arguments, so the label
`sec:related-work` would reach the query as words. Expanding the draft's simple
definitions first lets `\\ref` be dropped as usual and `\\etal` read "et al.".

Only definitions that are plain text shorthands are used: a body that defines
macros, opens environments, cites or includes files is left alone. Expansion is
bounded (nesting depth and output size), so a self-referencing or exploding
definition cannot stall the reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from citerec.latex.cites import matching, strip_comments

MAX_DEPTH = 6  # nested expansions of one use
MAX_GROWTH = 4  # an expanded fragment may be at most this many times longer (plus MAX_EXTRA characters)
MAX_EXTRA = 2_000
MAX_BODY = 500  # longer bodies are layout code, not shorthands

_NEWCOMMAND = re.compile(r"\\(?:re)?(?:newcommand|providecommand)\*?\s*(?:\{\s*\\([A-Za-z@]+)\s*\}|\\([A-Za-z@]+))")
_DEF = re.compile(r"\\def\s*\\([A-Za-z@]+)((?:#[1-9])*)\s*(?=\{)")
_UNSAFE_BODY = re.compile(
    r"\\(?:[a-zA-Z]*cite[a-zA-Z]*|begin|end|def|gdef|edef|xdef|let|(?:re)?newcommand|providecommand|newenvironment|"
    r"input|include|subfile|import|makeatletter|makeatother|catcode|csname|expandafter|if[a-zA-Z]*|fi|else)(?![A-Za-z@])"
)


@dataclass(frozen=True)
class MacroDefinition:
    """`\\name` with `params` arguments (the first optional when `default` is not None), expanding to `body`."""

    name: str
    params: int
    default: str | None
    body: str


def collect_definitions(texts: Iterable[str]) -> dict[str, MacroDefinition]:
    """The usable text shorthands defined in `texts` (later definitions win, as in TeX)."""
    found: dict[str, MacroDefinition] = {}
    for text in texts:
        text = strip_comments(text)
        for m in _NEWCOMMAND.finditer(text):
            definition = _newcommand(text, m)
            if definition is not None:
                _keep(found, definition)
        for m in _DEF.finditer(text):
            end = matching(text, m.end(), len(text))
            if end > 0:
                _keep(found, MacroDefinition(m.group(1), len(m.group(2)) // 2, None, text[m.end() + 1 : end - 1]))
    return found


def _newcommand(text: str, m: re.Match[str]) -> MacroDefinition | None:
    """The definition `m` starts (usable or not), or None when its parameters or body cannot be read."""
    name = m.group(1) or m.group(2)
    i = _skip_space(text, m.end())
    params, default = 0, None
    if text.startswith("[", i):
        close = text.find("]", i, i + 4)
        if close < 0 or not text[i + 1 : close].strip().isdigit():
            return None
        params = int(text[i + 1 : close])
        i = _skip_space(text, close + 1)
        if text.startswith("[", i):
            close = matching(text, i, len(text), "[", "]")
            if close < 0:
                return None
            default, i = text[i + 1 : close - 1], _skip_space(text, close)
    if not text.startswith("{", i):
        return None
    end = matching(text, i, len(text))
    if end < 0:
        return None
    return MacroDefinition(name, params, default, text[i + 1 : end - 1])


def _keep(found: dict[str, MacroDefinition], definition: MacroDefinition) -> None:
    """Record a (re)definition; one that is not a usable shorthand hides the earlier one."""
    if _usable(definition):
        found[definition.name] = definition
    else:
        found.pop(definition.name, None)


def _usable(definition: MacroDefinition) -> bool:
    return 0 <= definition.params <= 9 and len(definition.body) <= MAX_BODY and not _UNSAFE_BODY.search(definition.body)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


class MacroExpander:
    """Expands uses of a draft's definitions in LaTeX fragments (one compiled pattern per draft)."""

    def __init__(self, definitions: Mapping[str, MacroDefinition]) -> None:
        self.definitions = dict(definitions)
        names = sorted(self.definitions, key=len, reverse=True)
        self._pattern = re.compile(r"\\(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z@])") if names else None

    def expand(self, latex: str) -> str:
        """`latex` with the draft's macros replaced by their bodies; unchanged when nothing applies."""
        if self._pattern is None or "\\" not in latex:
            return latex
        limit = MAX_GROWTH * len(latex) + MAX_EXTRA
        for _ in range(MAX_DEPTH):
            expanded = self._expand_once(latex)
            if expanded == latex or len(expanded) > limit:  # done, or exploding: keep the last bounded text
                break
            latex = expanded
        return latex

    def _expand_once(self, latex: str) -> str:
        assert self._pattern is not None
        out: list[str] = []
        pos = 0
        for m in self._pattern.finditer(latex):
            if m.start() < pos or _escaped(latex, m.start()):
                continue
            definition = self.definitions[m.group(1)]
            parsed = _arguments(latex, m.end(), definition)
            if parsed is None:
                continue
            args, end = parsed
            out.append(latex[pos : m.start()])
            out.append(_substitute(definition.body, args))
            pos = end
        out.append(latex[pos:])
        return "".join(out)


def _escaped(latex: str, i: int) -> bool:
    """Whether the backslash at `i` is the second half of `\\\\` (a line break), not a command."""
    run = 0
    while i - run - 1 >= 0 and latex[i - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _arguments(latex: str, i: int, definition: MacroDefinition) -> tuple[list[str], int] | None:
    """The arguments of one use starting at `i` and the offset after them; None when they are incomplete."""
    args: list[str] = []
    wanted = definition.params
    if definition.default is not None and wanted:
        j = _skip_space(latex, i)
        if latex.startswith("[", j):
            close = matching(latex, j, len(latex), "[", "]")
            if close < 0:
                return None
            args.append(latex[j + 1 : close - 1])
            i = close
        else:
            args.append(definition.default)
        wanted -= 1
    for _ in range(wanted):
        j = _skip_space(latex, i)
        if j >= len(latex):
            return None
        if latex[j] == "{":
            close = matching(latex, j, len(latex))
            if close < 0:
                return None
            args.append(latex[j + 1 : close - 1])
            i = close
        elif latex[j] == "\\":
            word = re.match(r"\\(?:[A-Za-z@]+|.)", latex[j:])
            assert word is not None
            args.append(word.group())
            i = j + word.end()
        else:
            args.append(latex[j])
            i = j + 1
    return args, i


def _substitute(body: str, args: list[str]) -> str:
    return re.sub(r"#([1-9#])", lambda m: "#" if m.group(1) == "#" else _arg(args, int(m.group(1))), body)


def _arg(args: list[str], number: int) -> str:
    return args[number - 1] if number <= len(args) else ""
