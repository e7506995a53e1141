"""Reading an HTML report back as a person (and a suspicious reviewer) would.

Independent of edgekit's own code on purpose: the expressions of the ``data-json`` attributes are
evaluated here by a second, separate implementation, and the figures people read are parsed
back from their text. :func:`check_report` asserts what the tests promise:

- every figure (a ``<data>`` element) is the value its JSON expression gives on the command's
  ``--json`` of the same run, and its text reads as that value at the precision shown;
- every sentence taken from the JSON (``span.jtext``) is that JSON string;
- no figure with a unit (ms, %, MiB, dB ...) and no decimal number appears in the prose outside
  those elements, and every such figure written inside a chart is one the page shows as a figure;
- the file references nothing outside itself: no script, stylesheet, image, frame or font is
  loaded, no link leaves the page, no ``url(`` or ``@import`` points elsewhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

# ---------------------------------------------------------------- a second evaluator of the expressions


def _walk(node: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return [node]
    head, rest = parts[0], parts[1:]
    if head.startswith("*"):
        items = list(node.values()) if isinstance(node, dict) else list(node)
        def text(v: Any) -> str:
            return "null" if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v)

        for key, want in re.findall(r"\[([^=\]]+)=([^\]]*)\]", head):
            items = [it for it in items if isinstance(it, dict) and text(it.get(key)) == want]
        return [v for it in items for v in _walk(it, rest)]
    if isinstance(node, list):
        return _walk(node[int(head)], rest)
    return _walk(node[head.replace("~1", "/").replace("~0", "~")], rest)


def _args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    return [*out, cur.strip()]


def json_value(doc: Any, expr: str) -> Any:
    m = re.fullmatch(r"(\w+)\((.*)\)", expr.strip())
    if m is None:
        return _walk(doc, expr.strip().split("/")[1:])[0]
    fn, body = m.group(1), m.group(2)
    if fn in ("ratio", "diff"):
        a, b = (json_value(doc, x) for x in _args(body))
        if a is None or b is None:
            return None
        return a - b if fn == "diff" else (a / b if b else None)
    values = _walk(doc, body.split("/")[1:])
    if fn == "count":
        return len(values)
    nums = [float(v) for v in values if v is not None]
    if fn == "sum":
        return math.fsum(nums)
    if not nums:
        return None
    return {"min": min, "max": max, "mean": lambda v: math.fsum(v) / len(v)}[fn](nums)


# ---------------------------------------------------------------- reading the figures people see

UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
MISSING = {"–", "-", ""}


def _decimals(number: str) -> float:
    """Half a unit of the last digit shown (for 2.943e-06: half of 1e-09)."""
    mantissa, _, exp = number.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (-decimals + (int(exp) if exp else 0))


def read_figure(text: str, fmt: str) -> tuple[float, float]:
    """(value, tolerance) of a figure as shown, in the JSON's unit."""
    t = text.strip().replace(",", "")
    if fmt == "bytes":
        number, unit = t.split()
        return float(number) * UNITS[unit], _decimals(number) * UNITS[unit] + (0.5 if unit == "B" else 0)
    scale, suffix = {"ms": (1.0, " ms"), "pct": (0.01, "%"), "pts": (0.01, " points"), "db": (1.0, " dB"),
                     "x": (1.0, "x"), "per_s": (1.0, "/s"), "s": (1.0, " s"), "int": (1.0, ""), "float": (1.0, ""),
                     "cos": (1.0, "")}[fmt]
    assert t.endswith(suffix), f"{text!r} does not end in {suffix!r} ({fmt})"
    number = t[: len(t) - len(suffix)] if suffix else t
    return float(number) * scale, _decimals(number) * scale


FIGURE = re.compile(r"(?<![\w.#/-])[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?\s?(?:ms|s|%|B|KiB|MiB|GiB|dB|x|/s|points)(?![\w])"
                    r"|(?<![\w.#/-])\d+\.\d+(?![\w.])")


