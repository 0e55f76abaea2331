"""Syntax highlighting for `.res` specs: a Pygments lexer and the TextMate grammar's source.

* `ResdslLexer` (name "resdsl", aliases "resdsl" and "res", files `*.res`) is registered as a
  Pygments plugin (`pygments.lexers` entry point), so once resdsl is installed
  `pygmentize -l resdsl spec.res` and Sphinx/MkDocs code blocks marked `resdsl` highlight.
* `textmate_grammar()` is the source of editors/textmate/resdsl.tmLanguage.json (scope
  `source.resdsl`, for VS Code and other TextMate-grammar editors); regenerate that file with
  `python -m resdsl.tools.highlight > editors/textmate/resdsl.tmLanguage.json`.

The keywords are read from the grammar (its literal words: `network`, `when`, ...) and the
layer kinds from the registry (`resdsl.frontend.layers.LAYER_KINDS` and its aliases) when the lexer is
imported, so new ones are covered without a change here. A layer kind is highlighted as a
builtin where it heads a statement (`conv 3x3, 64`), not where it names an option (`relu off`).
"""

from __future__ import annotations

import json
import re

from pygments.lexer import RegexLexer, bygroups, default, include, this, using, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Whitespace

__all__ = ["ResdslLexer", "KEYWORDS", "DECLARATIONS", "CONSTANTS", "LAYER_KINDS", "textmate_grammar"]

# What the grammar had when this was written; the grammar itself is read below when it can be.
_KNOWN_KEYWORDS = (
    "network", "block", "shortcut", "sequential", "input", "let", "expect", "when", "within",
    "if", "else", "and", "or", "not", "true", "false", "on", "off", "shape",
)  # fmt: skip
_KNOWN_DECLARATIONS = ("network", "block", "shortcut", "sequential")
CONSTANTS = ("true", "false", "on", "off")
_KNOWN_KINDS = ("conv", "batchnorm", "relu", "maxpool", "avgpool", "linear", "add", "bn", "fc")


def _grammar_words() -> tuple[list[str], list[str]]:
    """The grammar's keywords (literal words) and the ones that start a definition."""
    try:
        from lark.lexer import PatternStr

        from resdsl.frontend.syntax.parser import _parser

        parser = _parser()
    except Exception:  # noqa: BLE001 - highlighting must work even where the grammar cannot load
        return [], []
    keywords = {t.name: t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr) and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)}
    declarations = {
        keywords[rule.expansion[0].name]
        for rule in parser.rules
        if str(rule.origin.name).endswith("_def") and rule.expansion and rule.expansion[0].name in keywords
    }
    return sorted(keywords.values()), sorted(declarations)


def _layer_kinds() -> list[str]:
    try:
        from resdsl.frontend import layers
    except Exception:  # noqa: BLE001
        return []
    return [*getattr(layers, "LAYER_KINDS", {}), *getattr(layers, "ALIASES", {})]


_words, _declarations = _grammar_words()
KEYWORDS = tuple(sorted(set(_KNOWN_KEYWORDS) | set(_words)))
DECLARATIONS = tuple(sorted(set(_KNOWN_DECLARATIONS) | set(_declarations)))
LAYER_KINDS = tuple(sorted((set(_layer_kinds()) or set(_KNOWN_KINDS)) - set(KEYWORDS)))
_OTHER_KEYWORDS = tuple(k for k in KEYWORDS if k not in CONSTANTS)

def _alternation(items) -> str:
    return "|".join(re.escape(i) for i in sorted(items, key=lambda s: (-len(s), s)))


IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
DIMS = r"[0-9]+(?:[x×][0-9]+)+(?![A-Za-z_])"
FLOAT = r"[0-9][0-9_]*(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)"
INT = r"[0-9][0-9_]*"
TIMES = r"[x×](?![A-Za-z0-9_])(?!\s*=)"  # `basic(64) x 3`, `3 x k` (not `x` the name in `let x = ...`)
OPERATORS = r"==|!=|<=|>=|//|[-+*/%<>~=]"


class ResdslLexer(RegexLexer):
    """Pygments lexer for resdsl specs (`.res`)."""

    name = "resdsl"
    aliases = ["resdsl", "res"]
    filenames = ["*.res"]
    mimetypes = ["text/x-resdsl"]
    url = "https://github.com/resdsl/resdsl"
    version_added = ""

    tokens = {
        # Between statements: the start of a line, or after `{` or `;`.
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (rf"({_alternation(DECLARATIONS)})(\s+)({IDENT})(?=\s*[({{])", bygroups(Keyword.Declaration, Whitespace, Name.Function), "header"),
            (r"[{};]", Punctuation),
            (rf"({IDENT})([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            # `convs[i]:` in a `for` body: an indexed label
            (rf"({IDENT})(\[)([^\]\n]*)(\])([ \t]*)(:)", bygroups(Name.Label, Punctuation, using(this, state="expression"), Punctuation, Whitespace, Punctuation)),
            (rf"{IDENT}(?=\()", Name.Function, "statement"),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant, "statement"),
            (words(_OTHER_KEYWORDS, suffix=r"\b"), Keyword, "statement"),
            (words(LAYER_KINDS, suffix=r"\b"), Name.Builtin, "statement"),
            (IDENT, Name, "statement"),
            default("statement"),
        ],
        # `network name(params) {`
        "header": [
            (r"\{", Punctuation, "#pop"),
            (r"\s+", Whitespace),
            include("expression"),
        ],
        # The rest of a statement, to the end of the line, a `;` or a `}`.
        "statement": [
            (r"\n", Whitespace, "#pop"),
            (r"[;}]", Punctuation, "#pop"),
            (r"\{", Punctuation, "#pop"),  # the body of a `for` loop
            (r"#.*?$", Comment.Single),
            (r"[ \t\f\r]+", Whitespace),
            include("expression"),
        ],
        "expression": [
            (DIMS, Number),
            (FLOAT, Number.Float),
            (INT, Number.Integer),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(_OTHER_KEYWORDS, suffix=r"\b"), Keyword),
            (rf"{IDENT}(?=\()", Name.Function),
            (TIMES, Operator),
            (IDENT, Name),
            (OPERATORS, Operator),
            (r"[(),.:\[\]]", Punctuation),
        ],
    }


