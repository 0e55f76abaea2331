"""Text -> AST: the Lark grammar (grammars/resdsl.lark), a Transformer, and syntax diagnostics.

Invariants: `parse` returns a `Module` or raises `ResdslError` with E00xx diagnostics located in
the source; it never lets a Lark exception out.
"""

from __future__ import annotations

import contextlib
import functools
import gc

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from resdsl.frontend import resources
from resdsl.diagnostics import Diagnostic, ResdslError, SourceMap, Span
from resdsl.frontend.syntax import ast, errors, streaming, tables
from resdsl.ir.expressions import EvalError, Value, evaluate


LARK_OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True, "maybe_placeholders": True}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The grammar's parser; its tables come from disk after the first build (`tables`)."""
    return tables.load_parser(resources.grammar_path().read_text(encoding="utf-8"), **LARK_OPTIONS)


def _tok_span(source: str, tok: Token) -> Span:
    return Span(source, tok.line, tok.column, tok.end_line, tok.end_column)


def _meta_span(source: str, meta) -> Span:
    return Span(source, meta.line, meta.column, meta.end_line, meta.end_column)


def _number(tok: Token, source: str) -> int | float:
    return errors.number(str(tok), _tok_span(source, tok))


class _ToAst:
    """Parse tree -> AST. One method per grammar rule or alias, called as `method(meta, children)`.

    A plain bottom-up walk (`transform`), not Lark's Transformer: on a large spec that one spent
    most of its time wrapping each call (v_args) rather than building the AST.
    """

    def __init__(self, source: str):
        self.source = source

    def transform(self, tree: Tree):
        children = [self.transform(c) if isinstance(c, Tree) else c for c in tree.children]
        build = _RULES.get(tree.data)
        return Tree(tree.data, children, tree.meta) if build is None else build(self, tree.meta, children)

    def _span(self, meta) -> Span:
        return _meta_span(self.source, meta)

    # expressions
    def int_lit(self, meta, children):
        (tok,) = children
        span = _tok_span(self.source, tok)
        return ast.Literal(span, errors.number(str(tok), span))

    def float_lit(self, meta, children):
        (tok,) = children
        span = _tok_span(self.source, tok)
        return ast.Literal(span, float(errors.number(str(tok), span)))

    def true_lit(self, meta, children):
        return ast.Literal(self._span(meta), True)

    def false_lit(self, meta, children):
        return ast.Literal(self._span(meta), False)

    def name(self, meta, children):
        (tok,) = children
        return ast.Name(_tok_span(self.source, tok), str(tok))

    def index(self, meta, children):
        tok, index = children
        return ast.Index(self._span(meta), ast.Name(_tok_span(self.source, tok), str(tok)), index)

    def binop(self, meta, children):
        left, op, right = children
        return ast.BinOp(self._span(meta), str(op), left, right)

    def compare(self, meta, children):
        if str(children[1]) == "~":  # `expect` takes its operator apart; anywhere else it has no value
            raise errors.LiteralError(Diagnostic("E0001", "`~` compares only in `expect ... within N%`", self._span(meta), help="write `==`, or move the comparison to an `expect`"))
        return self.binop(meta, children)

    def or_op(self, meta, children):
        return ast.BinOp(self._span(meta), "or", children[0], children[1])

    def and_op(self, meta, children):
        return ast.BinOp(self._span(meta), "and", children[0], children[1])

    def neg(self, meta, children):
        return ast.UnaryOp(self._span(meta), "-", children[0])

    def not_op(self, meta, children):
        return ast.UnaryOp(self._span(meta), "not", children[0])

    def if_exp(self, meta, children):
        then, cond, other = children
        return ast.IfExp(self._span(meta), cond, then, other)

    def call(self, meta, children):
        tok, *args = children
        span = _tok_span(self.source, tok)
        func_span = Span(span.source, span.line, span.column, span.end_line, span.end_column - 1)
        return ast.Call(self._span(meta), str(tok)[:-1], func_span, tuple(a for a in args if a is not None))

    def dims(self, meta, children):
        if len(children) == 1 and isinstance(children[0], Token):
            tok = children[0]
            span = _tok_span(self.source, tok)
            parts = str(tok).replace("×", "x").split("x")
            return ast.Dims(span, tuple(ast.Literal(span, errors.number(p, span)) for p in parts))
        return ast.Dims(self._span(meta), tuple(children))

    # statements
    def option(self, meta, children):
        name, value = children
        return ast.Option(self._span(meta), str(name), value, _tok_span(self.source, name))

    def keyword_arg(self, meta, children):
        name, value = children
        return ast.KeywordArg(self._span(meta), str(name), value, _tok_span(self.source, name))

    def call_arg(self, meta, children):
        return children[0]

    def layer(self, meta, children):
        op, *args = children
        args = [a for a in args if a is not None]
        positional = tuple(a for a in args if not isinstance(a, ast.Option))
        options = tuple(a for a in args if isinstance(a, ast.Option))
        return ast.Layer(self._span(meta), str(op), _tok_span(self.source, op), positional, options)

    def block_use(self, meta, children):
        call, *rest = children
        options = tuple(c for c in rest if isinstance(c, ast.Option))
        rest = [c for c in rest if not isinstance(c, ast.Option)]
        repeat = rest.pop() if rest else None  # the [x expr] placeholder is always last
        args = [c for c in rest if c is not None]
        span = _tok_span(self.source, call)
        block_span = Span(span.source, span.line, span.column, span.end_line, span.end_column - 1)
        return ast.BlockUse(
            self._span(meta),
            str(call)[:-1],
            block_span,
            tuple(a for a in args if not isinstance(a, ast.KeywordArg)),
            tuple(a for a in args if isinstance(a, ast.KeywordArg)),
            repeat,
            options,
        )

    def labeled(self, meta, children):
        label, index, unit = children
        from dataclasses import replace

        extra = {"label_index": index} if index is not None else {}
        return replace(unit, span=self._span(meta), label=str(label), label_span=_tok_span(self.source, label), **extra)

    def for_stmt(self, meta, children):
        var, start, stop, (body, _) = children
        return ast.For(self._span(meta), str(var), _tok_span(self.source, var), start, stop, body)

    def guarded(self, meta, children):
        from dataclasses import replace

        unit, guard = children
        return replace(unit, span=self._span(meta), guard=guard)

    def input_stmt(self, meta, children):
        return ast.Input(self._span(meta), children[0])

    def shortcut_stmt(self, meta, children):
        (tok,) = children
        return ast.ShortcutPolicy(self._span(meta), str(tok), _tok_span(self.source, tok))

    def let_stmt(self, meta, children):
        name, value = children
        return ast.Let(self._span(meta), str(name), value)

    def expect_metric(self, meta, children):
        metric, op, value, tolerance, when = children
        tol = None if tolerance is None else float(_number(tolerance, self.source))
        return ast.ExpectMetric(self._span(meta), str(metric), _tok_span(self.source, metric), str(op), value, tol, when)

    def path(self, meta, children):
        return ".".join(str(c) for c in children), self._span(meta)

    def expect_shape(self, meta, children):
        (path, path_span), dims, when = children
        return ast.ExpectShape(self._span(meta), path, path_span, dims, when)

    # definitions
    def param(self, meta, children):
        name, default = children
        return ast.Param(str(name), default, _tok_span(self.source, name))

    def param_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def body(self, meta, children):
        return tuple(c for c in children if c is not None), self._span(meta)

    def _definition(self, kind, meta, children):
        name, params, (body, body_span) = children
        close = Span(self.source, body_span.end_line, body_span.end_column - 1, body_span.end_line, body_span.end_column)
        return ast.Definition(
            kind, str(name), _tok_span(self.source, name), params or (), body, self._span(meta), close
        )

    def network_def(self, meta, children):
        return self._definition("network", meta, children)

    def block_def(self, meta, children):
        return self._definition("block", meta, children)

    def shortcut_def(self, meta, children):
        return self._definition("shortcut", meta, children)

    def sequential_def(self, meta, children):
        return self._definition("sequential", meta, children)

    def start(self, meta, children):
        return ast.Module(self.source, tuple(children))


