"""Serve a simulator's WSGI app over HTTP on 127.0.0.1 (the demo and manual poking).

Tests never use this: they mount the same apps in process with httpx.WSGITransport.
Each simulator package exposes `create_app(**options)` returning a WSGI callable.
"""
from __future__ import annotations

import importlib
import socketserver
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

SIMULATORS = {
    "vantagepoint": "sandbox.vantagepoint",
    "cleo": "sandbox.cleo",
    "stripe": "sandbox.stripe",
}


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - wsgiref's name
        pass


def create_simulator(name: str, **options: Any) -> Callable:
    if name not in SIMULATORS:
        raise KeyError(f"unknown simulator '{name}'; known: {', '.join(sorted(SIMULATORS))}")
    return importlib.import_module(SIMULATORS[name]).create_app(**options)


def serve(app: Callable, *, port: int, host: str = "127.0.0.1", quiet: bool = True) -> WSGIServer:
    return make_server(host, port, app, server_class=_ThreadingWSGIServer,
                       handler_class=_QuietHandler if quiet else WSGIRequestHandler)


def serve_in_thread(app: Callable, *, port: int = 0) -> tuple[WSGIServer, threading.Thread]:
    server = serve(app, port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
