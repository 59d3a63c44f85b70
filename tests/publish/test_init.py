"""`review init`: a new, empty review project that builds at once, then takes its first study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from builder.cli import main
from builder.publish.build import build
from builder.publish.scaffold import init
from tests.conftest import TODAY

ONE_STUDY = """\
id: smith-2024
label: Smith 2024
source_table: clinical-studies
citation:
  authors: [Smith J]
  title: A randomised trial
  journal: A journal
  year: 2024
  provenance: {kind: extracted, source: the trial report title page}
design:
  category: rct
  as_labelled_by_review: not applicable
  provenance: {kind: extracted, source: the trial report Methods}
registry:
  id: null
  provenance: {kind: extracted, source: the trial report Methods}
location:
  country: Norway
  provenance: {kind: extracted, source: the trial report Methods}
arms:
  - id: experimental
    label: Drug
    role: experimental
    n: 50
    provenance: {kind: extracted, source: the trial report Table 1}
  - id: control
    label: Placebo
    role: control
    n: 50
    provenance: {kind: extracted, source: the trial report Table 1}
outcomes:
  primary-outcome:
    published:
      timepoint: day 28
      experimental: {arm: experimental, events: 5, total: 50}
      control: {arm: control, events: 9, total: 50}
      provenance: {kind: extracted, source: the trial report Table 2}
"""


@pytest.fixture
def new_review(tmp_path: Path) -> Path:
    """A new project dated TODAY (the command dates it today), which the tests' checks take as today."""
    folder = tmp_path / "my-review"
    init(folder, today=TODAY)
    return folder


