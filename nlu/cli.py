"""Command-line tools: ``frontdoor analyse`` (JSON lines in, JSON lines out) and
``frontdoor evaluate`` (scores labelled files against the targets).

``bot/cli.py`` calls ``add_commands`` to put both under the main ``frontdoor`` command;
``python -m nlu.cli`` offers the same two for testing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

ANALYSE_KEYS = ("id", "language", "risk", "intent", "level", "indicators", "evidence")


def analyse_line(line: str) -> dict[str, Any]:
    """One output object for one input line; never raises for bad input."""
    import nlu

    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"invalid JSON: {exc.msg}"}
    if not isinstance(rec, dict):
        return {"id": None, "error": "each line must be a JSON object"}
    ident = rec.get("id")
    text = rec.get("text")
    lang = rec.get("lang")
    if not isinstance(text, str):
        return {"id": ident, "error": "'text' must be a string"}
    if lang is not None and not isinstance(lang, str):
        return {"id": ident, "error": "'lang' must be a string"}
    result = nlu.analyse(text, lang)
    return {
        "id": ident,
        "language": result.language,
        "risk": result.risk,
        "intent": result.intent,
        "level": result.level,
        "indicators": list(result.indicators),
        "evidence": [e.to_dict() for e in result.evidence],
    }


def run_analyse(stdin: TextIO, stdout: TextIO) -> int:
    import nlu

    nlu.load()
    for line in stdin:
        if not line.strip():
            continue
        stdout.write(json.dumps(analyse_line(line), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def run_evaluate(files: Sequence[Path], *, check: bool, as_json: bool, use_hint: bool,
                 errors: bool, stdout: TextIO) -> int:
    import nlu
    from nlu.evaluate import evaluate, format_report, read_labelled

    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    records, invalid = read_labelled(files)
    nlu.load()
    report = evaluate(records, nlu.analyse, use_hint=use_hint, invalid=invalid)
    if as_json:
        stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        stdout.write(format_report(report) + "\n")
    if errors:
        for err in report.errors:
            stdout.write(json.dumps(err, ensure_ascii=False) + "\n")
    return 1 if check and report.failures() else 0


def add_commands(subparsers: Any) -> None:
    """Register ``analyse`` and ``evaluate`` on an argparse sub-parsers object."""
    p = subparsers.add_parser(
        "analyse", help="analyse JSON lines from stdin ({id, text, lang?}) to stdout",
        description="Reads {\"id\", \"text\", \"lang\"?} per line; writes one JSON line per "
                    "input with id, language, risk, intent, level, indicators, evidence.")
    p.set_defaults(func=lambda args: run_analyse(sys.stdin, sys.stdout))
    e = subparsers.add_parser(
        "evaluate", help="score labelled JSONL files (gold risk, intent, level)",
        description="Prints recall of immediate+urgent, false alarms on none, the risk "
                    "confusion matrix, intent macro-F1 and level accuracy, per language.")
    e.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl")
    e.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.add_argument("--no-hint", action="store_true",
                   help="do not pass each record's 'lang' as the language hint")
    e.add_argument("--errors", action="store_true", help="also print each wrong answer")
    e.set_defaults(func=lambda args: run_evaluate(
        args.files, check=args.check, as_json=args.json, use_hint=not args.no_hint,
        errors=args.errors, stdout=sys.stdout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
