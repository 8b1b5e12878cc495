"""A throwaway certificate authority for the test fakes that speak HTTPS.

Each fake run gets a fresh CA (trustme) that signs a certificate for
127.0.0.1 and localhost. The CA is written to `<state_dir>/ca.pem`, so the
client under test (and the vendor's SDK used as witness) can trust exactly it.
"""

import os
import ssl

import trustme


def server_context(state_dir):
    """Returns (ssl.SSLContext for the server, absolute path of ca.pem)."""
    os.makedirs(state_dir, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", "127.0.0.2")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    ca_path = os.path.abspath(os.path.join(state_dir, "ca.pem"))
    ca.cert_pem.write_to_path(ca_path)
    return ctx, ca_path
