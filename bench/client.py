"""The benchmark's HTTP client, in a process of its own: logged-in GETs over one keep-alive
connection, timed from request to the last byte. Prints JSON {page: {p50_ms, p95_ms, ...}}.

    python bench/client.py PORT SESSION_KEY '{"dashboard": ["/dashboard/"], ...}' REQUESTS
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    port, cookie, pages, requests = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    headers = {
        "Cookie": cookie,
        "X-Forwarded-Proto": "https",  # as behind the TLS-terminating proxy of production settings
        "Host": "127.0.0.1",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results = {}
    for name, paths in pages.items():
        timings = []
        for i in range(requests + 5):  # 5 warm-up requests, not counted
            path = paths[i % len(paths)]
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status} {body[:200]!r}")
            if i >= 5:
                timings.append(elapsed)
        results[name] = {
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile(timings, 0.95), 1),
            "max_ms": round(max(timings), 1),
            "requests": len(timings),
            "bytes": len(body),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
