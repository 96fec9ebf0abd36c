"""The metric names a PromQL expression reads (Grafana's variables allowed)."""

from __future__ import annotations

import re

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "inf", "nan", "atan2"}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r"\$\{?\w+\}?", "", expr)          # Grafana variables
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # strings: label values, label_replace's arguments
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    text = re.sub(r"\{[^}]*\}", "", text)            # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)           # ranges and subqueries
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        following = text[match.end():].lstrip()
        if following.startswith("("):
            continue  # a function or an aggregation
        if match.group(0) in _KEYWORDS:
            continue
        before = text[:match.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # the unit of a number or a duration
        names.add(match.group(0))
    return names