@contextlib.contextmanager
def no_cycle_collection():
    """Pause Python's cyclic garbage collector while building trees, which hold no cycles.

    Hundreds of thousands of new nodes trigger full collections that scan every live node again:
    on a 0.9 MB spec of 4,000 long `let` lines that was half the time of `resdsl check`
    (parse and transform 6.5 s with it, 3.3 s without). Reference counting still frees garbage;
    cycles made meanwhile wait for the next collection. The compiler pauses it for a whole compile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_RULES = {name: f for name, f in vars(_ToAst).items() if not name.startswith("_") and name != "transform"}


@functools.lru_cache(maxsize=1)
def _streaming() -> streaming.StreamingParser:
    return streaming.StreamingParser(_parser(), _RULES)


def parse(text: str, source: str, sources: SourceMap | None = None, max_tokens: int | None = None) -> ast.Module:
    """Parse `text` (named `source` in spans); syntax errors raise `ResdslError`, and so does a
    token past `max_tokens` (E0301 there; None: no limit).

    The AST is built during the parse (streaming.py). Where that meets a bad literal or a tree
    deeper than the limit, the parse tree decides what is reported, as before: a syntax error
    anywhere first, then the depth, then the literal.
    """
    if not streaming.SUPPORTED:
        return parse_public(text, source, sources, max_tokens)
    sources = _registered(text, source, sources)
    try:
        with no_cycle_collection():
            module, height = _streaming().parse(text, _ToAst(source), max_tokens)
        if height <= errors.MAX_DEPTH:
            return module
    except (UnexpectedInput, streaming.TooManyTokens) as err:
        raise _refusal(err, text, source, sources, max_tokens) from None
    except errors.LiteralError:
        pass
    try:
        with no_cycle_collection():
            tree = _streaming().parse_tree(text, max_tokens)
    except (UnexpectedInput, streaming.TooManyTokens) as err:
        raise _refusal(err, text, source, sources, max_tokens) from None
    return _from_tree(tree, source, sources)


def parse_public(text: str, source: str, sources: SourceMap | None = None, max_tokens: int | None = None) -> ast.Module:
    """`parse` through Lark's public API only: its parse tree with propagated positions, walked
    by `_ToAst`, syntax errors recovered by Lark's re-parses (slower on large inputs). The route
    under a Lark release the streaming driver was not tested with, and the reference
    tests/test_streaming_parser.py holds the driver to."""
    sources = _registered(text, source, sources)
    try:
        with no_cycle_collection():
            counting, budget = _counting_parser()
            budget.max = max_tokens
            tree = counting.parse(text)
    except (UnexpectedInput, streaming.TooManyTokens) as err:
        raise _refusal(err, text, source, sources, max_tokens) from None
    return _from_tree(tree, source, sources)


def _registered(text: str, source: str, sources: SourceMap | None) -> SourceMap:
    """`sources` with `text` added as `source`; E0301 (raised) for parentheses nested past the limit."""
    sources = sources if sources is not None else SourceMap()
    sources.add(source, text)
    too_deep = errors.check_parentheses(text, source)
    if too_deep is not None:
        raise ResdslError([too_deep], sources)
    return sources


def _from_tree(tree: Tree, source: str, sources: SourceMap) -> ast.Module:
    """A parse tree's AST: E0301 past `errors.MAX_DEPTH`, a bad literal's diagnostic, else the walk."""
    too_deep = errors.check_depth(tree, source)
    if too_deep is not None:
        raise ResdslError([too_deep], sources)
    try:
        with no_cycle_collection():
            return _ToAst(source).transform(tree)
    except errors.LiteralError as err:
        raise ResdslError([err.diagnostic], sources) from None


class _TokenBudget:
    """A Lark post-lexer that passes every token to the parser and raises `TooManyTokens` at the
    one past `max` (Lark's public `postlex`; the streaming driver counts in its own loop)."""

    always_accept = ()

    def __init__(self):
        self.max: int | None = None

    def process(self, stream):
        for seen, token in enumerate(stream, 1):
            if self.max is not None and seen > self.max:
                raise streaming.TooManyTokens(token)
            yield token


@functools.lru_cache(maxsize=1)
def _counting_parser() -> tuple[Lark, _TokenBudget]:
    """The grammar's parser with a `_TokenBudget` between its lexer and its parser."""
    budget = _TokenBudget()
    grammar = resources.grammar_path().read_text(encoding="utf-8")
    return Lark(grammar, postlex=budget, **LARK_OPTIONS), budget


def _refusal(err, text: str, source: str, sources: SourceMap, max_tokens: int | None) -> ResdslError:
    """A syntax error's diagnostics, or E0301 at the first token past `max_tokens`."""
    if isinstance(err, streaming.TooManyTokens):
        return ResdslError([Diagnostic(
            "E0301",
            f"this spec has more than {max_tokens:,} tokens",
            _tok_span(source, err.token),
            label="the limit is passed here",
            help="raise the limit with --max-tokens (API: limits=Limits(max_tokens=...))",
        )], sources)
    return _syntax_error(err, text, source, sources)


def _syntax_error(err: UnexpectedInput, text: str, source: str, sources: SourceMap) -> ResdslError:
    recognizer = _streaming().recognizer if streaming.SUPPORTED else _parser()  # what re-parses for recovery
    found = errors.syntax_diagnostics(err, text, source, recognizer, limit=errors.MAX_ERRORS)
    return ResdslError(found, sources, errors.MAX_ERRORS if len(found) >= errors.MAX_ERRORS else None)


def parse_literal(text: str) -> Value | None:
    """A value given outside a spec (`--set n=18`, the notebook's `--set`): an integer, a number
    or true/false, read by the language's own grammar; None when `text` is none of these."""
    try:
        module = parse(f"network _(v = {text}) {{}}", "<--set>")
        default = module.definitions[0].params[0].default
    except ResdslError:
        return None
    if isinstance(default, ast.Literal):
        return default.value
    if isinstance(default, (ast.Name, ast.Call)):  # a norm or activation: `groupnorm(32)`, `silu`
        try:
            return evaluate(default, {})
        except EvalError:
            return None
    if isinstance(default, ast.UnaryOp) and default.op == "-" and isinstance(default.operand, ast.Literal):
        return -default.operand.value
    return None
