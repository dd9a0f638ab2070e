#!/usr/bin/env python3
"""Checks the book's sources for the mistakes mdbook only warns about, or lets through.

    python3 scripts/check_book.py            # checks book/src
    python3 scripts/check_book.py path/to/src

It fails (exit status 1, one line per problem) when:

- an `{{#include path}}`, `{{#include path:anchor}}` or `{{#include path:from:to}}`
  (or `#rustdoc_include`) names a file that does not exist, an anchor that the file
  does not open and close (`ANCHOR: name` ... `ANCHOR_END: name`), or lines it does
  not have;
- a relative link (`[text](other.md)`, `[text](other.md#part)`, `[text](#part)`,
  an image) points to a file that does not exist, or to a heading the chapter does
  not have;
- a chapter is missing from SUMMARY.md, or SUMMARY.md lists a file that is missing;
- a Rust code block holds code of its own instead of `{{#include ..}}` lines: every
  Rust snippet comes from examples/ or tests/, so that it is compiled;
- a code block has no language, or a shell snippet is not marked `sh`.

Plain Python 3, no packages.
"""

import os
import re
import sys

# mdbook's own patterns: {{#include ..}} (an escaped \{{#include ..}} is text), and
# anchors in included files.
LINK = re.compile(r"\\\{\{#.*?\}\}|\{\{\s*#([a-zA-Z0-9_]+)\s+([^}]+?)\s*\}\}")
ANCHOR = re.compile(r"ANCHOR:\s*([\w-]+)")
ANCHOR_END = re.compile(r"ANCHOR_END:\s*([\w-]+)")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
SHELLS = {"console", "bash", "shell", "shell-session", "zsh", "shellsession"}


def normalize_id(text):
    """The id mdbook gives a heading: lower case, letters, digits, `_` and `-` kept,
    spaces as `-`, everything else dropped."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in "_-":
            out.append(ch.lower())
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def heading_text(raw):
    """A heading's text as rendered: links become their text, code and emphasis marks go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("`", "").replace("*", "")


def scan(path):
    """Splits a chapter into (prose lines, code blocks, heading ids).

    prose: (line number, text) outside code blocks; blocks: (line number, info string,
    [lines]); ids: the heading ids mdbook makes, in order."""
    prose, blocks, ids = [], [], []
    used = set()
    fence = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = (m.group(2)[0], len(m.group(2)))
                blocks.append((number, m.group(3).strip(), []))
                continue
            prose.append((number, line))
            h = HEADING.match(line)
            if h:
                text = h.group(2)
                custom = re.search(r"\{#([^}\s]+)[^}]*\}\s*$", text)
                if custom:
                    base = custom.group(1)
                else:
                    base = normalize_id(heading_text(text))
                unique, n = base, 0
                while unique in used:
                    n += 1
                    unique = f"{base}-{n}"
                used.add(unique)
                ids.append(unique)
        else:
            if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= fence[1] and not m.group(3).strip():
                fence = None
                continue
            blocks[-1][2].append(line)
    if fence is not None:
        blocks[-1] = (blocks[-1][0], blocks[-1][1] + " (never closed)", blocks[-1][2])
    return prose, blocks, ids


