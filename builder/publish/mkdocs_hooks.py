"""MkDocs hooks for the runs that render a share of the pages (see builder.publish.incremental).

Those runs are many (one per rebuild, one per core for a large site), and each would compile the theme's
templates anew: a third of a second, more than most of them spend on pages. With REVIEW_THEME_BYTECODE set to
a folder, the theme's compiled templates are kept there; Jinja checks that each was compiled from the same
source before using it. The site's own configuration has no hooks, so any engine that reads it builds the
same site.
"""

from __future__ import annotations

import os

import jinja2

BYTECODE_ENV = "REVIEW_THEME_BYTECODE"


def on_env(env: jinja2.Environment, config, files) -> jinja2.Environment:
    folder = os.environ.get(BYTECODE_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(folder)
    return env
