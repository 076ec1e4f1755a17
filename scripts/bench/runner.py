"""Times commands inside one benchmark namespace: wall time, CPU time and peak RSS per run.

Usage: runner.py NETNS SPEC.json  -> prints one JSON object on stdout (progress on stderr).

Each run is a fresh fork: GNU time (`/usr/bin/time -f '%M %x'`) forks and waits for the command, so the peak RSS it
reports is the command's own (a fork of this Python process would inherit the interpreter's memory high-water mark).
The wall time is measured here around the wrapper; the wrapper's own cost is subtracted: before every measured run the
runner times `time true` and a bare `true`, and the difference of their medians (typically ~1 ms) is the overhead. Without GNU time the runner spawns the command itself and marks the RSS as an upper bound.
Commands are interleaved (warm-ups first, then run 1 of every command, run 2 of every command, ...) so that load from
other processes on the machine spreads evenly over the tools being compared.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep scripts/bench free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsutil  # noqa: E402

def _default_mem_cap() -> int:
    """Half of the machine's memory, at most 12 GiB (RLIMIT_AS; 0 = no cap). Override: PWT_BENCH_MEM_LIMIT_MIB."""
    env = os.environ.get("PWT_BENCH_MEM_LIMIT_MIB")
    if env is not None:
        return int(env) << 20
    try:
        with open("/proc/meminfo") as f:
            total = int(f.readline().split()[1]) << 10
    except (OSError, ValueError, IndexError):
        return 0
    return min(total // 2, 12 << 30)


MEM_CAP = _default_mem_cap()
TIME = next((p for p in ("/usr/bin/time", shutil.which("time") or "") if p and os.access(p, os.X_OK)), None)


def _open_in(path):
    return os.open(path or "/dev/null", os.O_RDONLY)


def run_once(cmd: dict, stdout_path: str | None, tmpdir: str, wrap: bool = True) -> dict:
    """One fork+exec of cmd; returns wall_ms, cpu_ms, rss_kib, rc, stderr (tail)."""
    env = dict(os.environ)
    env.update(cmd.get("env") or {})
    argv = list(cmd["argv"])
    rss_file = os.path.join(tmpdir, "rss")
    err_file = os.path.join(tmpdir, "stderr")
    wrap = wrap and bool(TIME)
    if wrap:
        full = [TIME, "-f", "%M %x", "-o", rss_file] + argv
    else:
        full = argv
    fin = _open_in(cmd.get("stdin"))
    fout = os.open(stdout_path or "/dev/null", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    ferr = os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    timeout = float(cmd.get("timeout") or 600)
    killed = []
    try:
        exe = shutil.which(full[0], path=env.get("PATH")) if "/" not in full[0] else full[0]
        if not exe:
            return {"error": f"command not found: {full[0]}", "rc": 127}
        # cap the command's address space (inherited through the wrapper) so a runaway tool fails alone instead of
        # pushing the whole machine into the OOM killer; only the soft limit is lowered, and only around the spawn
        mem_cap = cmd.get("mem_limit_bytes") or MEM_CAP
        old_as = resource.getrlimit(resource.RLIMIT_AS)
        if mem_cap:
            resource.setrlimit(resource.RLIMIT_AS, (mem_cap, old_as[1]))
        try:
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(exe, full, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1), (os.POSIX_SPAWN_DUP2, ferr, 2)])
        finally:
            if mem_cap:
                resource.setrlimit(resource.RLIMIT_AS, old_as)

        def _kill():
            killed.append(True)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, _kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, ru = os.wait4(pid, 0)
        except BaseException:
            _kill()
            os.waitpid(pid, 0)
            raise
        t1 = time.perf_counter_ns()
        timer.cancel()
    finally:
        for fd in (fin, fout, ferr):
            os.close(fd)
    rc = os.waitstatus_to_exitcode(status)
    res = {"wall_ms": (t1 - t0) / 1e6, "cpu_ms": (ru.ru_utime + ru.ru_stime) * 1000.0, "rc": rc}
    if wrap:
        try:
            with open(rss_file) as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
            last = lines[-1].split()
            res["rss_kib"] = int(last[0])
            res["rc"] = int(last[1]) if rc == 0 else rc
            sig = next((l.rsplit(" ", 1)[-1] for l in lines if l.startswith("Command terminated by signal")), None)
            if sig is not None:
                res["signal"] = int(sig)
                res["rc"] = 128 + int(sig)
        except (OSError, IndexError, ValueError):
            res["rss_kib"] = None
    else:
        res["rss_kib"] = ru.ru_maxrss  # upper bound: includes this runner's high-water mark
    if cmd.get("parse_timings"):
        # `PORTWARDEN_TIMINGS=1` makes portwarden print "timings: load 1.0 ms, evaluate 2.0 ms, render 3.0 ms".
        try:
            with open(err_file, errors="replace") as f:
                for line in f:
                    if line.startswith("timings: "):
                        res["timings"] = {k: float(v) for k, v in
                                          (part.strip().rsplit(" ", 2)[:2] for part in line[9:].split(","))}
        except (OSError, ValueError):
            pass
    if killed:
        res["error"] = f"timed out after {timeout:.0f} s"
    elif res.get("signal") or rc < 0:
        res["error"] = (f"killed by signal {res.get('signal') or -rc} (peak RSS {(res.get('rss_kib') or 0) >> 10} MiB;"
                        f" the address-space cap is {(cmd.get('mem_limit_bytes') or MEM_CAP) >> 20} MiB, so this may be running"
                        f" out of memory)")
    elif res["rc"] != 0:
        try:
            with open(err_file, errors="replace") as f:
                tail = f.read()[-600:].strip()
        except OSError:
            tail = ""
        res["error"] = f"exit {res['rc']}" + (f": {tail}" if tail else "")
    return res


