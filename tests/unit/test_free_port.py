"""The tests' port picker: a port handed to a server started later must still be free when it binds."""

import socket

from support.gunicorn import ephemeral_ports, free_port


def test_ports_are_distinct_bindable_and_outside_the_ephemeral_range():
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports), "a port was handed out twice"
    assert not set(ports) & set(ephemeral_ports()), "a port the kernel may give to a connection meanwhile"
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_handed_out():
    top = ephemeral_ports().start
    held = []
    try:
        for port in range(max(1024, top - 12000), max(1024, top - 12000) + 3000):  # a quarter of the candidates
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        in_use = {s.getsockname()[1] for s in held}
        assert len(in_use) > 2000
        assert not in_use & {free_port() for _ in range(300)}
    finally:
        for sock in held:
            sock.close()
