#!/usr/bin/env python3
"""Draws the RATIO lines of `cargo bench --all-features` as an SVG bar chart.

    cargo bench --all-features 2>&1 | tee bench.log
    python3 scripts/bench_chart.py bench.log          # writes book/src/ratios.svg
    python3 scripts/bench_chart.py -o chart.svg one.log two.log
    cargo bench --all-features --bench bench_kv | python3 scripts/bench_chart.py -

Each bench prints lines such as

    RATIO sled_get_bytes: smartcache 820.8 ns / sled_decode 736.4 ns = 1.11x (target <= 1.2x)

and the chart has one bar per line: smartcache's time over the peer's, on a log scale,
with a line at 1x (left of it, smartcache is faster) and a mark at the target. Green
bars meet their target, red ones miss it. Comparisons whose target is `context` are
left out unless `--context` is given (then drawn grey). When several logs hold the same
comparison, the last log given wins, so list older logs first.

Plain Python 3, no packages.
"""

import argparse
import datetime
import math
import os
import re
import sys
import textwrap
from xml.sax.saxutils import escape

UNITS = {"ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
FULL = re.compile(
    r"^\s*RATIO (?P<group>[^:]+): (?P<ours>\S+) (?P<ot>[\d.]+) (?P<ou>ns|µs|us|ms|s)"
    r" / (?P<peer>\S+) (?P<pt>[\d.]+) (?P<pu>ns|µs|us|ms|s) = (?P<ratio>[\d.]+)x"
    r" \(target (?P<target>.*)\)\s*$"
)
SHORT = re.compile(r"^\s*RATIO (?P<label>.+?): (?P<ratio>[\d.]+)x \(target (?P<target>.*)\)\s*$")
TARGET = re.compile(r"(<=|≤|<)\s*([\d.]+)\s*(?:x|×)?")


class Ratio:
    def __init__(self, key, label, ratio, target, line, source):
        self.key, self.label, self.ratio, self.line, self.source = key, label, ratio, line, source
        m = TARGET.search(target)
        self.context = m is None
        self.op = m.group(1) if m else None
        self.target = float(m.group(2)) if m else None

    @property
    def met(self):
        if self.target is None:
            return None
        return self.ratio < self.target if self.op == "<" else self.ratio <= self.target


def parse(lines, source):
    """The RATIO lines of one log, as `Ratio`s."""
    found = []
    for line in lines:
        line = line.rstrip("\n")
        m = FULL.match(line)
        if m:
            ours = float(m["ot"]) * UNITS[m["ou"]]
            peer = float(m["pt"]) * UNITS[m["pu"]]
            ratio = ours / peer if peer > 0 else float(m["ratio"])
            group = m["group"].strip()
            key = (group, m["ours"], m["peer"])
            label = f"{group}: {m['ours']} / {m['peer']}"
            found.append(Ratio(key, label, ratio, m["target"], line.strip(), source))
            continue
        m = SHORT.match(line)
        if m and "no estimates" not in line:
            label = m["label"].strip()
            found.append(Ratio((label,), label, float(m["ratio"]), m["target"], line.strip(), source))
    return found


def merge(runs):
    """Every comparison once, in the order first seen, with the value of the last log."""
    order, latest = [], {}
    for ratios in runs:
        for r in ratios:
            if r.key not in latest:
                order.append(r.key)
            latest[r.key] = r
    return [latest[k] for k in order]


def nice_ticks(lo, hi):
    ticks = []
    for exponent in range(-4, 5):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0 ** exponent
            if lo * 0.999 <= value <= hi * 1.001:
                ticks.append(value)
    return ticks


def fmt(value):
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2g}" if value != int(value) else f"{value:.0f}"
    return f"{value:.2g}" if value >= 0.01 else f"{value:.1e}"


