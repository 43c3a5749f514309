"""JupyterLab's save hook for the workbook (./workbook.sh lab sets it as ContentsManager.pre_save_hook).

plotly's JupyterLab renderer keeps a PNG snapshot of every figure it draws in the notebook
(`image/png` beside the figure's `application/vnd.plotly.v1+json`, ~40 KB each). The figure's
JSON is all a reader needs: the renderer draws it again on opening, offline. Dropping the
snapshots keeps a saved chapter at its figures' data (`tests/lab/test_lab.py` checks the size).
"""
from __future__ import annotations

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def drop_figure_snapshots(model: dict, **_) -> None:
    """Removes the `image/png` of every output that also holds a plotly figure."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    for cell in model["content"].get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if isinstance(data, dict) and PLOTLY_MIME in data:
                data.pop("image/png", None)
