#!/usr/bin/env python3
"""portwarden benchmark: `portwarden collect` beside `ss -tulpn` and `nft -j list ruleset` on synthetic hosts,
plus the evaluator (`exposure`, batch `trace`). Python 3 standard library only; needs root, ip, nft, ss.

Every host lives in its own network namespace `pwt-bench-<scale>-<pid>`; nothing outside it is touched.
See BENCHMARKS.md for the figures and docs/performance-baselines.md for how the hosts are built.

    python3 scripts/bench/bench.py --scales s1,s2,s3 [--runs 5 --warmup 1] [--portwarden PATH]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep scripts/bench free of __pycache__
sys.path.insert(0, HERE)
import nsutil  # noqa: E402
import probes as probegen  # noqa: E402
import synthhost as sh  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DOC_FLOOR_MS = {  # docs/performance-baselines.md, another machine: sock_diag + /proc owner map + raw nfnetlink dump
    "s1": 4.0 + 1.7, "s2": 8.1 + 15.3, "s3": 44.4 + 1420, "s4": 209 + 92504,
}
DOC_NFT_J_MS = {"s1": 8.3, "s2": 83.2, "s3": 1737, "s4": 112763}
DOC_SS_P_MS = {"s1": 8.2, "s2": 21.1, "s3": 114, "s4": 1153}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- cleanup
class Cleanup:
    """Everything the harness created, torn down in reverse order whatever happens (exceptions, Ctrl-C, SIGTERM)."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def run(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        for ns in reversed(self.namespaces):
            if not ns.startswith(nsutil.NETNS_PREFIX):
                continue
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.namespaces.clear()


CLEANUP = Cleanup()


