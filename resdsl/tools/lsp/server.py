"""`resdsl lsp`: the Language Server Protocol over stdio, on pygls.

Features: diagnostics as you type (full document sync, re-checked after a short debounce),
hover, go to definition, completion, document symbols and formatting. The answers come from
`resdsl.tools.lsp.document`; this module converts positions and types and keeps the server alive:
every handler is wrapped so that an exception is logged and answered with an empty result.

Positions: resdsl spans count characters from 1 on lines split at "\\n" only, as the compiler
splits them; LSP counts code units (UTF-16 unless the client and server agree on another
encoding) from 0 on lines split at "\\r\\n", "\\r" and "\\n". `positions.LineIndex` converts.

Requests whose parameters do not match the protocol (a negative line, say) are answered with
the JSON-RPC error InvalidParams, never left without a reply.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from pathlib import Path

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from resdsl._version import __version__
from resdsl.frontend import resources
from resdsl.compiler import PRELUDE
from resdsl.diagnostics import Diagnostic, ResdslError, Span
from resdsl.tools.lsp.document import LAYER_REGISTRY, Analysis, Candidate, Symbol, analyze
from resdsl.tools.lsp.positions import LineIndex

log = logging.getLogger("resdsl.tools.lsp")

DEBOUNCE_S = 0.1  # seconds between the last edit and the re-check that publishes diagnostics

_COMPLETION_KINDS = {
    "layer": lsp.CompletionItemKind.Function,
    "block": lsp.CompletionItemKind.Class,
    "option": lsp.CompletionItemKind.Property,
    "keyword": lsp.CompletionItemKind.Keyword,
    "shortcut": lsp.CompletionItemKind.EnumMember,
    "variable": lsp.CompletionItemKind.Variable,
    "parameter": lsp.CompletionItemKind.Field,
    "value": lsp.CompletionItemKind.Value,
}
_SYMBOL_KINDS = {
    "network": lsp.SymbolKind.Class,
    "block": lsp.SymbolKind.Function,
    "stage": lsp.SymbolKind.Module,
    "block_use": lsp.SymbolKind.Object,
    "layer": lsp.SymbolKind.Field,
    "let": lsp.SymbolKind.Variable,
}


def guarded(default=None):
    """Log a handler's exception and answer `default`: a bug must never take the server down."""

    def wrap(fn):
        @functools.wraps(fn)
        def handler(ls, params):
            try:
                return fn(ls, params)
            except Exception as err:  # noqa: BLE001 - the promise: log, never die
                log.exception("%s failed", fn.__name__)
                try:
                    ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"resdsl: {fn.__name__} failed: {type(err).__name__}: {err}"))
                except Exception:  # noqa: BLE001 - no client to tell
                    pass
                return default

        return handler

    return wrap


class Protocol(LanguageServerProtocol):
    """pygls's protocol, except that a request it cannot read gets an error reply.

    pygls raises while decoding such a message, before any handler runs, and only logs it: the
    client would wait for an answer forever.
    """

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as err:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=err.to_response_error())
            raise


