"""Word tokens for the CoNLL export, split the way spaCy's English tokenizer splits them.

spaCy is not a dependency of the server, so this is a small port of the rules
of ``spacy.blank("en")`` (spaCy 3.x): text is cut at whitespace, then
punctuation is split off the front (brackets, quotes, currency signs) and the
back (. , ; : ! ? % and the like, closing quotes, ``'s``, units after a
number) of each piece, then hyphens, slashes and similar marks between letters
are split out. A piece that spaCy keeps whole as an exception (``U.S.``,
``Mr.``, ``e.g.``) stays whole; contractions split as spaCy splits them
(``don't`` -> ``do`` ``n't``). spaCy's long tail of exceptions (emoticons, URLs,
``gonna``) is not copied: there the tokens may differ, and they are still
cut at whitespace and at punctuation. The export tests compare both on typical
text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _char_class(test) -> str:
    """A regex character class body of the letters in Latin, Greek and Cyrillic for which ``test`` holds."""
    ranges, start, last = [], None, None
    for code in [*range(0x41, 0x530), *range(0x1E00, 0x2000)]:
        if test(chr(code)):
            if start is None:
                start = code
            elif code != last + 1:
                ranges.append((start, last))
                start = code
            last = code
    if start is not None:
        ranges.append((start, last))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_LOWER = _char_class(str.islower)
_UPPER = _char_class(str.isupper)
_ALPHA = r"^\W\d_"  # any letter (used negated: [^\W\d_])
_PUNCT = list("…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪")
_QUOTES = list("'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉〈〉⟦⟧")
_CURRENCY = ["US$", "C$", "A$", *"$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿"]
_UNITS = (  # noqa: SIM905 (spaCy's own list, as it spells it)
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h "
    "kmh mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
).split()
_HYPHENS = ["---", "——", "--", "-", "–", "—", "~"]

# Pieces spaCy keeps whole (its English tokenizer exceptions that end in a period).
_ABBREVIATIONS = frozenset(
    [f"{c}." for c in "abcdefghijklmnopqrstuvwxyzäöü"]
    + (  # noqa: SIM905
        "a.m. p.m. Adm. Bros. co. Co. Corp. D.C. Dr. e.g. E.g. E.G. Gen. Gov. i.e. I.e. I.E. Inc. Jr. Ltd. Md. "
        "Messrs. Mo. Mont. Mr. Mrs. Ms. Ph.D. Prof. Rep. Rev. Sen. St. vs. v.s. Mt. Ak. Ala. Apr. Ariz. Ark. "
        "Aug. Calif. Colo. Conn. Dec. Del. Feb. Fla. Ga. Ia. Id. Ill. Ind. Jan. Jul. Jun. Kan. Kans. Ky. La. "
        "Mar. Mass. Mich. Minn. Miss. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Nov. Oct. Okla. Ore. Pa. "
        "S.C. Sep. Sept. Tenn. Va. Wash. Wis. and/or w/o o'clock O'clock ma'am Ma'am C++"
    ).split()
)
# Contractions spaCy splits off a word (its exceptions list them word by word; here, after any letters).
_CONTRACTION = re.compile(r"(?i)([^\W\d_]+?)(n['’]t|['’](?:m|re|ve|ll|d))")
_CLOCK = re.compile(r"(1[0-2]|[1-9])(a\.m\.|p\.m\.|am|pm)")

_ELLIPSIS = r"\.\.+|…"


def _alternatives(items) -> str:
    return "|".join(re.escape(item) for item in sorted(items, key=len, reverse=True))


# spaCy tries its prefixes in order and takes the first that matches.
_PREFIX = re.compile(
    "|".join(
        [
            "§",
            "%",
            "=",
            "—",
            "–",
            r"\+(?![0-9])",
            _alternatives(_PUNCT),
            _ELLIPSIS,
            _alternatives(_QUOTES),
            _alternatives(_CURRENCY),
        ]
    )
)
# A suffix is the longest match ending the piece (spaCy searches its alternatives anchored at the end).
_SUFFIX = re.compile(
    "(?:"
    + "|".join(
        [
            _alternatives(_PUNCT),
            _ELLIPSIS,
            _alternatives(_QUOTES),
            "'s|'S|’s|’S|—|–",
            r"(?<=[0-9])\+",
            r"(?<=°[FfCcKk])\.",
            rf"(?<=[0-9])(?:{_alternatives(_CURRENCY)})",
            rf"(?<=[0-9])(?:{_alternatives(_UNITS)})",
            rf"(?<=[0-9{_LOWER}%²\-+{re.escape(''.join(_PUNCT + _QUOTES))}])\.",
            rf"(?<=[{_UPPER}][{_UPPER}])\.",
        ]
    )
    + ")$"
)
_INFIX = re.compile(
    "|".join(
        [
            _ELLIPSIS,
            r"(?<=[0-9])[+\-*^](?=[0-9-])",
            rf"(?<=[{_LOWER}{re.escape(''.join(_QUOTES))}])\.(?=[{_UPPER}{re.escape(''.join(_QUOTES))}])",
            rf"(?<=[{_ALPHA}]),(?=[{_ALPHA}])",
            rf"(?<=[{_ALPHA}0-9])(?:{_alternatives(_HYPHENS)})(?=[{_ALPHA}])",
            rf"(?<=[{_ALPHA}0-9])[:<>=/](?=[{_ALPHA}])",
        ]
    )
)
_WHITESPACE_PIECE = re.compile(r"\S+")


def _is_symbol(char: str) -> bool:
    """spaCy's "icons": other symbols (Unicode category So: dingbats, emoji), each a token."""
    return unicodedata.category(char) == "So"


