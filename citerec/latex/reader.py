"""Reading a draft: decoding, following includes, and masking what TeX would not typeset.

Each file keeps its original text plus a *masked* copy of the same length in
which comments, `\\iffalse` blocks, comment/verbatim environments, the preamble
and float bodies are blanked out. Equal lengths mean every offset found in the
masked text is also an offset in the source, so line numbers come for free.
Dropped text becomes FILL (not whitespace, so a comment-only line does not end a
paragraph, as in TeX); blocks that do end a paragraph become newlines.
"""

from __future__ import annotations

import bisect
import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from citerec.errors import InputError
from citerec.latex.cites import matching, strip_comments
from citerec.latex.macros import MacroDefinition, collect_definitions

log = logging.getLogger(__name__)

FILL = "\x01"
VERBATIM_ENVS = (
    "verbatim",
    "verbatim*",
    "Verbatim",
    "lstlisting",
    "minted",
    "comment",
    "filecontents",
    "filecontents*",
    "BVerbatim",
    "alltt",
)
FLOAT_ENVS = ("figure", "figure*", "table", "table*", "wrapfigure", "wraptable", "algorithm", "subfigure", "SCfigure")
DROP_ENVS = ("tabular", "tabular*", "tabularx", "longtable", "tikzpicture", "thebibliography", "algorithmic")
_INCLUDE = re.compile(
    r"\\input\s+([^\s{}\\]+)|"
    r"\\(input|include|subfile|import|subimport|inputfrom|subinputfrom|includefrom|subincludefrom)\*?"
    r"(?:\s*\{([^{}]*)\})?(?:\s*\{([^{}]*)\})?"
)
# A one-argument macro that wraps an include, e.g. \newcommand{\chapterfile}[1]{\input{chapters/#1}}.
_INCLUDE_MACRO = re.compile(
    r"\\(?:re)?newcommand\*?\s*\{?\\([A-Za-z@]+)\}?\s*\[1\]\s*\{\s*"
    r"\\(input|include|subfile)\s*\{([^{}#]*)#1([^{}#]*)\}\s*\}"
)
_PREAMBLE_END = re.compile(r"\\begin\s*\{document\}")
_PACKAGE = re.compile(r"\\(?:usepackage|RequirePackage)\s*(?:\[[^\]]*\]\s*)?\{([^{}]*)\}")
_CAPTION = re.compile(r"\\(?:sub)?caption(?:of)?\*?\s*(?:\{[^{}]*\}\s*)?(?:\[[^\]]*\]\s*)?(?=\{)")


@dataclass(frozen=True)
class SourceFile:
    """One file of the draft: its text as read and the masked copy the parsers look at."""

    path: Path
    name: str
    text: str
    masked: str
    line_starts: tuple[int, ...]

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return bisect.bisect_right(self.line_starts, offset)


@dataclass(frozen=True)
class Segment:
    """A stretch of one file in reading order; includes split a file into segments."""

    file: int
    start: int
    end: int


@dataclass(frozen=True)
class Draft:
    """A draft with its includes followed, and the problems met while reading it."""

    main: Path
    files: tuple[SourceFile, ...]
    problems: tuple[str, ...]
    segments: tuple[Segment, ...] = ()
    kind: str = "latex"  # "latex", "markdown" or "text"
    definitions: Mapping[str, MacroDefinition] = field(default_factory=dict)  # the draft's own text shorthands

    def file(self, name: str) -> SourceFile:
        return next(f for f in self.files if f.name == name)


