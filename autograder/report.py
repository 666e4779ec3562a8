"""The grading report: a CSV per student and exercise, what the class got wrong, an HTML page, a summary line.

Scores come from the course's gradebook (nbgrader's API), so the report shows what ``nbgrader
export`` and the formgrader show; the grading run adds why a student was not (fully) graded,
what was repaired and what was flagged for review.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import jinja2

from autograder import failures as failures_module
from autograder.coursedir import CellScore, read_scores
from autograder.failures import FailureGroup
from autograder.grading import Course, StudentRow


def gradebook_cells(course: Course, assignment: str) -> list[CellScore]:
    """Every autograded test cell's score of every submission of ``assignment``."""
    return [cell for cell in read_scores(course.root, assignment, course.db_url) if cell.auto]


def sandbox_notice(rows: list[StudentRow]) -> str:
    """"" when every graded student ran in the sandbox, else a sentence naming how many did not and why."""
    unsandboxed = [row for row in rows if row.sandbox and row.sandbox != "bwrap"]
    if not unsandboxed:
        return ""
    return f"; {len(unsandboxed)} graded WITHOUT a sandbox: {unsandboxed[0].sandbox}"


def summary_line(rows: list[StudentRow], seconds: float) -> str:
    count = {status: sum(row.status == status for row in rows)
             for status in ("graded", "graded with problems", "not graded", "unchanged")}
    return (f"graded {count['graded'] + count['graded with problems']}, failed {count['not graded']}, "
            f"with problems {count['graded with problems']}, unchanged {count['unchanged']}, "
            f"repaired {sum(bool(row.repairs) for row in rows)}, flagged {sum(bool(row.flags) for row in rows)}, "
            f"in {seconds:.0f} s{sandbox_notice(rows)}")


def write_csv(path: Path, rows: list[StudentRow], cells: list[CellScore]) -> None:
    """One line per student: status, total, one column per exercise test cell, reasons, repairs, flags."""
    columns = sorted({(cell.notebook, cell.grade_id) for cell in cells})
    score = {(cell.student, cell.notebook, cell.grade_id): cell.score for cell in cells}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "score", "max_score"]
                        + [f"{notebook}/{grade_id}" for notebook, grade_id in columns]
                        + ["reasons", "repairs", "flags", "seconds", "sandbox"])
        for row in rows:
            writer.writerow([row.student, row.status, f"{row.score:g}", f"{row.max_score:g}"]
                            + [f"{score[(row.student, *column)]:g}" if (row.student, *column) in score else ""
                               for column in columns]
                            + ["; ".join(row.reasons), "; ".join(row.repairs), "; ".join(row.flags),
                               f"{row.seconds:.1f}", row.sandbox])


def histogram_png(totals: list[float], maximum: float, bins: int = 10) -> str:
    """A bar chart of the totals as a base64 PNG (embedded in the page: no scripts, no external files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 2.4), dpi=100)
    axis.hist(totals, bins=bins, range=(0, maximum or 1), color="#4477aa", edgecolor="white")
    axis.set_xlabel(f"autograded points (of {maximum:g})")
    axis.set_ylabel("students")
    axis.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class HardCell:
    notebook: str
    grade_id: str
    points: str
    mean_percent: str


def hardest_cells(cells: list[CellScore]) -> list[HardCell]:
    """Test cells by the class's mean share of their points, lowest first."""
    by_cell: dict[tuple[str, str], list[CellScore]] = {}
    for cell in cells:
        by_cell.setdefault((cell.notebook, cell.grade_id), []).append(cell)
    shares = sorted((sum(c.score for c in group) / sum(c.max_score for c in group), key, group[0].max_score)
                    for key, group in by_cell.items() if sum(c.max_score for c in group))
    return [HardCell(notebook, grade_id, f"{points:g}", f"{100 * share:.0f}")
            for share, (notebook, grade_id), points in shares]


def write_html(path: Path, assignment: str, rows: list[StudentRow], cells: list[CellScore], summary: str,
               failures: list[FailureGroup], failures_csv: str) -> None:
    """A self-contained page (templates/report.html.j2): summary, histogram, hardest cells, mistakes, students."""
    environment = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    graded = [row for row in rows if row.max_score]
    maximum = max((row.max_score for row in graded), default=0.0)
    page = environment.get_template("report.html.j2").render(
        assignment=assignment, summary=summary, rows=rows, hardest=hardest_cells(cells), failures=failures,
        failures_csv=failures_csv, shown=failures_module.STUDENTS_SHOWN,
        histogram=histogram_png([row.score for row in graded], maximum) if graded else "")
    path.write_text(page, encoding="utf-8")


@dataclass(frozen=True)
class Report:
    """What ``write_report`` wrote."""

    summary: str
    grades_csv: Path
    html: Path
    failures_csv: Path


def write_report(course: Course, assignment: str, rows: list[StudentRow], out: Path, seconds: float) -> Report:
    """Write the grades CSV, the failures CSV and the HTML page under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    cells = gradebook_cells(course, assignment)
    summary = summary_line(rows, seconds)
    grades_csv, html_path = out / f"{assignment}-grades.csv", out / f"{assignment}-report.html"
    failures_csv = out / f"{assignment}-failures.csv"
    groups = failures_module.group(failures_module.collect(course.root, assignment, [row.student for row in rows]))
    write_csv(grades_csv, rows, cells)
    failures_module.write_csv(failures_csv, groups)
    write_html(html_path, assignment, rows, cells, summary, groups, failures_csv.name)
    return Report(summary, grades_csv, html_path, failures_csv)
