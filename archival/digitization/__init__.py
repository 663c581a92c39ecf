"""Digitized paper (DA/T 31-2017) and photos (DA/T 54-2014): linking a catalogue to its images
(目录挂接), checking each item, and the report of what was linked and what was not. Pure: files in,
data out; the importers (`recordflow import digitized`, `import photos`) submit the linked items
through the SDK. The batch's archive category (门类) decides what differs.

    config = load_link_config(settings.digitization_file)
    report = link_batch(Path("目录.xlsx"), Path("images/"), config)
    report = link_batch(Path("照片目录.xlsx"), Path("photos/"), config, category="ZP", rules=rules)
    for item in report.linked: item.metadata, item.files    # what the SDK submits
    report.record_outcome(item.reference_code, "archived")  # the importer, afterwards
    write_report(report, Path("report/"))                   # report.csv, report.html, report.json
"""

from archival.digitization.catalogue import (
    Catalogue,
    CatalogueEntry,
    CatalogueError,
    normalise_capture_time,
    normalise_date,
    read_catalogue,
)
from archival.digitization.config import LinkConfig, load_link_config
from archival.digitization.images import Inspection, find_images, inspect_file
from archival.digitization.link import check_item, link, link_batch
from archival.digitization.render import render_csv, render_html, render_json, write_report
from archival.digitization.report import ItemOutcome, LinkedItem, LinkProblem, LinkReport

__all__ = [
    "Catalogue",
    "CatalogueEntry",
    "CatalogueError",
    "Inspection",
    "ItemOutcome",
    "LinkConfig",
    "LinkProblem",
    "LinkReport",
    "LinkedItem",
    "check_item",
    "find_images",
    "inspect_file",
    "link",
    "link_batch",
    "load_link_config",
    "normalise_capture_time",
    "normalise_date",
    "read_catalogue",
    "render_csv",
    "render_html",
    "render_json",
    "write_report",
]