def _on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def stale_namespaces() -> list[str]:
    """pwt-bench-* namespaces whose creating harness (the pid in the name) is gone."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    stale = []
    for line in out.splitlines():
        name = line.split()[0] if line.strip() else ""
        m = re.fullmatch(r"pwt-bench-[a-z0-9]+-(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            stale.append(name)
    return stale


# ----------------------------------------------------------------------------------------------- host
def sh_run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[:500]}")
    return r


def run_spec(ns: str, spec: dict, workdir: str, tag: str) -> dict:
    path = os.path.join(workdir, f"spec-{tag}.json")
    with open(path, "w") as f:
        json.dump(spec, f, indent=1)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "runner.py"), ns, path],
                         stdout=subprocess.PIPE, text=True)
    CLEANUP.procs.append(p)
    try:
        out, _ = p.communicate()
    except BaseException:
        p.terminate()   # the runner kills the command it is timing, then exits
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
        raise
    finally:
        if p in CLEANUP.procs:
            CLEANUP.procs.remove(p)
    if p.returncode != 0:
        raise RuntimeError(f"runner failed (exit {p.returncode})")
    return json.loads(out)


def build_host(scale: str, ns: str, workdir: str, seed: int, timeout: float) -> tuple[dict, list[sh.Sock]]:
    n_listeners, n_rules, k_elements = sh.SCALES[scale]
    info: dict[str, Any] = {"netns": ns}
    t0 = time.time()
    socks = sh.socket_plan(n_listeners, seed)
    text, summary = sh.ruleset(n_rules, k_elements, socks, seed)
    rules_path = os.path.join(workdir, "ruleset.nft")
    with open(rules_path, "w") as f:
        f.write(text)
    info["ruleset"] = summary
    info["ruleset_bytes"] = len(text)
    info["generate_s"] = round(time.time() - t0, 2)

    sh_run(["ip", "netns", "add", ns])
    CLEANUP.namespaces.append(ns)
    sh_run(["ip", "-n", ns, "link", "set", "lo", "up"])
    sh_run(["ip", "-n", ns, "link", "add", sh.IFACE, "type", "veth", "peer", "name", sh.PEER])
    sh_run(["ip", "-n", ns, "addr", "add", f"{sh.HOST4}/{sh.HOST4_PREFIX}", "dev", sh.IFACE])
    sh_run(["ip", "-n", ns, "addr", "add", f"{sh.HOST6}/{sh.HOST6_PREFIX}", "dev", sh.IFACE, "nodad"])
    sh_run(["ip", "-n", ns, "link", "set", sh.IFACE, "up"])
    sh_run(["ip", "-n", ns, "link", "set", sh.PEER, "up"])

    # the ruleset: one `nft -f` transaction, timed like everything else (1 run)
    log(f"  loading the ruleset ({summary['rules']} rules, {summary['set_elements']} set elements, "
        f"{len(text) / 1e6:.1f} MB) with one nft -f ...")
    load = run_spec(ns, {"runs": 1, "warmup": 0, "calibrate": True, "commands": [
        {"name": "nft -f", "argv": ["nft", "-f", rules_path], "timeout": timeout}]}, workdir, "load")
    info["nft_load"] = load["commands"]["nft -f"]
    if info["nft_load"].get("error"):
        # go on: the socket side (collect, ss) can still be measured; the report shows the error
        log(f"  ERROR loading the ruleset: {info['nft_load']['error']}; continuing without it")
        info["ruleset_error"] = info["nft_load"]["error"]

    # the holders
    t1 = time.time()
    chunks = sh.holder_chunks(socks)
    holders = []
    for i, chunk in enumerate(chunks):
        plan_path = os.path.join(workdir, f"holder-{i}.json")
        with open(plan_path, "w") as f:
            json.dump([s.plan_entry() for s in chunk], f)
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "holder.py"), ns, plan_path, str(i)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        CLEANUP.procs.append(p)
        holders.append(p)
    opened = failed = 0
    for p in holders:
        line = p.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"holder {p.pid} did not start (exit {p.poll()})")
        opened += int(line[1])
        failed += int(line[2])
    info["holders"] = len(holders)
    info["sockets_opened"] = opened
    info["sockets_failed"] = failed
    info["holders_s"] = round(time.time() - t1, 2)
    log(f"  {opened} sockets held by {len(holders)} holder process(es)"
        + (f", {failed} FAILED to bind" if failed else "") + f" ({info['holders_s']} s)")
    return info, socks


# ----------------------------------------------------------------------------------------------- checks
def count_ss(path: str) -> int | None:
    try:
        with open(path) as f:
            return sum(1 for line in f if line.startswith(("tcp", "udp")))
    except OSError:
        return None


def count_nft_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    rules = elems = 0
    for obj in doc.get("nftables", []):
        if "rule" in obj:
            rules += 1
        elif "set" in obj and obj["set"].get("name") == "pw_prefixes":
            elems += len(obj["set"].get("elem", []))
    return {"rules": rules, "pw_prefixes_elements": elems}


def count_snapshot(path: str) -> dict | None:
    try:
        size = os.path.getsize(path)
        if size > 1 << 30:
            return {"bytes": size, "note": "larger than 1 GiB, not parsed"}
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": str(e)} if os.path.exists(path) else None
    out: dict[str, Any] = {"bytes": size, "schema": doc.get("schema")}
    ls = doc.get("listeners")
    if isinstance(ls, list):
        out["listeners"] = len(ls)
    fw = doc.get("firewall") or {}
    out["firewall_status"] = fw.get("status") if isinstance(fw, dict) else None
    rules = elems = prefixes = 0
    tables = fw.get("tables") if isinstance(fw, dict) else None
    for t in tables or []:
        for c in t.get("chains") or []:
            rules += len(c.get("rules") or [])
        for s in t.get("sets") or []:
            if isinstance(s, dict):
                elems += len(s.get("elements") or [])
                if s.get("name") == "pw_prefixes":
                    prefixes += len(s.get("elements") or [])
    if tables is not None:
        out["rules"] = rules
        out["set_elements_all"] = elems
        out["pw_prefixes_kernel_elements"] = prefixes
    return out


def trace_summary(path: str) -> dict | None:
    try:
        verdicts: dict[str, int] = {}
        delivered = lines = 0
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                lines += 1
                o = json.loads(line)
                verdicts[str(o.get("verdict"))] = verdicts.get(str(o.get("verdict")), 0) + 1
                delivered += 1 if o.get("delivered") is True else 0
        return {"lines": lines, "verdicts": verdicts, "delivered": delivered}
    except (OSError, ValueError) as e:
        return {"error": str(e)}


# ----------------------------------------------------------------------------------------------- portwarden
def detect_rule_dump(pw: str, requested: str) -> dict:
    """How to choose the collector's rule dump strategy: a `--rule-dump` style option in `collect --help`, or an
    environment variable named in the binary. requested: auto | none | FLAG=v1,v2 | env:NAME=v1,v2."""
    if requested == "none":
        return {"how": None, "note": "disabled"}
    m = re.fullmatch(r"(env:)?([A-Za-z0-9_-]+)=([\w,-]+)", requested)
    if m:
        return {"how": "env" if m.group(1) else "flag", "name": m.group(2), "values": m.group(3).split(",")}
    try:
        help_text = subprocess.run([pw, "collect", "--help"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"how": None, "note": f"cannot run {pw}: {e}"}
    fm = re.search(r"(--rule-dump[a-z-]*|--dump-strategy|--rules-dump[a-z-]*)", help_text)
    known = ["per-chain", "whole", "auto", "chain", "ruleset", "per-table"]
    if fm:
        seg = help_text[fm.start(): fm.start() + 400]
        values = [v for v in known if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", seg)]
        values = [v for v in values if v != "auto"] or ["per-chain", "whole"]
        return {"how": "flag", "name": fm.group(1), "values": values}
    try:
        with open(pw, "rb") as f:
            blob = f.read()
        em = re.search(rb"PORTWARDEN_RULE_DUMP[A-Z_]*", blob)
    except OSError:
        em = None
    if em:
        return {"how": "env", "name": em.group(0).decode(), "values": ["per-chain", "whole"]}
    return {"how": None, "note": "no rule-dump option in `portwarden collect --help` and no PORTWARDEN_RULE_DUMP "
                                 "variable in the binary; only the default strategy was timed"}


def collect_commands(pw: str, snap: str, rule_dump: dict, timeout: float) -> list[dict]:
    cmds = [{"name": "portwarden collect", "argv": [pw, "collect", "--output", "/dev/null"],
             "warmup_argv": [pw, "collect", "--output", snap], "timeout": timeout},
            # the fixed cost of starting the binary (dynamic loading, Swift runtime), for reading the small scales
            {"name": "portwarden --version", "argv": [pw, "--version"], "timeout": 60}]
    if rule_dump.get("how"):
        for v in rule_dump["values"]:
            c: dict[str, Any] = {"name": f"collect [rules {v}]", "timeout": timeout}
            if rule_dump["how"] == "flag":
                c["argv"] = [pw, "collect", f"{rule_dump['name']}={v}", "--output", "/dev/null"]
            else:
                c["argv"] = [pw, "collect", "--output", "/dev/null"]
                c["env"] = {rule_dump["name"]: v}
            cmds.append(c)
    return cmds


# ----------------------------------------------------------------------------------------------- one scale
def med(res: dict, name: str, key: str = "wall_ms_median") -> float | None:
    c = res.get(name) or {}
    s = c.get("summary") or {}
    return s.get(key)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def bench_scale(scale: str, args, rule_dump: dict) -> dict:
    n, m, k = sh.SCALES[scale]
    ns = f"{nsutil.NETNS_PREFIX}{scale}-{os.getpid()}"
    workdir = os.path.join(args.out, "work", scale)
    os.makedirs(workdir, exist_ok=True)
    result: dict[str, Any] = {"scale": scale, "listeners": n, "rules": m, "set_elements": k}
    timeout = args.timeout * (20 if scale == "s4" else 1)
    log(f"\n== {scale}: {n:,} listeners, {m:,} rules, {k:,} set elements  (netns {ns})")
    try:
        host, socks = build_host(scale, ns, workdir, args.seed, timeout)
        result["host"] = host
        snap = os.path.join(workdir, "snapshot.json")
        ss_out = os.path.join(workdir, "ss-tulpn.txt")
        nft_out = os.path.join(workdir, "nft-j.json")
        for p in (snap, ss_out, nft_out):
            if os.path.exists(p):
                os.unlink(p)
        cmds = []
        if args.portwarden_ok:
            cmds += collect_commands(args.portwarden, snap, rule_dump, timeout)
        cmds += [
            {"name": "ss -tulpn", "argv": ["ss", "-tulpn"], "warmup_stdout": ss_out, "timeout": timeout},
            {"name": "nft -j list ruleset", "argv": ["nft", "-j", "list", "ruleset"], "warmup_stdout": nft_out,
             "timeout": timeout},
        ]
        runs, warmup = (args.runs_s4, args.warmup_s4) if scale == "s4" else (args.runs, args.warmup)
        result["runs"], result["warmup"] = runs, warmup
        log(f"  timing {', '.join(c['name'] for c in cmds)}: {warmup} warm-up + {runs} runs each, interleaved")
        r = run_spec(ns, {"runs": runs, "warmup": warmup, "commands": cmds}, workdir, "collect")
        result["time_wrapper"] = r["time_wrapper"]
        result["wrapper_overhead_ms"] = r["overhead_ms"]
        result["commands"] = r["commands"]
        checks = {"ss_sockets": count_ss(ss_out), "nft_json": count_nft_json(nft_out),
                  "snapshot": count_snapshot(snap)}
        result["checks"] = checks
        c = r["commands"]
        col, ss_, nft = med(c, "portwarden collect"), med(c, "ss -tulpn"), med(c, "nft -j list ruleset")
        rss = med(c, "portwarden collect", "rss_kib_max")
        snap_bytes = (checks["snapshot"] or {}).get("bytes")
        cpu = {k: med(c, k, "cpu_ms_median") for k in ("portwarden collect", "ss -tulpn", "nft -j list ruleset")}
        result["ratios"] = {
            "cpu_collect_over_ss_plus_nft": ratio(cpu["portwarden collect"],
                                                  (cpu["ss -tulpn"] + cpu["nft -j list ruleset"])
                                                  if cpu["ss -tulpn"] and cpu["nft -j list ruleset"] else None),
            "collect_over_ss_plus_nft": ratio(col, (ss_ or 0) + (nft or 0) if ss_ and nft else None),
            "collect_over_ss_tulpn": ratio(col, ss_),
            "collect_over_nft_j": ratio(col, nft),
            "collect_over_doc_floor": ratio(col, DOC_FLOOR_MS[scale]),
            # the doc's floor scaled by how fast ss + nft ran here compared with the doc's machine
            "local_floor_estimate_ms": (DOC_FLOOR_MS[scale] * (ss_ + nft) / (DOC_SS_P_MS[scale] + DOC_NFT_J_MS[scale])
                                        if ss_ and nft else None),
            "collect_rss_over_snapshot": ratio(rss * 1024 if rss else None, snap_bytes),
        }
        result["kernel_rule_dump"] = kernel_rule_dump(ns, args.runs, workdir)
        result["ratios"]["collect_over_local_floor_estimate"] = ratio(col, result["ratios"]["local_floor_estimate_ms"])
        if rule_dump.get("how"):
            result["rule_dump"] = {v: med(c, f"collect [rules {v}]") for v in rule_dump["values"]}
        # the evaluator, on the snapshot collect just wrote
        if scale in args.eval_scales:
            result["evaluator"] = bench_evaluator(scale, ns, workdir, snap, socks, args, nft, timeout)
    finally:
        CLEANUP.run()
    return result


def kernel_rule_dump(ns: str, repeat: int, workdir: str) -> dict:
    """The crossover on the kernel side: GETRULE whole-ruleset dump versus one dump per chain (nfdump.py)."""
    log(f"  kernel rule dump: whole versus per-chain, 1 warm-up + {max(1, repeat)} rounds")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "nfdump.py"), ns, "--repeat", str(max(1, repeat))],
                         stdout=subprocess.PIPE, text=True)
    CLEANUP.procs.append(p)
    try:
        out, _ = p.communicate(timeout=1800)
    except BaseException:
        p.kill()
        p.wait()
        raise
    finally:
        if p in CLEANUP.procs:
            CLEANUP.procs.remove(p)
    if p.returncode != 0:
        return {"error": f"nfdump.py exit {p.returncode}"}
    try:
        return json.loads(out)
    except ValueError as e:
        return {"error": f"nfdump.py output: {e}"}


def bench_evaluator(scale, ns, workdir, snap, socks, args, nft_ms, timeout) -> dict:
    ev: dict[str, Any] = {}
    if not args.portwarden_ok:
        return {"error": f"no portwarden binary at {args.portwarden}"}
    if not os.path.exists(snap) or os.path.getsize(snap) == 0:
        return {"error": "no snapshot (portwarden collect failed), evaluator not timed"}
    probe_path = os.path.join(workdir, "probes.jsonl")
    probegen.write(probe_path, probegen.generate(socks, args.probes, args.seed))
    exp_out = os.path.join(workdir, "exposure.json")
    trace_out = os.path.join(workdir, "trace-out.jsonl")
    pw = args.portwarden
    cmds = [
        {"name": "portwarden exposure", "argv": [pw, "exposure", "--snapshot", snap],
         "env": {"PORTWARDEN_TIMINGS": "1"}, "parse_timings": True, "timeout": timeout},
        {"name": "portwarden exposure --format json", "argv": [pw, "exposure", "--snapshot", snap, "--format", "json"],
         "warmup_stdout": exp_out, "timeout": timeout},
        {"name": "portwarden trace", "argv": [pw, "trace", "--snapshot", snap, "--probes", probe_path],
         "warmup_stdout": trace_out, "timeout": timeout},
    ]
    for c in cmds:
        c["timeout"] = args.eval_timeout
        c["mem_limit_bytes"] = args.eval_mem_mib << 20
    runs, warmup = (args.runs_s4, args.warmup_s4) if scale == "s4" else (args.runs, args.warmup)
    log(f"  evaluator: exposure and trace of {args.probes:,} probes (per run: timeout {args.eval_timeout:.0f} s, "
        f"address space {args.eval_mem_mib} MiB)")
    r = run_spec(ns, {"runs": runs, "warmup": warmup, "commands": cmds}, workdir, "eval")
    ev["commands"] = r["commands"]
    ev["probes"] = args.probes
    exp = med(r["commands"], "portwarden exposure")
    tr = med(r["commands"], "portwarden trace")
    phases = ((r["commands"].get("portwarden exposure") or {}).get("summary") or {}).get("timings_ms_median") or {}
    ev["exposure_phases_ms"] = phases
    ev["exposure_eval_ms"] = phases.get("evaluate")
    ev["exposure_eval_over_nft_j"] = ratio(phases.get("evaluate"), nft_ms)
    ev["exposure_json_ms"] = med(r["commands"], "portwarden exposure --format json")
    ev["exposure_ms"] = exp
    ev["exposure_over_nft_j"] = ratio(exp, nft_ms)
    ev["exposure_over_doc_raw_dump"] = ratio(exp, {"s1": 1.7, "s2": 15.3, "s3": 1420, "s4": 92504}[scale])
    ev["trace_ms"] = tr
    ev["probes_per_s"] = args.probes / (tr / 1000) if tr else None
    ev["trace_output"] = trace_summary(trace_out) if os.path.exists(trace_out) else None
    try:
        with open(exp_out) as f:
            doc = json.load(f)
        items = doc if isinstance(doc, list) else next((v for v in doc.values() if isinstance(v, list)), None)
        ev["exposure_entries"] = len(items) if items is not None else None
    except (OSError, ValueError) as e:
        ev["exposure_output_error"] = str(e)
    return ev


# ----------------------------------------------------------------------------------------------- report
def fmt_ms(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def fmt_x(x):
    return "-" if x is None else f"{x:.2f}x"


def fmt_mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f}"


def scale_table(res: dict) -> list[str]:
    """Markdown lines for one scale."""
    out = []
    s = res["scale"]
    out.append(f"### {s}: {res['listeners']:,} listeners, {res['rules']:,} rules, {res['set_elements']:,} set elements")
    if res.get("from_earlier_run"):
        out.append(f"\n(from the run of {res['from_earlier_run']})")
    if res.get("runs") is not None:
        out.append(f"\nmedian of {res['runs']} run(s) after {res['warmup']} warm-up")
    if res.get("error"):
        out.append(f"\n**failed:** {res['error']}\n")
    host = res.get("host") or {}
    if host:
        load = (host.get("nft_load") or {}).get("summary") or {}
        out.append(f"\nHost: {host.get('sockets_opened', '?'):,} sockets in {host.get('holders', '?')} holder(s)"
                   + (f" ({host['sockets_failed']} failed)" if host.get("sockets_failed") else "")
                   + f"; ruleset {host.get('ruleset_bytes', 0) / 1e6:.1f} MB loaded with one `nft -f` in "
                     f"{fmt_ms(load.get('wall_ms_median'))} ms ({fmt_mib(load.get('rss_kib_max'))} MiB).")
    if host.get("ruleset_error"):
        out.append(f"\n**ruleset not loaded:** {host['ruleset_error']}")
    cmds = res.get("commands") or {}
    if cmds:
        out += ["", "| command | median ms | min-max ms | CPU ms | peak RSS MiB | status |", "|---|---:|---:|---:|---:|---|"]
        for name, c in cmds.items():
            sm = c.get("summary") or {}
            status = "ok" if not c.get("error") else c["error"].replace("|", "/").replace("\n", " ")[:120]
            out.append(f"| `{name}` | {fmt_ms(sm.get('wall_ms_median'))} | "
                       f"{fmt_ms(sm.get('wall_ms_min'))}-{fmt_ms(sm.get('wall_ms_max'))} | "
                       f"{fmt_ms(sm.get('cpu_ms_median'))} | {fmt_mib(sm.get('rss_kib_max'))} | {status} |")
    r = res.get("ratios") or {}
    if r:
        snap = ((res.get("checks") or {}).get("snapshot") or {})
        out.append("")
        out.append(f"collect / (ss -tulpn + nft -j): **{fmt_x(r.get('collect_over_ss_plus_nft'))}** (target < 1; "
                   f"in CPU time {fmt_x(r.get('cpu_collect_over_ss_plus_nft'))}) · "
                   f"collect / ss -tulpn: {fmt_x(r.get('collect_over_ss_tulpn'))} · "
                   f"collect / nft -j: {fmt_x(r.get('collect_over_nft_j'))} · "
                   f"collect / doc floor ({fmt_ms(DOC_FLOOR_MS[s])} ms, other machine): "
                   f"{fmt_x(r.get('collect_over_doc_floor'))}; / that floor scaled to this machine by ss+nft "
                   f"({fmt_ms(r.get('local_floor_estimate_ms'))} ms): {fmt_x(r.get('collect_over_local_floor_estimate'))}"
                   f" (target ≤ 1.3)")
        if snap.get("bytes"):
            out.append(f"\nsnapshot {snap['bytes'] / 1048576:.2f} MiB; collect peak RSS / snapshot size: "
                       f"**{fmt_x(r.get('collect_rss_over_snapshot'))}** (target < 3)")
    ck = res.get("checks") or {}
    if ck:
        sn = ck.get("snapshot") or {}
        nj = ck.get("nft_json") or {}
        out.append(f"\nchecks: ss sees {ck.get('ss_sockets')} sockets; nft -j: {nj.get('rules')} rules, "
                   f"{nj.get('pw_prefixes_elements')} elements in pw_prefixes; snapshot: "
                   + (f"{sn.get('listeners')} listeners, {sn.get('rules')} rules, {sn.get('pw_prefixes_kernel_elements')} "
                      f"kernel elements in pw_prefixes (start and end of each interval), {sn.get('set_elements_all')} "
                      f"elements in all sets, firewall {sn.get('firewall_status')}" if sn and not sn.get("error")
                      else (sn.get("error") if sn else "none")))
    rd = res.get("rule_dump")
    if rd:
        out.append("\nrule dump strategy (collect, median ms): " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in rd.items()))
    ev = res.get("evaluator")
    if ev:
        out.append("")
        if ev.get("error"):
            out.append(f"evaluator: {ev['error']}")
        else:
            for name, c in (ev.get("commands") or {}).items():
                if c.get("error"):
                    out.append(f"- `{name}`: {c['error'][:200]}")
            if ev.get("exposure_eval_ms") is not None:
                ph = ev.get("exposure_phases_ms") or {}
                out.append(f"- exposure, evaluation alone (snapshot in memory): **{fmt_ms(ev['exposure_eval_ms'])} ms** = "
                           f"{fmt_x(ev.get('exposure_eval_over_nft_j'))} of `nft -j list ruleset` here (target < 1); "
                           f"load {fmt_ms(ph.get('load'))} ms, render {fmt_ms(ph.get('render'))} ms")
            if ev.get("exposure_json_ms") is not None:
                out.append(f"- `exposure --format json`, whole command: {fmt_ms(ev['exposure_json_ms'])} ms")
            if ev.get("exposure_ms") is not None:
                out.append(f"- exposure of every listener, whole command (text): **{fmt_ms(ev['exposure_ms'])} ms** = "
                           f"{fmt_x(ev.get('exposure_over_nft_j'))} of `nft -j list ruleset` here, "
                           f"{fmt_x(ev.get('exposure_over_doc_raw_dump'))} of the doc's raw kernel dump (target < 1)")
            if ev.get("trace_ms") is not None:
                t = ev.get("trace_output") or {}
                out.append(f"- trace of {ev['probes']:,} probes: **{fmt_ms(ev['trace_ms'])} ms**, "
                           f"{ev['probes_per_s']:,.0f} probes/s"
                           + (f"; output {t.get('lines')} lines, delivered {t.get('delivered')}, verdicts "
                              f"{t.get('verdicts')}" if t and not t.get("error") else ""))
    return out


def summary_table(results: list[dict]) -> list[str]:
    """One row per scale: the figures the issues set targets for."""
    rows = ["## Summary", "",
            "| scale | collect ms (MiB) | ss -tulpn ms (MiB) | nft -j ms (MiB) | collect/(ss+nft) | collect/ss | "
            "collect/nft-j | CPU time collect/(ss+nft) | snapshot MiB | RSS/snapshot | exposure ms (evaluation alone) | trace ms (probes/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        c = res.get("commands") or {}

        def cell(name):
            sm = (c.get(name) or {}).get("summary")
            if not sm:
                return "failed" if name in c else "-"
            return f"{fmt_ms(sm['wall_ms_median'])} ({fmt_mib(sm.get('rss_kib_max'))})"
        r = res.get("ratios") or {}
        snap = ((res.get("checks") or {}).get("snapshot") or {}).get("bytes")
        ev = res.get("evaluator") or {}
        tr = "-"
        if ev.get("trace_ms") is not None:
            tr = f"{fmt_ms(ev['trace_ms'])} ({ev['probes_per_s']:,.0f}/s)"
        elif ev:
            tr = "failed"
        exp = fmt_ms(ev.get("exposure_ms")) if ev.get("exposure_ms") is not None else ("failed" if ev else "-")
        if ev.get("exposure_eval_ms") is not None:
            exp += f" ({fmt_ms(ev['exposure_eval_ms'])})"
        cells = [res["scale"], cell("portwarden collect"), cell("ss -tulpn"), cell("nft -j list ruleset"),
                 fmt_x(r.get("collect_over_ss_plus_nft")), fmt_x(r.get("collect_over_ss_tulpn")),
                 fmt_x(r.get("collect_over_nft_j")), fmt_x(r.get("cpu_collect_over_ss_plus_nft")),
                 f"{snap / 1048576:.2f}" if snap else "-"]
        rows.append("| " + " | ".join(cells) + " | ")
        rows[-1] += f"{fmt_x(r.get('collect_rss_over_snapshot'))} | {exp} | {tr} |"
    kd = [res for res in results if (res.get("kernel_rule_dump") or {}).get("strategies")]
    if kd:
        rows += ["", "Rule dump crossover, kernel side (raw GETRULE dumps from Python, counting messages; median ms):",
                 "", "| scale | rules | whole-ruleset dump | one dump per chain | whole / per-chain |",
                 "|---|---:|---:|---:|---:|"]
        for res in kd:
            st = res["kernel_rule_dump"]["strategies"]
            w, pc = (st.get("whole") or {}), (st.get("per-chain") or {})
            rows.append(f"| {res['scale']} | {w.get('rules')} | {fmt_ms(w.get('median_ms'))} | "
                        f"{fmt_ms(pc.get('median_ms'))} | {fmt_x(ratio(w.get('median_ms'), pc.get('median_ms')))} |")
    rd_rows = [res for res in results if res.get("rule_dump")]
    if rd_rows:
        names = list(rd_rows[0]["rule_dump"])
        rows += ["", "Rule dump strategy (collect median ms):", "",
                 "| scale | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        if len(names) == 2:
            rows[-2] = rows[-2] + f" {names[1]} / {names[0]} |"
            rows[-1] += "---:|"
        for res in rd_rows:
            vals = [res["rule_dump"].get(n) for n in names]
            extra = f" {fmt_x(ratio(vals[1], vals[0]))} |" if len(names) == 2 else ""
            rows.append(f"| {res['scale']} | " + " | ".join(fmt_ms(v) for v in vals) + " |" + extra)
    return rows


def machine_info(args) -> dict:
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001
            return f"unavailable ({e})"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        model = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError):
        mem = None
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": model, "mem_mib": mem, "kernel": platform.release(),
        "nft": cmd(["nft", "--version"]), "ss": cmd(["ss", "--version"]), "python": platform.python_version(),
        "portwarden": args.portwarden, "git": git + ("+dirty" if dirty else ""),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "runs": args.runs, "warmup": args.warmup, "seed": args.seed,
    }


def previous_results(args, scales: list[str]) -> list[dict]:
    """With --keep-other-scales: results of scales not being re-run, from the previous results.json."""
    if not args.keep_other_scales:
        return []
    try:
        with open(os.path.join(args.out, "results.json")) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return []
    kept = []
    for r in old.get("results", []):
        if r.get("scale") not in scales:
            r["from_earlier_run"] = old.get("machine", {}).get("date_utc")
            kept.append(r)
    return kept


def write_reports(args, machine, results) -> str:
    os.makedirs(args.out, exist_ok=True)
    results = sorted(args.kept_results + results, key=lambda r: r.get("scale", ""))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": machine, "rule_dump": args.rule_dump_info, "results": results}, f, indent=2)
    md = ["# portwarden benchmark results", "",
          f"{machine['date_utc']} · {machine['nproc']} CPUs ({machine['cpu']}) · {machine['mem_mib']} MiB · kernel "
          f"{machine['kernel']} · {machine['nft']} · {machine['ss']} · portwarden {machine['git']} "
          f"(`{machine['portwarden']}`) · load average at start {' '.join(machine['loadavg'])}", "",
          f"Median of {machine['runs']} runs after {machine['warmup']} warm-up, commands interleaved, each in the "
          f"host's network namespace; wall time minus the timing wrapper's own start-up; peak RSS by GNU time "
          f"(per command). Ratios are within this run.", ""]
    if not args.rule_dump_info.get("how"):
        md.append(f"Rule dump strategy: {args.rule_dump_info.get('note')}.\n")
    md += summary_table(results) + [""]
    for r in results:
        md += scale_table(r) + [""]
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    return text


# ----------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="s1,s2,s3", help="comma list of s1..s4 (default s1,s2,s3)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--portwarden", default=os.path.join(REPO, ".build/release/portwarden"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench-out"))
    ap.add_argument("--eval-scales", default="s2,s3,s4", help="scales where exposure and trace are timed (when also in --scales)")
    ap.add_argument("--probes", type=int, default=100_000)
    ap.add_argument("--rule-dump", default="auto",
                    help="auto | none | FLAG=v1,v2 (e.g. --rule-dump=per-chain,whole) | env:NAME=v1,v2")
    ap.add_argument("--runs-s4", type=int, default=1, help="runs at s4 (default 1: one nft -j run takes minutes)")
    ap.add_argument("--warmup-s4", type=int, default=0, help="warm-up runs at s4 (default 0)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300, help="per command run, seconds (x20 at s4)")
    ap.add_argument("--eval-timeout", type=float, default=120, help="per exposure/trace run, seconds")
    ap.add_argument("--eval-mem-mib", type=int, default=4096,
                    help="address-space cap per exposure/trace run (the other commands get half the RAM, at most "
                         "12 GiB; PWT_BENCH_MEM_LIMIT_MIB overrides that)")
    ap.add_argument("--keep-other-scales", action="store_true",
                    help="keep the results of scales not run now from the previous results.json (e.g. add s4)")
    ap.add_argument("--clean", action="store_true", help="only delete stale pwt-bench-* namespaces and exit")
    args = ap.parse_args()

    if os.geteuid() != 0:
        log("bench: needs root (network namespaces, nft); run with sudo")
        return 2
    for ns in stale_namespaces():
        log(f"bench: deleting stale namespace {ns} (its harness is gone)")
        subprocess.run(["ip", "netns", "del", ns])
    if args.clean:
        return 0
    missing = [t for t in ("ip", "nft", "ss") if not shutil.which(t)]
    if "ip" in missing:
        log("bench: `ip` (iproute2) is required")
        return 2
    if missing:
        log(f"bench: missing {', '.join(missing)}: those measurements will fail and be reported as such")
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    bad = [s for s in scales if s not in sh.SCALES]
    if bad:
        log(f"bench: unknown scale(s) {bad}; known: {', '.join(sh.SCALES)}")
        return 2
    args.eval_scales = {s.strip() for s in args.eval_scales.split(",") if s.strip()}
    args.portwarden = os.path.abspath(args.portwarden)
    args.portwarden_ok = os.access(args.portwarden, os.X_OK)
    if not args.portwarden_ok:
        log(f"bench: no portwarden binary at {args.portwarden}; timing ss and nft only")
        args.rule_dump_info = {"how": None, "note": "no portwarden binary"}
    else:
        args.rule_dump_info = detect_rule_dump(args.portwarden, args.rule_dump)
    log(f"bench: rule dump strategies: {args.rule_dump_info}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    machine = machine_info(args)
    args.kept_results = previous_results(args, scales)
    results = []
    interrupted = False
    try:
        for s in scales:
            try:
                results.append(bench_scale(s, args, args.rule_dump_info))
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - report and go on with the next scale
                log(f"  {s} FAILED: {e}")
                n, m, k = sh.SCALES[s]
                results.append({"scale": s, "listeners": n, "rules": m, "set_elements": k, "error": str(e)})
            text = write_reports(args, machine, results)
    except KeyboardInterrupt:
        interrupted = True
        log("\nbench: interrupted; cleaning up")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        CLEANUP.run()
    if results:
        text = write_reports(args, machine, results)
        print(text)
        log(f"bench: wrote {os.path.join(args.out, 'results.md')} and results.json")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
