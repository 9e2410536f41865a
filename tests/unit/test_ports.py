"""Port blocks for a stack's replicas (serve/launch.py): found after a load test too.

After a 1,500-student Locust run ~4,000 client sockets sat in TIME_WAIT on every other port of the
ephemeral range, and the next stack could not start ("no free block of ports")."""
from __future__ import annotations

import socket
from pathlib import Path

from serve.launch import _is_free, free_blocks, free_port


def ephemeral() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2]
    return int(low), int(high)


def test_two_disjoint_blocks_of_bindable_ports_outside_the_ephemeral_range():
    http, grpc = free_blocks(2, 16)
    assert abs(http - grpc) >= 16
    for first in (http, grpc):
        low, high = ephemeral()
        assert first + 16 <= low or first > high  # this machine leaves room on one side at least
        for port in range(first, first + 16):
            with socket.socket() as s:  # as uvicorn and gRPC bind their listeners
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", port))


def test_single_ports_come_from_outside_the_ephemeral_range_and_are_never_handed_out_twice():
    """A port the kernel chose for port 0 is ephemeral: an outgoing connection took one before
    HAProxy bound it, and every test on the shared stack errored (CI, session 10)."""
    low, high = ephemeral()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(p < low or p > high for p in ports)
    blocks = free_blocks(2, 16)
    assert not {p for first in blocks for p in range(first, first + 16)} & set(ports)


def test_a_listening_port_is_taken():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not _is_free(server.getsockname()[1])


def test_a_port_whose_connections_linger_in_time_wait_is_free_for_a_server():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server's side closes first: its socket on ``port`` goes to TIME_WAIT
        client.recv(1)
        client.close()
    assert _is_free(port)
