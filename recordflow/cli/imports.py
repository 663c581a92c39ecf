"""`recordflow import digitized` and `recordflow import photos`: a digitization batch (目录 + page
images) or a photo batch (照片目录 + photos) into the archive, its legacy 档号 kept; and the 挂接
report of what was linked, archived and refused. `import packages`: offline transfer packages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail, print_json
from recordflow.settings import Settings

if TYPE_CHECKING:
    from archival.digitization import LinkReport
    from archival.metadata import MetadataRules
    from connectors.importer import ImportItem, ItemResult

app = typer.Typer(
    help="Offline transfers and the paper backlog / 离线移交与存量数字化", no_args_is_help=True
)


# What the batch imports (digitized, photos) share.
LayoutOption = Annotated[str, typer.Option(help="flat, or per-item (one folder per 档号).")]
ReportOption = Annotated[
    Path | None, typer.Option(help="Where report.csv/.html/.json go (default <home>/imports/…).")
]
DryRunFlag = Annotated[
    bool, typer.Option("--dry-run", help="Link and check everything; submit nothing.")
]


@app.command()
def digitized(
    agency: Annotated[str, typer.Option(help="The agency whose fonds the batch is, e.g. bgt.")],
    catalogue: Annotated[
        Path, typer.Option(help="The catalogue: 目录.xlsx or .csv (DA/T 22 columns).")
    ],
    images: Annotated[Path, typer.Option(help="The folder of page images (or one file per item).")],
    layout: LayoutOption = "flat",
    report: ReportOption = None,
    dry_run: DryRunFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Link a digitization batch's catalogue to its page images (目录挂接), check each item against
    DA/T 31, submit the linked ones with their legacy 档号 kept, and write the 挂接 report.
    Rerunning adds nothing already archived."""
    _import_batch(agency, catalogue, images, layout, report, dry_run, as_json,
                  category="WS", files_option="--images", name="digitized")  # fmt: skip


