"""The grading report: a CSV per student and exercise, what the class got wrong, an HTML page, a summary line.

Scores come from the course's gradebook (nbgrader's API), so the report shows what ``nbgrader
export`` and the formgrader show: each exercise's points, the hand-graded points still to score,
the submission time and nbgrader's late penalty. The grading run adds the grading problems (why a
student was not fully graded: a timeout, an unreadable file; not points lost to wrong answers), what
was repaired and what was flagged for review; ``collect`` adds the LMS's late flag. Exercises are
named by their title, the nearest markdown heading before the test cell in the release notebook.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2
import nbformat

from autograder.grade.rows import Status, StudentRow
from autograder.intake.lms import lms_identities
from autograder.nbgrader.course import Course
from autograder.nbgrader.gradebook import CellScore, open_gradebook, read_scores
from autograder.nbgrader.notebooks import grade_id, nbgrader_meta
from autograder.report import failures as failures_module
from autograder.report.failures import FailureGroup

HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def gradebook_cells(course: Course, assignment: str) -> list[CellScore]:
    """Every autograded test cell's score of every submission of ``assignment``."""
    return [cell for cell in read_scores(course.root, assignment, course.db_url) if cell.auto]


@dataclass(frozen=True)
class Exercise:
    """A graded cell of the assignment, in notebook order, with the title a reader knows it by."""

    notebook: str  # the notebook's name without .ipynb, as the gradebook names it
    grade_id: str
    title: str  # the nearest markdown heading before it ("Exercise 3 (4 points): `make_optimizer`")
    points: float
    written: bool  # a markdown answer, graded by hand


def heading_before(cells: list[nbformat.NotebookNode]) -> str:
    """The last markdown heading in ``cells``, as plain text (headings inside code fences do not count); "" if none."""
    for cell in reversed(cells):
        if cell.cell_type == "markdown":
            titles = HEADING.findall(FENCE.sub("", cell.source))
            if titles:  # as plain text: `add` -> add, **bold** -> bold
                return re.sub(r"\*\*|__|`", "", titles[-1]).strip()
    return ""


def exercises(release: dict[str, nbformat.NotebookNode]) -> list[Exercise]:
    """Every graded cell of the release notebooks (``{file name: notebook}``), with its title."""
    found = []
    for name, nb in release.items():
        for index, cell in enumerate(nb.cells):
            meta = nbgrader_meta(cell)
            if meta.get("grade") and grade_id(cell):
                found.append(Exercise(Path(name).stem, grade_id(cell), heading_before(nb.cells[:index]),
                                      float(meta.get("points", 0)), cell.cell_type == "markdown"))
    return found


@dataclass
class SubmissionDetails:
    """What the gradebook holds about one submission beyond its autograded total."""

    timestamp: datetime | None = None  # UTC, as nbgrader keeps it
    seconds_late: float = 0.0
    late_penalty: float = 0.0
    pending_points: float = 0.0  # hand-graded points nobody has scored yet
    # (notebook, grade id) -> (score, or None while it waits for a grader; max score)
    cells: dict[tuple[str, str], tuple[float | None, float]] = field(default_factory=dict)


def submission_details(course: Course, assignment: str) -> dict[str, SubmissionDetails]:
    """Student -> time, lateness, late penalty and every cell's score, from the gradebook.

    A hand-graded cell (no autograded score) waits for a grader while its ``manual_score`` is None.
    """
    from nbgrader.api import MissingEntry

    details = {}
    with open_gradebook(course.db_url) as gradebook:
        try:
            submissions = gradebook.assignment_submissions(assignment)
        except MissingEntry:
            return {}
        for submission in submissions:
            info = details[submission.student_id] = SubmissionDetails(
                submission.timestamp, float(submission.total_seconds_late or 0),
                float(submission.late_submission_penalty or 0))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    pending = grade.auto_score is None and grade.manual_score is None
                    info.cells[(notebook.name, grade.name)] = (None if pending else float(grade.score),
                                                               float(grade.max_score))
                    info.pending_points += float(grade.max_score) if pending else 0.0
    return details


