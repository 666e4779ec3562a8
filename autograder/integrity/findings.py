"""What the scan reports: a rule's finding on one line, and the flag a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """What one rule found on one line of the code it read."""

    rule: str  # the rule's id: "network", "files", ... (:mod:`autograder.integrity.rules`)
    line: int  # 1-based, within the code that was read
    message: str  # what the code does, in a few words


@dataclass(frozen=True)
class Flag:
    """One suspicious line of a student's cell (or of a file the submission carries)."""

    notebook: str
    cell: str  # grade_id, else cell id, else "cell <index>"; "file" for a file beside the notebooks
    line: int  # 1-based, within the cell (0: the whole file)
    code: str  # the line, stripped
    rule: str  # what it does, in a few words (the finding's message)
    rule_id: str = field(default="", compare=False)  # the rule that found it (each message has one rule)

    def __str__(self) -> str:
        where = f" line {self.line}" if self.line else ""
        return f"{self.notebook} [{self.cell}]{where}: {self.rule}" + (f": {self.code}" if self.code else "")
