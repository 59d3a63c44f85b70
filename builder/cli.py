"""The `review` command: check, build and serve the living review."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from builder import __version__
from builder.errors import DataError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _project(path: str | None) -> Path:
    return Path(path).resolve() if path else Path.cwd()


def _report(exc: DataError, what: str = "The data") -> int:
    n = len(exc.problems)
    print(f"{what} has {n} problem{'s' if n != 1 else ''}:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_INVALID


def _os_problem(exc: OSError, project: Path) -> str:
    """What the file system refused, naming the file (relative to the project where it is inside it)."""
    where = "a file of the build"
    if exc.filename is not None:
        path = Path(os.fsdecode(exc.filename))
        where = path.relative_to(project).as_posix() if path.is_relative_to(project) else str(path)
    if exc.errno == errno.ENOSPC:
        return f"the disk is full: could not write {where}. Free some space and build again."
    return f"could not write {where}: {exc.strerror or exc}"


def cmd_check(args) -> int:
    """Every check of the data that `review build` makes, without building; then warnings that do not fail."""
    from builder.ingest.advice import advice
    from builder.ingest.loader import load
    from builder.publish.build import source_problem, template_syntax_problem
    from builder.releases.archive import ReleaseError, check_integrity, releases
    from builder.releases.guard import released_data_problems

    project = _project(args.project)
    problem = (source_problem(project) or template_syntax_problem(project)) if (project / "data").is_dir() else None
    if problem is not None:
        print(f"review: error: {problem}", file=sys.stderr)
        return 3
    try:
        for rel in releases(project):
            check_integrity(rel)
        data = load(project / "data")
        problems = released_data_problems(project, data)
        if problems:
            raise DataError(problems)
    except DataError as exc:
        return _report(exc)
    except ReleaseError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return 3
    for warning in advice(project, data):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"OK: review '{data.review.id}' version {data.review.version}, {len(data.studies)} studies, "
        f"{len(data.review.analyses)} analyses."
    )
    return EXIT_OK


def cmd_build(args) -> int:
    from builder.publish.build import BuildError, SitePathError, build

    project = _project(args.project)
    if args.site is not None and not args.site.strip():
        print("review: error: --site '': give a folder, e.g. --site site", file=sys.stderr)
        return EXIT_USAGE

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        report: dict = {}
        site = Path(args.site).absolute() if args.site else None
        data = build(project, site, full=args.full, report=report, progress=progress)
    except SitePathError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as exc:
        _report(exc)
        print("Build stopped; the previously built site is unchanged.", file=sys.stderr)
        return EXIT_INVALID
    except BuildError as exc:
        print(str(exc), file=sys.stderr)
        print("Build stopped; the previously built site is unchanged.", file=sys.stderr)
        return 3
    except OSError as exc:  # the file system refused: a full disk, a folder that may not be written
        print(f"review: error: {_os_problem(exc, project)}", file=sys.stderr)
        print("Build stopped; the previously built site is unchanged.", file=sys.stderr)
        return 3
    reused = report.get("pages")
    how = f" ({reused[0]} of {reused[1]} pages re-rendered; the rest reused from the last build)" if reused else ""
    shown = args.site or "site"
    print(f"Built version {data.review.version} into {shown}/{how}.")
    if not args.quiet:
        print(
            f"Open {shown}/index.html in a browser (the site works from disk), or run `review serve` for a "
            "live preview at http://127.0.0.1:8000."
        )
    return EXIT_OK


def cmd_serve(args) -> int:
    from builder.publish.serve import serve

    return serve(_project(args.project), args.dev_addr, allow_remote=args.allow_remote)


def cmd_new_study(args) -> int:
    import re

    from builder.ingest.loader import load_review_only

    project = _project(args.project)
    if args.id == "index":
        print(
            "review: error: 'index' is the page studies/index (the list of studies); choose another id", file=sys.stderr
        )
        return EXIT_USAGE
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.id) or len(args.id) > 64:
        print(
            f"review: error: '{args.id}' is not a valid study id (lower-case letters, digits and hyphens, "
            "e.g. smith-2024)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not (project / "data" / "review.yaml").is_file():
        print(f"review: error: {project} is not a review project (it has no data/review.yaml)", file=sys.stderr)
        return EXIT_USAGE
    path = project / "data" / "studies" / f"{args.id}.yaml"
    if path.exists() or path.is_symlink():
        print(f"review: error: {path.relative_to(project)} already exists", file=sys.stderr)
        return EXIT_USAGE
    if path.parent.exists() and not path.parent.is_dir():
        print("review: error: data/studies is not a folder; it holds one file per study", file=sys.stderr)
        return EXIT_USAGE
    review = load_review_only(project / "data")
    import jinja2

    from builder.contract.project import template_dirs
    from builder.publish.build import template_problem
    from builder.report.pages import environment

    try:
        text = (
            environment(template_dirs(project))
            .get_template("new-study.yaml.j2")
            .render(
                id=args.id,
                outcomes=review.outcomes if review else [],
                characteristics=review.characteristics if review else [],
                experimental_label=review.experimental_label if review else "experimental",
                # an editor validates the file against the schema if the project has it (a new one has not:
                # the site publishes it at schema/study.schema.json)
                schema_here=(project / "docs" / "schema" / "study.schema.json").is_file(),
            )
        )
    except jinja2.TemplateError as exc:
        print(f"review: error: {template_problem(exc, project)}", file=sys.stderr)
        return 3
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(
        f"wrote {path.relative_to(project)}: fill in every TODO, add '{args.id}' to the analyses in "
        "data/review.yaml that should include it, then run `review check`."
    )
    return EXIT_OK


def cmd_init(args) -> int:
    from builder.publish.scaffold import InitError, init

    folder = Path(os.path.abspath(args.folder))  # '..' resolved, links not followed
    try:
        written = init(folder)
    except InitError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"review: error: cannot write the new project into {args.folder}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(f"Wrote a new, empty review into {args.folder}/ ({len(written)} files). Next:")
    if folder != Path.cwd():
        print(f"  cd {args.folder}")
    print("  review build                 # builds site/ at once: a site with no studies yet")
    print("  review new-study smith-2024  # a study file to fill in; then replace the TODOs in data/review.yaml")
    return EXIT_OK


def cmd_release(args) -> int:
    import datetime as dt

    from builder.releases.archive import ReleaseError, release

    project = _project(args.project)
    try:
        day = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"review: error: --date {args.date!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return EXIT_USAGE
    if day is not None and day > dt.date.today():
        print(f"review: error: --date {args.date}: a release cannot be dated in the future", file=sys.stderr)
        return EXIT_USAGE
    try:
        rel = release(project, args.version, day)
    except DataError as exc:
        return _report(exc)
    except ReleaseError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Released version {rel.version} on {rel.manifest['date']}: versions/{rel.version}/ holds its data, "
        "results.json, manifest.json and the release metadata (CITATION.cff, .zenodo.json: deposit the folder "
        f"to give this version a DOI). Commit it; `review build` now publishes it at v{rel.version}/."
    )
    return EXIT_OK


def cmd_diff(args) -> int:
    import json

    from builder.analysis import run as analysis
    from builder.contract.version import Version, VersionError
    from builder.ingest.loader import load
    from builder.releases import diff
    from builder.releases.archive import ReleaseError, releases
    from builder.report.results_json import results_document

    project = _project(args.project)

    def snapshot(name: str):
        if name == "current":
            data = load(project / "data")
            return data, results_document(data, analysis.run_all(data))
        try:
            wanted = Version.parse(name)
        except VersionError:
            raise KeyError(name) from None
        rel = next((r for r in releases(project) if Version.parse(r.version) == wanted), None)
        if rel is None:
            raise KeyError(name)
        return load(rel.data_dir), rel.results()

    try:
        old, new = snapshot(args.old), snapshot(args.new)
    except KeyError as exc:
        print(f"review: error: no released version {exc.args[0]} (see versions/), or say 'current'", file=sys.stderr)
        return EXIT_USAGE
    except DataError as exc:
        return _report(exc)
    except ReleaseError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    d = diff.compare(old[0], old[1], new[0], new[1])
    print(
        json.dumps(d.to_json(), indent=2, sort_keys=True, ensure_ascii=False) if args.json else diff.to_text(d),
        end="" if not args.json else "\n",
    )
    return EXIT_OK


def cmd_import(args) -> int:
    from builder.interchange.importer import import_into, import_new
    from builder.publish.scaffold import InitError, init

    project = _project(args.project)
    file = Path(args.file)
    try:
        if args.into:
            done = import_new(file, Path(os.path.abspath(args.into)), init)
        else:
            done = import_into(file, project)
    except InitError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except DataError as exc:
        _report(exc, "The import")
        print("Nothing was imported.", file=sys.stderr)
        return EXIT_INVALID
    except FileExistsError as exc:
        print(f"review: error: {exc.filename} already exists; nothing was overwritten", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(
            f"review: error: cannot write the import ({exc.strerror}: {exc.filename}); nothing was imported",
            file=sys.stderr,
        )
        return EXIT_INVALID
    for note in done.notes:
        print(f"note: {note}")
    where = args.into or "this project"
    print(
        f"Imported {len(done.studies)} studies and {len(done.analyses)} analyses from {file.name} into {where}: "
        "review the TODOs and the inferred fields (design, arms), then `review check` and `review build`."
    )
    return EXIT_OK


def cmd_export(args) -> int:
    from builder.interchange.exporter import export

    project = _project(args.project)
    out = Path(args.out).absolute() if args.out else project / "export"
    try:
        written = export(project, out)
    except DataError as exc:
        return _report(exc)
    except OSError as exc:
        print(f"review: error: cannot write into {out} ({exc.strerror})", file=sys.stderr)
        return EXIT_INVALID
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_schema(args) -> int:
    from builder.contract.schema import write_schemas
    from builder.report.results_json import SCHEMA_VERSION
    from builder.report.results_schema import write_schema

    project = _project(args.project)
    folder = project / "docs" / "schema"
    try:
        written = [*write_schemas(folder), write_schema(folder, SCHEMA_VERSION)]
    except OSError as exc:  # docs/schema (or a schema file) is not something a file can be written to
        where = Path(exc.filename).relative_to(project) if exc.filename else "docs/schema"
        why = (
            "a file is in the way of a folder"
            if isinstance(exc, (FileExistsError, NotADirectoryError))
            else exc.strerror
        )
        print(f"review: error: cannot write {where}: {why}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(f"wrote {path.relative_to(project)}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="review", description="Build the living systematic review from data/.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-C", "--project", help="project folder (default: the current folder)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("check", help="validate data/ and report every problem").set_defaults(func=cmd_check)
    b = sub.add_parser("build", help="validate, compute and build the site")
    b.add_argument("--site", help="output folder (default: site/)")
    b.add_argument(
        "--full",
        action="store_true",
        help="rebuild everything, reusing nothing from earlier builds (the result is the same)",
    )
    b.add_argument("-q", "--quiet", action="store_true", help="print no progress, only the final line")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("serve", help="preview with live reload; rebuilds when data/ or templates/ change")
    s.add_argument("--dev-addr", default="127.0.0.1:8000", help="HOST:PORT to serve on (default: 127.0.0.1:8000)")
    s.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an address other machines can reach (the preview has no authentication; off by default)",
    )
    s.set_defaults(func=cmd_serve)
    sub.add_parser("schema", help="write the JSON Schemas (data files, results.json) into docs/schema/").set_defaults(
        func=cmd_schema
    )
    r = sub.add_parser("release", help="freeze the current data and results as a released version")
    r.add_argument("version", help="must equal the version in data/review.yaml, e.g. 1.1")
    r.add_argument("--date", help="the release date stamped in the manifest, YYYY-MM-DD (default: today)")
    r.set_defaults(func=cmd_release)
    d = sub.add_parser("diff", help="what changed between two versions (a released version or 'current')")
    d.add_argument("old")
    d.add_argument("new", nargs="?", default="current")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.set_defaults(func=cmd_diff)
    i = sub.add_parser("init", help="write a new, empty review project into a new folder")
    i.add_argument("folder", help="a folder that does not exist yet, or an empty one")
    i.set_defaults(func=cmd_init)
    im = sub.add_parser("import", help="import a RevMan 5 file (.rm5) or a Cochrane data package (.zip)")
    im.add_argument("file", help="the .rm5 file or the data package's .zip")
    im.add_argument("--into", help="a new folder to import into, as a new project (needed when this one has studies)")
    im.set_defaults(func=cmd_import)
    ex = sub.add_parser("export", help="write the analyses as a Cochrane data package and R scripts for meta")
    ex.add_argument("--out", help="output folder (default: export/)")
    ex.set_defaults(func=cmd_export)
    n = sub.add_parser("new-study", help="write a commented template for a new study file")
    n.add_argument("id", help="the study id, which is also the file name, e.g. smith-2024")
    n.set_defaults(func=cmd_new_study)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code or 0)
    if args.project is not None and not Path(args.project).is_dir():
        print(f"review: error: -C {args.project}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    if not getattr(args, "func", None):
        p.print_usage(sys.stderr)
        print("review: error: a command is required (check, build, serve, schema)", file=sys.stderr)
        return EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
