"""The student edition and where it is published.

- ``links``: the repository address (``[tool.course]``), the Colab and Binder badges, the ``links`` command;
- ``edition``: the ``publish`` command: the student edition written to a folder;
- ``leaks``: the scan that refuses an edition holding anything of ``source/``.
"""
