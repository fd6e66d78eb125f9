"""A stopping gevent worker closes its idle keep-alive connections at once.

Gunicorn's gevent worker waits, on stop or recycle, until every connection's greenlet ends; one
idle between two requests (Nginx keeps a pool of them) ends only when its keep-alive times out, so
each stop lasted the whole GUNICORN_GRACEFUL_TIMEOUT (benoitc/gunicorn#3227). With Gunicorn's public
hooks only: post_request notes a connection that stays open as idle, pre_request takes it back when
the next request has arrived, and a watcher started in post_worker_init shuts the idle ones down once
the worker stops. A request arriving in that instant sees the connection close, as with any server
closing an idle keep-alive connection; Nginx resends what is safe to resend.
"""

import socket
import weakref

import gevent

_idle: "weakref.WeakKeyDictionary[object, socket.socket]" = weakref.WeakKeyDictionary()  # greenlet -> socket
POLL = 0.2  # seconds between looks at worker.alive (Gunicorn's own loop looks once a second)


def pre_request(worker, req) -> None:  # Gunicorn's hook
    _idle.pop(gevent.getcurrent(), None)


def post_request(worker, req, environ: dict, resp) -> None:  # Gunicorn's hook
    sock = environ.get("gunicorn.socket")
    if sock is not None and resp is not None and not resp.should_close():
        _idle[gevent.getcurrent()] = sock


def close_idle() -> int:
    """Shut down every idle connection (its greenlet then sees the end of input); return how many."""
    closed = 0
    for sock in list(_idle.values()):
        try:
            # Through a duplicate: shutting the connection down through `sock` itself makes gevent
            # cancel the greenlet's pending read with an error (logged as one); this way it reads EOF.
            with socket.fromfd(sock.fileno(), sock.family, sock.type) as dup:
                dup.shutdown(socket.SHUT_RDWR)
            closed += 1
        except OSError:  # already closed by its greenlet (fileno() is -1)
            pass
    _idle.clear()
    return closed


def watch(worker) -> None:
    def run():
        while worker.alive:
            gevent.sleep(POLL)
        closed = close_idle()
        if closed:
            worker.log.info("closed %d idle keep-alive connections to stop sooner", closed)
    gevent.spawn(run)