class ResdslServer(LanguageServer):
    """A pygls server that keeps one `Analysis` per open document."""

    def __init__(self, debounce: float = DEBOUNCE_S):
        super().__init__("resdsl", __version__, protocol_cls=Protocol, text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.debounce = debounce
        self.analyses: dict[str, Analysis] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}

    # -- documents ---------------------------------------------------------------------------------

    def source_name(self, uri: str) -> str:
        """The name spans use for a document: its file name, as `resdsl check NAME` shows it."""
        path = to_fs_path(uri) or uri
        name = Path(path).name or path
        return path if name == PRELUDE else name  # never collide with the prelude's spans

    def is_prelude(self, uri: str) -> bool:
        path = to_fs_path(uri)
        try:
            return path is not None and Path(path).resolve() == resources.prelude_path().resolve()
        except OSError:
            return False

    def analysis(self, uri: str) -> Analysis:
        """The analysis of a document's current text (recomputed only when the text changed)."""
        text = self.workspace.get_text_document(uri).source
        cached = self.analyses.get(uri)
        if cached is not None and cached.text == text:
            return cached
        result = analyze(text, self.source_name(uri), library=self.is_prelude(uri), previous=cached)
        self.analyses[uri] = result
        return result

    def uri_for(self, analysis: Analysis, source: str, uri: str) -> str | None:
        if source == analysis.source:
            return uri
        if source == PRELUDE:
            return from_fs_path(str(resources.prelude_path()))
        if source == LAYER_REGISTRY:
            import resdsl.frontend.layers

            return from_fs_path(resdsl.frontend.layers.__file__)
        return None

    # -- positions ---------------------------------------------------------------------------------

    def units(self, text: str) -> int:
        """The length of `text` in the negotiated position encoding's code units."""
        try:
            encoding = self.workspace.position_encoding
        except RuntimeError:  # not initialized yet: the protocol's default
            encoding = lsp.PositionEncodingKind.Utf16
        if encoding == lsp.PositionEncodingKind.Utf8:
            return len(text.encode("utf-8"))
        if encoding == lsp.PositionEncodingKind.Utf32:
            return len(text)
        return len(text.encode("utf-16-le")) // 2

    def position(self, index: LineIndex, line: int, col: int) -> lsp.Position:
        """1-based (line, character column) -> LSP position, clamped to the text."""
        row, before = index.to_client(line, col)
        return lsp.Position(line=row, character=self.units(before))

    def range_of(self, index: LineIndex, span: Span) -> lsp.Range:
        return lsp.Range(start=self.position(index, span.line, span.column), end=self.position(index, span.end_line, span.end_column))

    def cursor(self, analysis: Analysis, pos: lsp.Position) -> tuple[int, int]:
        """LSP position -> 1-based (line, character column)."""
        text = analysis.index.client_line(pos.line)
        units, chars = 0, len(text)
        for i, ch in enumerate(text):
            if units >= pos.character:
                chars = i
                break
            units += self.units(ch)
        return analysis.index.from_client(pos.line, chars)

    def location(self, analysis: Analysis, span: Span, uri: str) -> lsp.Location | None:
        target = self.uri_for(analysis, span.source, uri)
        index = analysis.index_of(span.source)
        if target is None or index is None:
            return None
        return lsp.Location(uri=target, range=self.range_of(index, span))

    # -- diagnostics -------------------------------------------------------------------------------

    def diagnostic(self, analysis: Analysis, d: Diagnostic, uri: str) -> lsp.Diagnostic:
        """A resdsl diagnostic as the LSP shows it: same code, message (+ notes, help) and span."""
        related = []
        span = d.span
        if span is not None and span.source == analysis.source:
            rng = self.range_of(analysis.index, span)
        else:  # unlocated, or located outside this document (not relocated): line 1
            first = analysis.index.client_line(0)
            rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=self.units(first)))
            where = self.location(analysis, span, uri) if span is not None else None
            if where is not None:
                related.append(lsp.DiagnosticRelatedInformation(location=where, message=d.label or "here"))
        for note in d.notes:
            where = self.location(analysis, note.span, uri) if note.span is not None else None
            if where is not None:
                related.append(lsp.DiagnosticRelatedInformation(location=where, message=note.message))
        lines = [d.message]
        lines += [f"note: {n.message}" for n in d.notes if n.span is None]
        if d.help:
            lines.append(f"help: {d.help}")
        return lsp.Diagnostic(
            range=rng,
            message="\n".join(lines),
            severity=lsp.DiagnosticSeverity.Warning if d.severity == "warning" else lsp.DiagnosticSeverity.Error,
            code=d.code,
            source="resdsl",
            related_information=related or None,
        )

    def diagnostics(self, uri: str) -> list[lsp.Diagnostic]:
        analysis = self.analysis(uri)
        out = [self.diagnostic(analysis, d, uri) for d in analysis.diagnostics]
        if analysis.internal_error:
            out.append(
                lsp.Diagnostic(
                    range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                    message=f"resdsl: internal error: {analysis.internal_error} (please report this with the spec)",
                    severity=lsp.DiagnosticSeverity.Error,
                    source="resdsl",
                )
            )
        return out

    def publish(self, uri: str) -> None:
        self.timers.pop(uri, None)
        try:
            version = self.workspace.get_text_document(uri).version
            diagnostics = self.diagnostics(uri)
        except Exception:  # noqa: BLE001 - never die over one document
            log.exception("checking %s failed", uri)
            return
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))

    def schedule(self, uri: str) -> None:
        """Publish diagnostics once the edits stop for `debounce` seconds."""
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if self.debounce <= 0:
            self.publish(uri)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not under the event loop (a direct call): check now
            self.publish(uri)
            return
        self.timers[uri] = loop.call_later(self.debounce, self.publish, uri)

    def forget(self, uri: str) -> None:
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.analyses.pop(uri, None)
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # -- answers -------------------------------------------------------------------------------------

    def completion_item(self, c: Candidate, snippets: bool, word: lsp.Range | None = None) -> lsp.CompletionItem:
        """An item whose list text is its label. What it inserts, when that differs (`basic(`, or
        the snippet `basic(${1:width})$0` for a client that takes snippets), goes in a `textEdit`
        over the word being typed: a client that shows `insertText` in its list (eglot does)
        never sees one."""
        item = lsp.CompletionItem(
            label=c.label,
            kind=_COMPLETION_KINDS.get(c.kind, lsp.CompletionItemKind.Text),
            detail=c.detail or None,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=c.documentation) if c.documentation else None,
        )
        text = c.snippet if snippets and c.snippet else c.insert_text
        if text is not None and text != c.label and word is not None:
            item.text_edit = lsp.TextEdit(range=word, new_text=text)
            if snippets and c.snippet:
                item.insert_text_format = lsp.InsertTextFormat.Snippet
        return item

    def word_range(self, analysis: Analysis, pos: lsp.Position) -> lsp.Range:
        """The identifier that ends at the cursor (empty when none): what a completion replaces."""
        text = analysis.index.client_line(pos.line)
        units, before = 0, ""
        for ch in text:
            if units >= pos.character:
                break
            units += self.units(ch)
            before += ch
        word = re.search(r"[A-Za-z0-9_]*$", before).group()
        start = lsp.Position(line=pos.line, character=self.units(before[: len(before) - len(word)]))
        return lsp.Range(start=start, end=lsp.Position(line=pos.line, character=self.units(before)))

    def symbol(self, analysis: Analysis, s: Symbol) -> lsp.DocumentSymbol:
        return lsp.DocumentSymbol(
            name=s.name,
            kind=_SYMBOL_KINDS.get(s.kind, lsp.SymbolKind.Variable),
            detail=s.detail,
            range=self.range_of(analysis.index, s.span),
            selection_range=self.range_of(analysis.index, s.selection),
            children=[self.symbol(analysis, c) for c in s.children] or None,
        )

    def snippets(self) -> bool:
        try:
            return bool(self.client_capabilities.text_document.completion.completion_item.snippet_support)
        except AttributeError:
            return False


