"""What `workbench demo` prints: the story (twelve steps, the few figures that matter, where
to look), no library's log lines, and real paths for the details; and the loop it closes
(steps 8 to 12): the alert reaches the project's receiver (a local one here), the
shadowed challenger is promoted, and the alert is resolved.

The command runs for real in a subprocess at the small size of conftest's ``demo_run``
(library log lines go to the process's stderr, which an in-process run cannot show).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.monitoring import AlertInbox

pytestmark = pytest.mark.slow

# "        label          path": a detail line naming a file or folder
DETAIL = re.compile(r"^ {8}(?P<label>[a-z][a-z ]*?) +(?P<value>\S+)$")
LIBRARY_LINE = re.compile(
    r"\b(INFO|WARNING|WARN|ERROR)\b|Warning:|\[IPKernelApp\]|^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
)


@pytest.mark.timeout(2400)  # the whole lifecycle; minutes on a loaded machine
def test_the_demo_tells_its_story_and_names_files_that_exist(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    project.mkdir()
    inbox = AlertInbox()  # the project's alert receiver, on this machine
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo-project"\nversion = "0"\n\n'
        '[tool.workbench]\nmodel_name = "output-electricity"\n\n'
        f'[tool.workbench.alerts]\nwebhooks = [{{url = "{inbox.url}"}}]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "MLFLOW_"))}
    try:
        run = subprocess.run(
            [sys.executable, "-m", "workbench", "demo", "--factories", "4", "--seed", "1"],
            cwd=project,  # the project is found from here
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,  # a loaded machine: the whole lifecycle, twelve steps
        )
    finally:
        inbox.close()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    lines = output.splitlines()

    assert [line for line in lines if LIBRARY_LINE.search(line)] == []
    steps = [re.match(r"^\[(\d+)/12 +\d+\.\ds\] ", line) for line in lines]
    assert [int(s[1]) for s in steps if s] == list(range(1, 13)), output
    # a few figures per line, never a list of them
    assert max(len(re.findall(r"\d[\d,.]*", line)) for line in lines) <= 15
    assert "runs:/" not in output and "MLflow run" not in output

    named = [DETAIL.match(line) for line in lines]
    paths = [m["value"] for m in named if m and "/" in m["value"]]
    labels = {m["label"] for m in named if m and "/" in m["value"]}
    assert {"raw export", "quarantined", "model card", "inference log", "drift", "report"} <= labels
    for path in paths:
        assert (project / path).exists(), path
    card = next(m["value"] for m in named if m and m["label"] == "model card")
    assert card.endswith(".html") and "output-electricity" in (project / card).read_text()
    assert "Where to look next:" in output
    assert "workbench serve models:/output-electricity@champion" in output

    # the loop: alerted after the change, to the receiver; promoted; resolved
    step = {int(s[1]): line for line, s in zip(lines, steps, strict=True) if s}
    assert "alerts in the week of 2025-05-" in step[8] and "sent: fired" in step[8], step[8]
    assert "(@challenger) refitted on" in step[9]
    assert "off the request path" in step[10]
    assert re.search(r"promote: v\d+ is @champion", step[11]), step[11]
    assert re.search(r"resolved: [a-z, ]*\bmae\b", step[12]), step[12]
    titles = inbox.titles()  # the error alert went out, then its resolution
    fired = "[ALERT] output-electricity v1 (@champion): mae"
    resolved = [t for t in titles if re.match(r"\[RESOLVED\] output-electricity v\d+ .*: mae$", t)]
    assert fired in titles and resolved, titles
    assert titles.index(fired) < titles.index(resolved[0])

    # the monitoring dashboard after the loop (issue 23): each week compared with the
    # reference of the version that answered it, production volume green before 1 July
    # and red from it on, where all rows against v2 (@champion now) painted June red
    from workbench import resolve_settings
    from workbench.monitoring._collect import dashboard_inputs

    overview = dashboard_inputs(
        "output-electricity", period="1W", settings=resolve_settings(project), progress=False
    ).overview
    starts, weeks = overview.drift_in_steps(most=None)
    served = {str(w.metadata["model_version"]): str(w.metadata["compared_with"]) for w in weeks}
    assert served == {"1": "version 1's reference", "2": "version 2's reference"}, served
    red = [
        (str(s)[:10], w.column("production_volume").drifted)
        for s, w in zip(starts, weeks, strict=True)
    ]
    before = [r for day, r in red if day < "2024-07-01"]
    after = [r for day, r in red if day >= "2024-07-01"]
    assert before and not any(before) and sum(after) >= 0.8 * len(after), red
    overview.by_version = False
    against_v2 = overview.drift_in_steps(most=None)[1][: len(before)]
    assert any(w.column("production_volume").drifted for w in against_v2)
