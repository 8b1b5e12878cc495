#!/usr/bin/env python3
"""Desktop app benchmarks (BENCHMARKS.md): first paint with 100 000 VMs, one
burst of 1000 state changes applied by the window, scrolling through every
row (frame times from requestAnimationFrame in the real webview), idle CPU
and memory of the app with its WebKit processes. Run by tests/e2e/bench.sh.
POWERDECK_BENCH_VMS changes the fleet's size."""

import json
import os
import subprocess
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("POWERDECK_BIN_DIR", ROOT / "target" / "debug"))
APP = BIN / "powerdeck"
PDK = BIN / "pdk"
DATA = os.environ["POWERDECK_DATA_DIR"]
TICK = os.sysconf("SC_CLK_TCK")
SIZE = int(os.environ.get("POWERDECK_BENCH_VMS", "100000"))

# Scrolls the grid from top to bottom, a few rows per frame as a wheel or a
# dragged scrollbar would, then jumps to random places (every row new), and
# hands back the time between consecutive animation frames.
SCROLL = """
const done = arguments[arguments.length - 1];
const grid = document.getElementById('grid');
const frames = { smooth: [], jumps: [], work: [] };
const perf = window.__powerdeckPerf;
// The window reports how long it spent drawing each frame (older versions did not).
if ('calls' in perf) perf.frameWork = frames.work;
let last = null, phase = 'smooth', n = 0;
grid.scrollTop = 0;
function step(t) {
  if (last !== null) frames[phase].push(t - last);
  last = t;
  if (phase === 'smooth') {
    grid.scrollTop += 170;
    if (++n >= 600) { phase = 'jumps'; n = 0; }
  } else {
    grid.scrollTop = Math.floor(Math.random() * grid.scrollHeight);
    if (++n >= 200) { delete perf.frameWork; done(frames); return; }
  }
  requestAnimationFrame(step);
}
requestAnimationFrame(step);
"""


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def pdk(*args):
    subprocess.run([str(PDK), "--data-dir", DATA, *args], check=True, capture_output=True, timeout=600)


def wait_until(check, patience=120.0):
    deadline = time.time() + patience
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out")


def app_pids():
    """The app and every process under it (WebKit's web and network processes)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,comm"], capture_output=True, text=True).stdout.split("\n")[1:]
    procs = [l.split(None, 2) for l in out if l.strip()]
    roots = {p[0] for p in procs if p[2].startswith("powerdeck")}
    pids, grew = set(roots), True
    while grew:
        grew = False
        for pid, ppid, _ in procs:
            if ppid in pids and pid not in pids:
                pids.add(pid)
                grew = True
    return pids


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total


def thread_ticks(pids):
    """CPU ticks per (process, thread name): where an idle share goes."""
    out = {}
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                key = f"{comm(pid)} {name}"
                out[key] = out.get(key, 0) + int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def comm(pid):
    try:
        return f"{Path(f'/proc/{pid}/comm').read_text().strip()}[{pid}]"
    except FileNotFoundError:
        return pid


def memory_mb(pids):
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except FileNotFoundError:
            pass
    return rss / 1024, pss / 1024


def pss_parts(pid):
    """One process's PSS in MB, and how much of it is anonymous memory
    (heaps), files (the binary, libraries, mapped database pages) and shared
    memory (WebKit's buffers)."""
    parts = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Pss", "Pss_Anon", "Pss_File", "Pss_Shmem"):
                parts[key.lower()] = round(int(rest.split()[0]) / 1024, 1)
    except FileNotFoundError:
        pass
    return parts


def session():
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": str(APP)})
    return webdriver.Remote(command_executor="http://127.0.0.1:4444", options=options)


def main():
    # A calm fleet (no drift, so "idle" is idle), plus the demo fleet.
    pdk("accounts", "add", "sim", "big", "--size", str(SIZE), "--latency-ms", "5", "--page-size", "1000", "--drift-per-hour", "0")
    pdk("sync")
    results = {}

    started = time.time()
    driver = session()
    try:
        wait_until(lambda: driver.execute_script("return document.body.dataset.ready") == "true")
        results["launch_to_first_paint_s"] = time.time() - started
        results["first_paint_ms"] = driver.execute_script("return window.__powerdeckPerf.firstPaintMs")
        results["vms_shown"] = driver.execute_script("return document.getElementById('summary').textContent")
        results["binaries"] = str(BIN)
        results["webkit_disable_dmabuf_renderer"] = os.environ.get("WEBKIT_DISABLE_DMABUF_RENDERER", "(not set: the app chooses)")
        results["startup_marks_ms"] = driver.execute_script("return window.__powerdeckPerf.marks || null")

        driver.execute_script("window.__powerdeckPerf.applies = []; const p = window.__powerdeckPerf; const orig = Object.getOwnPropertyDescriptor(p, 'lastApply'); let v = null; Object.defineProperty(p, 'lastApply', { get() { return v; }, set(x) { v = x; p.applies.push(x); } });")
        pdk("sim", "flip", "big", "1000")
        applies = wait_until(lambda: (lambda a: a if sum(x["changes"] for x in a) >= 1000 else None)(driver.execute_script("return window.__powerdeckPerf.applies")))
        results["burst_batches"] = len(applies)
        results["burst_changes"] = sum(x["changes"] for x in applies)
        results["burst_apply_ms_total"] = sum(x["ms"] for x in applies)
        results["burst_apply_ms_max_batch"] = max(x["ms"] for x in applies)

        driver.set_script_timeout(120)
        frames = driver.execute_async_script(SCROLL)
        for phase in ("smooth", "jumps"):
            f = frames[phase][1:]  # the first frame carries the scroll's start-up
            results[f"scroll_{phase}_frames"] = len(f)
            results[f"scroll_{phase}_frame_ms_p50"] = percentile(f, 50)
            results[f"scroll_{phase}_frame_ms_p95"] = percentile(f, 95)
            results[f"scroll_{phase}_frame_ms_max"] = max(f)
        if frames["work"]:
            results["scroll_render_ms_p50"] = percentile(frames["work"], 50)
            results["scroll_render_ms_p95"] = percentile(frames["work"], 95)
        driver.execute_script("document.getElementById('grid').scrollTop = 0")

        # Idle as an app left open all day is idle: start-up and the burst
        # are over, and the "… ago" clocks have moved from seconds to minutes.
        time.sleep(70)
        pids = app_pids()
        before = {p: cpu_ticks([p]) for p in pids}
        threads_before = thread_ticks(pids)
        t0, c0 = time.time(), cpu_ticks(pids)
        time.sleep(30)
        t1, c1 = time.time(), cpu_ticks(pids)
        threads_after = thread_ticks(pids)
        results["idle_cpu_percent_of_one_core"] = 100.0 * (c1 - c0) / TICK / (t1 - t0)
        results["idle_cpu_by_process"] = {comm(p): round(100.0 * (cpu_ticks([p]) - before[p]) / TICK / (t1 - t0), 2) for p in pids}
        by_thread = {k: round(100.0 * (v - threads_before.get(k, v)) / TICK / (t1 - t0), 2) for k, v in threads_after.items()}
        results["idle_cpu_by_thread"] = dict(sorted(((k, v) for k, v in by_thread.items() if v > 0), key=lambda kv: -kv[1]))
        rss, pss = memory_mb(pids)
        results["pss_by_process"] = {comm(p): pss_parts(p) for p in pids}
        results["processes"] = len(pids)
        results["rss_mb_sum"] = rss
        results["pss_mb_sum"] = pss
    finally:
        driver.quit()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
