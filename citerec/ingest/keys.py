"""Google-Scholar-style citation keys: `vaswani2017attention`.

First author's last name (ASCII-folded) + year + first significant title word,
made unique with a, b, c… so that a key never collides within a library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from citerec.papers import Paper, first_free_key

STOP_WORDS = frozenset(
    """a an the of on in at to for from by with without and or but nor as is are was were be been being
    do does did via using towards toward into onto over under about against between through during
    its it this that these those we our you your their what which who whom how why when where can
    not no yet so than then very more most""".split()
)


def ascii_fold(text: str) -> str:
    """'Schölkopf' → 'scholkopf', 'Łukasz' → 'lukasz': lower-case ASCII letters and digits only."""
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O")
    text = text.replace("æ", "ae").replace("Æ", "AE").replace("œ", "oe").replace("đ", "d").replace("ı", "i")
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", text.encode("ascii", "ignore").decode().lower())


def last_name(author: str) -> str:
    """The family name of a 'First Last' (or 'Last, First') author string, particles dropped."""
    if "," in author:
        return author.split(",", 1)[0].strip()
    words = author.split()
    return words[-1] if words else ""  # 'Laurens van der Maaten' → 'Maaten', as Google Scholar does


def base_key(paper: Paper) -> str:
    """The key before de-duplication: author + year + title word, each part optional."""
    author = ascii_fold(last_name(paper.authors[0])) if paper.authors else ""
    year = str(paper.year) if paper.year else ""
    word = ""
    for token in re.findall(r"[^\W_]+", paper.title):
        folded = ascii_fold(token)
        if folded and folded not in STOP_WORDS and not folded.isdigit():
            word = folded
            break
    key = f"{author}{year}{word}"
    return key or "paper"


def citation_key(paper: Paper, taken: Callable[[str], bool]) -> str:
    """A unique key for `paper`: `base_key`, else base + a, b, …, z, then base + 2, 3, …."""
    return first_free_key(base_key(paper), taken)