def _prefix_length(piece: str) -> int:
    if _is_symbol(piece[0]):
        return 1
    match = _PREFIX.match(piece)
    return match.end() if match else 0


def _suffix_length(piece: str) -> int:
    if _is_symbol(piece[-1]):
        return 1
    # Tried from the left so that the first match found is the longest suffix.
    match = _SUFFIX.search(piece)
    return len(piece) - match.start() if match else 0


def _special(piece: str) -> list[str] | None:
    """How spaCy splits a piece it knows as an exception, or None."""
    if piece in _ABBREVIATIONS:
        return [piece]
    match = _CONTRACTION.fullmatch(piece) or _CLOCK.fullmatch(piece)
    if match:
        return [match.group(1), match.group(2)]
    return None


def _infixes(core: str) -> list[str]:
    pieces, start = [], 0
    for match in _INFIX.finditer(core):
        if match.start() == 0:
            continue
        if match.start() != start:
            pieces.append(core[start : match.start()])
        pieces.append(core[match.start() : match.end()])
        start = match.end()
    if start < len(core):
        pieces.append(core[start:])
    return [p for piece in pieces for p in _symbols_apart(piece)]


def _symbols_apart(piece: str) -> list[str]:
    """Symbols (emoji) inside a piece are infixes of their own."""
    if len(piece) == 1 or not any(_is_symbol(c) for c in piece):
        return [piece]
    out, current = [], ""
    for char in piece:
        if _is_symbol(char):
            if current:
                out.append(current)
            out.append(char)
            current = ""
        else:
            current += char
    return [*out, current] if current else out


@lru_cache(maxsize=65_536)
def _split_piece(piece: str) -> tuple[str, ...]:
    """The tokens of one whitespace-free piece, by spaCy's loop: prefixes, suffixes, exceptions, infixes."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    string = piece
    while string:
        if _special(string) is not None:
            break
        before = len(string)
        pre = _prefix_length(string)
        if pre and _special(string[pre:]) is not None:
            prefixes.append(string[:pre])
            string = string[pre:]
            break
        suf = _suffix_length(string[pre:]) if string[pre:] else 0
        if suf and _special(string[:-suf]) is not None:
            suffixes.append(string[-suf:])
            string = string[:-suf]
            break
        if pre and suf and pre + suf <= len(string):
            prefixes.append(string[:pre])
            suffixes.append(string[-suf:])
            string = string[pre:-suf]
        elif pre:
            prefixes.append(string[:pre])
            string = string[pre:]
        elif suf:
            suffixes.append(string[-suf:])
            string = string[:-suf]
        if len(string) == before:
            break
    middle: list[str] = []
    if string:
        middle = _special(string) or _infixes(string)
    return tuple(prefixes + middle + suffixes[::-1])


def tokenize(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, token)`` for each token of ``text``, in order; whitespace is never part of one."""
    tokens = []
    for match in _WHITESPACE_PIECE.finditer(text):
        position = match.start()
        for token in _split_piece(match.group()):
            tokens.append((position, position + len(token), token))
            position += len(token)
    return tokens
