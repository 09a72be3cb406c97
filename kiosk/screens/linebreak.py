"""Line breaking for text that mixes Chinese and Latin script, with the basic kinsoku rules. No Kivy.

Kivy breaks a run of Chinese between any two characters, so a line may start with "，" or split "7 天".
Here the text is cut into pieces that must stay on one line, and the pieces are laid out greedily:
- no line starts with closing punctuation (，。、；：？！）」』】〉》% …) or a small kana;
- no line ends with an opening bracket (（「『【〈《 …);
- a number stays with the unit or word that follows it ("7 天", "15 mm", "80 %", "7天");
- a Latin word (or a number such as "09:00–12:00") is never broken, unless it alone is wider than the line.
Widths come from the caller's `measure` (the drawing library's width of a string at the font in use), so
the lines fit exactly what is drawn.
"""
from __future__ import annotations

import re
from collections.abc import Callable

Measure = Callable[[str], float]

# Never at the start of a line: closing punctuation, full-width and ASCII, and the small kana.
NO_START = frozenset(
    "，。、；：？！）」』】〉》〕〗〙〛｝］％‰℃’”…‥·・ー～"
    ",.;:?!)]}%"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
)
# Never at the end of a line: opening brackets and quotes.
NO_END = frozenset("（「『【〈《〔〖〘〚｛［‘“([{")
# Marks written doubled ("……", "——"): the two halves stay together.
DOUBLED = frozenset("…—")

# An atom: a run of whitespace, one wide (CJK) character, or a run of anything else (a Latin word, a number).
# Two Latin words are apart only where a space is; two wide characters, or a wide one and a Latin one, may part.
_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_ATOMS = re.compile(rf"\s+|[{_WIDE}]|[^\s{_WIDE}]+")


def _glued(before: str, gap: str, after: str) -> bool:
    """No line break allowed between atom `before` and atom `after`, written `gap` (spaces or "") apart."""
    if after[0] in NO_START or before[-1] in NO_END:
        return True
    if before[-1] in DOUBLED and after[0] == before[-1]:
        return True
    # A number and its unit: "7 天", "15 mm", "80 %"; one space at most, and not a second number.
    return before[-1].isdigit() and len(gap) <= 1 and not after[0].isdigit()


def pieces(paragraph: str) -> list[tuple[str, str]]:
    """The unbreakable pieces of one paragraph (no "\\n"), each with the spaces written before it."""
    found: list[tuple[str, str]] = []
    gap = ""
    for atom in _ATOMS.findall(paragraph):
        if atom.isspace():
            gap += atom
        elif found and _glued(found[-1][1], gap, atom):
            found[-1] = (found[-1][0], found[-1][1] + gap + atom)
            gap = ""
        else:
            found.append((gap, atom))
            gap = ""
    return found


def unbreakable(text: str) -> list[str]:
    """Every piece of `text` that is laid out on one line: if one is wider than the line, the text does not fit."""
    return [piece for paragraph in text.split("\n") for _gap, piece in pieces(paragraph)]


def break_lines(text: str, width: float, measure: Measure) -> list[str]:
    """`text` cut into lines no wider than `width`, by the rules above; its own "\\n" kept. A piece wider than the
    line on its own is cut between characters (the caller's fitting should shrink the font instead)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_fill(pieces(paragraph), width, measure) or [""])
    return lines


def _fill(parts: list[tuple[str, str]], width: float, measure: Measure) -> list[str]:
    lines: list[str] = []
    line = ""
    for gap, piece in parts:
        if line and measure(line + gap + piece) <= width:
            line += gap + piece
            continue
        if line:
            lines.append(line)
        elif gap and not lines:
            piece = gap + piece        # the paragraph's own indent
        line = piece
        if measure(line) > width:
            *whole, line = _cut(line, width, measure)
            lines.extend(whole)
    if line:
        lines.append(line)
    return lines


def _cut(piece: str, width: float, measure: Measure) -> list[str]:
    """A piece too wide for the line, cut between characters: the last resort."""
    cut: list[str] = []
    line = ""
    for ch in piece:
        if line and measure(line + ch) > width:
            cut.append(line)
            line = ch.lstrip()
        else:
            line += ch
    return [*cut, line]