# --- TextMate -----------------------------------------------------------------------------------


def textmate_grammar() -> dict:
    """The TextMate grammar (editors/textmate/resdsl.tmLanguage.json) as a dict.

    TextMate grammars are static files, so layer kinds are found by position (the word that
    heads a statement), not by name; keywords are the grammar's.
    """
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "resdsl",
        "scopeName": "source.resdsl",
        "fileTypes": ["res"],
        "comment": "Generated by `python -m resdsl.tools.highlight`; do not edit by hand.",
        "patterns": [
            {"include": "#comment"},
            {"include": "#definition"},
            {"include": "#statement-head"},
            {"include": "#label"},
            {"include": "#call"},
            {"include": "#keyword"},
            {"include": "#number"},
            {"include": "#operator"},
            {"include": "#punctuation"},
        ],
        "repository": _textmate_statements() | _textmate_tokens(),
    }


def _textmate_statements() -> dict:
    """Comments, definitions, statement heads, labels and calls: the grammar's structure."""
    declarations = _alternation(DECLARATIONS)
    all_keywords = _alternation(KEYWORDS)
    return {
        "comment": {"name": "comment.line.number-sign.resdsl", "match": "#.*$"},
        "definition": {
            "match": rf"\b({declarations})\s+({IDENT})(?=\s*[({{])",
            "captures": {"1": {"name": "storage.type.resdsl"}, "2": {"name": "entity.name.function.resdsl"}},
        },
        "statement-head": {
            "comment": "The word that heads a statement (after an optional label) is a layer kind.",
            "match": rf"(?:^|(?<=[{{;]))\s*(?:({IDENT})(?:\[[^\]\n]*\])?\s*(:)\s*)?(?!(?:{all_keywords})\b)({IDENT})\b(?!\s*[(:\[])",
            "captures": {
                "1": {"name": "entity.name.label.resdsl"},
                "2": {"name": "punctuation.separator.label.resdsl"},
                "3": {"name": "support.function.layer.resdsl"},
            },
        },
        "label": {
            "match": rf"\b({IDENT})\s*(:)",
            "captures": {"1": {"name": "entity.name.label.resdsl"}, "2": {"name": "punctuation.separator.label.resdsl"}},
        },
        "call": {"match": rf"\b{IDENT}(?=\()", "name": "entity.name.function.call.resdsl"},
    }


def _textmate_tokens() -> dict:
    """Keywords, numbers, operators and punctuation: the grammar's words."""
    keywords = _alternation(k for k in KEYWORDS if k not in CONSTANTS and k not in ("and", "or", "not"))
    logical = _alternation(k for k in ("and", "or", "not") if k in KEYWORDS)
    constants = _alternation(CONSTANTS)
    return {
        "keyword": {
            "patterns": [
                {"match": rf"\b(?:{constants})\b", "name": "constant.language.resdsl"},
                {"match": rf"\b(?:{logical})\b", "name": "keyword.operator.logical.resdsl"},
                {"match": rf"\b(?:{keywords})\b", "name": "keyword.control.resdsl"},
            ]
        },
        "number": {
            "patterns": [
                {"match": rf"\b{DIMS}", "name": "constant.numeric.dims.resdsl"},
                {"match": rf"\b{FLOAT}\b", "name": "constant.numeric.float.resdsl"},
                {"match": rf"\b{INT}\b", "name": "constant.numeric.integer.resdsl"},
            ]
        },
        "operator": {
            "patterns": [
                {"match": rf"(?<=[\s)]){TIMES}", "name": "keyword.operator.repeat.resdsl"},
                {"match": OPERATORS, "name": "keyword.operator.resdsl"},
            ]
        },
        "punctuation": {
            "patterns": [
                {"match": ",", "name": "punctuation.separator.comma.resdsl"},
                {"match": ";", "name": "punctuation.terminator.statement.resdsl"},
                {"match": r"[{}]", "name": "punctuation.section.block.resdsl"},
                {"match": r"[()]", "name": "punctuation.section.parens.resdsl"},
                {"match": r"\.", "name": "punctuation.accessor.resdsl"},
            ]
        },
    }


def textmate_json() -> str:
    return json.dumps(textmate_grammar(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(textmate_json())
