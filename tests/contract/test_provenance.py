"""Every number in data/ says where it came from (or that it is missing), read from the YAML as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT

STUDY_FILES = sorted((ROOT / "data/studies").glob("*.yaml"))
KINDS = {"extracted", "inferred", "as-printed-in-review", "unverified"}


def _check(prov: dict | None, where: str) -> None:
    assert isinstance(prov, dict), f"{where}: no provenance"
    assert prov.get("kind") in KINDS, f"{where}: provenance kind {prov.get('kind')!r}"
    assert len(str(prov.get("source", "")).strip()) >= 10, f"{where}: provenance names no source"
    if prov["kind"] == "inferred":
        assert str(prov.get("reasoning", "")).strip(), f"{where}: inferred without reasoning"


@pytest.mark.parametrize("path", STUDY_FILES, ids=[p.stem for p in STUDY_FILES])
def test_every_number_has_provenance(path: Path):
    study = yaml.safe_load(path.read_text(encoding="utf-8"))
    for i, arm in enumerate(study["arms"]):
        _check(arm.get("provenance"), f"{path.name} arms[{i}] (N = {arm['n']})")
        if arm.get("intervention"):
            _check(arm["intervention"].get("provenance"), f"{path.name} arms[{i}].intervention")
    for outcome, datasets in (study.get("outcomes") or {}).items():
        for name, ds in datasets.items():
            where = f"{path.name} outcomes.{outcome}.{name}"
            _check(ds.get("provenance"), where)
            if ds.get("status") == "missing":
                assert "experimental" not in ds and "control" not in ds, f"{where}: missing data carries numbers"
                assert len(ds.get("missing", "")) > 20, f"{where}: say what is missing and where it was sought"
            else:
                for side in ("experimental", "control"):
                    assert isinstance(ds[side].get("total"), int), f"{where}.{side}: no total"
    for key in ("citation", "design", "registry", "location"):
        _check(study[key].get("provenance"), f"{path.name} {key}")
    if study.get("age"):
        _check(study["age"].get("provenance"), f"{path.name} age")


def test_values_that_differ_from_the_publications_are_marked_inferred():
    """The source review's survival inputs for Lanzoni and Feng Y are reconstructions, not extractions."""
    for sid in ("lanzoni-2021", "feng-y-2020"):
        study = yaml.safe_load((ROOT / f"data/studies/{sid}.yaml").read_text(encoding="utf-8"))
        analysed = study["outcomes"]["survival"]["as-analysed"]
        assert analysed["provenance"]["kind"] == "inferred"
        assert (
            analysed["experimental"]["events"] != study["outcomes"]["survival"]["published"]["experimental"]["events"]
        )
