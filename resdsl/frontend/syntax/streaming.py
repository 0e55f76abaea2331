"""The parser's driver: Lark's LALR tables and contextual lexer run by one loop, the AST built as
the parser reduces, without a parse tree in between.

Lark's own tree builder wraps every reduction in three callables (child filter, single-child
expansion, position propagation) and makes a `Tree` with a `Meta`, which `_ToAst` then walked
again; with Lark's per-token lexer and parser calls, on a dense 1 MB spec (a million tokens)
that was 16 s and 1.1 GB for `resdsl check`. Here each rule gets one closure that does the same
three things and calls the same `_ToAst` method, so the AST and every span in it are the ones
the tree path made:

- a node's span runs from the first token of its production to the last, anonymous tokens
  (`(`, `{`, `;`) included, as Lark's `propagate_positions` does;
- a `?rule` that keeps one child passes that child up with its span widened to the production
  (its "container": `(a + b) * c` starts at the `(`, while `a + b` itself does not);
- `_rules` and `__anon` repetitions are spliced into their parent, `[x]` leaves a `None`.

It also tracks the parse tree's height. A syntax error raises the exception Lark raises; a
tree deeper than `errors.MAX_DEPTH` or a bad literal makes `parser.parse` build Lark's tree
(`parse_tree`, by the same loop with Lark's own tree callbacks), which decides what is
reported, as before. tests/test_streaming_parser.py compares both ways on every spec.
"""

from __future__ import annotations

import lark
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

# The driver reads Lark's internals (its tables, scanners and parser state), as Lark 1.3 lays
# them out; tests/test_streaming_parser.py holds it equal to Lark's public parse there. Under
# any other Lark release the parser takes the public route (`parser.parse_public`) instead.
TESTED_LARK = ("1", "3")
try:
    from lark.lexer import LexerThread
    from lark.parsers.lalr_analysis import Shift
    from lark.parsers.lalr_interactive_parser import InteractiveParser
    from lark.parsers.lalr_parser_state import ParseConf, ParserState

    SUPPORTED = tuple(lark.__version__.split(".")[:2]) == TESTED_LARK
except ImportError:  # pragma: no cover - a Lark without these modules
    SUPPORTED = False


class Val:
    """A reduced value on the parser's stack: the value, its container span and tree height.

    Passed as `meta` to the `_ToAst` methods, which read the four position fields.
    """

    __slots__ = ("value", "line", "column", "end_line", "end_column", "height")

    def __init__(self, value, line, column, end_line, end_column, height):
        self.value = value
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.height = height


def _plan(rule):
    """Lark's child filter for `rule`: [(index, splice, Nones before)], Nones at the end."""
    empty = rule.options.empty_indices or []
    if empty:
        s = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in s.split("0")]
    else:
        nones = [0] * (len(rule.expansion) + 1)
    plan = []
    pending = 0
    for i, sym in enumerate(rule.expansion):
        pending += nones[i]
        if not (sym.is_term and sym.filter_out):
            plan.append((i, not sym.is_term and sym.name.startswith("_"), pending))
            pending = 0
    return plan, pending + nones[len(rule.expansion)]


def _rule_callback(rule, keep, build):
    """One closure for `rule`: filter and splice the raw children, then expand or build."""
    plan, trailing = _plan(rule)
    name = rule.alias or rule.origin.name
    expand1 = rule.options.expand1 and not rule.alias
    spliced = name.startswith("_")
    if expand1 and len(rule.expansion) == 1 and plan == [(0, False, 0)] and not trailing:
        return _identity  # `?sum: product`: the child, its container unchanged
    if not spliced and not expand1 and name not in build:
        raise AssertionError(f"rule {name} has no AST method")
    method = build.get(name)

    def callback(children):
        first = last = None  # the extent over the raw children (first and last with a position)
        height = 0
        for c in children:
            if type(c) is Val:
                if c.height > height:
                    height = c.height
                if c.line is None:
                    continue
            if first is None:
                first = c
            last = c
        if first is None:
            line = column = end_line = end_column = None
        else:
            line, column, end_line, end_column = first.line, first.column, last.end_line, last.end_column
        filtered = []
        for i, splice, before in plan:
            if before:
                filtered += [None] * before
            c = children[i]
            if splice:
                filtered += c.value
            else:
                filtered.append(c.value if type(c) is Val else c)
        if trailing:
            filtered += [None] * trailing
        if spliced:
            return Val(filtered, line, column, end_line, end_column, height)
        if expand1 and len(filtered) == 1:
            only = filtered[0]
            if isinstance(only, Token) or only is None:
                return only
            return Val(only, line, column, end_line, end_column, height)
        val = Val(None, line, column, end_line, end_column, height + 1)
        val.value = method(keep, val, filtered)
        return val

    return callback


class TooManyTokens(Exception):
    """The parse reached a token past its budget (`Limits.max_tokens`); carries that token."""

    def __init__(self, token: Token):
        super().__init__(str(token))
        self.token = token


