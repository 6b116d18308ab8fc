"""The command line: ``frontdoor analyse`` / ``evaluate`` via add_commands, and
``python -m nlu.cli`` in a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlu import cli

ROOT = Path(__file__).resolve().parents[2]


def run_main(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    code = cli.main(argv)
    return code, out.getvalue()


def test_add_commands_registers_both() -> None:
    parser = argparse.ArgumentParser(prog="frontdoor")
    sub = parser.add_subparsers(dest="command")
    cli.add_commands(sub)
    args = parser.parse_args(["evaluate", "x.jsonl", "--check"])
    assert args.check and callable(args.func)
    assert callable(parser.parse_args(["analyse"]).func)


def test_analyse_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "\n".join([
        json.dumps({"id": 1, "text": "my dad hits me"}),
        "this is not json",
        json.dumps({"id": "b", "text": "cześć", "lang": "pl"}),
        json.dumps({"id": 3}),
        json.dumps(["not", "an", "object"]),
        "",
        json.dumps({"id": 4, "text": "help he's choking my mum right now"}),
    ]) + "\n"
    code, out = run_main(["analyse"], lines, monkeypatch)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 6
    assert set(rows[0]) == {"id", "language", "risk", "intent", "level", "indicators",
                            "evidence"}
    assert rows[0]["risk"] == "urgent" and rows[0]["evidence"][0]["rule"] == "physical_abuse"
    assert "error" in rows[1] and rows[1]["id"] is None
    assert rows[2]["language"] == "pl" and rows[2]["risk"] == "none"
    assert rows[3] == {"id": 3, "error": "'text' must be a string"}
    assert "error" in rows[4]
    assert rows[5]["risk"] == "immediate"


def test_evaluate_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in [
        {"id": 1, "text": "my dad hits me", "lang": "en", "risk": "urgent",
         "intent": "self_referral", "level": 4},
        {"id": 2, "text": "hello", "lang": "en", "risk": "none", "intent": "other",
         "level": None},
    ]) + "\nnot json\n", encoding="utf-8")
    code, out = run_main(["evaluate", str(good), "--check"], "", monkeypatch)
    assert code == 0, out
    assert "targets: all met" in out and "1 invalid line" in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1, "text": "hello", "lang": "en", "risk": "urgent",
                               "intent": "emergency", "level": 4}) + "\n", encoding="utf-8")
    code, out = run_main(["evaluate", str(bad), "--check"], "", monkeypatch)
    assert code == 1 and "alarm recall" in out
    code, out = run_main(["evaluate", str(bad)], "", monkeypatch)
    assert code == 0  # without --check, a miss is reported, not failed
    code, out = run_main(["evaluate", str(good), "--json"], "", monkeypatch)
    report = json.loads(out)
    assert report["overall"]["alarm_recall"] == 1.0 and report["failures"] == []


def test_evaluate_missing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _ = run_main(["evaluate", "/no/such/file.jsonl"], "", monkeypatch)
    assert code == 2


def test_module_entry_point_in_a_subprocess() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "nlu.cli", "analyse"], input='{"id": 7, "text": "hiya"}\n',
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    row = json.loads(proc.stdout)
    assert row["id"] == 7 and row["risk"] == "none" and row["level"] is None