def decode(data: bytes, name: str) -> str:
    """Bytes → text, or an InputError naming the file (and line for bad UTF-8)."""
    if b"\x00" in data[:8192]:
        raise InputError("binary file, not a text draft", name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise InputError(f"not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8", name, line) from None
    return text[1:] if text.startswith("\ufeff") else text


def _line_starts(text: str) -> tuple[int, ...]:
    return (0, *(m.end() for m in re.finditer("\n", text)))


def _fill(chars: list[str], a: int, b: int, brk: bool = False) -> None:
    for k in range(a, b):
        if chars[k] != "\n":
            chars[k] = "\n" if brk else FILL
    if brk and b > a:
        chars[a] = "\n"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _skip_conditional(text: str, i: int, name: str) -> tuple[int, int]:
    """From just after `\\iffalse`: (end of dropped part, end of the whole conditional)."""
    depth = 1
    pos = i
    else_at = -1
    for m in re.finditer(r"\\\\|\\%|%[^\n]*|\\(if[A-Za-z@]*|fi|else)(?![A-Za-z@])", text[i:]):
        word = m.group(1)
        if not word:
            continue
        pos = i + m.start()
        if word == "fi":
            depth -= 1
            if depth == 0:
                return (else_at if else_at >= 0 else pos), i + m.end()
        elif word == "else":
            if depth == 1 and else_at < 0:
                else_at = pos
        elif word not in ("ifx@", "iff"):
            depth += 1
    raise InputError(f"\\{name} is never closed by \\fi", None)


def mask_source(text: str, name: str) -> str:
    """The masked copy of `text` (see module doc); raises InputError for unclosed blocks."""
    chars = list(text)
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "%":
            j = text.find("\n", i)
            j = n if j < 0 else j
            _fill(chars, i, j)
            i = j
        elif c == "\\":
            m = re.compile(r"\\([A-Za-z@]+\*?)").match(text, i)
            if not m:
                i += 2
                continue
            word = m.group(1)
            if word in ("verb", "verb*", "lstinline") and m.end() < n:
                delim = text[m.end()]
                close = text.find(delim, m.end() + 1) if delim not in "{[" else text.find("}", m.end())
                close = n - 1 if close < 0 else close
                _fill(chars, i, close + 1)
                i = close + 1
            elif word == "iffalse":
                try:
                    drop_end, whole_end = _skip_conditional(text, m.end(), word)
                except InputError:
                    raise InputError("\\iffalse is never closed by \\fi", name, _line(text, i)) from None
                _fill(chars, i, drop_end)
                fi = whole_end - 3
                _fill(chars, fi, whole_end)
                if drop_end != fi:  # \else branch is kept; drop the \else word itself
                    _fill(chars, drop_end, drop_end + 5)
                i = drop_end + (5 if drop_end != fi else 3)
            elif word == "begin":
                env = re.compile(r"\s*\{([^{}]*)\}").match(text, m.end())
                if env and env.group(1) in VERBATIM_ENVS:
                    close = text.find("\\end{" + env.group(1) + "}", env.end())
                    if close < 0:
                        raise InputError(f"\\begin{{{env.group(1)}}} is never ended", name, _line(text, i))
                    j = close + len(env.group(1)) + 6
                    _fill(chars, i, j, brk=True)
                    i = j
                else:
                    i = m.end()
            else:
                i = m.end()
        else:
            i += 1
    masked = "".join(chars)
    masked = _mask_structure(masked)
    _check_braces(masked, name, text)
    return masked


def _mask_structure(masked: str) -> str:
    """Drop the preamble, tables/pictures, and float bodies except their captions."""
    chars = list(masked)
    begin = masked.find("\\begin{document}")
    if begin >= 0:
        _fill(chars, 0, begin + len("\\begin{document}"))
        end = masked.find("\\end{document}")
        if end >= 0:
            _fill(chars, end, len(masked))
    for env in FLOAT_ENVS + DROP_ENVS:
        pat = re.compile(r"\\begin\s*\{" + re.escape(env) + r"\}")
        done = 0
        for m in pat.finditer(masked):
            if m.start() < done:
                continue  # nested in the float just dropped
            close = masked.find("\\end{" + env + "}", m.end())
            if close < 0:
                break  # no later \begin can be closed either: looking again for each is quadratic
            stop = close + len(env) + 6
            done = stop
            keep: list[tuple[int, int]] = []
            if env in FLOAT_ENVS:
                for cap in _CAPTION.finditer(masked, m.end(), close):
                    arg_end = matching(masked, cap.end(), close)
                    if arg_end > 0:
                        keep.append((cap.end() + 1, arg_end - 1))
            pos = m.start()
            for a, b in keep:
                _fill(chars, pos, a, brk=True)
                pos = b
            _fill(chars, pos, stop, brk=True)
    return "".join(chars)


def _check_braces(masked: str, name: str, text: str) -> None:
    stack: list[int] = []
    i = 0
    n = len(masked)
    while i < n:
        c = masked[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}":
            if stack:
                stack.pop()
        i += 1
    if stack:
        raise InputError("'{' is never closed", name, _line(text, stack[0]))


def _candidates(base: Path, ref: str) -> list[Path]:
    ref = ref.strip().strip('"')
    candidates = [base / ref]
    if not ref.endswith(".tex"):
        candidates.insert(0, base / (ref + ".tex"))
    return candidates


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte, no permission: not a file we can read
        return False


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink and `..` resolved, lies in the folder tree of `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, unreadable, or a symlink loop
        return False
    return True


class _Reader:
    """Follows includes; `follow` False reports them instead, `confine` keeps them inside `root`."""

    def __init__(self, root: Path, *, follow: bool = True, confine: bool = True) -> None:
        self.root = root
        self.follow = follow
        self.confine = confine
        self.files: list[SourceFile] = []
        self.index: dict[Path, int] = {}
        self.segments: list[Segment] = []
        self.problems: list[str] = []
        self.macros: dict[str, tuple[str, str]] = {}

    def name_of(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def add(self, path: Path, name: str, text: str, stack: tuple[Path, ...]) -> None:
        key = path.resolve() if self.follow else path
        if key in self.index:
            fi = self.index[key]
        else:
            masked = mask_source(text, name)
            fi = len(self.files)
            self.files.append(SourceFile(path, name, text, masked, _line_starts(text)))
            self.index[key] = fi
        src = self.files[fi]
        for d in _INCLUDE_MACRO.finditer(strip_comments(text)):
            self.macros[d.group(1)] = (d.group(3), d.group(4))
        pattern = _INCLUDE
        if self.macros:
            names = "|".join(re.escape(n) for n in self.macros)
            pattern = re.compile(rf"{_INCLUDE.pattern}|\\({names})\s*\{{([^{{}}]*)\}}")
        pos = 0
        for m in pattern.finditer(src.masked):
            self.segments.append(Segment(fi, pos, m.start()))
            pos = m.end()
            self.include(src, m, stack + (key,))
        self.segments.append(Segment(fi, pos, len(src.masked)))

    def include(self, src: SourceFile, m: re.Match[str], stack: tuple[Path, ...]) -> None:
        bare, command, a, b = m.group(1), m.group(2) or "input", m.group(3), m.group(4)
        if m.re is not _INCLUDE and m.group(5):  # a macro wrapping \input
            prefix, suffix = self.macros[m.group(5)]
            bare, a = None, prefix + m.group(6) + suffix
        line = src.line_of(m.start())
        if command in ("import", "subimport", "inputfrom", "subinputfrom", "includefrom", "subincludefrom"):
            if a is None or b is None:
                return
            base = (src.path.parent if command.startswith("sub") else self.root) / a.strip()
            ref = b
        else:
            ref = bare if bare is not None else a
            if ref is None:
                return
            base = self.root
        if "#" in ref or "#" in (a or ""):
            return  # inside a macro definition: the use of the macro is the include
        where = f"{src.name}:{line}"
        shown = " ".join(m.group(0).split())[:200]
        if not self.follow:
            self.problems.append(f"{where}: {shown} not followed: a draft given as text never reads files; skipped")
            return
        candidates = _candidates(base, ref) + _candidates(src.path.parent, ref)
        if self.confine:
            inside = [p for p in candidates if _inside(p, self.root)]
            target = next((p for p in inside if _is_file(p)), None)
            absolute = Path(ref.strip().strip('"')).is_absolute()
            if target is None and (not inside or absolute or any(_is_file(p) for p in candidates)):
                self.problems.append(
                    f"{where}: {shown} refused: it leads outside the draft's folder "
                    "(pass --allow-outside-includes to follow it); skipped"
                )
                return
        else:
            target = next((p for p in candidates if _is_file(p)), None)
        if target is None:
            self.problems.append(f"{where}: included file {ref.strip()!r} not found; skipped")
            return
        if target.resolve() in stack:
            self.problems.append(f"{where}: {ref.strip()!r} includes itself; skipped")
            return
        name = self.name_of(target)
        try:
            data = target.read_bytes()
        except OSError as exc:
            self.problems.append(f"{where}: included file {name} cannot be read ({exc.strerror}); skipped")
            return
        self.add(target, name, decode(data, name), stack)


def _preamble_files(reader: _Reader) -> list[str]:
    """Texts of the local files the main file's preamble loads (`\\input`, a `.sty` of the draft's folder):
    they are masked from reading, but their macro definitions count. Never outside the draft's folder."""
    if not reader.follow or not reader.files:
        return []
    main = reader.files[0]
    end = _PREAMBLE_END.search(main.text)
    if end is None:
        return []
    preamble = strip_comments(main.text[: end.start()])
    refs = [m.group(1) or m.group(3) or "" for m in _INCLUDE.finditer(preamble)]
    refs += [f"{name.strip()}.sty" for m in _PACKAGE.finditer(preamble) for name in m.group(1).split(",")]
    texts = []
    for ref in filter(None, refs):
        candidates = [p for p in _candidates(main.path.parent, ref) if _inside(p, reader.root) or not reader.confine]
        target = next((p for p in candidates if _is_file(p)), None)
        if target is None or target.resolve() in reader.index:
            continue
        try:
            texts.append(decode(target.read_bytes(), str(target)))
        except (OSError, InputError):
            log.debug("macro definitions of %s not read", target)
    return texts


def read_draft(
    path: Path | str,
    *,
    text: str | None = None,
    is_tex: bool | None = None,
    allow_outside_includes: bool = False,
) -> Draft:
    """Read a draft ("-" = stdin); `.tex` (or `is_tex`) follows includes, others are Markdown/plain text.

    Includes are followed only for a draft read from disk, and only inside its own
    folder tree unless `allow_outside_includes`: a draft given as `text` (or on
    stdin) may come from anyone (the HTTP service), so its `\\input`s are reported,
    never read, and a draft cannot pull in `/etc/...` or `../..` files by accident.
    """
    path = Path(path)
    name = str(path)
    from_disk = text is None and name != "-"
    if text is None:
        if name == "-":
            text = decode(sys.stdin.buffer.read(), "<stdin>")
            name = "<stdin>"
        else:
            if not path.is_file():
                raise InputError("no such file" if not path.exists() else "not a file", name)
            text = decode(path.read_bytes(), name)
    if is_tex is None:
        suffix = path.suffix.lower()
        if suffix in (".tex", ".ltx", ".latex"):
            is_tex = True
        elif suffix in (".md", ".markdown", ".txt", ".text"):
            is_tex = False
        else:
            is_tex = bool(re.search(r"\\(begin\{document\}|cite|section|input)\b", text))
    root = path.parent if from_disk else Path.cwd()
    if not is_tex:
        kind = "markdown" if path.suffix.lower() in (".md", ".markdown") or re.search(r"^#+ ", text, re.M) else "text"
        src = SourceFile(path, name, text, text, _line_starts(text))
        return Draft(path, (src,), (), (Segment(0, 0, len(text)),), kind)
    reader = _Reader(root, follow=from_disk, confine=not allow_outside_includes)
    reader.add(path, path.name if name != "<stdin>" else name, text, ())
    for problem in reader.problems:
        log.warning("%s", problem)
    definitions = collect_definitions([*_preamble_files(reader), *(f.text for f in reader.files)])
    return Draft(path, tuple(reader.files), tuple(reader.problems), tuple(reader.segments), "latex", definitions)
