#!/usr/bin/env python3
"""Lab client: N HTTP requests to a VIP, each on a new TCP connection, with
a bound on time. Prints JSON: per-node counts (from X-API-Node) and failures."""
import argparse
import http.client
import json
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds for the whole run")
    ap.add_argument("--interval", type=float, default=0.0, help="pause between requests")
    a = ap.parse_args()
    nodes, failures, errors = {}, 0, []
    stop = time.monotonic() + a.deadline
    for i in range(a.count):
        if time.monotonic() > stop:
            failures += a.count - i
            errors.append("deadline")
            break
        try:
            c = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
            c.request("GET", "/api/v2/ping/")
            r = c.getresponse()
            r.read()
            node = r.getheader("X-API-Node", "?")
            c.close()
            if r.status != 200:
                raise RuntimeError("status %d" % r.status)
            nodes[node] = nodes.get(node, 0) + 1
        except Exception as e:  # every failure is reported, none hidden
            failures += 1
            errors.append(str(e))
        if a.interval:
            time.sleep(a.interval)
    print(json.dumps({"nodes": nodes, "failures": failures, "errors": errors[:5]}))


if __name__ == "__main__":
    main()
