"""Telegram's HTML parse mode: plain text and entities, or the reason for "can't parse entities".

Modelled on tdlib's parse_html (the Bot API server's parser): the same tags, attribute syntax and
error wording with UTF-8 byte offsets. One deliberate difference: tdlib keeps a stray `&` or an
unknown named entity (`&laquo;`) as literal text, while the Bot API documentation says they must be
escaped; with `strict_ampersand` (the default) the fake refuses them, to catch missing escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
MAX_TEXT_LENGTH = 4096  # characters (code points) after entity parsing
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHARREF = re.compile(r"&(?:#([0-9]{1,10})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z][a-zA-Z0-9]*));")
_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_SPACES = " \t\r\n\f\v"


class TextError(ValueError):
    """A message text Telegram refuses; str(error) is the description after "Bad Request: "."""


class EntityError(TextError):
    """The text cannot be parsed; str(error) is what follows "can't parse entities: "."""


@dataclass
class Parsed:
    """Text as Telegram shows it and the entities found in it (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def message_text(text: Any, parse_mode: str | None, strict_ampersand: bool = True) -> Parsed:
    """A message text checked like the Bot API does: parse mode, 1-4096 characters."""
    if not isinstance(text, str) or not text:
        raise TextError("message text is empty")
    mode = (parse_mode or "").lower()
    parsed = Parsed(text)
    if mode == "html":
        try:
            parsed = parse_html(text, strict_ampersand=strict_ampersand)
        except EntityError as error:
            raise TextError(f"can't parse entities: {error}") from None
    elif mode not in ("", "markdown", "markdownv2"):  # Markdown is passed through unchecked
        raise TextError(f"unsupported parse_mode: {parse_mode}")
    if not parsed.text.strip():
        raise TextError("message text is empty")
    if len(parsed.text) > MAX_TEXT_LENGTH:
        raise TextError("message is too long")
    return parsed


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str, *, strict_ampersand: bool = True) -> Parsed:
    """Parse Telegram HTML; raises EntityError like the Bot API's 400 "can't parse entities"."""
    return _Parser(source, strict_ampersand).run()


@dataclass
class _Open:
    tag: str
    begin: int  # UTF-16 offset in the output
    argument: str


