"""A second tenant's client, run as its own process by test_fairness.py (so its timings are not the test
process's busy event loop): GET one room every 50 ms for the given seconds, one fresh token each,
and print the latencies as JSON.

    python -m tests.api.fairness_probe BASE_URL ROOM_ID SECONDS < tokens.json"""

from __future__ import annotations

import json
import sys
import time

import httpx


def main() -> None:
    base, room_id, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    tokens: list[str] = json.loads(sys.stdin.read())
    latencies: list[float] = []
    with httpx.Client(timeout=30) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end and tokens:
            started = time.monotonic()
            resp = http.get(f"{base}/v1/meetings/rooms/{room_id}", headers={"Authorization": f"Bearer {tokens.pop()}"})
            if resp.status_code != 200:
                raise SystemExit(f"GET answered {resp.status_code}: {resp.text[:200]}")
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    print(json.dumps(latencies))


if __name__ == "__main__":
    main()
