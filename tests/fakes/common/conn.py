"""What every fake does to a connection."""

import socket

GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    504: "504 Gateway Time-out",
}


def drop(handler):
    """Close a request handler's connection without a byte of answer (an
    outage, or an answer lost on purpose)."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def lose(handler, how):
    """Lose the answer to a request that was carried out, as `Cuts.take`
    said: close the connection, or answer as the gateway in front of the
    server does (nginx's page for that status)."""
    if how == "drop":
        return drop(handler)
    title = GATEWAY_PAGES[how]
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n".encode()
    handler.close_connection = True
    handler.send_response(how)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