class StreamingParser:
    """Lark's LALR tables and contextual lexer, driven by one loop (`_drive`).

    The loop does what Lark's `ContextualLexer.lex` and `ParserState.feed_token` do (the same
    per-state scanners, keyword callbacks, line counting and table actions) without their
    per-token calls and generator; where Lark raises, `_error` raises the exception Lark would
    (same token, expected set and parser state, so `accepts` is the same), which the syntax
    diagnostics read. Three sets of reductions: the AST (`parse`), Lark's own tree builders
    (`parse_tree`, the same tree as `Lark.parse`) and none (`recognize`, for error recovery).
    """

    def __init__(self, lark: Lark, build: dict):
        self._lark = lark
        self._table = lark.parser.parser.parser.parse_table
        self._rules = list(lark.rules)
        index = {rule: i for i, rule in enumerate(self._rules)}
        # Plain-str keys (Lark's are Tokens, whose __eq__ runs on every lookup) and rule numbers.
        self._states = {
            state: {str(kind): (True, arg) if action is Shift else (False, index[arg]) for kind, (action, arg) in actions.items()}
            for state, actions in self._table.states.items()
        }
        self._build = build
        self._lexers = _Scanners(lark.parser.lexer.lexers)
        tree_callbacks = lark._callbacks
        self._tree_rules = [(len(r.expansion), tree_callbacks[r], str(r.origin.name)) for r in self._rules]
        self._no_rules = [(len(r.expansion), _nothing, str(r.origin.name)) for r in self._rules]
        self.terminals = lark.terminals  # read by errors.describe_terminal
        self._units = {}  # (state below, state, lookahead) -> the state after single-child reductions
        self._last = ("", {})  # the last text parsed, and its parser states at line starts

    def parse(self, text: str, transformer, max_tokens: int | None = None):
        """(the `start` rule's value, the parse tree's height); raises what `Lark.parse` raises,
        or `TooManyTokens` at the first token past `max_tokens`."""
        rules = []
        for rule in self._rules:
            callback = _rule_callback(rule, transformer, self._build)
            rules.append((len(rule.expansion), None if callback is _identity else callback, str(rule.origin.name)))
        result = self._run(text, rules, budget=max_tokens)
        return (result.value, result.height) if type(result) is Val else (result, 0)

    def parse_tree(self, text: str, max_tokens: int | None = None):
        """The tree `Lark.parse(text)` returns (`TooManyTokens` as `parse`)."""
        return self._run(text, self._tree_rules, budget=max_tokens)

    def recognize(self, text: str) -> None:
        """Raises what `Lark.parse(text)` raises, and builds nothing.

        Error recovery parses the text again with one more line blanked each time: this resumes
        from the state the last parse had at a line start before the first changed character,
        which a parse from the start reaches too (the text before it is the same, and the
        newline token that ends there ends there in both: the two characters after it are the
        same as well). That keeps 20 errors at the end of a 1 MB spec from costing 21 parses.
        """
        self._run(text, self._no_rules, self._resume(text))

    def _resume(self, text):
        previous, checkpoints = self._last
        same = _common_prefix(previous, text) - 2
        best = max((p for p in checkpoints if p <= same), default=None)
        return None if best is None else (best, *checkpoints[best])

    @property
    def recognizer(self) -> "Recognizer":
        return Recognizer(self)

    def _run(self, text, rules, resume=None, budget=None):
        checkpoints = {}
        start = self._table.start_states["start"]
        try:
            begin = _begin(start, resume)
            budget = -1 if budget is None else budget + 1  # counted down to 0 at the token past it
            done, result = _drive(text, self._states, self._table.end_states["start"], self._lexers, rules, checkpoints, begin, self._units, budget)
        finally:
            self._last = (text, checkpoints)
        if done:
            return result
        if done is None:
            raise TooManyTokens(result)
        raise self._error(text, *result)

    def _error(self, text, state_stack, token, pos, line, column, last):
        """The exception Lark raises at this point: `token` unexpected, or no token at `pos`."""
        lark_lexer = self._lark.parser.lexer
        thread = LexerThread.from_text(lark_lexer, text)
        conf = ParseConf(self._table, self._lark._callbacks, "start")
        parser_state = ParserState(conf, thread, list(state_stack), [None] * (len(state_stack) - 1))
        interactive = InteractiveParser(self._lark.parser.parser.parser, parser_state, thread)
        if token is not None:
            expected = {s for s in self._table.states[state_stack[-1]].keys() if s.isupper()}
            err = UnexpectedToken(token, expected, state=parser_state)
        else:
            lexer = lark_lexer.lexers[state_stack[-1]]
            allowed = (lexer.scanner.allowed_types - lexer.ignore_types) or {"<END-OF-FILE>"}
            history = last and [last]
            err = UnexpectedCharacters(text, pos, line, column, allowed=allowed, token_history=history, state=parser_state, terminals_by_name=lexer.terminals_by_name)
            root = lark_lexer.root_lexer  # as ContextualLexer.lex: a token of another context
            found = _root_token(root, text, pos, line, column)
            if found is not None:
                err = UnexpectedToken(found, allowed, state=parser_state, token_history=[last], terminals_by_name=root.terminals_by_name)
        err.interactive_parser = interactive
        return err


