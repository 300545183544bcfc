#!/usr/bin/env python3
"""The best any poll schedule can do for a known task-time distribution.

A dynamic programme over a 50 ms grid (the same one modules/remote/src/poll_schedule.cpp runs on
the durations it learns): each next query minimises (time a finished task goes unseen) +
cost x (queries). Printed for a range of costs: queries per task, mean unseen time, and the slot
occupancy that implies (task / (task + unseen + overhead)). Standard library only.

Usage: python3 bench/poll_bound.py [--mean 6] [--sd 2] [--overhead 0.05]
"""
import argparse
import math


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mean", type=float, default=6.0)
    ap.add_argument("--sd", type=float, default=2.0)
    ap.add_argument("--overhead", type=float, default=0.05, help="create + query round trips (s)")
    a = ap.parse_args()
    s = math.sqrt(math.log(1 + (a.sd / a.mean) ** 2))
    mu = math.log(a.mean) - s * s / 2
    dt = 0.05
    n = int((a.mean + 8 * a.sd) / dt)

    def cdf(t):
        return 0.0 if t <= 0 else 0.5 * (1 + math.erf((math.log(t) - mu) / (s * math.sqrt(2))))

    F = [cdf(i * dt) for i in range(n + 1)]
    G = [0.0] * (n + 1)  # E[T 1{T <= t_i}]
    for i in range(1, n + 1):
        G[i] = G[i - 1] + (F[i] - F[i - 1]) * (i - 0.5) * dt

    print("cost/query(s)  queries/task  unseen(s)  occupancy")
    for lam in (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5):
        V = [0.0] * (n + 1)
        nxt = [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            surv = 1 - F[i]
            if surv < 1e-9:
                continue
            best = None
            for j in range(i + 1, min(n, i + 400) + 1):
                c = lam * surv + j * dt * (F[j] - F[i]) - (G[j] - G[i]) + V[j]
                if best is None or c < best:
                    best, nxt[i] = c, j
            V[i] = best
        i, polls, lag = 0, 0.0, 0.0
        while i < n and 1 - F[i] > 1e-9:
            j = nxt[i]
            polls += 1 - F[i]
            lag += j * dt * (F[j] - F[i]) - (G[j] - G[i])
            i = j
        occ = a.mean / (a.mean + lag + a.overhead)
        print(f"{lam:13.2f}  {polls:12.2f}  {lag:9.3f}  {occ:9.3f}")


if __name__ == "__main__":
    main()
