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
    ap.add_argument("--log", action="store_true",
                    help="also list every request: [monotonic start time, node or null, error or null]")
    a = ap.parse_args()
    nodes, failures, errors, log = {}, 0, [], []
    stop = time.monotonic() + a.deadline
    for i in range(a.count):
        if time.monotonic() > stop:
            failures += a.count - i
            errors.append("deadline")
            break
        t0 = time.monotonic()
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
            log.append([t0, node, None])
        except Exception as e:  # every failure is reported, none hidden
            failures += 1
            errors.append(str(e))
            log.append([t0, None, str(e) or type(e).__name__])
        if a.interval:
            time.sleep(a.interval)
    out = {"nodes": nodes, "failures": failures, "errors": errors[:5]}
    if a.log:
        out["log"] = log
    print(json.dumps(out))


if __name__ == "__main__":
    main()