def svg(ratios, title, note):
    """The chart, as SVG text."""
    char, row, bar = 7.0, 24, 14
    label_width = int(max(len(r.label) for r in ratios) * char) + 24
    plot_width = 460
    value_room = 70
    width = label_width + plot_width + value_room
    note_lines = textwrap.wrap(note, width=max(40, int((width - 24) / 6.6)))
    shift = 16 * (len(note_lines) - 1)
    top = 86 + shift
    height = top + row * len(ratios) + 58

    values = [r.ratio for r in ratios] + [r.target for r in ratios if r.target] + [1.0]
    low = min(v for v in values if v > 0)
    high = max(values)
    lo = 10.0 ** math.floor(math.log10(low / 1.6))
    for candidate in (5 * lo, 2 * lo):
        if candidate <= low / 1.6:
            lo = candidate
            break
    hi = 10.0 ** math.ceil(math.log10(high * 1.3))
    for candidate in (hi / 5, hi / 2):
        if candidate >= high * 1.3:
            hi = candidate
            break

    def x(value):
        value = min(max(value, lo), hi)
        return label_width + plot_width * (math.log10(value) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo)
        )

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for n, line in enumerate(note_lines):
        out.append(f'<text x="12" y="{44 + 16 * n}" fill="#444">{escape(line)}</text>')
    legend = [("#2e7d32", "meets its target"), ("#c62828", "misses its target")]
    if any(r.context for r in ratios):
        legend.append(("#9e9e9e", "context (no target)"))
    lx = 12
    for colour, text in legend:
        out.append(f'<rect x="{lx}" y="{56 + shift}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 18}" y="{66 + shift}">{escape(text)}</text>')
        lx += 18 + int(len(text) * char) + 20
    out.append(f'<line x1="{lx}" y1="{56 + shift}" x2="{lx}" y2="{68 + shift}" stroke="#000" stroke-width="2"/>')
    out.append(f'<text x="{lx + 8}" y="{66 + shift}">target</text>')

    bottom = top + row * len(ratios)
    for tick in nice_ticks(lo, hi):
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#444">{fmt(tick)}×</text>')
    one = x(1.0)
    for i, r in enumerate(ratios):
        y = top + i * row
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{row}" fill="#f7f7f7" fill-opacity="0.6"/>')
        out.append(f'<text x="{label_width - 10}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                   f'font-family="DejaVu Sans Mono, Menlo, monospace" font-size="11">{escape(r.label)}</text>')
        colour = "#9e9e9e" if r.context else ("#2e7d32" if r.met else "#c62828")
        end = x(r.ratio)
        left, right = min(one, end), max(one, end)
        tip = escape(f"{r.line}  [{os.path.basename(r.source)}]")
        out.append(f'<rect x="{left:.1f}" y="{y + (row - bar) / 2}" width="{max(right - left, 1):.1f}" '
                   f'height="{bar}" fill="{colour}"><title>{tip}</title></rect>')
        tx = x(r.target) if r.target else None
        if tx is not None:
            out.append(f'<line x1="{tx:.1f}" y1="{y + 3}" x2="{tx:.1f}" y2="{y + row - 3}" stroke="#000" stroke-width="2">'
                       f'<title>target {escape(r.op)} {fmt(r.target)}×</title></line>')
        # The value beside the bar's far end, clear of the target mark.
        text_y = f"{y + row / 2 + 4:.1f}"
        if r.ratio < 1:
            lx = min(left, tx if tx is not None else left) - 6
            out.append(f'<text x="{lx:.1f}" y="{text_y}" text-anchor="end">{r.ratio:.2f}×</text>')
        else:
            rx = max(right, tx if tx is not None else right) + 6
            out.append(f'<text x="{rx:.1f}" y="{text_y}">{r.ratio:.2f}×</text>')
    out.append(f'<line x1="{one:.1f}" y1="{top - 8}" x2="{one:.1f}" y2="{bottom + 4}" stroke="#000" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{label_width + plot_width / 2:.1f}" y="{bottom + 36}" text-anchor="middle" fill="#444">'
               "smartcache's time / the peer's time (log scale): left of 1× smartcache is faster</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="*", default=["-"], help="bench logs, oldest first ('-': stdin)")
    parser.add_argument("-o", "--output", default=os.path.join(root, "book", "src", "ratios.svg"))
    parser.add_argument("--context", action="store_true", help="also draw comparisons without a target")
    parser.add_argument("--title", default="smartcache against its peers: time ratios")
    parser.add_argument("--note", help="the line under the title (default: the logs and their dates)")
    args = parser.parse_args()

    runs, sources = [], []
    for log in args.logs:
        if log == "-":
            runs.append(parse(sys.stdin, "stdin"))
            sources.append("stdin")
        else:
            with open(log, encoding="utf-8", errors="replace") as f:
                runs.append(parse(f, log))
            day = datetime.date.fromtimestamp(os.path.getmtime(log)).isoformat()
            sources.append(f"{os.path.basename(log)} ({day})")
    ratios = [r for r in merge(runs) if args.context or not r.context]
    if not ratios:
        print("bench_chart: no RATIO lines with a target in " + ", ".join(args.logs), file=sys.stderr)
        return 1
    note = args.note or ("cargo bench --all-features; from " + ", ".join(sources))
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(svg(ratios, args.title, note))
    for r in ratios:
        verdict = "context" if r.context else ("meets" if r.met else "MISSES") + f" {r.op} {fmt(r.target)}x"
        print(f"{r.ratio:8.3f}x  {verdict:<16} {r.label}")
    print(f"bench_chart: {len(ratios)} ratios written to {os.path.relpath(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
