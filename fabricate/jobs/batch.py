"""`fabricate batch`: every photo (or folder of photos of one object) in a folder to a 3MF, resumably.

An item is finished when its model and its report are both in the output folder: both are
written atomically and the report last (:func:`fabricate.jobs.runner.build_files`), so a rerun
after a crash or Ctrl-C skips exactly the finished items and builds the rest again. Items that
failed are tried again on a rerun (a failure costs little: most are refused before any work).
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from fabricate.atomic import write_bytes_atomic
from fabricate.jobs.runner import build_files, failure_words

#: The file in an object's folder that lists its photos' views (the `--views` comma list).
VIEWS_FILE = "views.txt"
#: The summary's columns, in order.
SUMMARY_COLUMNS = ("name", "seconds", "size_mm", "triangles", "colours", "warnings", "error")
SUMMARY_NAME = "summary"


@dataclass(frozen=True)
class BatchItem:
    """One model to make: its name (the output's stem), its photos in order, and their views (or None)."""

    name: str
    photos: tuple
    views: Optional[str] = None

    def options(self, options: dict) -> dict:
        # The object's own views.txt says where its photos were taken; it wins over a --views for all.
        return {**options, "views": self.views} if self.views else dict(options)


@dataclass
class SummaryRow:
    name: str
    seconds: Optional[float] = None
    size_mm: str = ""
    triangles: Optional[int] = None
    colours: Optional[int] = None
    warnings: list = field(default_factory=list)
    error: Optional[str] = None

    @classmethod
    def of_report(cls, name: str, report: dict, seconds: Optional[float] = None) -> "SummaryRow":
        validation = report.get("validation") or {}
        size = validation.get("size_mm") or (report.get("fit") or {}).get("size_mm") or []
        if seconds is None:  # an item finished by an earlier run: the time that run measured
            seconds = sum((report.get("seconds") or {}).values())
        return cls(name=name, seconds=round(seconds, 2), size_mm=" x ".join(f"{v:.1f}" for v in size),
                   triangles=validation.get("faces"), colours=report.get("colours"),
                   warnings=list(validation.get("warnings") or []))


def find_items(photos_dir) -> list:
    """The items of ``photos_dir``, by name: each file is one photo; each sub-folder is one object's photos.

    Every file that is not hidden counts (one that is not a photo fails with the reason and is
    named in the summary, rather than being skipped silently).
    """
    folder = Path(photos_dir)
    items = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            photos = tuple(str(p) for p in sorted(entry.iterdir())
                           if p.is_file() and not p.name.startswith(".") and p.name != VIEWS_FILE)
            views_file = entry / VIEWS_FILE
            views = views_file.read_text().strip() if views_file.is_file() else None
            items.append(BatchItem(entry.name, photos, views or None))
        elif entry.is_file():
            items.append(BatchItem(entry.stem, (str(entry),)))
    names = [item.name for item in items]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        from fabricate.errors import InputError

        raise InputError(f"two items would write the same model: {', '.join(clashes)} (rename one)")
    return items


def model_path(out_dir, item: BatchItem) -> Path:
    return Path(out_dir) / f"{item.name}.3mf"


def report_path(out_dir, item: BatchItem) -> Path:
    return Path(out_dir) / f"{item.name}.report.json"


def finished_report(out_dir, item: BatchItem) -> Optional[dict]:
    """The report of an item an earlier run finished (its model and its report both present), else None."""
    model, report = model_path(out_dir, item), report_path(out_dir, item)
    if not (model.is_file() and report.is_file()):
        return None
    try:
        return json.loads(report.read_text())
    except (OSError, ValueError):
        return None  # unreadable: build it again


def build_item(item: BatchItem, options: dict, out_dir, progress=None) -> SummaryRow:
    """Make one item here; its row in the summary (with the error, if it failed)."""
    start = time.perf_counter()
    try:
        result = build_files(item.photos, item.options(options), model_path(out_dir, item), progress,
                             photo_names=[Path(p).name for p in item.photos])
    except Exception as exc:
        return SummaryRow(name=item.name, seconds=round(time.perf_counter() - start, 2),
                          error=failure_words(exc, f"batch item {item.name}"))
    return SummaryRow.of_report(item.name, result.report(), time.perf_counter() - start)


#: Runs the items it is given, yielding each one's row as it finishes (in any order).
Builder = Callable[[list, dict, Path], Iterator[SummaryRow]]


def build_here(items: list, options: dict, out_dir: Path, stage: Callable[[str], None] = lambda s: None
               ) -> Iterator[SummaryRow]:
    for item in items:
        yield build_item(item, options, out_dir, progress=lambda name, fraction: stage(f"{item.name}: {name}"))


def run_batch(photos_dir, out_dir, options: dict, builder: Optional[Builder] = None,
              show_progress: bool = True) -> list:
    """Make every unfinished item of ``photos_dir`` into ``out_dir``; write and return the summary rows.

    ``builder`` runs the items (default: one after another in this process; `--broker` passes
    one that hands them to Celery workers).
    """
    from tqdm import tqdm

    from fabricate.options import MakeOptions

    MakeOptions.from_flat(options).validate(1)  # a bad choice for every item is refused before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = find_items(photos_dir)
    rows, todo = {}, []
    for item in items:
        report = finished_report(out, item)
        if report is None:
            todo.append(item)
        else:
            rows[item.name] = SummaryRow.of_report(item.name, report)
    bar = tqdm(total=len(items), initial=len(rows), unit="model", desc="batch", disable=not show_progress,
               bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")
    if builder is None:
        builder = lambda todo, options, out: build_here(todo, options, out, stage=bar.set_postfix_str)  # noqa: E731
    try:
        for row in builder(todo, options, out):
            rows[row.name] = row
            bar.update(1)
    finally:
        bar.close()
        ordered = [rows[item.name] for item in items if item.name in rows]
        write_summary(out, ordered)
    return ordered


def write_summary(out_dir, rows: Iterable[SummaryRow]) -> None:
    """``summary.csv`` and ``summary.json`` in ``out_dir``, each written atomically."""
    rows = [asdict(row) for row in rows]
    write_bytes_atomic(Path(out_dir) / f"{SUMMARY_NAME}.json", json.dumps(rows, indent=2).encode())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "warnings": "; ".join(row["warnings"])})
    write_bytes_atomic(Path(out_dir) / f"{SUMMARY_NAME}.csv", text.getvalue().encode())


def summary_table(rows: list) -> str:
    """The summary as aligned text for the terminal."""
    lines = [f"{'name':<24} {'seconds':>8} {'size mm':<22} {'triangles':>9} {'colours':>7}  result"]
    for row in rows:
        result = f"error: {row.error}" if row.error else ("; ".join(row.warnings) or "ok")
        lines.append(f"{row.name[:24]:<24} {row.seconds if row.seconds is not None else '':>8} {row.size_mm:<22} "
                     f"{row.triangles if row.triangles is not None else '':>9} "
                     f"{row.colours if row.colours is not None else '':>7}  {result}")
    return "\n".join(lines)
