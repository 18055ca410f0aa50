"""The preflight the run command does before uvicorn starts with PROTOCOL=h1-tls.

uvicorn loads TLS_CERT and TLS_KEY (--ssl-certfile, --ssl-keyfile) in every worker process,
after the supervisor has bound the port; a missing, unreadable or broken file is then a
traceback per worker, and the supervisor starts the dead workers again. Loading the pair
here once, with the same standard-library call uvicorn makes, turns that into the
contract's one line on stderr and exit code 2 before anything listens.
"""

import os
import ssl
import sys


def preflight() -> int:
    """The exit code for the run command: 0 to go on and start uvicorn."""
    cert, key = os.environ.get("TLS_CERT", ""), os.environ.get("TLS_KEY", "")
    missing = [name for name, value in (("TLS_CERT", cert), ("TLS_KEY", key)) if not value]
    if missing:
        print(f"PROTOCOL=h1-tls needs {' and '.join(missing)} (PEM files)", file=sys.stderr)
        return 2
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (OSError, ValueError) as exc:
        # ssl.SSLError is an OSError; its text names the OpenSSL failure (bad PEM, key not
        # matching the certificate) but not the files, so both are named here.
        detail = " ".join(str(exc).split())
        print(f"cannot load TLS_CERT={cert!r} and TLS_KEY={key!r}: {detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(preflight())
