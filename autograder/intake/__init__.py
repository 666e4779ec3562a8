"""Submissions in: an LMS download placed in ``submitted/``, each file read and repaired for nbgrader.

- ``collect``: the ``collect`` command: a zip or folder -> ``submitted/<student>/<assignment>/``;
- ``lms``: what the LMS says (names, ids, times, late flags), kept in ``submitted/lms.json``;
- ``records``: what ``collect`` found and reports;
- ``read``: a submitted file read as a notebook (size, kind, encoding);
- ``repair``: its cells matched back to the release, so that nbgrader can grade it.
"""
