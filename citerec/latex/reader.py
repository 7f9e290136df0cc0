"""Reading a draft: decoding, following includes, and masking what TeX would not typeset.

Each file keeps its original text plus a *masked* copy of the same length in
which comments, `\\iffalse` blocks, comment/verbatim environments, the preamble
and float bodies are blanked out. Equal lengths mean every offset found in the
masked text is also an offset in the source, so line numbers come for free.
Dropped text becomes FILL (not whitespace, so a comment-only line does not end a
paragraph, as in TeX); blocks that do end a paragraph become newlines. Masking,
verbatim arguments and the recovery from damage live in `masking`.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citerec.errors import InputError
from citerec.latex.cites import strip_comments
from citerec.latex.macros import MacroDefinition, collect_definitions
from citerec.latex.masking import ReadWarning, mask_source

log = logging.getLogger(__name__)

_INCLUDE = re.compile(
    r"\\input\s+([^\s{}\\]+)|"
    # the whole command name: \inputfrom is not \input followed by "from", and \includegraphics is no include
    r"\\(input|include|subfileinclude|subfile|import|subimport|inputfrom|subinputfrom|includefrom|subincludefrom)"
    r"(?![A-Za-z@])\*?(?:\s*\{([^{}]*)\})?(?:\s*\{([^{}]*)\})?"
)
# A one-argument macro that wraps an include, e.g. \newcommand{\chapterfile}[1]{\input{chapters/#1}}.
_INCLUDE_MACRO = re.compile(
    r"\\(?:re)?newcommand\*?\s*\{?\\([A-Za-z@]+)\}?\s*\[1\]\s*\{\s*"
    r"\\(input|include|subfileinclude|subfile)\s*\{([^{}#]*)#1([^{}#]*)\}\s*\}"
)
_PREAMBLE_END = re.compile(r"\\begin\s*\{document\}")
_PACKAGE = re.compile(r"\\(?:usepackage|RequirePackage)\s*(?:\[[^\]]*\]\s*)?\{([^{}]*)\}")


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
    warnings: tuple[ReadWarning, ...] = ()  # damage recovered from (unclosed braces, runaway arguments, ...)

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


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):  # no HOME and no password entry
        return None


def _repository_top(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding `.git` (a folder, or a file in a worktree), if any.

    The home folder and the file-system root never count: a home kept in git would open every file in it."""
    home = _home()
    for candidate in (folder, *folder.parents):
        if candidate in (home, Path(candidate.anchor)):
            return None
        if (candidate / ".git").exists():
            return candidate
    return None


def project_top(folder: Path | str, bibs: Sequence[Path | str] = ()) -> Path:
    """How far up a draft in `folder` may include files: its project's top.

    TeX resolves `\\input{../chapters/x}` (or `\\input{preamble}` of a root kept in a subfolder) from
    where it runs, so a project's root file may reach above its own folder. The top is the repository
    that holds the draft, else the folder holding both the draft and its `.bib` files, else the draft's
    own folder; never the home folder or the file-system root."""
    folder = Path(folder).resolve()
    repository = _repository_top(folder)
    if repository is not None:
        return repository
    if not bibs:
        return folder
    common = Path(os.path.commonpath([folder, *(Path(b).resolve().parent for b in bibs)]))
    home = _home()
    if common == Path(common.anchor) or (home is not None and (common == home or common in home.parents)):
        return folder
    return common


class _Reader:
    """Follows includes; `follow` False reports them instead, `confine` keeps them inside `top` (at or
    above `root`, the draft's folder: see `project_top`)."""

    def __init__(
        self, root: Path, *, follow: bool = True, confine: bool = True, strict: bool = False, top: Path | None = None
    ) -> None:
        self.root = root
        self.top = top or root
        self.follow = follow
        self.confine = confine
        self.strict = strict
        self.warnings: list[ReadWarning] = []
        self.files: list[SourceFile] = []
        self.index: dict[Path, int] = {}
        self.segments: list[Segment] = []
        self.problems: list[str] = []
        self.macros: dict[str, tuple[str, str]] = {}

    def name_of(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            if _inside(path, self.top):  # above the draft's folder, inside its project: ../chapters/x.tex
                return Path(os.path.relpath(path.resolve(), self.root.resolve())).as_posix()
            return str(path)

    def above(self) -> list[Path]:
        """The folders from the draft's folder's parent up to the project's top: where TeX may run from."""
        root, top = self.root.resolve(), self.top.resolve()
        return [p for p in root.parents if p == top or top in p.parents]

    def add(self, path: Path, name: str, text: str, stack: tuple[Path, ...]) -> None:
        key = path.resolve() if self.follow else path
        if key in self.index:
            fi = self.index[key]
        else:
            masked, warnings = mask_source(text, name, strict=self.strict)
            self.warnings.extend(warnings)
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
        if base == self.root:  # TeX may run from a folder above the root's (up to the project's top)
            candidates += [p for folder in self.above() for p in _candidates(folder, ref)]
        if self.confine:
            inside = [p for p in candidates if _inside(p, self.top)]
            target = next((p for p in inside if _inside(p, self.root) and _is_file(p)), None)
            target = target or next((p for p in inside if _is_file(p)), None)
            absolute = Path(ref.strip().strip('"')).is_absolute()
            if target is None and (not inside or absolute or any(_is_file(p) for p in candidates)):
                self.problems.append(f"{where}: {shown} refused: it leads outside {self.confinement()}; skipped")
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
        if self.confine and not _inside(target, self.root):
            log.info("%s: %s followed to %s, above the draft's folder but inside its project", where, shown, name)
        try:
            data = target.read_bytes()
        except OSError as exc:
            self.problems.append(f"{where}: included file {name} cannot be read ({exc.strerror}); skipped")
            return
        self.add(target, name, decode(data, name), stack)

    def confinement(self) -> str:
        """What the draft may not leave, and how to let it (for a refusal)."""
        where = "the draft's folder" if self.top.resolve() == self.root.resolve() else f"its project ({self.top})"
        return f"{where} (pass --allow-outside-includes to follow it)"


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
        folders = [main.path.parent, *reader.above()]
        candidates = [p for f in folders for p in _candidates(f, ref) if _inside(p, reader.top) or not reader.confine]
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
    strict: bool = False,
    bibs: Sequence[Path | str] = (),
) -> Draft:
    """Read a draft ("-" = stdin); `.tex` (or `is_tex`) follows includes, others are Markdown/plain text.

    Includes are followed only for a draft read from disk, and only inside its own
    folder tree unless `allow_outside_includes`: a draft given as `text` (or on
    stdin) may come from anyone (the HTTP service), so its `\\input`s are reported,
    never read, and a draft cannot pull in `/etc/...` or `../..` files by accident.
    A root file may reach above its folder up to its project's top (`project_top`:
    its repository, or the folder holding it and its `bibs`), as TeX run from there would.
    Damage (a `{` never closed, a runaway argument) is recovered from with a warning
    in `Draft.warnings`; `strict` refuses the draft with an InputError instead.
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
    top = project_top(root, bibs) if from_disk and not allow_outside_includes else root
    reader = _Reader(root, follow=from_disk, confine=not allow_outside_includes, strict=strict, top=top)
    reader.add(path, path.name if name != "<stdin>" else name, text, ())
    for problem in [*reader.problems, *reader.warnings]:
        log.warning("%s", problem)
    definitions = collect_definitions([*_preamble_files(reader), *(f.text for f in reader.files)])
    return Draft(
        path,
        tuple(reader.files),
        tuple(reader.problems),
        tuple(reader.segments),
        "latex",
        definitions,
        tuple(reader.warnings),
    )