class _Parser:
    def __init__(self, source: str, strict_ampersand: bool) -> None:
        self.src = source
        self.strict = strict_ampersand
        self.i = 0
        self.out: list[str] = []
        self.pos16 = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def byte(self, index: int) -> int:
        return len(self.src[:index].encode())

    def at(self, index: int) -> str:
        return self.src[index] if index < len(self.src) else ""

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.pos16 += utf16_len(text)

    def run(self) -> Parsed:
        src = self.src
        while self.i < len(src):
            char = src[self.i]
            if char == "&":
                self.emit(self.charref())
            elif char == "<" and self.at(self.i + 1) == "/":
                self.end_tag()
            elif char == "<":
                self.start_tag()
            else:
                self.emit(char)
                self.i += 1
        if self.stack:
            raise EntityError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return Parsed("".join(self.out), self.entities)

    def charref(self) -> str:
        """Decode the entity at self.i and move past it."""
        match = _CHARREF.match(self.src, self.i)
        if match is None:
            if self.strict:
                raise EntityError(
                    f"Character '&' must be escaped as &amp; at byte offset {self.byte(self.i)}"
                )
            self.i += 1
            return "&"
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name.lower() not in NAMED:
                if self.strict:
                    raise EntityError(
                        f'Unsupported HTML entity "&{name};" at byte offset {self.byte(self.i)}'
                    )
                self.i += 1
                return "&"
            self.i = match.end()
            return NAMED[name.lower()]
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise EntityError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        self.i = match.end()
        return chr(code)

    def start_tag(self) -> None:
        src, begin = self.src, self.i
        j = begin + 1
        while j < len(src) and src[j] not in _SPACES and src[j] != ">":
            j += 1
        if j >= len(src):
            raise EntityError(f"Unclosed start tag at byte offset {self.byte(begin)}")
        tag = src[begin + 1 : j].lower()
        if tag not in ENTITY_TYPES:
            raise EntityError(f'Unsupported start tag "{tag}" at byte offset {self.byte(begin)}')
        attributes: dict[str, str] = {}
        while self.at(j) != ">":
            while self.at(j) and self.at(j) in _SPACES:
                j += 1
            if self.at(j) == ">":
                break
            if not self.at(j):
                raise EntityError(f"Unclosed start tag at byte offset {self.byte(begin)}")
            name_begin = j
            while self.at(j) and self.at(j) not in _SPACES and self.at(j) not in "=>":
                j += 1
            name = src[name_begin:j].lower()
            if not name:
                raise EntityError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.byte(begin)}'
                )
            while self.at(j) and self.at(j) in _SPACES:
                j += 1
            if self.at(j) != "=":
                if tag == "blockquote" and name == "expandable":
                    attributes[name] = ""
                    continue
                raise EntityError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self.byte(begin)}'
                )
            j += 1
            while self.at(j) and self.at(j) in _SPACES:
                j += 1
            if not self.at(j):
                raise EntityError(f'Unclosed start tag "{tag}" at byte offset {self.byte(begin)}')
            attributes[name], j = self.attribute_value(j, begin)
        self.i = j + 1
        argument = ""
        if tag == "a":
            argument = attributes.get("href", "")
        elif tag == "code":
            argument = attributes.get("class", "")
        elif tag == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte(begin)}'
            )
        elif tag == "blockquote" and "expandable" in attributes:
            argument = "expandable"
        self.stack.append(_Open(tag, self.pos16, argument))

    def attribute_value(self, j: int, tag_begin: int) -> tuple[str, int]:
        """The value starting at j (quoted or a bare token) and the index just after it."""
        src = self.src
        quote = src[j]
        if quote not in "'\"":
            token = _TOKEN.match(src, j)
            end = token.end() if token else j
            if self.at(end) and self.at(end) not in _SPACES and self.at(end) != ">":
                raise EntityError(f"Unexpected end of name token at byte offset {self.byte(j)}")
            return src[j:end].lower(), end
        close = src.find(quote, j + 1)
        if close < 0:
            raise EntityError(f"Unclosed start tag at byte offset {self.byte(tag_begin)}")
        value: list[str] = []
        k = j + 1
        while k < close:  # entities decode inside values too, under the same rules
            if src[k] == "&":
                self.i = k
                value.append(self.charref())
                k = self.i
            else:
                value.append(src[k])
                k += 1
        return "".join(value), close + 1

    def end_tag(self) -> None:
        src, begin = self.src, self.i
        if not self.stack:
            raise EntityError(f"Unexpected end tag at byte offset {self.byte(begin)}")
        j = begin + 2
        while j < len(src) and src[j] not in _SPACES and src[j] != ">":
            j += 1
        name = src[begin + 2 : j].lower()
        while j < len(src) and src[j] in _SPACES:
            j += 1
        if j >= len(src) or src[j] != ">":
            raise EntityError(f"Unclosed end tag at byte offset {self.byte(begin)}")
        top = self.stack[-1]
        if name and name != top.tag:
            raise EntityError(
                f"Unmatched end tag at byte offset {self.byte(begin)}, "
                f'expected "</{top.tag}>", found "</{name}>"'
            )
        self.stack.pop()
        self.i = j + 1
        self.close(top)

    def close(self, opened: _Open) -> None:
        length = self.pos16 - opened.begin
        if length == 0:
            return
        entity: dict[str, Any] = {
            "type": ENTITY_TYPES[opened.tag],
            "offset": opened.begin,
            "length": length,
        }
        if opened.tag == "a":
            if not opened.argument:
                return  # tdlib drops a link without a usable URL
            entity["url"] = opened.argument
        elif opened.tag == "code" and opened.argument.startswith("language-"):
            outer = self.stack[-1] if self.stack else None
            pre = next((e for e in reversed(self.entities) if e["type"] == "pre"), None)
            if outer is not None and outer.tag == "pre":
                outer.argument = opened.argument.removeprefix("language-")
                return  # folded into the enclosing pre
            if pre is not None and pre["offset"] == opened.begin and pre["length"] == length:
                pre["language"] = opened.argument.removeprefix("language-")
                return
        elif opened.tag == "pre" and opened.argument:
            entity["language"] = opened.argument
        elif opened.tag == "blockquote" and opened.argument == "expandable":
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)