@app.command()
def photos(
    agency: Annotated[str, typer.Option(help="The agency whose fonds the photos are, e.g. bgt.")],
    catalogue: Annotated[
        Path,
        typer.Option(
            help="The photo catalogue: 照片目录.xlsx or .csv (档号, 题名, 摄影者, 拍摄时间, "
            "拍摄地点, 人物, 背景, 照片号, 底片号, 载体 …)."
        ),
    ],
    photos: Annotated[Path, typer.Option(help="The folder of photos, one <档号>.jpg|tif each.")],
    layout: LayoutOption = "flat",
    report: ReportOption = None,
    dry_run: DryRunFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Link a photo batch's catalogue to its photos (照片挂接), check each, submit the sound ones as
    photo records (门类 ZP, DA/T 54) with their legacy 档号 kept, and write the 挂接 report. The
    载体 column says what each photo is: 电子/数码/数字 born digital (no resolution check; a
    missing 拍摄时间 is taken from its EXIF), 照片/相片 a scanned print, 底片 a scanned negative
    (a scan needs at least 300 dpi); without the column every photo is a scanned print. A row
    without 摄影者 or 拍摄地点 is held. Rerunning adds nothing already archived."""
    _import_batch(agency, catalogue, photos, layout, report, dry_run, as_json,
                  category="ZP", files_option="--photos", name="photos")  # fmt: skip


def _import_batch(agency: str, catalogue: Path, files: Path, layout: str, report: Path | None,
                  dry_run: bool, as_json: bool, *, category: str, files_option: str,
                  name: str) -> None:  # fmt: skip
    """A batch of archive category `category` (门类代码) linked, checked, submitted unless
    `dry_run`, and reported under <home>/imports/<name>-<time> unless `report` says where."""
    from archival.digitization import CatalogueError, link_batch, load_link_config, write_report
    from archival.metadata import load_metadata_rules
    from connectors.importer import record_outcomes

    settings = Settings()
    for path, what in ((catalogue, "--catalogue"), (files, files_option)):
        if not path.exists():
            raise fail(f"{what} {path}: no such file or folder", 2)
    if layout not in ("flat", "per-item"):
        raise fail(f"--layout {layout}: give flat or per-item", 2)
    config = load_link_config(settings.digitization_file).model_copy(update={"layout": layout})
    rules = load_metadata_rules(settings.metadata_rules_file)
    try:
        with err.status("挂接 Linking the catalogue to the images…"):
            linked = link_batch(catalogue, files, config, category=category, rules=rules)
    except CatalogueError as exc:
        raise fail(f"{catalogue}: {exc}") from exc
    results = [] if dry_run else _submit(settings, agency, linked, rules)
    record_outcomes(linked, results)
    folder = report or settings.home / "imports" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_report(linked, folder)
    summary = {"report": str(folder), "dry_run": dry_run, **linked.counts(),
               "items": [r.__dict__ for r in results]}  # fmt: skip
    if as_json:
        print_json(summary)
        return
    _print_summary(linked.counts(), results, folder, dry_run)


def _submit(
    settings: Settings, agency: str, linked: LinkReport, rules: MetadataRules
) -> list[ItemResult]:
    from connectors.importer import import_items, linked_items
    from connectors.outbox import Outbox

    items = linked_items(linked, agency, rules)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())  # fmt: skip
    began, pages, size = time.monotonic(), 0, 0
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("提交 submitting", total=len(items), rate="")

        def advanced(item: ImportItem) -> None:
            nonlocal pages, size
            pages, size = pages + item.pages, size + item.size
            elapsed = max(time.monotonic() - began, 1e-6)
            progress.update(task, advance=1, rate=f"{pages / elapsed:,.1f} pages/s "
                                                  f"{size / elapsed / 1e6:,.2f} MB/s")  # fmt: skip

        outbox = Outbox(settings.outbox_path)
        try:
            results = import_items(settings, items, outbox, on_item=advanced)
        finally:
            outbox.close()
    return results


def _print_summary(
    counts: dict[str, int], results: list[ItemResult], folder: Path, dry_run: bool
) -> None:
    table = Table(
        title="挂接报告 Linking report" + (" (dry run: nothing submitted)" if dry_run else "")
    )
    table.add_column("figure")
    table.add_column("count", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    by_status: dict[str, int] = {}
    for result in results:
        by_status[result.status] = by_status.get(result.status, 0) + 1
    for status, count in sorted(by_status.items()):
        table.add_row(f"submitted → {status}", str(count))
    console.print(table)
    console.print(f"报告 Report: {folder / 'report.html'} (also report.csv, report.json)",
                  highlight=False, soft_wrap=True)  # fmt: skip


@app.command()
def packages(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Packages: an EEP .xml, a carrier or bag folder, a zip."),
    ] = None,
    agency: Annotated[
        str | None,
        typer.Option(help="The agency whose packages they are (with --watch: only its drops)."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Where <package>.report.json/.txt go (default <home>/imports/…)."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Watch every agency's drops (folder and S3 prefix).")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="With --watch: take what is there, then stop.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import offline transfer packages (DA/T 48 EEP, the 2012 carrier, BagIt): each sound record
    is submitted with its legacy 档号 kept, and each package gets a report. Exit status 1 when a
    package could not be read or was refused whole. Rerunning adds nothing already archived."""
    from connectors.agency_registry import current_registry

    settings = Settings()
    registry = current_registry(settings)
    if agency is not None and registry.get(agency) is None:
        raise fail(f"--agency {agency}: not a registered agency", 2)
    if watch:
        if paths:
            raise fail("give either packages or --watch, not both", 2)
        agencies = [a for a in registry.agencies if a.active and agency in (None, a.code)]
        _watch(settings, agencies, once, as_json, follow=agency is None)
        return
    if once:
        raise fail("--once goes with --watch", 2)
    if agency is None or not paths:
        raise fail("give --agency and at least one package", 2)
    importing = registry.get(agency)
    assert importing is not None
    folder = report or settings.home / "imports" / f"packages-{time.strftime('%Y%m%d-%H%M%S')}"
    reports = _import_packages(settings, importing, paths, folder)
    _show_packages(reports, as_json, {"report": str(folder)})
    if not all(r.read for r in reports):
        raise typer.Exit(1)


def _import_packages(settings: Settings, agency: Any, paths: list[Path], folder: Path) -> list[Any]:
    from connectors.outbox import Outbox
    from connectors.package_import import import_package

    reports = []
    outbox = Outbox(settings.outbox_path)
    try:
        for path in paths:
            with err.status(f"导入 Importing {path}…"):
                result = import_package(settings, path, agency, outbox)
            result.write(folder, path.name)
            reports.append(result)
    finally:
        outbox.close()
    return reports


def _watch(settings: Settings, agencies: list[Any], once: bool, as_json: bool, *,
           follow: bool) -> None:  # fmt: skip
    """`follow`: every agency's drops, an agency onboarded while the watcher runs among them."""
    from connectors.agency_registry import RegistryView
    from connectors.drops import DropWatcher
    from connectors.outbox import Outbox

    view = RegistryView(settings).start() if follow and not once else None
    outbox = Outbox(settings.outbox_path)
    try:
        watcher = DropWatcher(settings, agencies, outbox,
                              registry=None if view is None else lambda: view.registry.agencies)  # fmt: skip
        if once:
            reports = watcher.once()
            _show_packages(reports, as_json, {"drop_failures": watcher.failures})
            if watcher.failures or not all(r.read for r in reports):
                raise typer.Exit(1)
            return
        err.print(f"Watching the drops of {', '.join(a.code for a in agencies)} "
                  f"({settings.drop_path}, s3://{settings.staging_bucket}/drop/); Ctrl-C stops")  # fmt: skip
        try:
            for reports in watcher.watch():
                _show_packages(reports, as_json, {})
                watcher.failures.clear()  # logged as they happened
        except KeyboardInterrupt:
            return
    finally:
        outbox.close()
        if view is not None:
            view.close()


def _show_packages(reports: list[Any], as_json: bool, extra: dict[str, Any]) -> None:
    for failed in (r for r in reports if not r.read):  # one line each, for scripts and cron mail
        first = failed.problems[0]
        err.print(f"{failed.package}: {first.reason}: {first.detail}", highlight=False,
                  soft_wrap=True, markup=False)  # fmt: skip
    for line in extra.get("drop_failures", []):
        err.print(line, highlight=False, soft_wrap=True, markup=False)
    if as_json:
        print_json({**extra, "packages": [r.as_json() for r in reports]})
        return
    if not reports:
        return
    table = Table(title="移交包导入 Package import")
    for column in ("package", "kind", "agency", "read", "records"):
        table.add_column(column)
    for r in reports:
        counts = ", ".join(f"{k} {n}" for k, n in r.counts().items())
        table.add_row(r.package, r.kind or "-", r.agency, "yes" if r.read else "refused",
                      counts or (r.problems[0].reason if r.problems else "-"))  # fmt: skip
    console.print(table)
    if "report" in extra:
        console.print(f"报告 Reports: {extra['report']}", highlight=False, soft_wrap=True)