def summarize(runs: list[dict]) -> dict:
    walls = [r["wall_ms"] for r in runs]
    rss = [r["rss_kib"] for r in runs if r.get("rss_kib") is not None]
    cpu = [r["cpu_ms"] for r in runs]
    phases = sorted({k for r in runs for k in (r.get("timings") or {})})
    timings = {k: statistics.median([r["timings"][k] for r in runs if k in (r.get("timings") or {})]) for k in phases}
    return {
        **({"timings_ms_median": timings} if timings else {}),
        "n": len(runs),
        "wall_ms_median": statistics.median(walls),
        "wall_ms_min": min(walls), "wall_ms_max": max(walls),
        "cpu_ms_median": statistics.median(cpu),
        "rss_kib_median": statistics.median(rss) if rss else None,
        "rss_kib_max": max(rss) if rss else None,
    }


def main() -> int:
    netns, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    def _stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    nsutil.die_with_parent(signal.SIGTERM)
    if os.getppid() == 1:
        return 1
    nsutil.enter_netns(netns)
    runs, warmup = int(spec.get("runs", 5)), int(spec.get("warmup", 1))
    out = {"netns": netns, "time_wrapper": TIME, "rss_exact": bool(TIME), "overhead_ms": 0.0, "commands": {}}
    with tempfile.TemporaryDirectory(prefix="pwt-bench-run-") as tmp:
        cal_wrapped: list[float] = []
        cal_bare: list[float] = []

        def calibrate() -> None:
            if spec.get("calibrate", True) and TIME:
                cal_wrapped.append(run_once({"argv": ["true"]}, None, tmp)["wall_ms"])
                cal_bare.append(run_once({"argv": ["true"]}, None, tmp, wrap=False)["wall_ms"])
        for _ in range(3):
            calibrate()
        cmds = spec["commands"]
        state = {c["name"]: {"argv": c["argv"], "runs": [], "warmups": [], "error": None} for c in cmds}
        for c in cmds:
            for i in range(warmup):
                wc = dict(c, argv=c.get("warmup_argv") or c["argv"])
                r = run_once(wc, c.get("warmup_stdout") or c.get("stdout"), tmp)
                state[c["name"]]["warmups"].append(r)
                print(f"    {c['name']}: warm-up {r.get('wall_ms', 0):.1f} ms"
                      + (f"  ERROR {r['error']}" if r.get("error") else ""), file=sys.stderr, flush=True)
                if r.get("error"):
                    state[c["name"]]["error"] = f"warm-up: {r['error']}"
                    break
        for i in range(runs):
            for c in cmds:
                st = state[c["name"]]
                if st["error"]:
                    continue
                calibrate()
                if i == 0 and warmup == 0 and (c.get("warmup_argv") or c.get("warmup_stdout")):
                    # no warm-up (s4): the first run writes the outputs the harness checks (snapshot, listings)
                    r = run_once(dict(c, argv=c.get("warmup_argv") or c["argv"]),
                                 c.get("warmup_stdout") or c.get("stdout"), tmp)
                else:
                    r = run_once(c, c.get("stdout"), tmp)
                print(f"    {c['name']}: run {i + 1}/{runs} {r.get('wall_ms', 0):.1f} ms"
                      + (f" rss {r['rss_kib'] / 1024:.1f} MiB" if r.get("rss_kib") else "")
                      + (f"  ERROR {r['error']}" if r.get("error") else ""), file=sys.stderr, flush=True)
                if r.get("error"):
                    st["error"] = f"run {i + 1}: {r['error']}"
                    continue
                st["runs"].append(r)
        if cal_wrapped:
            out["overhead_ms"] = max(0.0, statistics.median(cal_wrapped) - statistics.median(cal_bare))
            out["calibration_ms"] = {"time_true_median": statistics.median(cal_wrapped),
                                     "bare_true_median": statistics.median(cal_bare), "n": len(cal_wrapped)}
        overhead = out["overhead_ms"]
        for st in state.values():
            for r in st["runs"]:
                r["wall_ms_raw"] = r["wall_ms"]
                r["wall_ms"] = max(0.0, r["wall_ms"] - overhead)
        for name, st in state.items():
            if st["runs"]:
                st["summary"] = summarize(st["runs"])
            elif not st["error"] and runs == 0 and st["warmups"]:
                st["summary"] = summarize([dict(w, wall_ms=max(0.0, w["wall_ms"] - overhead)) for w in st["warmups"]])
            out["commands"][name] = st
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
