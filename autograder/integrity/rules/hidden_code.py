"""Hidden code: code built or looked up at run time, decoded from text, or unpickled.

Code the scan can read (``exec("...")``, a hex or base64 literal, a magic's body) is read by every
rule (:meth:`Scope.nested`); code it cannot read is reported.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import zlib
from collections.abc import Iterator

from autograder.integrity.findings import Finding
from autograder.integrity.ipython import NON_PYTHON_CELL_MAGICS, PYTHON_LINE_MAGICS, WRITE_CELL_MAGICS, magic_code
from autograder.integrity.names import GETATTR_CALLS, IMPORT_CALLS, SETATTR_CALLS, literal
from autograder.integrity.rules.base import Rule, magic, text_of, words_of

EXEC_CALLS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
IPYTHON_EXEC_METHODS = {"run_cell", "run_cell_async", "run_code", "run_ast_nodes", "ex", "ev"}
# Modules in which a lookup by a computed name is ordinary (``getattr(keras.activations, name)``).
DYNAMIC_LOOKUP_MODULES = {"numpy", "keras", "tensorflow", "matplotlib", "pandas", "scipy", "sklearn", "math",
                          "operator", "random", "statistics"}
# Text that hides code: decoders (their literal argument is decoded and scanned too).
DECODE_CALLS = {"bytes.fromhex", "bytearray.fromhex", "binascii.unhexlify", "zlib.decompress", "gzip.decompress",
                "bz2.decompress", "lzma.decompress", "quopri.decodestring"}
DECODE_PREFIXES = ("binascii.a2b_",)
DECODE_METHODS = {"fromhex"}  # b"".fromhex(...)
BASE64_DECODERS = ("b64decode", "urlsafe_b64decode", "standard_b64decode", "b32decode", "b16decode",
                   "a85decode", "b85decode", "decodebytes", "a2b_base64")
CODEC_CALLS = {"codecs.decode", "codecs.encode", "codecs.getdecoder", "codecs.getencoder", "codecs.lookup",
               "codecs.getreader", "codecs.iterdecode"}
CODEC_SECOND = {"codecs.decode", "codecs.encode", "codecs.iterdecode"}  # the codec is their second argument
HIDING_CODECS = {"rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "base64_codec", "zlib", "zip",
                 "zlib_codec", "bz2", "bz2_codec", "uu", "uu_codec", "quopri", "quotedprintable",
                 "quoted_printable", "quopri_codec"}
UNPICKLE_CALLS = {"marshal.loads", "marshal.load", "pickle.loads", "pickle.load", "pickle.Unpickler",
                  "_pickle.loads", "_pickle.load", "dill.loads", "dill.load", "cloudpickle.loads",
                  "cloudpickle.load", "shelve.open"}
MAX_DECODED = 1_000_000  # bytes of a decoded literal that are scanned

R_EXEC = "runs code built at run time ({})"
R_IMPORT = "imports a module whose name is built at run time ({})"
R_LOOKUP = "looks up a module's attribute by a name built at run time ({})"
R_SETATTR = "changes a module's attribute by a name built at run time ({})"
R_DECODE = "decodes hidden text ({})"
R_UNPICKLE = "loads pickled or marshalled objects, which can run hidden code ({})"


def decoded(name: str, node: ast.AST) -> str | None:
    """The text a decoder call makes of its literal argument (nothing is run; None if it is not text)."""
    if not literal(node):
        return None
    value = node.value
    data = value.encode() if isinstance(value, str) else value
    short = name.rsplit(".", 1)[-1]
    try:
        if short in ("fromhex", "unhexlify", "a2b_hex"):
            out = binascii.unhexlify(b"".join(data.split()))
        elif short in BASE64_DECODERS:
            out = getattr(base64 if hasattr(base64, short) else binascii, short)(data)
        elif short == "decompress" and name.startswith("zlib"):
            out = zlib.decompressobj().decompress(data, MAX_DECODED)
        elif short in ("decode", "encode") and isinstance(value, str):
            return codecs.decode(value, "rot13")
        else:
            return None
        return out[:MAX_DECODED].decode("utf-8")
    except Exception:  # not what it claims to be: nothing to scan
        return None


class HiddenCode(Rule):
    """``exec``/``eval`` of built strings, ``__import__``/``getattr``/``setattr`` by computed names, decoders."""

    id = "hidden-code"
    reads = (ast.Call, ast.Subscript)

    def check(self, node: ast.AST) -> Iterator[Finding]:
        if isinstance(node, ast.Subscript):  # vars(checks)["check_" + kind]
            if isinstance(node.ctx, ast.Load) and not literal(node.slice):
                module = self.names.namespace_of(node.value)
                if module and module.split(".")[0] not in DYNAMIC_LOOKUP_MODULES:
                    yield self.found(node, R_LOOKUP.format(f"vars({module})[...]"))
            return
        yield from self.computed_names(node)
        yield from self.run_or_decode(node)
        yield from self.shell_code(node)

    def computed_names(self, node: ast.Call) -> Iterator[Finding]:
        """``getattr``, ``setattr`` and ``__import__`` by names the scan cannot read."""
        names, name = self.names, self.names.called(node)
        if name in GETATTR_CALLS and len(node.args) >= 2:
            module = names.resolve(node.args[0]) or "a module"
            if (not literal(node.args[1]) and names.module_like(node.args[0])
                    and module.split(".")[0] not in DYNAMIC_LOOKUP_MODULES):
                yield self.found(node, R_LOOKUP.format(f"{name}({module}, ...)"))
        elif name in SETATTR_CALLS and node.args:
            obj = node.args[0]
            if (len(node.args) < 2 or not literal(node.args[1])) and names.module_like(obj):
                yield self.found(node, R_SETATTR.format(f"{name}({names.resolve(obj) or 'a module'}, ...)"))
        elif name in IMPORT_CALLS and node.args and not names.resolve(node):
            yield self.found(node, R_IMPORT.format(name))

    def run_or_decode(self, node: ast.Call) -> Iterator[Finding]:
        """Code the scan cannot read (reported), or can once decoded (read by every rule)."""
        name, scope = self.names.called(node), self.scope
        first = node.args[0] if node.args else None
        if name in EXEC_CALLS and first is not None:
            if literal(first):
                yield from scope.nested_source(node, first.value)
            else:
                yield self.found(node, R_EXEC.format(f"{name} of a string the code builds"))
        elif name in DECODE_CALLS or name.startswith(DECODE_PREFIXES) or (
                name.startswith("base64.") and "decode" in name):
            yield self.found(node, R_DECODE.format(name))
            if first is not None:
                yield from scope.nested_source(node, decoded(name, first))
        elif name in CODEC_CALLS:
            index = 1 if name in CODEC_SECOND else 0
            codec = node.args[index] if len(node.args) > index else next(
                (k.value for k in node.keywords if k.arg == "encoding"), None)
            if codec is None:
                return
            if not literal(codec) or str(codec.value).lower().replace("-", "_") in HIDING_CODECS:
                yield self.found(node, R_DECODE.format(f"{name} {codec.value}" if literal(codec) else name))
                if first is not None and literal(codec) and "rot" in str(codec.value):
                    yield from scope.nested_source(node, decoded(name, first))
        elif name in UNPICKLE_CALLS:
            yield self.found(node, R_UNPICKLE.format(name))
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in DECODE_METHODS and name not in DECODE_CALLS:
            yield self.found(node, R_DECODE.format(f".{func.attr}"))
            if node.args:
                yield from scope.nested_source(node, decoded(f".{func.attr}", node.args[0]))

    def shell_code(self, node: ast.Call) -> Iterator[Finding]:
        """What the shell runs: ``run_cell(...)``, the Python in ``%time``, ``%%capture``, ``%%writefile x.py``."""
        names, scope = self.names, self.scope
        method = names.shell_method(node)
        if method in IPYTHON_EXEC_METHODS:
            if node.args and literal(node.args[0]):
                yield from scope.nested_source(node, node.args[0].value)
            elif node.args:
                called = f"{names.resolve(node.func.value)}.{method}"
                yield self.found(node, R_EXEC.format(f"{called} of a string the code builds"))
        run = magic(names, node)
        if run is None or run.shell:
            return
        if run.name is None:
            yield self.found(node, R_EXEC.format(f"get_ipython().{run.method} of a magic the code chooses"))
        elif run.cell and run.name in WRITE_CELL_MAGICS:
            if run.words and run.words[-1].strip("'\"").endswith(".py"):  # a module the notebook may import next
                yield from scope.nested_source(node, run.body)
        elif run.cell and run.name not in NON_PYTHON_CELL_MAGICS:
            if run.body is None:
                yield self.found(node, R_EXEC.format(f"%%{run.name} of a body the code builds"))
            else:
                yield from scope.nested_source(node, run.body)
        elif not run.cell and run.name in PYTHON_LINE_MAGICS:
            if run.line is None:
                yield self.found(node, R_EXEC.format(f"%{run.name} of code the code builds"))
            else:
                yield from scope.nested(node, magic_code(run.line))

    @classmethod
    def text_patterns(cls) -> list[tuple[str, str]]:
        no_literal = r"\s*\(\s*(?![rRbBuUfF]{0,2}['\"])"
        def called(names: set[str]) -> str:  # builtins.exec(...), exec(...), importlib.import_module(...)
            modules = {name.rsplit(".", 1)[0] for name in names if "." in name}
            return (rf"(?<![\w.])(?:(?:{words_of(modules)})\.)?({words_of({n.rsplit('.', 1)[-1] for n in names})})"
                    + no_literal)

        decoders = DECODE_CALLS | {f"base64.{name}" for name in BASE64_DECODERS if hasattr(base64, name)}
        short = {name.rsplit(".", 1)[-1] for name in decoders} | set(BASE64_DECODERS)  # from base64 import ...
        return [
            (called(EXEC_CALLS), R_EXEC.format("exec/eval/compile")),
            (called(IMPORT_CALLS), R_IMPORT.format("__import__")),
            (text_of(decoders, DECODE_PREFIXES) + rf"|\.({words_of(DECODE_METHODS)})\s*\("
             rf"|(?<!\w)({words_of(short)})\s*\(|['\"]rot_?13['\"]"
             rf"|(?:{text_of(CODEC_CALLS)}).*['\"]({words_of(HIDING_CODECS)})['\"]",
             R_DECODE.format("hex/base64/rot13/zlib")),
            (text_of(UNPICKLE_CALLS), R_UNPICKLE.format("pickle/marshal")),
        ]
