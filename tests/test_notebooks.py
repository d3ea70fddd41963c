"""The analysts' notebooks.

* Every notebook in ``notebooks/`` runs top to bottom in a real kernel (few replications,
  through ``SIM_NOTEBOOK_REPS``) without a cell failing, and is saved without outputs.
* :mod:`sim.apps.whatif.notebook`: replications and the scenarios folder come from the
  environment or are found from the notebook's folder.

The what-if engine and panel behind ``03_what_if.ipynb`` are tested in ``test_whatif.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.apps.whatif import find_scenarios, replications_from_env
from sim.outputs.tables import format_number, readable

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOK_REPS = "4"
CELL_TIMEOUT = 300
"""Seconds allowed for one cell (each takes a few seconds with few replications)."""
SCIENTIFIC = re.compile(r"\d\.\d+e[+-]\d+")
"""A number written as ``1.437343e+01``, which no table for people shows."""


# ------------------------------------------------------------------------- notebooks


def test_the_four_notebooks_are_there():
    names = [path.name for path in NOTEBOOKS]
    assert names == [
        "01_quickstart.ipynb",
        "02_scenarios.ipynb",
        "03_what_if.ipynb",
        "04_calibration.ipynb",
    ]
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in names)  # each listed, with what it does


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_saved_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell["outputs"] == [], f"{path.name} cell {index} has outputs: clear them"
        assert cell["execution_count"] is None, f"{path.name} cell {index} has an execution count"
    assert "widgets" not in notebook["metadata"], f"{path.name} holds saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_holds_no_model_logic(path):
    """Cells call the package (no function or class definitions), take their replications
    from SIM_NOTEBOOK_REPS and find the scenarios folder wherever they are opened."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    for source in sources:
        assert "def " not in source and "class " not in source, source
    assert "replications_from_env(" in sources[0] and "find_scenarios()" in sources[0]
    assert any(c["cell_type"] == "markdown" for c in notebook["cells"][:2])


@pytest.mark.parametrize(
    "path",
    [p if p.name.startswith("01") else pytest.param(p, marks=pytest.mark.slow) for p in NOTEBOOKS],
    ids=lambda p: p.name,
)  # the quickstart in the default run; every notebook in the slow tier
def test_notebook_runs_without_errors(path, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("SIM_NOTEBOOK_REPS", NOTEBOOK_REPS)
    monkeypatch.delenv("SIM_SCENARIOS", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Traceback" not in text
    shown = [text] + [value for o in outputs for kind, value in o.get("data", {}).items()
                      if kind.startswith("text/")]  # fmt: skip
    assert not [found for part in shown for found in SCIENTIFIC.findall(part)]
    assert f"{NOTEBOOK_REPS} replications" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    if path.name == "03_what_if.ipynb":
        widgets = [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert widgets, "the what-if panel was not displayed"
        assert "cap 20" in text and "The update took" in text
        assert "from the cache" in text
        assert "add up to 110%, not 100%" in text
        assert images
    elif path.name == "04_calibration.ipynb":
        assert images, "the validation chart was not drawn"
        assert "8 passed, 0 failed" in text  # the theory checks
    else:
        assert len(images) >= 2


# -------------------------------------------------------------- notebook helpers


def test_numbers_are_written_for_people():
    assert [format_number(v) for v in (14.37343, 1.437343e7, 0.0468490, 6.1e-4, 12.0, 999.96)] == [
        "14.4", "14,373,430", "0.0468", "0.00061", "12", "1,000"]  # fmt: skip
    assert [format_number(v) for v in (3, 12345, None, float("nan"), True, "x")] == [
        "3", "12,345", "", "", "True", "x"]  # fmt: skip
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"cost": [26696360.2, 1.5e-3], "name": ["a", "b"], "ok": [True, False]})
    shown = readable(table)
    assert shown.data is table  # the values are untouched; only their display changes
    page = shown.to_html()
    assert "26,696,360" in page and "0.0015" in page and "True" in page
    assert not SCIENTIFIC.search(page)


def test_replications_from_env(monkeypatch):
    monkeypatch.delenv("SIM_NOTEBOOK_REPS", raising=False)
    assert replications_from_env(200) == 200
    monkeypatch.setenv("SIM_NOTEBOOK_REPS", " 12 ")
    assert replications_from_env(200) == 12
    for bad in ("many", "1", "2.5"):
        monkeypatch.setenv("SIM_NOTEBOOK_REPS", bad)
        with pytest.raises(ValueError, match="SIM_NOTEBOOK_REPS"):
            replications_from_env(200)


def test_find_scenarios_walks_up_from_the_notebook_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SIM_SCENARIOS", raising=False)
    monkeypatch.chdir(NOTEBOOK_DIR)
    assert find_scenarios() == ROOT / "scenarios"
    assert find_scenarios(ROOT) == ROOT / "scenarios"
    with pytest.raises(FileNotFoundError, match="SIM_SCENARIOS"):
        find_scenarios(tmp_path)
    monkeypatch.setenv("SIM_SCENARIOS", str(ROOT / "scenarios"))
    assert find_scenarios(tmp_path) == ROOT / "scenarios"
    monkeypatch.setenv("SIM_SCENARIOS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no baseline.yaml"):
        find_scenarios()
