"""A static scan of the code students write, for code that games the tests or reaches outside the notebook.

Nothing is executed: each cell is parsed with :mod:`ast` (:mod:`.cells`), after IPython's own
transformer has turned ``%`` magics and ``!`` shell lines into the ``get_ipython()`` calls they
stand for (:mod:`.ipython`; without IPython, or when it fails, they are taken out by hand). The
tree is walked once (:mod:`.visitor`) and each node goes to every rule that reads its type
(:mod:`.rules`: patching, shadowing, hooks, processes, network, files, hidden code, IPython
internals, history, the lockout), which resolve names through :mod:`.names`. A cell that still
does not parse is matched line by line with regular expressions made from the rules' own tables
(:mod:`.fallback`). The scan does not stop at the first trick: code hidden in a string literal
(``exec("...")``, a hex or base64 payload, the body of ``%time`` or ``%%capture``) is scanned too,
and code it cannot read (``exec`` of a computed string, ``getattr`` by a computed name) is itself
reported. Other files a submission carries go through :func:`scan_file` (:mod:`.scan`).

A :class:`Flag` is a finding for a person to read, not a verdict: ``sys.exit()`` in an answer is
reported although it is only a mistake.
"""

from autograder.integrity.fallback import BY_TEXT
from autograder.integrity.findings import Finding, Flag
from autograder.integrity.names import check_names
from autograder.integrity.scan import scan, scan_file

__all__ = ["BY_TEXT", "Finding", "Flag", "check_names", "scan", "scan_file"]
