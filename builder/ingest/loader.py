"""Load and validate `data/`: every problem in every file is collected before anything is reported."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from builder.caching.digest import files_digest
from builder.caching.outputs import Stored
from builder.caching.plain import Codec, ModelCodec, PlainError
from builder.caching.store import Store
from builder.contract import Review, Study
from builder.errors import DataError, Problem
from builder.ingest.yamlio import Located, load_yaml, read_file


@dataclass(frozen=True)
class ReviewData:
    review: Review
    studies: dict[str, Study]  # ordered by id
    data_hash: str  # sha256 of every data file, names included (the review's site url left out)
    # Each study's file, as a hash of its name and content: with the review, all a study's data depend on.
    sources: dict[str, str] = field(default_factory=dict)
    # Leave out virtual and historical arms and cohorts another study counts (builder.ingest.select). Off only
    # to recompute a version released before the rules existed, which must reproduce its archived numbers.
    integrity_rules: bool = True
    # Pool double-zero studies as each analysis's double_zero_studies says (and add the treatment-arm continuity
    # correction to the sensitivity analyses). Off only for a version released before these rules: its analyses
    # are then given double_zero_studies "drop" (builder.releases.archive.as_released).
    sparse_data_rules: bool = True
    # Influence diagnostics, the Baujat plot, trim-and-fill, Begg's, Harbord's and Peters' tests and risk-of-bias
    # bars weighted by each analysis's weights. Off only to rebuild a version released before they existed, whose
    # pages and results.json must stay as released.
    bias_followups: bool = True

    def study_list(self) -> list[Study]:
        return list(self.studies.values())


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unwrap(tp):
    """Yield the model classes reachable through Optional, list, dict and Annotated."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _unwrap(arg)
    elif origin in (list, dict):
        yield from _unwrap(typing.get_args(tp)[-1])
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int) or part not in current.model_fields:
            continue  # list index or dict key: stay on the element type found last
        models = list(_unwrap(current.model_fields[part].annotation))
        current = models[0] if models else None
    return current


