"""Results out: the grading report, what the class got wrong, and the feedback handed back.

- ``grades``: the report (CSV per student and exercise, an HTML page from ``templates/``, a summary line);
- ``failures``: every failed check's message, grouped by mistake;
- ``handback``: the ``handback`` command: feedback files laid out for the LMS's bulk upload.
"""
