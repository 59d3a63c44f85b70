"""The `review` command's exit codes: 0 success, 1 invalid data, 2 usage error."""

from __future__ import annotations

import re

from builder.cli import main


def test_check_succeeds_on_the_real_data(project, capsys):
    assert main(["-C", str(project), "check"]) == 0
    assert "22 studies" in capsys.readouterr().out


def test_check_reports_invalid_data_with_exit_1(project, capsys):
    path = project / "data/studies/meng-2020.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    n: 9\n", "    n: 0\n", 1), encoding="utf-8")
    assert main(["-C", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert "data/studies/meng-2020.yaml:" in err and "arms[0].n" in err and "greater than or equal to 1" in err


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2


def test_missing_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "a command is required" in capsys.readouterr().err


def test_build_of_invalid_data_exits_1_and_keeps_the_old_site(project, capsys):
    site = project / "site"
    site.mkdir()
    (site / "index.html").write_text("previous good site", encoding="utf-8")
    path = project / "data/review.yaml"
    path.write_text(re.sub(r'(?m)^version: ".*"$', "version: one", path.read_text(encoding="utf-8")), encoding="utf-8")
    assert main(["-C", str(project), "build"]) == 1
    assert (site / "index.html").read_text(encoding="utf-8") == "previous good site"
    assert "unchanged" in capsys.readouterr().err


def test_new_study_writes_a_template_that_check_explains(project, capsys):
    assert main(["-C", str(project), "new-study", "smith-2024"]) == 0
    path = project / "data/studies/smith-2024.yaml"
    text = path.read_text(encoding="utf-8")
    assert "id: smith-2024" in text and "survival:" in text and "crp:" in text
    capsys.readouterr()
    assert main(["-C", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert "data/studies/smith-2024.yaml:" in err and "arms[0].n" in err and "citation.year" in err
    lines = {int(line.split(":")[1]) for line in err.splitlines() if "smith-2024.yaml:" in line}
    assert len(lines) > 10  # problems point at their own lines, not one shared anchor


def test_new_study_refuses_bad_or_existing_ids(project, capsys):
    assert main(["-C", str(project), "new-study", "Smith 2024"]) == 2
    assert main(["-C", str(project), "new-study", "shu-2020"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_check_warns_of_template_text_and_unpooled_data_without_failing(project, capsys):
    study = project / "data/studies/leng-2020.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(text.replace("label: Leng 2020", "label: TODO Surname Year", 1), encoding="utf-8")
    review = project / "data/review.yaml"
    text = review.read_text(encoding="utf-8").replace(" leng-2020,", "").replace('version: "1.1"', 'version: "9.0"')
    review.write_text(text, encoding="utf-8")  # a new version: the data now differ from the release
    assert main(["-C", str(project), "check"]) == 0
    err = capsys.readouterr().err
    assert "warning: data/studies/leng-2020.yaml:" in err and "label: still says TODO (got label: TODO Surname" in err
    assert "warning: data/studies/leng-2020.yaml: outcomes.survival: no analysis pools these data" in err


def test_check_of_the_project_as_it_is_gives_no_warning(project, capsys):
    assert main(["-C", str(project), "check"]) == 0
    assert "warning" not in capsys.readouterr().err
