"""Journeys as data: steps, choices, conditions and branching, loaded from profile YAML.

A position in a journey is a string: a step id ("postcode"), a question inside a repeating
group ("children/1/dob"), or the group's "add another?" question ("children/1/+more").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MORE = "+more"
ANSWER_TYPES = {
    "choice", "text", "name", "dob_or_age", "number", "postcode", "phone", "email",
    "loop", "summary", "submit", "end", "return", "switch", "guidance", "upn", "nhs_number",
    "percent", "date",
}


@dataclass(frozen=True)
class ChoiceDef:
    id: str
    label: str
    data: dict[str, Any] = field(default_factory=dict)  # e.g. indicators, clear


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    section: str = ""
    prompt: str = ""
    prompt_next: str = ""
    prompt_by: tuple[dict[str, Any], ...] = ()
    summary: str = ""
    choices: tuple[ChoiceDef, ...] = ()
    hide_choices: tuple[dict[str, Any], ...] = ()
    next: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    # Loops only
    steps: tuple[Step, ...] = ()
    intro: str = ""
    more: str = ""

    @property
    def free_input(self) -> bool:
        """True when typed text is a valid answer (not just a button)."""
        return self.type not in (
            "choice", "loop", "summary", "submit", "end", "return", "switch", "guidance"
        )

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def _step(data: dict[str, Any]) -> Step:
    if data.get("type") not in ANSWER_TYPES:
        raise ValueError(f"step {data.get('id')!r}: unknown type {data.get('type')!r}")
    known = {
        "id", "type", "section", "prompt", "prompt_next", "prompt_by", "summary", "choices",
        "hide_choices", "next", "steps", "intro", "more",
    }
    return Step(
        id=str(data["id"]),
        type=data["type"],
        section=data.get("section", ""),
        prompt=str(data.get("prompt", "")).strip(),
        prompt_next=str(data.get("prompt_next", "")).strip(),
        prompt_by=tuple(data.get("prompt_by", ())),
        summary=data.get("summary", ""),
        choices=tuple(
            ChoiceDef(str(c["id"]), c["label"],
                      {k: v for k, v in c.items() if k not in ("id", "label")})
            for c in data.get("choices", ())
        ),
        hide_choices=tuple(data.get("hide_choices", ())),
        next=data.get("next"),
        options={k: v for k, v in data.items() if k not in known},
        steps=tuple(_step(s) for s in data.get("steps", ())),
        intro=str(data.get("intro", "")).strip(),
        more=str(data.get("more", "")).strip(),
    )


def lookup(answers: dict[str, Any], meta: dict[str, Any], path: str) -> Any:
    """Resolve 'who', 'postcode.in_borough' or '$language' against answers and meta."""
    if path.startswith("$"):
        return meta.get(path[1:])
    head, _, rest = path.partition(".")
    value: Any = answers.get(head)
    if isinstance(value, dict) and value.get("skipped"):
        return None
    if rest:
        # Structured answers keep their parsed value under "value".
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        for part in rest.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    elif isinstance(value, dict) and "choice" in value:
        value = value["choice"]
    elif isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def matches(cond: dict[str, Any] | None, answers: dict[str, Any], meta: dict[str, Any]) -> bool:
    if not cond:
        return True
    for path, expected in cond.items():
        actual = lookup(answers, meta, path)
        if isinstance(expected, dict):
            for op, operand in expected.items():
                if op == "in" and actual not in operand:
                    return False
                if op == "not_in" and actual in operand:
                    return False
                if op == "not" and actual == operand:
                    return False
                if op in ("lt", "gte"):
                    if not isinstance(actual, int | float):
                        return False
                    if op == "lt" and not actual < operand:
                        return False
                    if op == "gte" and not actual >= operand:
                        return False
                if op == "exists" and (actual is not None) != bool(operand):
                    return False
        elif actual != expected:
            return False
    return True


@dataclass(frozen=True)
class Journey:
    id: str
    version: int
    sections: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    by_id: dict[str, Step]
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Journey:
        steps = tuple(_step(s) for s in data["steps"])
        by_id = {s.id: s for s in steps}
        if len(by_id) != len(steps):
            raise ValueError(f"journey {data['id']}: duplicate step ids")
        journey = cls(
            id=data["id"],
            version=int(data.get("version", 1)),
            sections=tuple((s["id"], s["title"]) for s in data.get("sections", ())),
            steps=steps,
            by_id=by_id,
            options={k: v for k, v in data.items()
                     if k not in ("id", "version", "sections", "steps")},
        )
        journey.check()
        return journey

    def check(self) -> None:
        """Fail at load time, not in a family's conversation, on a broken `goto`."""
        for step in self.steps:
            for rule in self._rules(step):
                if rule.get("goto") not in self.by_id:
                    raise ValueError(f"journey {self.id}: step {step.id} goes to unknown "
                                     f"step {rule.get('goto')!r}")

    @staticmethod
    def _rules(step: Step) -> list[dict[str, Any]]:
        if step.next is None:
            return []
        if isinstance(step.next, str):
            return [{"goto": step.next}]
        return list(step.next)

    @property
    def first(self) -> str:
        return self.steps[0].id

    def section_title(self, section_id: str) -> str:
        return dict(self.sections).get(section_id, section_id)

    # --- positions ------------------------------------------------------------------

    def step_at(self, pos: str) -> tuple[Step, Step | None, int]:
        """(top-level step, loop question or None, loop index) for a position."""
        if "/" not in pos:
            return self.by_id[pos], None, -1
        loop_id, index, sub = pos.split("/", 2)
        loop = self.by_id[loop_id]
        if sub == MORE:
            return loop, None, int(index)
        inner = next(s for s in loop.steps if s.id == sub)
        return loop, inner, int(index)

    def valid(self, pos: str) -> bool:
        try:
            self.step_at(pos)
        except (KeyError, StopIteration, ValueError):
            return False
        return True

    def after(self, step_id: str, answers: dict[str, Any], meta: dict[str, Any]) -> str | None:
        """The step after a top-level step, following its `next` rules."""
        step = self.by_id[step_id]
        for rule in self._rules(step):
            if matches(rule.get("if"), answers, meta):
                return str(rule["goto"])
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else None

    def entry(self, step_id: str, answers: dict[str, Any]) -> str:
        """The position that asks a top-level step (a loop starts at its first question)."""
        step = self.by_id[step_id]
        if step.type == "loop":
            items = answers.get(step.id) or []
            return f"{step.id}/{len(items)}/{step.steps[0].id}"
        return step_id

    def path(self, answers: dict[str, Any], meta: dict[str, Any]) -> list[str]:
        """Top-level steps the current answers lead through, in order (for the summary)."""
        seen: list[str] = []
        visited: set[str] = set()
        step_id: str | None = self.first
        while step_id is not None and step_id not in visited:
            visited.add(step_id)
            step = self.by_id[step_id]
            if step.type in ("summary", "submit", "end", "return", "switch"):
                seen.append(step_id)
                break
            record = answers.get(step_id)
            if isinstance(record, dict) and record.get("skipped"):
                pass  # skipped when it came up: the decision stands
            elif step_id in answers or step.type in ("loop", "guidance"):
                seen.append(step_id)
            elif not self.skipped(step, answers, meta):
                seen.append(step_id)
                break
            step_id = self.after(step_id, answers, meta)
        return seen

    def skipped(self, step: Step, answers: dict[str, Any], meta: dict[str, Any]) -> bool:
        """A step whose `skip_if` holds is not asked (its answer is known or can't matter)."""
        rule = step.option("skip_if")
        return bool(rule) and matches(rule, answers, meta)

    def prompt(self, step: Step, answers: dict[str, Any], meta: dict[str, Any]) -> str:
        for variant in step.prompt_by:
            if matches(variant.get("if"), answers, meta):
                return str(variant["prompt"]).strip()
        return step.prompt

    def choices(self, step: Step, answers: dict[str, Any], meta: dict[str, Any]) -> list[ChoiceDef]:
        hidden = {h["choice"] for h in step.hide_choices if matches(h.get("if"), answers, meta)}
        return [c for c in step.choices if c.id not in hidden]