class Book:
    def __init__(self, src):
        self.src = os.path.abspath(src)
        self.problems = []
        self._ids = {}

    def say(self, path, line, message):
        self.problems.append(f"{os.path.relpath(path)}:{line}: {message}")

    def ids(self, path):
        if path not in self._ids:
            self._ids[path] = scan(path)[2]
        return self._ids[path]

    def chapters(self):
        found = []
        for folder, _, files in os.walk(self.src):
            for name in sorted(files):
                if name.endswith(".md"):
                    found.append(os.path.join(folder, name))
        return sorted(found)

    def check_include(self, path, number, kind, target):
        if kind not in ("include", "rustdoc_include", "playground"):
            return
        spec = target.split()[0]
        file_part, _, selector = spec.partition(":")
        included = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        shown = "{{#%s %s}}" % (kind, target)
        if not os.path.isfile(included):
            self.say(path, number, f"{shown}: no file {os.path.relpath(included)}")
            return
        if not selector:
            return
        with open(included, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if re.fullmatch(r"\d*(:\d*)?", selector):
            start, _, end = selector.partition(":")
            last = int(end or start or "0") if (end or start) else 0
            if last > len(lines):
                self.say(path, number, f"{shown}: {os.path.relpath(included)} has {len(lines)} lines")
            return
        opened = [i for i, l in enumerate(lines) if (m := ANCHOR.search(l)) and m.group(1) == selector
                  and not ANCHOR_END.search(l)]
        closed = [i for i, l in enumerate(lines) if (m := ANCHOR_END.search(l)) and m.group(1) == selector]
        if not opened:
            self.say(path, number, f"{shown}: no `ANCHOR: {selector}` in {os.path.relpath(included)}")
        elif not closed or closed[-1] < opened[0]:
            self.say(path, number, f"{shown}: `ANCHOR: {selector}` is never closed (`ANCHOR_END: {selector}`) in {os.path.relpath(included)}")
        elif not any(l.strip() and not ANCHOR.search(l) and not ANCHOR_END.search(l)
                     for l in lines[opened[0] + 1:closed[-1]]):
            self.say(path, number, f"{shown}: anchor `{selector}` in {os.path.relpath(included)} is empty")

    def check_link(self, path, number, target):
        if SCHEME.match(target):
            return
        file_part, _, fragment = target.partition("#")
        if file_part:
            linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if linked.endswith(".html") and not os.path.exists(linked):
                linked = linked[: -len(".html")] + ".md"
            if not os.path.exists(linked):
                self.say(path, number, f"link to {target}: no file {os.path.relpath(linked)}")
                return
        else:
            linked = path
        if fragment and linked.endswith(".md") and fragment not in self.ids(linked):
            self.say(path, number, f"link to {target}: {os.path.relpath(linked)} has no heading #{fragment}")

    def check_blocks(self, path, blocks):
        for number, info, lines in blocks:
            language = re.split(r"[,\s{]", info, maxsplit=1)[0].lower() if info else ""
            if "(never closed)" in info:
                self.say(path, number, "code block never closed")
            if not language:
                self.say(path, number, "code block without a language: mark it sh, text, toml, ...")
            elif language in SHELLS:
                self.say(path, number, f"shell snippet marked {language}: mark it sh")
            elif language == "rust":
                own = [l for l in lines if l.strip() and not LINK.fullmatch(l.strip())]
                if own:
                    self.say(path, number, "Rust code written into the book: include it from examples/ or tests/ "
                             "with {{#include ../../examples/x.rs:anchor}} so that it is compiled "
                             f"(first line: {own[0].strip()[:60]!r})")

    def check_summary(self):
        summary = os.path.join(self.src, "SUMMARY.md")
        if not os.path.isfile(summary):
            self.say(summary, 0, "no SUMMARY.md")
            return
        listed = set()
        prose, _, _ = scan(summary)
        for number, line in prose:
            for m in INLINE_LINK.finditer(line):
                target = m.group(1).partition("#")[0]
                if target and not SCHEME.match(target):
                    listed.add(os.path.normpath(os.path.join(self.src, target)))
        for chapter in self.chapters():
            if chapter != summary and chapter not in listed:
                self.say(chapter, 1, "not listed in SUMMARY.md: it is not part of the book")

    def run(self):
        self.check_summary()
        for path in self.chapters():
            prose, blocks, _ = scan(path)
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    for m in LINK.finditer(line):
                        if m.group(1):
                            self.check_include(path, number, m.group(1), m.group(2))
            for number, line in prose:
                text = CODE_SPAN.sub("", line)
                for m in INLINE_LINK.finditer(text):
                    self.check_link(path, number, m.group(1))
                m = REFERENCE.match(text)
                if m:
                    self.check_link(path, number, m.group(1))
            self.check_blocks(path, blocks)
        return self.problems


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "book", "src")
    if not os.path.isdir(src):
        print(f"check_book: no folder {src}", file=sys.stderr)
        return 2
    book = Book(src)
    problems = book.run()
    for problem in problems:
        print(problem)
    chapters = len(book.chapters())
    sys.stdout.flush()
    if problems:
        print(f"check_book: {len(problems)} problem(s) in {chapters} chapters", file=sys.stderr)
        return 1
    print(f"check_book: {chapters} chapters, every include, anchor, link and code block checks out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
