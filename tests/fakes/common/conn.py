"""What every fake does to a connection."""

import socket


def drop(handler):
    """Close a request handler's connection without a byte of answer (an
    outage, or an answer lost on purpose)."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
