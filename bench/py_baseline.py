#!/usr/bin/python3
"""The script a user would write in half an hour, as the yardstick for `cvgen batch`.

A thread pool of C workers; each reads an image, base64-encodes it, creates a Kling expand task
(AnyAPI route, Bearer key), polls it every POLL seconds, downloads the result, decodes it with
PIL, pastes the original back onto the exact target canvas and writes a BMP. Debian's
python3-requests and python3-pil only (run with /usr/bin/python3).

Usage: py_baseline.py --base-url URL --key KEY --in DIR --out DIR --width W --height H
                      [--concurrency 16] [--poll 1.0]
Prints one line: "PY_RESULT ok=N failed=M wall_s=S polls=Q".
"""
import argparse
import base64
import concurrent.futures
import io
import os
import sys
import threading
import time

import requests
from PIL import Image

ROUTE = "/kling/v1/images/editing/expand"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--in", dest="inp", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--poll", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    local = threading.local()
    polls = [0]
    polls_lock = threading.Lock()

    def session():
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["Authorization"] = "Bearer " + a.key
        return local.s

    def one(name):
        path = os.path.join(a.inp, name)
        with open(path, "rb") as f:
            raw = f.read()
        src = Image.open(io.BytesIO(raw))
        w, h = src.size
        lr = (a.width - w) / 2 / w
        ud = (a.height - h) / 2 / h
        body = {
            "image": base64.b64encode(raw).decode(),
            "up_expansion_ratio": ud,
            "down_expansion_ratio": ud,
            "left_expansion_ratio": lr,
            "right_expansion_ratio": lr,
            "n": 1,
            "external_task_id": "py-" + name,
        }
        s = session()
        r = s.post(a.base_url + ROUTE, json=body, timeout=60)
        r.raise_for_status()
        task_id = r.json()["data"]["task_id"]
        while True:
            time.sleep(a.poll)
            with polls_lock:
                polls[0] += 1
            q = s.get(a.base_url + ROUTE + "/" + task_id, timeout=60).json()["data"]
            if q["task_status"] == "succeed":
                url = q["task_result"]["images"][0]["url"]
                break
            if q["task_status"] == "failed":
                raise RuntimeError(q.get("task_status_msg", "failed"))
        img = Image.open(io.BytesIO(s.get(url, timeout=60).content)).convert("RGB")
        canvas = img.resize((a.width, a.height))
        canvas.paste(src.convert("RGB"), ((a.width - w) // 2, (a.height - h) // 2))
        canvas.save(os.path.join(a.out, os.path.splitext(name)[0] + ".bmp"))

    names = sorted(n for n in os.listdir(a.inp) if n.lower().endswith((".jpg", ".png")))
    t0 = time.monotonic()
    ok = failed = 0
    with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(one, n) for n in names]):
            try:
                fut.result()
                ok += 1
            except Exception as e:  # noqa: BLE001 - a benchmark counts failures
                failed += 1
                print("py_baseline:", e, file=sys.stderr)
    wall = time.monotonic() - t0
    print("PY_RESULT ok=%d failed=%d wall_s=%.3f polls=%d" % (ok, failed, wall, polls[0]))


if __name__ == "__main__":
    main()
