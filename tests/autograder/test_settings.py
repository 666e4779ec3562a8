"""One home for the limits (autograder.settings): the cell limit is nbgrader's own Execute.timeout."""

from __future__ import annotations

from autograder import settings


def _course(folder, config: str):
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n" + config)
    return folder


def test_the_cell_limit_is_the_courses_execute_timeout(tmp_path):
    assert settings.cell_timeout(_course(tmp_path / "a", "c.Execute.timeout = 77\n")) == 77


def test_without_that_setting_the_default_holds(tmp_path):
    course = _course(tmp_path / "b", "c.CourseDirectory.course_id = 'x'\n")
    assert settings.cell_timeout(course) == settings.DEFAULT_CELL_TIMEOUT == settings.Limits().cell_timeout


def test_this_courses_setting_is_read(tmp_path):
    from autograder import REPO_ROOT

    assert settings.cell_timeout(REPO_ROOT) == 300  # nbgrader_config.py: c.Execute.timeout = 300
