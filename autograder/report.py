"""The grading report: a CSV per student and exercise, a self-contained HTML page, a summary line.

Scores come from the course's gradebook (nbgrader's API), so the report shows what ``nbgrader
export`` and the formgrader show; the grading run adds why a student was not (fully) graded,
what was repaired and what was flagged for review.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

from autograder.coursedir import CellScore, read_scores
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


def _histogram_svg(totals: list[float], maximum: float, bins: int = 10) -> str:
    """An inline SVG bar chart of the totals (no scripts, no external files)."""
    width, height, pad = 420, 160, 24
    counts = [0] * bins
    for total in totals:
        index = min(bins - 1, int(bins * total / maximum)) if maximum else 0
        counts[index] += 1
    top = max(counts) or 1
    bar = (width - 2 * pad) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" '
             f'role="img" aria-label="histogram of scores">']
    for index, count in enumerate(counts):
        h = (height - pad) * count / top
        x, y = pad + index * bar, height - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" fill="#4477aa">'
                     f"<title>{count} students</title></rect>")
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="11" '
                         f'text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height + 14}" font-size="10" text-anchor="middle">'
                     f"{maximum * index / bins:.0f}-{maximum * (index + 1) / bins:.0f}</text>")
    parts.append("</svg>")
    return "".join(parts)


def write_html(path: Path, assignment: str, rows: list[StudentRow], cells: list[CellScore],
               summary: str) -> None:
    """A self-contained page: summary, score histogram, hardest exercises, one row per student."""
    graded = [row for row in rows if row.max_score]
    maximum = max((row.max_score for row in graded), default=0.0)
    by_cell: dict[tuple[str, str], list[CellScore]] = {}
    for cell in cells:
        by_cell.setdefault((cell.notebook, cell.grade_id), []).append(cell)
    hardest = sorted(((sum(c.score for c in group) / sum(c.max_score for c in group), key, group[0].max_score)
                      for key, group in by_cell.items() if sum(c.max_score for c in group)))
    esc = html.escape
    student_rows = "".join(
        f"<tr><td>{esc(row.student)}</td><td>{esc(row.status)}</td><td>{row.score:g} / {row.max_score:g}</td>"
        f"<td>{esc('; '.join(row.reasons))}</td><td>{esc('; '.join(row.repairs))}</td>"
        f"<td>{esc('; '.join(row.flags))}</td></tr>" for row in rows)
    hardest_rows = "".join(f"<tr><td>{esc(notebook)}</td><td>{esc(grade_id)}</td><td>{points:g}</td>"
                           f"<td>{100 * share:.0f}%</td></tr>" for share, (notebook, grade_id), points in hardest)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grading report: {esc(assignment)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#eee}}</style>
</head><body>
<h1>Grading report: {esc(assignment)}</h1>
<p>{esc(summary)}</p>
<h2>Scores (autograded points)</h2>
{_histogram_svg([row.score for row in graded], maximum) if graded else "<p>No graded submissions.</p>"}
<h2>Hardest exercises</h2>
<table><tr><th>notebook</th><th>test cell</th><th>points</th><th>mean score</th></tr>{hardest_rows}</table>
<h2>Students</h2>
<table><tr><th>student</th><th>status</th><th>score</th><th>why not fully graded</th><th>repairs</th>
<th>flagged for review</th></tr>{student_rows}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_report(course: Course, assignment: str, rows: list[StudentRow], out: Path,
                 seconds: float) -> tuple[str, Path, Path]:
    """Write ``grades.csv`` and ``report.html`` under ``out``; returns the summary line and both paths."""
    out.mkdir(parents=True, exist_ok=True)
    cells = gradebook_cells(course, assignment)
    summary = summary_line(rows, seconds)
    csv_path, html_path = out / f"{assignment}-grades.csv", out / f"{assignment}-report.html"
    write_csv(csv_path, rows, cells)
    write_html(html_path, assignment, rows, cells, summary)
    return summary, csv_path, html_path
