"""The fault tests' TCP proxy does what they rely on: forwards, refuses and drops while
cut, forwards again on the same port once restored (against a local echo server)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.faults.proxy import TcpProxy

pytestmark = pytest.mark.faults(budget_seconds=20)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def _roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return sock.recv(4096)


def test_the_proxy_forwards_refuses_and_drops_while_cut_and_forwards_again_once_restored(
    echo_port: int,
) -> None:
    proxy = TcpProxy("127.0.0.1", echo_port)
    port = proxy.start()
    try:
        held = socket.create_connection(("127.0.0.1", port), timeout=2)
        assert _roundtrip(held, b"before") == b"before"

        proxy.cut()
        assert held.recv(4096) == b""  # the open connection was dropped
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)

        proxy.restore()
        assert proxy.port == port
        with socket.create_connection(("127.0.0.1", port), timeout=2) as again:
            assert _roundtrip(again, b"after") == b"after"
        assert proxy.accepted == 2
    finally:
        held.close()
        proxy.close()
