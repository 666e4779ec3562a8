"""``selfcheck``: the solution earns full marks and the blank release zero, through ``grade``.

- ``check``: the command;
- ``courses``: throw-away course directories (generate, submit, grade), for ``selfcheck`` and the tests.
"""
