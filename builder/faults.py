"""Crash points for the tests: `REVIEW_CRASH_AT=<point>` kills the builder with SIGKILL when it gets there.

A build must survive being killed anywhere: the next build recovers and makes the same site as a build from
nothing (tests/hostile/test_cache_faults.py kills it at each point). The points, where they are:

  store-write            caching/store.py  an entry half written (its header only) to its temporary file
  archive-copy           publish/build.py  a released version's pages half copied into the cache
  swap-staged:<name>     publish/build.py  the new folder beside the old one, before they are exchanged
  swap-exchanged:<name>  publish/build.py  after the exchange, before the previous folder is removed
  swap-aside:<name>      publish/build.py  without an atomic exchange: the old folder moved aside, the new
                                           one not yet in its place
  sources-swapped        publish/build.py  the new sources in build/current, the site not yet swapped

where <name> is the folder swapped: `current` (build/current, the sources) or `site`.

Unset (always, outside the tests), a crash point does nothing but read one environment variable.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "REVIEW_CRASH_AT"


def crash_point(name: str, flush=None) -> None:
    """Die here, at once and without cleaning up, if the tests asked for a crash at `name`; `flush`: a file
    whose buffered bytes are written out first (so that the crash leaves them half written)."""
    if os.environ.get(VARIABLE) != name:
        return
    if flush is not None:
        flush.flush()
        os.fsync(flush.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
