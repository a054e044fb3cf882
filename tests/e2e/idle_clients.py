#!/usr/bin/env python3
"""A hostile client for xlbd's listeners: opens N TCP connections to
HOST:PORT; half send the start of a request and then one header byte a
second (slowloris), half send nothing. Holds them up to --hold seconds and
prints JSON: how many were opened, and how many the server closed, and when
(seconds after the last was opened)."""
import argparse
import json
import select
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--unix", help="a Unix socket instead of HOST:PORT")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--hold", type=float, default=10.0)
    a = ap.parse_args()
    socks, failed, closed_early = [], 0, 0
    for i in range(a.count):
        s = socket.socket(socket.AF_UNIX) if a.unix else socket.socket()
        s.settimeout(2)
        try:
            s.connect(a.unix if a.unix else (a.host, a.port))
        except OSError:
            failed += 1
            s.close()
            continue
        s.setblocking(False)
        try:
            if i % 2:
                s.send(b'{"cmd": "hea' if a.unix else b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        except OSError:  # the server closed it already (above its cap): opened, and closed at once
            closed_early += 1
            s.close()
    start = time.monotonic()
    open_ = {s.fileno(): s for s in socks}
    closed_at = [0.0] * closed_early
    next_trickle = start + 1
    while open_ and time.monotonic() - start < a.hold:
        r, _, _ = select.select(list(open_), [], [], 0.1)
        for fd in r:
            s = open_[fd]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed_at.append(time.monotonic() - start)
                del open_[fd]
                s.close()
        if time.monotonic() >= next_trickle:
            next_trickle += 1
            for i, s in enumerate(list(open_.values())):
                if i % 2:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
    print(json.dumps({"opened": len(socks) + closed_early, "connect_failed": failed, "closed": len(closed_at),
                      "last_closed": max(closed_at) if closed_at else None}))
    for s in open_.values():
        s.close()


if __name__ == "__main__":
    main()