def duration(seconds: float) -> str:
    """Seconds as days, hours and minutes, in words ("1 day 2 h 5 min")."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} day{'s' * (days != 1)}" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part)


def late_note(details: SubmissionDetails | None, identity: dict | None) -> str:
    """Why a submission counts as late: nbgrader's lateness and penalty, else the LMS's flag; "" if on time."""
    if details and details.seconds_late > 0:
        penalty = f", late penalty {details.late_penalty:g} points" if details.late_penalty else ""
        return f"late by {duration(details.seconds_late)}{penalty}"
    if identity and identity.get("late"):
        lms = (identity.get("lms") or "the LMS").capitalize()
        return f"late (marked by {lms}; the download gives no time)"
    return ""


def plural(count: float, noun: str) -> str:
    """ "1 submission", "2 submissions", "0.5 points"."""
    return f"{count:g} {noun}{'' if count == 1 else 's'}"


def sandbox_notice(rows: list[StudentRow]) -> str:
    """"" when every graded student ran in the sandbox, else a sentence naming how many did not and why."""
    unsandboxed = [row for row in rows if row.sandbox and row.sandbox != "bwrap"]
    if not unsandboxed:
        return ""
    return f"; {len(unsandboxed)} graded WITHOUT a sandbox: {unsandboxed[0].sandbox}"


def summary_line(rows: list[StudentRow], seconds: float, late: int = 0, pending: dict[str, float] | None = None) -> str:
    """One line: how many were graded, failed, unchanged, repaired, flagged, late, still to grade by hand."""
    count = {status: sum(row.status == status for row in rows) for status in Status}
    text = (f"graded {plural(count[Status.GRADED] + count[Status.GRADED_WITH_PROBLEMS], 'submission')}, "
            f"failed {count[Status.NOT_GRADED]}, with problems {count[Status.GRADED_WITH_PROBLEMS]}, "
            f"unchanged {count[Status.UNCHANGED]}, repaired {sum(bool(row.repairs) for row in rows)}, "
            f"flagged {sum(bool(row.flags) for row in rows)}, late {late}, in {seconds:.0f} s{sandbox_notice(rows)}")
    waiting = {student: points for student, points in (pending or {}).items() if points}
    if waiting:
        text += (f"; {plural(sum(waiting.values()), 'hand-graded point')} still to score for "
                 f"{plural(len(waiting), 'student')} (the formgrader: make instructor)")
    return text


def write_grades_csv(path: Path, rows: list[StudentRow], cells: list[CellScore],
              late: dict[str, str] | None = None, pending: dict[str, float] | None = None) -> None:
    """One line per student: status, total, one column per exercise test cell, grading problems, repairs, flags,
    lateness and the hand-graded points still to score."""
    columns = sorted({(cell.notebook, cell.grade_id) for cell in cells})
    score = {(cell.student, cell.notebook, cell.grade_id): cell.score for cell in cells}
    late, pending = late or {}, pending or {}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "score", "max_score"]
                        + [f"{notebook}/{grade_id}" for notebook, grade_id in columns]
                        + ["reasons", "repairs", "flags", "seconds", "sandbox", "late", "hand_graded_pending"])
        for row in rows:
            writer.writerow([row.student, str(row.status), f"{row.score:g}", f"{row.max_score:g}"]
                            + [f"{score[(row.student, *column)]:g}" if (row.student, *column) in score else ""
                               for column in columns]
                            + ["; ".join(row.reasons), "; ".join(row.repairs), "; ".join(row.flags),
                               f"{row.seconds:.1f}", row.sandbox, late.get(row.student, ""),
                               f"{pending.get(row.student, 0):g}"])


MAX_BARS = 40  # whole-number scores get one bar per score up to this many; more are grouped


def histogram_figure(totals: list[float], maximum: float, bins: int = 10):
    """The bar chart of the totals; whole-number scores get one bar per score (or group) and integer ticks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(5.5, 2.4), dpi=100)
    whole = float(maximum).is_integer() and all(float(total).is_integer() for total in totals)
    if whole:
        width = max(1, -(-(int(maximum) + 1) // MAX_BARS))  # ceil: scores per bar
        edges = [edge - 0.5 for edge in range(0, int(maximum) + width + 1, width)]
        axis.hist(totals, bins=edges, color="#4477aa", edgecolor="white")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlim(edges[0] - 0.1, edges[-1] + 0.1)
    else:
        axis.hist(totals, bins=bins, range=(0, maximum or 1), color="#4477aa", edgecolor="white")
    axis.set_xlabel(f"autograded points (of {maximum:g})")
    axis.set_ylabel("students")
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def histogram_png(totals: list[float], maximum: float, bins: int = 10) -> str:
    """A bar chart of the totals as a base64 PNG (embedded in the page: no scripts, no external files)."""
    import matplotlib.pyplot as plt

    figure = histogram_figure(totals, maximum, bins)
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
    title: str = ""


def hardest_cells(cells: list[CellScore], titles: dict[tuple[str, str], str] | None = None) -> list[HardCell]:
    """Test cells by the class's mean share of their points, lowest first."""
    by_cell: dict[tuple[str, str], list[CellScore]] = {}
    for cell in cells:
        by_cell.setdefault((cell.notebook, cell.grade_id), []).append(cell)
    shares = sorted((sum(c.score for c in group) / sum(c.max_score for c in group), key, group[0].max_score)
                    for key, group in by_cell.items() if sum(c.max_score for c in group))
    titles = titles or {}
    return [HardCell(notebook, grade_id, f"{points:g}", f"{100 * share:.0f}", titles.get((notebook, grade_id), ""))
            for share, (notebook, grade_id), points in shares]


@dataclass(frozen=True)
class StudentLine:
    """One row of the page's student table: the grading row and what the gradebook and the LMS add."""

    row: StudentRow
    points: list[str]  # per exercise, in the order of the page's columns: "3 / 5", "to grade (2)", ""
    pending: float  # hand-graded points still to score
    late: str
    feedback: list[tuple[str, str]]  # (notebook, link relative to the report's folder)


def student_lines(rows: list[StudentRow], columns: list[Exercise], details: dict[str, SubmissionDetails],
                  late: dict[str, str], feedback: dict[str, list[tuple[str, str]]]) -> list[StudentLine]:
    """The student table's rows: each exercise's points (or "to grade"), pending points, lateness, feedback."""
    lines = []
    for row in rows:
        info = details.get(row.student)
        points = []
        for exercise in columns:
            score, maximum = info.cells.get((exercise.notebook, exercise.grade_id), ("", 0.0)) if info else ("", 0)
            if score is None:
                points.append(f"to grade ({maximum:g})")
            else:
                points.append(score if score == "" else f"{score:g} / {maximum:g}")
        lines.append(StudentLine(row, points, info.pending_points if info else 0.0, late.get(row.student, ""),
                                 feedback.get(row.student, [])))
    return lines


def feedback_links(course: Course, assignment: str, students: list[str], out: Path) -> dict[str, list[tuple[str, str]]]:
    """Student -> (notebook, relative link from ``out`` to its feedback page) for the pages that exist."""
    links = {}
    for student in students:
        pages = sorted((course.root / "feedback" / student / assignment).glob("*.html"))
        links[student] = [(page.stem, Path(os.path.relpath(page, out.resolve())).as_posix()) for page in pages]
    return links


def write_html(path: Path, assignment: str, rows: list[StudentRow], cells: list[CellScore], summary: str,
               failures: list[FailureGroup], failures_csv: str, columns: list[Exercise] | None = None,
               students: list[StudentLine] | None = None) -> None:
    """A self-contained page (templates/report.html.j2): summary, histogram, hardest cells, mistakes, students."""
    environment = jinja2.Environment(loader=jinja2.PackageLoader("autograder.report", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    graded = [row for row in rows if row.max_score]
    maximum = max((row.max_score for row in graded), default=0.0)
    columns = columns or []
    titles = {(exercise.notebook, exercise.grade_id): exercise.title for exercise in columns}
    students = students if students is not None else student_lines(rows, columns, {}, {}, {})
    page = environment.get_template("report.html.j2").render(
        assignment=assignment, summary=summary, students=students, columns=columns,
        hardest=hardest_cells(cells, titles), failures=failures, titles=titles,
        failures_csv=failures_csv, shown=failures_module.STUDENTS_SHOWN,
        several_notebooks=len({exercise.notebook for exercise in columns}) > 1,
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
    details = submission_details(course, assignment)
    identities = lms_identities(course.root, assignment)
    late = {row.student: note for row in rows
            if (note := late_note(details.get(row.student), identities.get(row.student)))}
    pending = {row.student: details[row.student].pending_points for row in rows if row.student in details}
    summary = summary_line(rows, seconds, len(late), pending)
    grades_csv, html_path = out / f"{assignment}-grades.csv", out / f"{assignment}-report.html"
    failures_csv = out / f"{assignment}-failures.csv"
    students_graded = [row.student for row in rows]
    groups = failures_module.group(failures_module.read_failures(course.root, assignment, students_graded))
    columns = exercises(course.release_notebooks(assignment))
    students = student_lines(rows, columns, details, late,
                             feedback_links(course, assignment, [row.student for row in rows], out))
    write_grades_csv(grades_csv, rows, cells, late, pending)
    failures_module.write_failures_csv(failures_csv, groups)
    write_html(html_path, assignment, rows, cells, summary, groups, failures_csv.name, columns, students)
    return Report(summary, grades_csv, html_path, failures_csv)
