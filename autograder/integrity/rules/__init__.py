"""The rules of the scan, one kind of finding each: the node types it reads, the names it knows, what it reports.

Every rule reads every node of its types (:mod:`autograder.integrity.visitor`), so one line can
raise several findings: ``setattr(checks, name, f)`` both patches the tests' module and sets an
attribute by a name the scan cannot read. Each rule also gives the regular expressions that
stand in for it on a cell that does not parse (:mod:`autograder.integrity.fallback`), made from
the same tables.
"""

from __future__ import annotations

from autograder.integrity.rules.base import Rule, Scope
from autograder.integrity.rules.files import Files
from autograder.integrity.rules.hidden_code import HiddenCode
from autograder.integrity.rules.history import History
from autograder.integrity.rules.hooks import Hooks
from autograder.integrity.rules.ipython_internals import IPythonInternals
from autograder.integrity.rules.lockout import Lockout
from autograder.integrity.rules.network import Network
from autograder.integrity.rules.patching import Patching
from autograder.integrity.rules.processes import Processes
from autograder.integrity.rules.shadowing import Shadowing

RULES: tuple[type[Rule], ...] = (Patching, Shadowing, Hooks, Processes, Network, Files, HiddenCode,
                                 IPythonInternals, History, Lockout)

__all__ = ["RULES", "Files", "HiddenCode", "History", "Hooks", "IPythonInternals", "Lockout", "Network", "Patching",
           "Processes", "Rule", "Scope", "Shadowing"]