class _Scanners(dict):
    """Per parser state: the scanner's match functions, ignored, newline and keyword terminals.

    Filled on first use, as Lark builds a state's scanner only when the lexer first needs it.
    """

    def __init__(self, lexers):
        super().__init__()
        self._lexers = lexers

    def __missing__(self, state):
        lexer = self._lexers[state]
        scanner = lexer.scanner  # built here; `callback` is set with it
        found = self[state] = ([mre.match for mre in scanner._mres], lexer.ignore_types, lexer.newline_types, lexer.callback)
        return found


class Recognizer:
    """What `errors.syntax_diagnostics` uses of a `Lark`: `parse` (to find the next error) and
    `terminals`, with `parse` building nothing."""

    def __init__(self, streaming: StreamingParser):
        self.parse = streaming.recognize
        self.terminals = streaming.terminals


def _root_token(root, text, pos, line, column):
    for mre in root.scanner._mres:
        m = mre.match(text, pos)
        if m:
            break
    else:
        return None
    value, kind = m.group(0), m.lastgroup
    end_line, line_start = line, pos - column + 1
    if kind in root.newline_types and value.count("\n"):
        end_line += value.count("\n")
        line_start = pos + value.rindex("\n") + 1
    token = Token(kind, value, pos, line, column, end_line, pos + len(value) - line_start + 1, pos + len(value))
    return root.callback[kind](token) if kind in root.callback else token


# Lark's Token constructor without its check for a deprecated keyword, where Lark has one.
_token = getattr(Token, "_future_new", Token)


def _identity(children):
    return children[0]


def _nothing(children):
    return None


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix (bisection on slice equality, which is memcmp)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _units(key, states, rules, end_state, units):
    """The state after the chain of single-child reductions that `key` starts.

    Each pops one state and pushes the goto of the same state below, so the chain's end depends
    on (state below, state, lookahead) only: Lark reduces them one by one to the same state.
    """
    below, state, kind = key
    state = states[below][rules[states[state][kind][1]][2]][1]
    while state != end_state:
        action = states[state].get(kind)
        if action is None or action[0] or rules[action[1]][1] is not None:
            break
        state = states[below][rules[action[1]][2]][1]
    units[key] = state
    return state


def _begin(state, resume):
    """The driver's start: (offset, state stack, value stack, line, line start, last token).

    `resume` (offset, *checkpoint) starts from a checkpoint instead, with None for the values
    (only `recognize` resumes: it reads none).
    """
    if resume is None:
        return 0, [state], [], 1, 0, None
    pos, stack, values, line, last = resume
    return pos, list(stack), [None] * values, line, pos, last


def _drive(text, states, end_state, lexers, rules, checkpoints, begin, units, budget):  # noqa: C901 - one loop on purpose
    """(True, the start rule's value), (False, what `StreamingParser._error` needs), or (None,
    the token past the budget). `checkpoints` gets {offset of a line start: (state stack, value
    count, line, last token)} for each newline token shifted."""
    pos, state_stack, value_stack, line, line_start, last = begin
    state, size = state_stack[-1], len(text)
    while True:
        if pos < size:  # the next token, from the scanner of the current state
            matchers, ignore, newline, keyword = lexers[state]
            for match in matchers:
                m = match(text, pos)
                if m:
                    break
            else:
                return False, (state_stack, None, pos, line, pos - line_start + 1, last)
            value, kind = m.group(0), m.lastgroup
            start, start_line, column = pos, line, pos - line_start + 1
            if kind in newline and "\n" in value:
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if kind in ignore:
                continue
            token = last = _token(kind, value, start, start_line, column, line, pos - line_start + 1, pos)
            if kind in keyword:
                kind = (token := keyword[kind](token)).type
            budget -= 1
            if not budget:
                return None, token
        else:
            token = Token.new_borrow_pos("$END", "", last) if last is not None else Token("$END", "", 0, 1, 1)
            kind = "$END"
        while True:
            action = states[state].get(kind)
            if action is None:
                return False, (state_stack, token, pos, line, pos - line_start + 1, last)
            shift, arg = action
            if shift:
                assert kind != "$END"  # as in Lark: the end is reached by a reduction
                state = arg
                state_stack.append(state)
                value_stack.append(token)
                if pos == line_start:  # a newline token: the state at the start of a line
                    checkpoints[pos] = (tuple(state_stack), len(value_stack), line, token)
                break
            length, callback, origin = rules[arg]
            if callback is None:  # `?sum: product`: the same value; a chain of these at once
                key = (state_stack[-2], state, kind)
                state = units.get(key)
                state_stack[-1] = state = _units(key, states, rules, end_state, units) if state is None else state
            else:
                cut = len(value_stack) - length
                children = value_stack[cut:]
                del value_stack[cut:]
                del state_stack[cut + 1 :]
                value_stack.append(callback(children))
                state = states[state_stack[-1]][origin][1]
                state_stack.append(state)
            if kind == "$END" and state == end_state:
                return True, value_stack[-1]