def whole_document(text: str, units) -> lsp.Range:
    """The range of a whole document, its lines split as LSP splits them (\\n, \\r\\n, \\r)."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=len(lines) - 1, character=units(lines[-1])))


def format_edits(text: str, source: str, units=lambda s: len(s.encode("utf-16-le")) // 2) -> list[lsp.TextEdit]:
    """The formatter's output as one whole-document edit; none for a syntax error or no change."""
    try:
        from resdsl.tools.format import format_text
    except ImportError:
        log.warning("formatting needs resdsl.tools.format, which this installation lacks")
        return []
    try:
        formatted = format_text(text, source)
    except ResdslError:
        return []  # syntax errors: leave the text alone (the diagnostics say why)
    if formatted == text:
        return []
    return [lsp.TextEdit(range=whole_document(text, units), new_text=formatted)]


def create_server(debounce: float = DEBOUNCE_S) -> ResdslServer:
    """A server with every feature registered (not started)."""
    server = ResdslServer(debounce)
    _register_document_sync(server)
    _register_questions(server)
    return server


def _register_document_sync(server: ResdslServer) -> None:
    """Open, change, save and close: each (re)checks or forgets a document."""

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @guarded()
    def did_open(ls: ResdslServer, params: lsp.DidOpenTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @guarded()
    def did_change(ls: ResdslServer, params: lsp.DidChangeTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @guarded()
    def did_save(ls: ResdslServer, params: lsp.DidSaveTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @guarded()
    def did_close(ls: ResdslServer, params: lsp.DidCloseTextDocumentParams):
        ls.forget(params.text_document.uri)


def _register_questions(server: ResdslServer) -> None:
    """Hover, definition, completion, symbols and formatting: answers from the analysis."""

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @guarded()
    def hover(ls: ResdslServer, params: lsp.HoverParams):
        analysis = ls.analysis(params.text_document.uri)
        found = analysis.hover(*ls.cursor(analysis, params.position))
        if found is None:
            return None
        text, span = found
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=ls.range_of(analysis.index, span))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @guarded(default=[])
    def definition(ls: ResdslServer, params: lsp.DefinitionParams):
        uri = params.text_document.uri
        analysis = ls.analysis(uri)
        spans = analysis.definition(*ls.cursor(analysis, params.position))
        return [loc for loc in (ls.location(analysis, s, uri) for s in spans) if loc is not None]

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ","]))
    @guarded(default=lsp.CompletionList(is_incomplete=False, items=[]))
    def completion(ls: ResdslServer, params: lsp.CompletionParams):
        analysis = ls.analysis(params.text_document.uri)
        found = analysis.completion(*ls.cursor(analysis, params.position))
        snippets, word = ls.snippets(), ls.word_range(analysis, params.position)
        return lsp.CompletionList(is_incomplete=False, items=[ls.completion_item(c, snippets, word) for c in found])

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded(default=[])
    def document_symbol(ls: ResdslServer, params: lsp.DocumentSymbolParams):
        analysis = ls.analysis(params.text_document.uri)
        return [ls.symbol(analysis, s) for s in analysis.symbols()]

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    @guarded(default=[])
    def formatting(ls: ResdslServer, params: lsp.DocumentFormattingParams):
        uri = params.text_document.uri
        return format_edits(ls.workspace.get_text_document(uri).source, ls.source_name(uri), ls.units)


def serve(*, debounce: float = DEBOUNCE_S, log_file: str | None = None, level: int = logging.WARNING) -> None:
    """Run the server on stdin/stdout until the client exits. Logs go to stderr or `log_file`."""
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    create_server(debounce).start_io()