@dataclass
class Parsed:
    figures: list[dict[str, str]] = field(default_factory=list)  # attrs + "text"
    jtexts: list[tuple[str, str]] = field(default_factory=list)  # (pointer, text)
    prose: list[str] = field(default_factory=list)
    svg_texts: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # every src/href/xlink:href/action/poster/data attribute
    tags: set[str] = field(default_factory=set)
    styles: list[str] = field(default_factory=list)  # <style> bodies and style attributes


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Reader(HTMLParser):
    EXCLUDED = {"code", "pre", "style", "title", "script"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Parsed()
        self.stack: list[tuple[str, str]] = []  # (tag, role): role in data|jtext|lit|svg|excluded|""
        self.buf: list[str] = []

    def _role(self) -> str:
        for _, role in reversed(self.stack):
            if role:
                return role
        return ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.out.tags.add(tag)
        for key in ("src", "href", "xlink:href", "action", "poster", "data", "srcset", "formaction", "background"):
            if key in a:
                self.out.refs.append(a[key])
        if "style" in a:
            self.out.styles.append(a["style"])
        classes = a.get("class", "").split()
        role = ""
        if tag == "data":
            role = "data"
            self.out.figures.append({**a, "text": ""})
        elif tag == "span" and "jtext" in classes:
            role = "jtext"
            self.out.jtexts.append((a.get("data-json", ""), ""))
        elif tag == "span" and "lit" in classes:
            role = "lit"
        elif tag == "svg":
            role = "svg"
        elif tag in self.EXCLUDED:
            role = "excluded"
        if tag not in VOID:
            self.stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        if all(t != tag for t, _ in self.stack):
            return
        while self.stack:
            top, _ = self.stack.pop()
            if top == tag:
                break
        if tag == "text" and self._role() == "svg":
            self.out.svg_texts.append("".join(self.buf).strip())
            self.buf = []

    def handle_data(self, data: str) -> None:
        role = self._role()
        if role == "data":
            self.out.figures[-1]["text"] += data
        elif role == "jtext":
            p, t = self.out.jtexts[-1]
            self.out.jtexts[-1] = (p, t + data)
        elif role == "svg":
            if any(t == "text" for t, _ in self.stack):
                self.buf.append(data)
        elif role == "excluded":
            if self.stack and self.stack[-1][0] == "style":
                self.out.styles.append(data)
        elif role == "":
            self.out.prose.append(data)


def parse_report(html: str) -> Parsed:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.out


def external_references(html: str, parsed: Parsed) -> list[str]:
    """Everything in the file that would reach outside it (empty for a self-contained page)."""
    bad = [f"<{t}>" for t in sorted(parsed.tags & {"script", "link", "img", "iframe", "object", "embed", "video",
                                                   "audio", "source", "base", "form", "frame", "picture"})]
    bad += [f"reference {r!r}" for r in parsed.refs if not r.startswith("#")]
    for style in parsed.styles:
        bad += [f"url({u})" for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", style) if not u.startswith("#")]
        if "@import" in style:
            bad.append("@import")
    bad += [f"url({u})" for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html) if not u.startswith("#")]
    bad += [f"scheme {m!r}" for m in re.findall(r"(?i)\b(?:https?|ftp|wss?):", html)]
    bad += [f"protocol-relative {m!r}" for m in re.findall(r"(?i)(?:src|href)\s*=\s*['\"]//", html)]
    return bad


def check_report(html: str, doc: dict[str, Any]) -> Parsed:
    """Assert the promises of the module docstring; returns what was read (for further checks)."""
    parsed = parse_report(html)
    assert parsed.figures, "a report without a single figure"
    shown: set[str] = set()
    for fig in parsed.figures:
        expr, fmt, raw, text = fig["data-json"], fig["data-fmt"], fig["value"], fig["text"]
        value = json_value(doc, expr)
        if value is None:
            assert raw == "" and text in MISSING, (expr, raw, text)
            continue
        assert raw != "", (expr, text)
        assert float(raw) == float(value), f"{expr}: the page holds {raw}, the JSON gives {value!r}"
        number, tolerance = read_figure(text, fmt)
        assert abs(number - float(value)) <= tolerance * 1.0001 + 1e-12, \
            f"{expr}: the page reads {text!r} for {value!r}"
        shown.add(text.strip())
    for pointer, text in parsed.jtexts:
        want = json_value(doc, pointer)
        assert text == ("" if want is None else str(want)), (pointer, text, want)
    prose = " ".join(" ".join(parsed.prose).split())
    stray = FIGURE.findall(prose)
    assert not stray, f"figures in the prose that do not come from the JSON: {stray}"
    for text in parsed.svg_texts:
        for token in FIGURE.findall(text):
            token = token.strip()
            if re.fullmatch(r"[-−]?\d+(?:\.\d+)?", token):  # a bare axis tick, not a figure
                continue
            assert token in shown, f"a chart says {token!r} ({text!r}), which no figure on the page shows"
    bad = external_references(html, parsed)
    assert not bad, f"the page reaches outside itself: {bad}"
    return parsed