def test_init_on_the_command_line_says_what_to_do_next(tmp_path, capsys):
    assert main(["init", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert "review build" in out and "review new-study" in out
    assert (tmp_path / "mine/data/review.yaml").is_file()


def test_init_writes_a_commented_project_without_the_msc_content(new_review):
    written = sorted(p.relative_to(new_review).as_posix() for p in new_review.rglob("*") if p.is_file())
    assert written == [
        ".gitignore",
        "Makefile",
        "README.md",
        "data/review.yaml",
        "data/studies/.gitkeep",
        "mkdocs.yml",
    ]
    review = (new_review / "data/review.yaml").read_text(encoding="utf-8")
    assert "id: my-review" in review and "TODO" in review
    assert sum(line.lstrip().startswith("#") for line in review.splitlines()) > 30  # every field explained
    for path in new_review.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"MSC|COVID|stem cell|Cao", text), path  # nothing of the review this repo publishes
    readme = (new_review / "README.md").read_text(encoding="utf-8")
    assert "review new-study" in readme and "review build" in readme


def test_init_refuses_a_folder_that_is_not_empty_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["init", str(folder)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["init", str(tmp_path / "a-file")]) == 1
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "x"


def test_init_accepts_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["init", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty/data/review.yaml").is_file()


def test_the_new_project_checks_with_warnings_of_its_placeholders(new_review, capsys):
    assert main(["-C", str(new_review), "check"]) == 0
    captured = capsys.readouterr()
    assert "0 studies, 1 analyses" in captured.out
    assert "data/review.yaml:13: short_title: still says TODO" in captured.err
    assert "authors: still says TODO (got - TODO Author Name)" in captured.err  # a list item names its list


def test_the_empty_review_builds_and_says_there_are_no_studies_yet(new_review):
    build(new_review, today=TODAY)
    site, docs = new_review / "site", new_review / "build/current/docs"
    assert (site / "index.html").is_file() and (site / "flow.html").is_file()
    assert "No study has been included yet" in (docs / "index.md").read_text(encoding="utf-8")
    assert "No search has been run yet" in (docs / "flow.md").read_text(encoding="utf-8")
    assert "literature not yet searched" in (docs / "flow.md").read_text(encoding="utf-8")
    assert "No outcome has a certainty rating yet" in (docs / "summary-of-findings.md").read_text(encoding="utf-8")
    assert "No included study has data for this outcome yet" in (docs / "outcomes/primary-outcome.md").read_text(
        encoding="utf-8"
    )
    assert "Audit of the source review" not in (new_review / "build/current/mkdocs.yml").read_text(encoding="utf-8")
    results = json.loads((site / "results.json").read_text(encoding="utf-8"))
    assert [a["pooled"] for a in results["analyses"]] == [None]
    assert "(n\u00a0=\u00a00)" in (site / "figures/prisma-flow.svg").read_text(encoding="utf-8")


def test_new_study_works_in_the_new_project_and_one_study_builds(new_review, capsys):
    assert main(["-C", str(new_review), "new-study", "jones-2025"]) == 0
    template = (new_review / "data/studies/jones-2025.yaml").read_text(encoding="utf-8")
    assert "primary-outcome:" in template and "TODO MSC" not in template and "id: msc" not in template
    assert main(["-C", str(new_review), "check"]) == 1  # the template's TODOs, each with its line
    assert "data/studies/jones-2025.yaml:" in capsys.readouterr().err
    (new_review / "data/studies/jones-2025.yaml").unlink()
    (new_review / "data/studies/smith-2024.yaml").write_text(ONE_STUDY, encoding="utf-8")
    review = new_review / "data/review.yaml"
    text = review.read_text(encoding="utf-8")
    text = text.replace("records_identified: 0", "records_identified: 1").replace(
        "full_texts_assessed: 0", "full_texts_assessed: 1"
    )
    review.write_text(text, encoding="utf-8")
    assert main(["-C", str(new_review), "check"]) == 0
    build(new_review, today=TODAY)
    results = json.loads((new_review / "site/results.json").read_text(encoding="utf-8"))
    (analysis,) = results["analyses"]
    assert analysis["pooled"]["k"] == 1 and [s["id"] for s in analysis["studies"]] == ["smith-2024"]
    docs = new_review / "build/current/docs"
    assert "This version includes 1 study" in (docs / "studies/index.md").read_text(encoding="utf-8")
    assert (new_review / "site/studies/smith-2024.html").is_file()
    assert (new_review / "site/figures/primary-outcome-primary.svg").is_file()  # the forest plot of one study


def test_build_says_what_it_does_and_where_the_site_is(project, capsys):
    assert main(["-C", str(project), "build"]) == 0
    captured = capsys.readouterr()
    steps = captured.err.splitlines()
    assert steps[0] == "Validating data/ ..."
    assert "Building released version 1.0 from its archived data ..." in steps
    assert any(s.startswith("Running MkDocs") for s in steps) and steps[-1] == "Publishing the new site ..."
    assert "site/index.html" in captured.out and "review serve" in captured.out
    assert main(["-C", str(project), "build", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.startswith("Built version") and "review serve" not in captured.out


def test_init_leaves_nothing_behind_when_it_cannot_write(tmp_path, monkeypatch, capsys):
    import builder.publish.scaffold as scaffold

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scaffold.os, "rename", full_disk)
    assert main(["init", str(tmp_path / "mine")]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the project nor its staging folder


def test_a_new_review_rates_a_risk_ratio_with_absolute_effects(new_review):
    """The Summary of findings of a review of its own: a risk ratio (not only the MSC review's odds ratio and
    mean difference) gives risks per 1000, and no sentence about survival or a source review."""
    (new_review / "data/studies/smith-2024.yaml").write_text(ONE_STUDY, encoding="utf-8")
    review = new_review / "data/review.yaml"
    text = review.read_text(encoding="utf-8")
    text = text.replace("records_identified: 0", "records_identified: 1").replace(
        "full_texts_assessed: 0", "full_texts_assessed: 1"
    )
    text = text.replace("    measure: OR\n", "    measure: RR\n").replace(
        "certainty: []",
        "certainty:\n  - outcome: primary-outcome\n    analysis: primary-outcome-primary\n    start: high\n"
        "    start_reason: One randomised trial.\n",
    )
    review.write_text(text, encoding="utf-8")
    build(new_review, today=TODAY)
    sof = (new_review / "build/current/docs/summary-of-findings.md").read_text(encoding="utf-8")
    # control risk 9/50 = 180 per 1000; RR (5/50)/(9/50) = 0.556 gives 100 per 1000
    assert "| 180 per 1000 | 100 per 1000 (" in sof and "RR 0.56 [" in sof
    assert "survival" not in sof and "proportion of control participants with the event" in sof
    study = (new_review / "build/current/docs/studies/smith-2024.md").read_text(encoding="utf-8")
    assert "source review" not in study


def test_init_fills_the_current_folder_when_it_is_empty(tmp_path, monkeypatch, capsys):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert main(["init", "."]) == 0
    assert "cd ." not in capsys.readouterr().out
    assert "id: here" in (tmp_path / "here/data/review.yaml").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name != "here"]  # no staging folder left beside it
