"""The chart pack's workbook: ``data/charts.xlsx``, the data of every chart, a sheet each,
beside the CSV files (the same tables), with a contents sheet giving each sheet's chart
title, subtitle and caption.

The workbook records the run's start as its creation and modification date and every part
of the file carries that date, so the same results give the same file byte for byte.
Writes with openpyxl; computes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from sim.outputs.charts.data import ChartData

WORKBOOK = "charts.xlsx"
CONTENTS = "Contents"
SHEET_CHARACTERS = 31
"""Excel's longest sheet name."""
_NOT_IN_NAMES = re.compile(r"[\[\]:*?/\\]")
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def sheet_names(keys: list[str]) -> dict[str, str]:
    """A sheet name for each chart key: the key, cut to 31 characters and made unique."""
    names: dict[str, str] = {}
    for key in keys:
        name = _NOT_IN_NAMES.sub("-", key)[:SHEET_CHARACTERS]
        k = 2
        while name in names.values() or name == CONTENTS:
            suffix = f"~{k}"
            name = _NOT_IN_NAMES.sub("-", key)[: SHEET_CHARACTERS - len(suffix)] + suffix
            k += 1
        names[key] = name
    return names


def write_workbook(charts: list[ChartData], path: Path, when: dt.datetime) -> Path:
    """Write the data of ``charts`` to the workbook at ``path``, a sheet per chart after
    the contents; ``when`` is recorded as the date it was made."""
    names = sheet_names([c.key for c in charts])
    contents = pd.DataFrame({
        "sheet": [names[c.key] for c in charts],
        "chart": [c.title for c in charts],
        "subtitle": [c.subtitle for c in charts],
        "caption": [c.caption for c in charts],
        "csv_file": [f"{c.key}.csv" for c in charts],
    })  # fmt: skip
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        contents.to_excel(writer, sheet_name=CONTENTS, index=False)
        for chart in charts:
            chart.table.to_excel(writer, sheet_name=names[chart.key], index=False)
        for sheet in writer.book.worksheets:
            sheet.freeze_panes = "A2"
            for column in sheet.iter_cols(min_row=1, max_row=1):
                width = min(60, max(10, len(str(column[0].value or "")) + 2))
                sheet.column_dimensions[column[0].column_letter].width = width
    path.write_bytes(_dated(buffer.getvalue(), when))
    return path


def _dated(data: bytes, when: dt.datetime) -> bytes:
    """The workbook ``data`` with ``when`` as its creation and modification date and as the
    date of every part of the file."""
    stamp = when.astimezone(dt.UTC).replace(tzinfo=None)
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = _CORE_DATES.sub(lambda m: m.group(1) + iso + m.group(3), content)
            info = zipfile.ZipInfo(item.filename, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            target.writestr(info, content)
    return out.getvalue()
