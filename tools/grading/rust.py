"""A small Rust lexer for the grader: enough to split a cell into top-level items, to find
evcxr commands (`:dep`, `:clear` at the start of a top-level line) and to give macro calls
absolute paths, without being fooled by strings, raw strings, chars, lifetimes or comments
(a string literal whose line starts with `:` is Rust, not an evcxr command)."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Macros of the standard library, called as ::std::NAME! in the grader's code.
STD_MACROS = frozenset("""
assert assert_eq assert_ne debug_assert debug_assert_eq debug_assert_ne panic todo unimplemented
unreachable format format_args print println eprint eprintln write writeln vec matches dbg concat
stringify line column file module_path cfg env option_env include include_str include_bytes
compile_error thread_local is_x86_feature_detected
""".split())

# Tokens that begin an item (as opposed to a statement) at the top level of a cell.
ITEM_START = frozenset("""
pub fn struct enum trait impl type const static mod use extern unsafe async union macro_rules auto
""".split())
NAMED_ITEMS = frozenset("fn struct enum trait type const static union mod".split())


class LexError(Exception):
    """Source that does not lex (an unterminated string or comment, an unbalanced bracket)."""


@dataclass
class Token:
    kind: str        # ident, punct, literal, lifetime, comment, open, close
    text: str
    start: int       # offsets into the source
    end: int
    depth: int       # bracket depth before the token (an opening bracket counts outside)
    line_start: bool  # first token on its line


_IDENT = re.compile(r"(?:r#)?[^\W\d]\w*")
_NUMBER = re.compile(r"\d[\w]*(?:\.(?!\.)[\w]*)?")
_RAW_STRING = re.compile(r'(?:b|c)?r(#*)"')
_PAIRS = {")": "(", "]": "[", "}": "{"}


def tokens(src: str) -> list[Token]:
    out: list[Token] = []
    i, n, depth, stack, line_start = 0, len(src), 0, [], True

    def add(kind, start, end):
        nonlocal line_start
        out.append(Token(kind, src[start:end], start, end, depth, line_start))
        line_start = False

    while i < n:
        c = src[i]
        if c == "\n":
            line_start, i = True, i + 1
            continue
        if c.isspace():
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            add("comment", i, j)
            i = j
            continue
        if src.startswith("/*", i):
            j, level = i + 2, 1
            while level:
                if j >= n:
                    raise LexError("unterminated block comment")
                if src.startswith("/*", j):
                    level, j = level + 1, j + 2
                elif src.startswith("*/", j):
                    level, j = level - 1, j + 2
                else:
                    j += 1
            add("comment", i, j)
            i = j
            continue
        m = _RAW_STRING.match(src, i)
        if m:
            close = '"' + m.group(1)
            j = src.find(close, m.end())
            if j < 0:
                raise LexError("unterminated raw string")
            add("literal", i, j + len(close))
            i = j + len(close)
            continue
        if c == '"' or (c in "bc" and src.startswith('"', i + 1)):
            j = i + (1 if c == '"' else 2)
            while True:
                if j >= n:
                    raise LexError("unterminated string")
                if src[j] == "\\":
                    j += 2
                elif src[j] == '"':
                    break
                else:
                    j += 1
            add("literal", i, j + 1)
            i = j + 1
            continue
        if c == "'" or (c == "b" and src.startswith("'", i + 1)):
            j = i + (1 if c == "'" else 2)
            if j < n and src[j] == "\\":  # '\n', '\u{..}', '\''
                k = j + 2
                while k < n and src[k] != "'":
                    k += 1
                if k >= n:
                    raise LexError("unterminated character literal")
                add("literal", i, k + 1)
                i = k + 1
                continue
            if j + 1 < n and src[j + 1] == "'":  # 'a'
                add("literal", i, j + 2)
                i = j + 2
                continue
            m = _IDENT.match(src, j)  # a lifetime or a label
            end = m.end() if m else j
            add("lifetime", i, end)
            i = end
            continue
        m = _IDENT.match(src, i)
        if m:
            add("ident", i, m.end())
            i = m.end()
            continue
        m = _NUMBER.match(src, i)
        if m:
            add("literal", i, m.end())
            i = m.end()
            continue
        if c in "([{":
            add("open", i, i + 1)
            stack.append(c)
            depth += 1
            i += 1
            continue
        if c in ")]}":
            if not stack or stack[-1] != _PAIRS[c]:
                raise LexError(f"unbalanced '{c}'")
            stack.pop()
            depth -= 1
            add("close", i, i + 1)
            i += 1
            continue
        two = src[i:i + 2]
        if two in ("::", "!="):
            add("punct", i, i + 2)
            i += 2
            continue
        add("punct", i, i + 1)
        i += 1
    if stack:
        raise LexError(f"unclosed '{stack[-1]}'")
    return out


def evcxr_commands(src: str) -> list[str]:
    """The evcxr commands of a cell: lines whose first token, at the top level and outside
    strings and comments, is `:` followed by a name (`:dep ...`, `:opt 1`, `:clear`)."""
    try:
        toks = tokens(src)
    except LexError:
        # Not Rust anyway; fall back to the lines evcxr itself would treat as commands.
        return [l.strip() for l in src.splitlines() if re.match(r"\s*:[A-Za-z]", l)]
    found = []
    for a, b in zip(toks, toks[1:]):
        if (a.depth == 0 and a.line_start and a.kind == "punct" and a.text == ":"
                and b.kind == "ident" and b.start == a.end):
            line_end = src.find("\n", a.start)
            found.append(src[a.start:line_end if line_end >= 0 else len(src)].strip())
    return found


def uses_unsafe(src: str) -> bool:
    """Whether the keyword `unsafe` occurs in the code (not in strings or comments). Source that
    does not lex counts as not using it (the compiler rejects it anyway)."""
    try:
        return any(t.kind == "ident" and t.text == "unsafe" for t in tokens(src))
    except LexError:
        return False


def without_commands(src: str) -> str:
    """The cell without its evcxr command lines."""
    commands = set(evcxr_commands(src))
    return "\n".join(l for l in src.split("\n") if l.strip() not in commands)


@dataclass
class Chunk:
    text: str
    item: bool          # an item (fn, struct, impl, use, ...) rather than a statement
    kind: str | None    # fn, struct, ... for named items
    name: str | None


def chunks(src: str) -> list[Chunk]:
    """The top-level pieces of a cell, in order: items (with their leading attributes and doc
    comments) and statements. Raises LexError for source that does not lex."""
    toks = tokens(src)
    groups: list[list[Token]] = []
    current: list[Token] = []
    body = False       # the current chunk has more than attributes and comments
    ended = False      # its last token ends an item or statement (`;` or a closing `}`)
    in_attr = False
    for k, t in enumerate(toks):
        if t.depth == 0 and not in_attr and current and body and t.line_start and (
                ended or t.kind == "comment" or (t.kind == "ident" and t.text in ITEM_START)
                or t.text == "#"):
            groups.append(current)
            current, body = [], False
        current.append(t)
        if t.depth == 0 and t.text == "#" and not in_attr:
            in_attr = True
        elif in_attr:
            if t.kind == "close" and t.depth == 0:
                in_attr = False
        elif t.kind != "comment":
            body = True
        if t.kind != "comment" and not in_attr:
            ended = t.depth == 0 and (t.text == ";" or (t.kind == "close" and t.text == "}"))
    if current:
        groups.append(current)
    out = []
    for g in groups:
        text = src[g[0].start:g[-1].end]
        first, kind, name = None, None, None
        rest = [t for t in g if t.kind != "comment"]
        # Skip attributes: `#` [`!`] `[...]`.
        j = 0
        while j < len(rest) and rest[j].text == "#" and rest[j].depth == 0:
            j += 1
            while j < len(rest) and not (rest[j].kind == "close" and rest[j].depth == 0):
                j += 1
            j += 1
        rest = rest[j:]
        if rest:
            first = rest[0]
        item = first is not None and first.kind == "ident" and first.text in ITEM_START
        if item:
            words = [t.text for t in rest if t.depth == 0 and t.kind in ("ident", "punct", "literal")][:8]
            for a, b in zip(words, words[1:]):
                if a in NAMED_ITEMS and _IDENT.fullmatch(b) and b not in ("fn",) and not (a == "const" and b == "fn"):
                    kind, name = a, b.removeprefix("r#")
                    break
        out.append(Chunk(text, item or first is None, kind, name))
    return out


def item_names(src: str) -> list[str]:
    """Names of the named top-level items of a cell (fn, struct, enum, trait, ...), in order."""
    return [c.name for c in chunks(src) if c.item and c.name and c.name != "_"]


def qualify_macros(src: str) -> str:
    """`assert!(...)` -> `::std::assert!(...)`, `array![...]` -> `self::array![...]` (resolved
    through the module's own imports): a macro_rules! the student defines in an enclosing module
    cannot stand in for them. Paths already qualified are left alone."""
    toks = tokens(src)
    inserts = []
    for k, t in enumerate(toks[:-1]):
        nxt = toks[k + 1]
        if t.kind != "ident" or nxt.text != "!" or nxt.start != t.end or t.text == "macro_rules":
            continue
        after = toks[k + 2] if k + 2 < len(toks) else None
        if after is None or after.kind != "open":
            continue
        prev = toks[k - 1] if k else None
        if prev is not None and prev.text == "::" and prev.end == t.start:
            continue
        inserts.append((t.start, "::std::" if t.text in STD_MACROS else "self::"))
    out, last = [], 0
    for pos, text in inserts:
        out += [src[last:pos], text]
        last = pos
    out.append(src[last:])
    return "".join(out)
