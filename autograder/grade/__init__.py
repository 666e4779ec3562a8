"""The grading pipeline, one step per module, in the order a submission goes through them.

- ``sanitize``: nbgrader's sanitizing steps on the coordinator (they need the gradebook);
- ``plan``: what each notebook's grader kernel runs, from the instructor's notebook in ``source/``;
- ``schedule``: one queue for every assignment of a run, longest first;
- ``runners``: a job (plain data) run in a local thread or on a Dask worker, and what comes back;
- ``judge``: runs one notebook across two sandboxed kernels, the student's and the grader's, so that no
  verdict is computed where student code ran; ``kernels`` (one sandboxed kernel), ``channel`` (the grader
  kernel's socket to the judge), ``proxy`` (the student's names in the grader kernel), ``student_side`` (what
  answers the judge in the student's kernel), ``codec`` (what may cross between them: data only);
- ``sandbox`` (bubblewrap, the disk space of each kernel) and ``cgroups`` (its memory and process caps);
- ``record``: nbgrader's recording steps on the coordinator: ``autograded/`` and the gradebook.

``autograder.grade.coordinator`` drives them for ``python -m autograder grade``.
"""
