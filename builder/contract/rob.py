"""Risk-of-bias assessments: the tools, their domains and the judgements each allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from .common import Identifier, Provenance, Strict


@dataclass(frozen=True)
class Tool:
    name: str
    domains: dict[str, str]  # id -> label
    judgements: tuple[str, ...]  # from best to worst, then "no-information"


TOOLS: dict[str, Tool] = {
    "rob1": Tool(
        "Cochrane RoB 1",
        {
            "random-sequence-generation": "Random sequence generation",
            "allocation-concealment": "Allocation concealment",
            "blinding-participants-personnel": "Blinding of participants and personnel",
            "blinding-outcome-assessment": "Blinding of outcome assessment",
            "incomplete-outcome-data": "Incomplete outcome data",
            "selective-reporting": "Selective reporting",
            "other-bias": "Other bias",
        },
        ("low", "unclear", "high"),
    ),
    "rob2": Tool(
        "RoB 2",
        {
            "randomisation": "Randomisation process",
            "deviations": "Deviations from intended interventions",
            "missing-outcome-data": "Missing outcome data",
            "measurement": "Measurement of the outcome",
            "reported-result": "Selection of the reported result",
        },
        ("low", "some-concerns", "high", "no-information"),
    ),
    "robins-i": Tool(
        "ROBINS-I",
        {
            "confounding": "Confounding",
            "selection": "Selection of participants",
            "classification": "Classification of interventions",
            "deviations": "Deviations from intended interventions",
            "missing-data": "Missing data",
            "measurement": "Measurement of outcomes",
            "reported-result": "Selection of the reported result",
        },
        ("low", "moderate", "serious", "critical", "no-information"),
    ),
}

NOT_RETRIEVED = "not-retrieved"  # a published assessment whose judgement for this domain could not be read


class DomainJudgement(Strict):
    domain: str
    judgement: str
    support: str = Field(min_length=3, description="Why: a sentence of support, or where it was read.")


class RiskOfBias(Strict):
    tool: Literal["rob1", "rob2", "robins-i"]
    outcome: Identifier | None = Field(None, description="RoB 2 and ROBINS-I are per outcome; omit for all.")
    assessed_by: str = Field(description="'this review', or the review whose published assessment is quoted.")
    domains: list[DomainJudgement] = Field(min_length=1)
    overall: str | None = Field(None, description="Overall judgement (RoB 2, ROBINS-I); omit if not available.")
    provenance: Provenance

    @model_validator(mode="after")
    def _known(self) -> RiskOfBias:
        tool = TOOLS[self.tool]
        allowed = set(tool.judgements) | {NOT_RETRIEVED}
        seen = []
        for d in self.domains:
            if d.domain not in tool.domains:
                raise ValueError(
                    f"'{d.domain}' is not a domain of {tool.name}; expected one of {', '.join(tool.domains)}"
                )
            if d.judgement not in allowed:
                raise ValueError(
                    f"'{d.judgement}' is not a judgement of {tool.name} (domain {d.domain}); "
                    f"expected one of {', '.join(sorted(allowed))}"
                )
            seen.append(d.domain)
        missing = [name for name in tool.domains if name not in seen]
        if missing:
            raise ValueError(
                f"every domain of {tool.name} needs a judgement (use '{NOT_RETRIEVED}' when a "
                f"published one could not be read); missing: {', '.join(missing)}"
            )
        if len(set(seen)) != len(seen):
            raise ValueError("a domain is judged twice")
        if self.overall is not None and self.overall not in allowed:
            raise ValueError(f"overall '{self.overall}' is not a judgement of {tool.name}")
        if self.tool == "rob1" and self.overall is not None:
            raise ValueError("Cochrane RoB 1 has no overall judgement")
        return self
