"""Hostile input (issue 15), point 3: `--site` cannot destroy the project; ids cannot take a generated page's name;
the swap of the new site for the old can only remove the old one."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from support import edit, make_site, review, tree, unchanged


@pytest.fixture
def with_site(project: Path) -> Path:
    """The project with a previous site in site/."""
    return make_site(project)


class TestSitePathIsChecked:
    """`review build --site DIR` refuses, before touching anything, a DIR that is, contains or lies inside the
    project's sources, build/ or the project itself."""

    @pytest.mark.parametrize(
        "site",
        [
            "data",
            "data/studies",
            "versions",
            "versions/1.0",
            "templates",
            "docs",
            "builder",
            "build",
            ".",
            "..",
            "build/current",
            "mkdocs.yml",
        ],
    )
    def test_refused_with_exit_2(self, with_site, capsys, site):
        project = with_site
        (project / "builder").mkdir(exist_ok=True)
        (project / "builder/keep.py").write_text("kept", encoding="utf-8")
        (project / "build").mkdir(exist_ok=True)
        (project / "build/keep").write_text("kept", encoding="utf-8")
        before = {p: tree(project / p) for p in ("builder", "build", "templates", "docs")}
        with unchanged(project):
            code, out = review(project, "build", "--site", str(project / site), capsys=capsys)
        assert code == 2, out
        assert "--site" in out and "refus" in out
        assert {p: tree(project / p) for p in before} == before
        assert (project / "mkdocs.yml").is_file()

    def test_a_folder_that_is_not_a_site_is_never_replaced(self, with_site, tmp_path, capsys):
        precious = tmp_path / "documents"
        precious.mkdir()
        (precious / "thesis.txt").write_text("years of work", encoding="utf-8")
        code, out = review(with_site, "build", "--site", str(precious), capsys=capsys)
        assert code == 2 and "documents" in out and "not a site" in out
        assert (precious / "thesis.txt").read_text(encoding="utf-8") == "years of work"

    def test_a_symlink_into_the_sources_is_refused(self, with_site, tmp_path, capsys):
        link = tmp_path / "innocent"
        link.symlink_to(with_site / "data")
        with unchanged(with_site):
            code, out = review(with_site, "build", "--site", str(link), capsys=capsys)
        assert code == 2 and "data" in out


class TestGeneratedNamesCannotBeTaken:
    """Ids that would overwrite a generated page or figure are refused at validation (exit 1)."""

    def test_study_id_index(self, project, capsys):
        old = project / "data/studies/shu-2020.yaml"
        text = old.read_text(encoding="utf-8").replace("id: shu-2020", "id: index", 1)
        (project / "data/studies/index.yaml").write_text(text, encoding="utf-8")
        old.unlink()
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/index.yaml:1: id:" in out and "studies/index" in out

    @pytest.mark.parametrize("new_id", ["prisma-flow", "timeline-survival", "rob-rob2", "crp-primary-funnel"])
    def test_analysis_id_of_a_figure(self, project, capsys, new_id):
        path = project / "data/review.yaml"
        edit(path, "  - id: survival-fixed-mh\n", f"  - id: {new_id}\n")
        with unchanged(project):
            code, out = review(project, "check", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: analyses\[\d+\]\.id: .*figure", out), out


class TestSwapLeavesOneSite:
    """The new site replaces the old by one exchange: a crash at any point leaves the old or the new site
    at the site's path, and only the previous site is ever removed."""

    def _prepare(self, tmp_path):
        new, target = tmp_path / "build/.staging/site", tmp_path / "site"
        new.mkdir(parents=True)
        (new / "index.html").write_text("new", encoding="utf-8")
        target.mkdir()
        (target / "index.html").write_text("old", encoding="utf-8")
        (tmp_path / "site.old").mkdir()
        (tmp_path / "site.old/mine.txt").write_text("not the builder's", encoding="utf-8")
        return new, target

    def test_a_swap_replaces_the_site_and_leaves_nothing_else(self, tmp_path):
        from builder.publish.build import _swap

        new, target = self._prepare(tmp_path)
        _swap(new, target)
        assert (target / "index.html").read_text(encoding="utf-8") == "new"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "site.old"]
        assert (tmp_path / "site.old/mine.txt").exists()

    @pytest.mark.parametrize("step", range(6))
    def test_a_crash_at_any_step_leaves_the_old_or_the_new_site(self, tmp_path, monkeypatch, step):
        from builder.publish import build as build_mod

        new, target = self._prepare(tmp_path)
        calls = {"n": 0}
        real = {name: getattr(build_mod, name) for name in ("_exchange", "_copy_beside", "_remove")}

        def crashing(name):
            def run(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] > step:
                    raise KeyboardInterrupt("simulated crash")
                return real[name](*args, **kwargs)

            return run

        for name in real:
            monkeypatch.setattr(build_mod, name, crashing(name))
        with contextlib.suppress(KeyboardInterrupt):
            build_mod._swap(new, target)
        assert (target / "index.html").read_text(encoding="utf-8") in ("old", "new")
        assert (tmp_path / "site.old/mine.txt").exists()
        monkeypatch.undo()
        new.mkdir(parents=True, exist_ok=True)
        (new / "index.html").write_text("newer", encoding="utf-8")
        build_mod._swap(new, target)  # the next build cleans up what the crash left
        assert (target / "index.html").read_text(encoding="utf-8") == "newer"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "site.old"]
