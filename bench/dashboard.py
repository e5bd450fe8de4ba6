"""Dashboard benchmark: how fast its pages render with 200 functions defined, beside a bare round trip.

    python bench/dashboard.py [--functions 200] [--loads 10]

Starts its own server on loopback, creates ``--functions`` functions (and invokes one, so that
the journal and the environments page have something to show), then loads each page of the
dashboard ``--loads`` times in Debian's headless Chromium driven by Playwright: a fresh
navigation each time (from about:blank), the time read in the page as ``performance.now()``
when the route's view is rendered (``window.dashboardTimings``, set by ``app.js``), that is from
the start of navigation to the view on screen with its data. Two figures per page: loads that
revalidate the page's files (a browser that has been there: 304s), and loads in a fresh browser
context (everything fetched). Also printed: the bare HTTP round trip (GET /_localstack/health on
one keep-alive connection) and the one request the functions list makes
(GET /_dashboard/api/functions), and the browser's own share: a page of this server without
scripts (a JSON answer), navigation to its load event. No thresholds: figures only (issue 12 asks for under 200 ms).
"""

from __future__ import annotations

import argparse
import http.client
import io
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

HANDLER = "def handler(event, context):\n    print('hello from the benchmark')\n    return event\n"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def timed(conn: http.client.HTTPConnection, path: str, n: int) -> list[float]:
    out = []
    for i in range(n + 20):
        t = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path} → {resp.status}")
        if i >= 20:
            out.append((time.perf_counter() - t) * 1000)
    return out


def code() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", HANDLER)
    return buf.getvalue()


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--loads", type=int, default=10, help="loads of each page per figure")
    args = parser.parse_args()

    with Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": "local"}) as server:
        client = server.client()
        zipped = code()
        t = time.perf_counter()
        for i in range(args.functions):
            client.create_function(
                FunctionName=f"bench-dashboard-{i:03d}",
                Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
                Handler="handler.handler",
                Role=ROLE,
                Code={"ZipFile": zipped},
                Tags={"bench": "dashboard"},
            )
        created = time.perf_counter() - t
        first = "bench-dashboard-000"
        client.invoke(FunctionName=first, Payload=b'{"bench": true}')

        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        bare = timed(conn, "/_localstack/health", 200)
        listing = timed(conn, "/_dashboard/api/functions", 50)
        conn.close()

        pages = {
            "functions": "#/functions",
            "function": f"#/functions/{first}",
            "function invoke tab": f"#/functions/{first}/invoke",
            "journal": "#/journal",
            "layers": "#/layers",
            "environments": "#/environments",
        }
        results: list[tuple[str, list[float], list[float]]] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # The browser's own share: a page of this server without scripts or styles (a JSON
            # answer), navigation → load event.
            context = browser.new_context()
            page = context.new_page()
            blank: list[float] = []
            for _ in range(args.loads + 1):
                page.goto("about:blank")
                page.goto(f"{server.url}/_dashboard/api/server")
                blank.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            blank = blank[1:]
            context.close()
            for label, route in pages.items():
                url = f"{server.url}/_dashboard/{route}"
                warm: list[float] = []
                cold: list[float] = []
                context = browser.new_context()
                page = context.new_page()
                page.goto(url)  # the files in this context's cache
                page.wait_for_selector("html[data-rendered]")
                for _ in range(args.loads):
                    page.goto("about:blank")
                    page.goto(url)
                    page.wait_for_selector("html[data-rendered]")
                    warm.append(page.evaluate("window.dashboardTimings.ms"))
                context.close()
                for _ in range(args.loads):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_selector("html[data-rendered]")
                    cold.append(page.evaluate("window.dashboardTimings.ms"))
                    context.close()
                results.append((label, warm, cold))
            browser.close()

    print(
        f"locallambda dashboard, {args.functions} functions (created in {created:.1f} s), python {sys.version.split()[0]}"
    )
    print(f"bare HTTP round trip (GET /_localstack/health), n=200          p50 {pct(bare, 0.5):7.2f} ms")
    print(f"GET /_dashboard/api/functions ({args.functions} rows), n=50          p50 {pct(listing, 0.5):7.2f} ms")
    print(f"a page without scripts (JSON), navigation → load, n={args.loads}         p50 {pct(blank, 0.5):7.2f} ms")
    print(f"navigation → view rendered, p50 (max) of {args.loads} loads:")
    print(f"  {'page':<22} {'revalidated':>18} {'fresh context':>18}")
    for label, warm, cold in results:
        print(f"  {label:<22} {pct(warm, 0.5):9.1f} ({max(warm):5.1f}) ms {pct(cold, 0.5):9.1f} ({max(cold):5.1f}) ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
