"""A synchronous handle on a real `resdsl lsp` subprocess, driven by pygls's LanguageClient.

The client's asyncio loop runs in a background thread; tests call `request`, `notify` and
`wait_diagnostics` from the test thread. The server logs to a file (`log`), so a failing test
can show what the server said, and a full stderr pipe can never block it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent


class Session:
    def __init__(self, log: Path, *, debounce_ms: int = 0, timeout: float = 60):
        self.log = log
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.published: dict[str, list[lsp.PublishDiagnosticsParams]] = {}
        self.changed = threading.Condition()
        self.client: LanguageClient = self._run(self._start(debounce_ms), timeout=120)

    def _run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout or self.timeout)

    async def _start(self, debounce_ms: int) -> LanguageClient:
        client = LanguageClient("resdsl-tests", "1")

        @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls, params: lsp.PublishDiagnosticsParams):
            with self.changed:
                self.published.setdefault(params.uri, []).append(params)
                self.changed.notify_all()

        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        args = ["-m", "resdsl", "lsp", "--debounce", str(debounce_ms), "--log-file", str(self.log)]
        await client.start_io(sys.executable, *args, env=env)
        capabilities = lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                completion=lsp.CompletionClientCapabilities(completion_item=lsp.ClientCompletionItemOptions(snippet_support=False)),
                hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
                document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
            )
        )
        await client.initialize_async(lsp.InitializeParams(capabilities=capabilities, process_id=os.getpid()))
        client.initialized(lsp.InitializedParams())
        return client

    # -- calls ---------------------------------------------------------------------------------------

    def request(self, method: str, params, timeout: float | None = None):
        """`method` is the client's async method name, e.g. "text_document_hover_async"."""
        return self._run(getattr(self.client, method)(params), timeout)

    def notify(self, method: str, params) -> None:
        async def send():
            getattr(self.client, method)(params)

        self._run(send())

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("text_document_did_open", lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="resdsl", version=version, text=text)))

    def change(self, uri: str, text: str, version: int) -> None:
        event = lsp.TextDocumentContentChangeWholeDocument(text=text)
        self.notify("text_document_did_change", lsp.DidChangeTextDocumentParams(lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), [event]))

    def close(self, uri: str) -> None:
        self.notify("text_document_did_close", lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri=uri)))

    def wait_diagnostics(self, uri: str, version: int | None = None, timeout: float | None = None) -> list[lsp.Diagnostic]:
        """The diagnostics published for `uri` (for `version`, when given)."""

        def ready():
            got = self.published.get(uri, [])
            return [p for p in got if version is None or p.version == version]

        with self.changed:
            if not self.changed.wait_for(ready, timeout or self.timeout):
                raise TimeoutError(f"no diagnostics for {uri} (version {version}); server log:\n{self.server_log()}")
            return list(ready()[-1].diagnostics)

    def at(self, uri: str, line: int, character: int):
        return lsp.TextDocumentIdentifier(uri=uri), lsp.Position(line=line, character=character)

    def hover(self, uri: str, line: int, character: int, timeout: float | None = None):
        return self.request("text_document_hover_async", lsp.HoverParams(*self.at(uri, line, character)), timeout)

    def definition(self, uri: str, line: int, character: int):
        return self.request("text_document_definition_async", lsp.DefinitionParams(*self.at(uri, line, character)))

    def completion(self, uri: str, line: int, character: int, timeout: float | None = None):
        return self.request("text_document_completion_async", lsp.CompletionParams(*self.at(uri, line, character)), timeout)

    def symbols(self, uri: str):
        return self.request("text_document_document_symbol_async", lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(uri=uri)))

    def formatting(self, uri: str):
        options = lsp.FormattingOptions(tab_size=4, insert_spaces=True)
        return self.request("text_document_formatting_async", lsp.DocumentFormattingParams(lsp.TextDocumentIdentifier(uri=uri), options))

    # -- lifetime ------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        server = self.client._server  # the subprocess pygls started
        return server is not None and server.returncode is None

    def server_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8")
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        try:
            if self.alive:
                self._run(self.client.shutdown_async(None), timeout=20)
                self.notify("exit", None)
                self._run(self.client.stop(), timeout=20)
        finally:
            server = self.client._server
            if server is not None and server.returncode is None:
                server.kill()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