def _describe_expected(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"does not match the expected pattern {ctx.get('pattern')}"
    msg = error["msg"]
    return msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def pydantic_problems(exc: ValidationError, located: Located, file: str, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        value = None
        if error["type"] != "missing":
            raw = error.get("input")
            if not isinstance(raw, (dict, list)):
                value = repr(raw)
        if error["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            message = f"unknown field '{loc[-1]}'"
            message += f"; did you mean '{guess[0]}'?" if guess else ""
            message += f" Allowed here: {', '.join(allowed)}" if allowed else ""
            problems.append(Problem(file, located.line_of(loc), _dotted(loc), message))
            continue
        problems.append(Problem(file, located.line_of(loc), _dotted(loc), _describe_expected(error), value))
    return problems


def _validate(located: Located, model: type[BaseModel], file: str):
    try:
        return model.model_validate(located.data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc, located, file, model)


# The review's `url` is where the site is published: configuration of the site, not data of a version. It is
# left out of the fingerprint, so a fork sets it without a new version and released snapshots stay valid.
_SITE_URL = re.compile(rb"(?m)^url:[^\n]*(?:\n[ \t]+[^\n]*)*\n?")


def data_hash(files: list[Path], root: Path) -> str:
    """The fingerprint of a data folder that release manifests record (see builder.caching.digest), with the
    review's site url left out."""
    return files_digest(files, root, _without_site_url)


def _without_site_url(path: Path) -> bytes:
    content = path.read_bytes()
    return _SITE_URL.sub(b"", content) if path.name == "review.yaml" else content


class _LinesCodec(Codec):
    """A study file's line numbers as plain data: [[path, line], ...], a path being a list of keys and indices."""

    def encode(self, value: object) -> object:
        assert isinstance(value, Located)
        return [[list(path), line] for path, line in value.lines.items()]

    def decode(self, data: object) -> object:
        if not isinstance(data, list) or not all(
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], list)
            and all(isinstance(part, str | int) for part in item[0])
            and type(item[1]) is int
            for item in data
        ):
            raise PlainError("line numbers are [[path, line], ...]")
        return Located(None, {tuple(path): line for path, line in data})


_STUDY, _LINES = ModelCodec(Study), _LinesCodec()


class _StoredLines:
    """The line numbers of a study file kept in the store, read only if a problem must point at a line:
    a valid file's lines are rarely needed, and reading them was a third of loading a cached study."""

    def __init__(self, store: Store, k: str):
        self._store, self._k = store, k
        self._located: Located | None = None
        store.keep("lines", k)

    def line_of(self, path) -> int | None:
        if self._located is None:
            found = self._store.get("lines", self._k, _LINES)
            self._located = found if isinstance(found, Located) else Located(None, {})
        return self._located.line_of(path)


def _load_study(path: Path, root: Path, file: str, store: Store | None):
    """(located, study, problems, content key) of one study file; a valid file is parsed once per content
    (see builder.caching.store)."""
    raw, problem = read_file(path, root)  # a regular file of bounded size, or the problem with it
    if raw is None:
        return None, None, [problem] if problem else [], None
    entry = Stored("studies", {"file": file, "content": raw}, _STUDY)
    k = entry.key
    hit = entry.get(store)
    if hit is not None and store is not None and k is not None:
        return _StoredLines(store, k), hit, [], k
    located, problems = load_yaml(path, root, raw)
    if located is None:
        return None, None, problems, k
    study, found = _validate(located, Study, file)
    if study is not None and not problems and not found and entry is not None and store is not None and k:
        entry.put(store, study)
        store.put("lines", k, Located(None, located.lines), _LINES)  # under the same key: made from the same file
    return located, study, problems + found, k


def load(data_dir: Path, today: dt.date | None = None, store: Store | None = None) -> ReviewData:
    """Load `review.yaml` and every study file; raise DataError listing every problem.

    `store` (a cache.Store) keeps each valid study file's parsed and validated form by its content, so a
    rebuild parses only the files that changed; the checks across files always run."""
    data_dir = Path(data_dir)
    root = data_dir.parent
    missing = _folders_missing(data_dir, root)
    if missing:
        raise DataError(missing)
    review_path = data_dir / "review.yaml"
    study_paths = study_files(data_dir / "studies")
    problems = _strays(data_dir, root)
    review, review_loc, found = _load_review(review_path, root)
    problems += found
    studies, sources, found = _load_studies(study_paths, root, store)
    problems += found  # no study files is no problem: a new review has none yet

    derived: dict[str, Study] = {}
    if review is not None and review_loc is not None:
        from builder.ingest.validate import cross_check  # local import: validate depends on loader's types

        today = today or dt.date.today()
        problems += cross_check(
            review, review_loc, _rel(review_path, root), studies, today, {p.stem for p in study_paths}
        )
        if not problems:
            derived, found = _derived(review, studies)
            problems += found

    if problems or review is None:
        raise DataError(problems)
    ordered = {sid: derived[sid] for sid in sorted(studies)}
    return ReviewData(
        review, ordered, data_hash([review_path, *study_paths], root), {sid: sources[sid] for sid in ordered}
    )


def study_files(folder: Path) -> list[Path]:
    """The study files of a studies folder: `*.yaml`, but not hidden files (an editor's lock or swap file such
    as `.#smith-2024.yaml`; a study id never starts with a dot)."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("."))


def _folders_missing(data_dir: Path, root: Path) -> list[Problem]:
    """One problem if the data folder or its studies folder is missing or not a folder: every check after it
    would only repeat that no study can be found."""
    for folder in (data_dir, data_dir / "studies"):
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "no such folder"
            return [Problem(_rel(folder, root), None, "", f"{what}; expected a folder of YAML files (see README.md)")]
    return []


def _strays(data_dir: Path, root: Path) -> list[Problem]:
    """A problem for each file in data/studies that looks like a study but would be ignored."""
    strays = sorted(p for p in (data_dir / "studies").glob("*") if p.suffix in (".yml", ".YAML", ".json"))
    message = "study files must end in '.yaml'; this file would be ignored"
    return [Problem(stray.relative_to(root).as_posix(), None, "", message) for stray in strays]


def _load_review(path: Path, root: Path) -> tuple[Review | None, Located | None, list[Problem]]:
    """The review file, validated, with its lines; None where it is missing or invalid."""
    if not path.exists():
        return None, None, [Problem(path.relative_to(root).as_posix(), None, "", "file not found")]
    located, problems = load_yaml(path, root)
    if located is None:
        return None, None, problems
    review, found = _validate(located, Review, _rel(path, root))
    return review, located, problems + found


def _load_studies(
    paths: list[Path], root: Path, store: Store | None
) -> tuple[dict[str, tuple[Study, Located, str]], dict[str, str], list[Problem]]:
    """Every valid study by id, with its lines and file; each file's content key; the problems found."""
    problems: list[Problem] = []
    studies: dict[str, tuple[Study, Located, str]] = {}
    sources: dict[str, str] = {}
    for path in paths:
        file = _rel(path, root)
        located, study, found, source = _load_study(path, root, file, store)
        problems += found
        if source is not None:  # None only when the file cannot be read, which is a problem above
            sources[path.stem] = source
        if study is None:
            continue
        if study.id != path.stem:
            problems.append(
                Problem(
                    file,
                    located.line_of(("id",)),
                    "id",
                    f"the id must equal the file name '{path.stem}'",
                    repr(study.id),
                )
            )
        if study.id in studies:
            problems.append(
                Problem(
                    file,
                    located.line_of(("id",)),
                    "id",
                    f"duplicate study id; already used by {studies[study.id][2]}",
                    repr(study.id),
                )
            )
            continue
        studies[study.id] = (study, located, file)
    return studies, sources, problems


def _derived(review: Review, studies: dict[str, tuple[Study, Located, str]]) -> tuple[dict[str, Study], list[Problem]]:
    """Continuous values as reported -> mean and SD in the outcome's unit; then no analysis may mix units."""
    from builder.ingest.derive import check_units, derive

    derived, problems = derive(review, studies)
    if not problems:
        problems = check_units(review, derived, {sid: (loc, file) for sid, (_, loc, file) in studies.items()})
    return derived, problems


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def load_review_only(data_dir: Path):
    """The review file alone, or None if it does not validate (used to tailor templates)."""
    path = Path(data_dir) / "review.yaml"
    located, problems = load_yaml(path, Path(data_dir).parent)
    if located is None:
        return None
    review, problems = _validate(located, Review, "data/review.yaml")
    return review
