"""The builder's MkDocs plugin, for the runs that render only a share of the pages (see builder.publish.incremental).

Such a run is told (a builder.publish.incremental.Share, sent to the MkDocs process as JSON) which files of the
sources it must leave out and which pages it must read as stubs. Through MkDocs' events the plugin:

- `on_files`: marks the files to leave out as excluded, so MkDocs neither renders nor copies them but still
  resolves the links other pages make to them (they are in the last good site already);
- `on_page_read_source`: hands MkDocs a stub instead of a page's Markdown (its title only, drawn with an
  empty template, so MkDocs writes nothing for it);
- `on_env`: adds that empty template, and keeps the theme's compiled templates in a folder between runs
  (compiling them costs a third of a second, more than most such runs spend on pages; Jinja checks that each
  was compiled from the same source before using it);
- `on_post_build`, after the search plugin wrote the run's index: puts the entries of the pages this run
  rendered in place in the last site's index (and in its script form, search_index.js, which the offline
  plugin writes for pages opened from disk). If they cannot be placed, it removes the index, and the caller
  builds the whole site instead.

The site's own configuration names no plugin of ours, so any engine that reads it builds the same site.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jinja2
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import Files, InclusionLevel

from builder.publish.incremental import (
    SEARCH_INDEX,
    SEARCH_SCRIPT,
    STUB_TEMPLATE,
    Share,
    merge_search,
    write_search_index,
)

NAME = "builder-share"


class SharePlugin(BasePlugin):
    def __init__(self, share: Share) -> None:
        super().__init__()
        self.share = share
        self._excluded = set(share.excluded)

    def on_files(self, files: Files, *, config: Any) -> Files:
        for file in files:
            if file.src_uri in self._excluded:
                file.inclusion = InclusionLevel.EXCLUDED
        return files

    def on_page_read_source(self, *, page: Any, config: Any) -> str | None:
        return self.share.stubs.get(page.file.src_uri)

    def on_env(self, env: jinja2.Environment, *, config: Any, files: Files) -> jinja2.Environment:
        if env.loader is not None:
            env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({STUB_TEMPLATE: ""}), env.loader])
        return env

    @event_priority(-100)  # after the search plugin has written the run's index
    def on_post_build(self, *, config: Any) -> None:
        if self.share.merge_index is None:
            return
        fresh = os.path.join(config["site_dir"], SEARCH_INDEX)
        with open(self.share.merge_index, encoding="utf-8") as old, open(fresh, encoding="utf-8") as new:
            merged = merge_search(json.load(old), json.load(new), set(self.share.merged_pages))
        script = os.path.join(config["site_dir"], SEARCH_SCRIPT)
        if merged is None:
            os.remove(fresh)
            if os.path.exists(script):  # the offline plugin's copy of the run's index, which is not the site's
                os.remove(script)
        else:
            # The offline plugin's script form of the index, if the site has that plugin: written here from
            # the merged index, whether that plugin's own step ran before this one or runs after it.
            offline = any(name.rsplit("/", 1)[-1] == "offline" for name in config["plugins"])  # "material/offline"
            write_search_index(fresh, merged, script=offline)
