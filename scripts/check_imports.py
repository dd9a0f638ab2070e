#!/usr/bin/env python3
"""Fails when the files of a crate import each other in a circle, or a layer imports what
it must not (RULES).

Usage: scripts/check_imports.py SRC_DIR...

Each file is a module. A `crate::`, `super::` or `self::` path is an import of the module
that defines the name, re-exports (`pub use`) followed to it; a re-export itself is a
facade, not an import, and `mod tests` is left out. Prints every circle with its imports.
"""

import os
import re
import sys

REEXPORT = re.compile(r"pub(?:\([a-z]+\))?\s+use\s+([^;]+);")
# (importer, imported) module prefixes, as paths below src/: the envelope, routing and the
# cache core know values of many types only through Cacheable's hooks, and the
# configuration knows no tier's module (the names in tier/mod.rs, such as Tier, it may).
RULES = [
    (("entry",), ("any",)),
    (("route",), ("any",)),
    (("cache",), ("any",)),
    (("config",), ("tier", "*")),
]
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)(::\{[^;]*?\})?")


def modules(root):
    """Module path (a tuple) -> source without comments."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            with open(path, encoding="utf-8") as f:
                found[tuple(parts)] = re.sub(r"//[^\n]*", "", f.read())
    return found


def absolute(module, head, rest):
    if head == "crate":
        return list(rest)
    if head == "self":
        return list(module) + list(rest)
    base = list(module[:-1])
    rest = list(rest)
    while rest and rest[0] == "super":
        rest, base = rest[1:], base[:-1]
    return base + rest


def expand(prefix, body):
    """The (path, name) pairs of a use tree such as `a::{b, c::d as e}`."""
    body = body.strip()
    if body.startswith("{"):
        parts, depth, current = [], 0, ""
        for ch in body[1:-1]:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += ch
        parts.append(current)
        return [pair for part in parts if part.strip() for pair in expand(prefix, part)]
    if "::" in body:
        i = body.index("::")
        return expand(prefix + [body[:i].strip()], body[i + 2 :])
    original, _, alias = body.partition(" as ")
    return [(prefix + [original.strip()], (alias or original).strip())]


def graph(found):
    reexports = {}
    for module, source in found.items():
        for m in REEXPORT.finditer(source):
            for path, name in expand([], m.group(1)):
                if path[0] in ("crate", "self", "super"):
                    reexports[(module, name)] = absolute(module, path[0], path[1:])

    def resolve(path, depth=0):
        for n in range(len(path), -1, -1):
            module = tuple(path[:n])
            if module in found:
                if n < len(path) and (module, path[n]) in reexports and depth < 20:
                    return resolve(reexports[(module, path[n])] + path[n + 1 :], depth + 1)
                return module
        return ()

    edges = {module: set() for module in found}
    for module, source in found.items():
        if module and module[-1] == "tests":
            continue
        source = source.split("#[cfg(test)]\nmod tests")[0]
        source = REEXPORT.sub("", source)
        for m in PATH.finditer(source):
            base = absolute(module, m.group(1), m.group(2).split("::")[1:])
            paths = [p for p, _ in expand(base, m.group(3)[2:])] if m.group(3) else [base]
            for path in paths:
                target = resolve(path)
                if target != module:
                    edges[module].add(target)
    return edges


def circles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def below(module, prefix):
    """Whether `module` is `prefix` or below it; a last `*` in `prefix`: strictly below."""
    if prefix and prefix[-1] == "*":
        return len(module) >= len(prefix) and module[: len(prefix) - 1] == prefix[:-1]
    return module[: len(prefix)] == prefix


def name(module):
    return "::".join(module) or "crate"


def main(roots):
    failed = False
    for root in roots:
        edges = graph(modules(root))
        for component in circles(edges):
            failed = True
            members = set(component)
            print(f"{root}: import circle among {len(component)} modules:")
            for module in sorted(component):
                inside = sorted(name(t) for t in edges[module] if t in members)
                print(f"    {name(module)} imports {', '.join(inside)}")
        if os.path.normpath(root) == "src":
            for module, targets in sorted(edges.items()):
                for importer, imported in RULES:
                    for target in sorted(targets):
                        if module[: len(importer)] == importer and below(target, imported):
                            failed = True
                            print(f"{root}: {name(module)} imports {name(target)}")
    if failed:
        return 1
    print(f"no import circle in {', '.join(roots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src"]))
