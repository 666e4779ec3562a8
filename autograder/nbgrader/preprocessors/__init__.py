"""The nbgrader preprocessors the course configures (``nbgrader_config.py``), one per file, by stage.

- release (``generate_assignment``): ``launch_cells.AddLaunchCells``;
- sanitize (``autograde``, before running): ``grade_ids.DeduplicateGradeIds``;
- execute (``nbgrader autograde`` run by hand; ``grade`` runs the judge instead): ``execute.SurvivingExecute``;
- feedback (``generate_feedback``): ``hidden_tests.HideHiddenTests``, ``instructor_lines.RemoveInstructorLines``,
  ``explorer_notes.ExplorerNotes``, ``feedback_page.ReadableFeedback``.
"""
