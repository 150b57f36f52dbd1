"""Keeping the tests on an expensive session fixture on one pytest-xdist worker.

`corpus_bot` ingests the whole bundled corpus; on two workers each would pay for it. xdist's
own way, `--dist loadgroup` with `xdist_group` marks, silently stops grouping with pytest 9.2
(pytest-xdist issue 1386: the group rides on a rewritten nodeid, which pytest 9.2 no longer
reads). So here the workers write down, while they collect, which tests fall in which group,
and the controller schedules with xdist's LoadScopeScheduling whose scopes are those groups:
each group goes to one worker as a whole, largest first, and every other test is a unit of
its own, as with `--dist load`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

# Tests that use this fixture (directly or through another fixture) form this group.
GROUPS_BY_FIXTURE = {"corpus_bot": "corpus"}
WORKER_INPUT_KEY = "paperbot_groups_dir"


class GroupScheduling(LoadScopeScheduling):
    """Scopes: the group of a test in a group, else the test itself."""

    def __init__(self, config: pytest.Config, log, groups_dir: Path):
        super().__init__(config, log)
        self._groups_dir = groups_dir
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        # First called in schedule(), once every worker has finished collecting (and so has
        # written its file).
        if self._groups is None:
            self._groups = {}
            for path in sorted(self._groups_dir.glob("*.json")):
                self._groups.update(json.loads(path.read_text()))
        group = self._groups.get(nodeid)
        return f"group:{group}" if group else nodeid


class GroupsPlugin:
    """Registered by tests/conftest.py when xdist is installed; acts only on a distributed run."""

    def __init__(self) -> None:
        self._dir: Path | None = None

    def _groups_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="paperbot-xdist-groups-"))
        return self._dir

    # ------------------------------------------------------------ on the controller

    def pytest_configure_node(self, node) -> None:
        node.workerinput[WORKER_INPUT_KEY] = str(self._groups_dir())

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        if config.getvalue("dist") != "load":  # another --dist asked for explicitly
            return None
        return GroupScheduling(config, log, self._groups_dir())

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    # ------------------------------------------------------------ on a worker

    @pytest.hookimpl(trylast=True)  # the final list and nodeids, as sent to the controller
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        workerinput = getattr(config, "workerinput", None)
        if not workerinput or WORKER_INPUT_KEY not in workerinput:
            return
        groups = {}
        for item in items:
            for fixture, group in GROUPS_BY_FIXTURE.items():
                if fixture in getattr(item, "fixturenames", ()):
                    groups[item.nodeid] = group
        path = Path(workerinput[WORKER_INPUT_KEY]) / f"{workerinput['workerid']}.json"
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(groups))
        temp.replace(path)
