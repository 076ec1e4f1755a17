#!/usr/bin/env python3
"""The container-host benchmark (issue: container hosts, speed): a host namespace with a bridge, N container
namespaces behind veths with 3 listeners each, and a kube-proxy-like iptables-nft ruleset of S NodePort services with
3 endpoints each. Times `portwarden collect` (which reads every namespace) against `ss -tulpn` run in every namespace
plus one `nft -j list ruleset`, and `portwarden exposure` of the whole host from the snapshot.

Everything lives in namespaces named pwt-bench-ct*-<pid> that this script creates and deletes (also on failure);
addresses are from 198.18.0.0/15 (reserved for benchmarks) and 192.0.2.0/24. No packet is sent.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nsutil import enter_netns, set_process_name  # noqa: E402

PID = os.getpid()
HOST = f"pwt-bench-cth-{PID}"


def ns_name(i: int) -> str:
    return f"pwt-bench-ct{i}-{PID}"


def sh(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def pod_ip(i: int) -> str:
    # 198.18.0.0/15: 198.18.0.2 … (i counts containers from 0)
    n = i + 2
    return f"198.18.{n // 250}.{n % 250 + 2}"


def build(n_containers: int, n_services: int, created: list[str]) -> None:
    """Creates the namespaces (recorded in `created` as they appear, so a failure still cleans up) and the ruleset."""
    sh(["ip", "netns", "add", HOST])
    created.append(HOST)
    sh(["ip", "-n", HOST, "link", "set", "lo", "up"])
    sh(["ip", "-n", HOST, "link", "add", "pwbr0", "type", "bridge"])
    sh(["ip", "-n", HOST, "addr", "add", "198.18.0.1/15", "dev", "pwbr0"])
    sh(["ip", "-n", HOST, "link", "set", "pwbr0", "up"])
    sh(["ip", "-n", HOST, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"])
    sh(["ip", "-n", HOST, "addr", "add", "192.0.2.1/24", "dev", "eth0"])
    sh(["ip", "-n", HOST, "link", "set", "eth0", "up"])
    sh(["ip", "netns", "exec", HOST, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    batch = []
    for i in range(n_containers):
        ns = ns_name(i)
        sh(["ip", "netns", "add", ns])
        created.append(ns)
        batch += [f"link add vc{i} type veth peer name eth0 netns {ns}", f"link set vc{i} master pwbr0", f"link set vc{i} up"]
    subprocess.run(["ip", "-n", HOST, "-batch", "-"], input="\n".join(batch) + "\n", text=True, check=True)
    for i in range(n_containers):
        ns = ns_name(i)
        cmds = f"link set lo up\nlink set eth0 up\naddr add {pod_ip(i)}/15 dev eth0\nroute add default via 198.18.0.1\n"
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input=cmds, text=True, check=True)
    # kube-proxy iptables mode: NodePort 30000+s → KUBE-EXT → KUBE-MARK-MASQ + KUBE-SVC → 3 × KUBE-SEP (statistic)
    nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
           ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-MARK-MASQ - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
    rules = ["-A PREROUTING -j KUBE-SERVICES", "-A OUTPUT -j KUBE-SERVICES", "-A POSTROUTING -j KUBE-POSTROUTING",
             "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
             "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
             "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0", "-A KUBE-POSTROUTING -j MASQUERADE"]
    for s in range(n_services):
        svc, ext = f"KUBE-SVC-{s:05d}", f"KUBE-EXT-{s:05d}"
        nat += [f":{svc} - [0:0]", f":{ext} - [0:0]"]
        cluster = f"10.96.{s // 250}.{s % 250 + 1}"
        rules += [f"-A KUBE-SERVICES -d {cluster}/32 -p tcp -m tcp --dport 80 -j {svc}",
                  f"-A KUBE-NODEPORTS -p tcp -m tcp --dport {30000 + s} -j {ext}",
                  f"-A {ext} -j KUBE-MARK-MASQ", f"-A {ext} -j {svc}"]
        for e in range(3):
            sep = f"KUBE-SEP-{s:05d}-{e}"
            nat.append(f":{sep} - [0:0]")
            target = (s * 3 + e) % max(1, n_containers)
            prob = {0: " -m statistic --mode random --probability 0.33333333349", 1: " -m statistic --mode random --probability 0.50000000000", 2: ""}[e]
            rules += [f"-A {svc}{prob} -j {sep}", f"-A {sep} -p tcp -m tcp -j DNAT --to-destination {pod_ip(target)}:{8000 + e}"]
    rules.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    filt = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":KUBE-FORWARD - [0:0]",
            "-A INPUT -i lo -j ACCEPT", "-A FORWARD -j KUBE-FORWARD", "-A FORWARD -i pwbr0 -j ACCEPT",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "COMMIT"]
    text = "\n".join(nat + rules + ["COMMIT"] + filt) + "\n"
    subprocess.run(["ip", "netns", "exec", HOST, "iptables-nft-restore"], input=text, text=True, check=True)


def hold(n_containers: int, ready_w: int) -> None:
    """Child: one process holding 3 listeners in every container namespace (setns per namespace, then back)."""
    set_process_name("pwbench-hold")
    socks = []
    for i in range(n_containers):
        enter_netns(ns_name(i))
        for port in (8000, 8001, 8002):
            s = socket.socket(socket.AF_INET6 if port == 8002 else socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if port == 8002 else "0.0.0.0", port))
            s.listen(16)
            socks.append(s)
    os.write(ready_w, b"1")
    os.close(ready_w)
    signal.pause()


def timed(argv: list[str], timeout: float | None = None) -> tuple[float, int]:
    """Wall milliseconds and the children's peak RSS (KiB) of one run; inf when it ran past `timeout` seconds."""
    t = time.perf_counter()
    try:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf"), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ms = (time.perf_counter() - t) * 1000
    return ms, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def median_of(runs: int, fn) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portwarden", required=True)
    ap.add_argument("--containers", type=int, default=300)
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--eval-timeout", type=float, default=120, help="seconds one exposure run may take before it is stopped")
    args = ap.parse_args()
    # A SIGTERM (timeout, CI) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(args.out, exist_ok=True)
    created: list[str] = []
    holder = None
    try:
        t0 = time.perf_counter()
        build(args.containers, args.services, created)
        r, w = os.pipe()
        holder = os.fork()
        if holder == 0:
            os.close(r)
            hold(args.containers, w)
            os._exit(0)
        os.close(w)
        os.read(r, 1)
        print(f"containers: built {args.containers} namespaces and {args.services} services in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        snap = os.path.join(args.out, "containers-snapshot.json")
        pw = os.path.abspath(args.portwarden)
        # Exactly the namespaces the kernel tools are run in (the machine's own and other namespaces are not part of it).
        names = ",".join(created[1:])
        collect = lambda: timed(["ip", "netns", "exec", HOST, pw, "collect", "--netns", names, "--output", snap])[0]

        def kernel_tools() -> float:
            total = 0.0
            for ns in created:
                total += timed(["ip", "netns", "exec", ns, "ss", "-tulpn"])[0]
            return total + timed(["ip", "netns", "exec", HOST, "nft", "-j", "list", "ruleset"])[0]

        collect()  # warm-up
        c_ms = median_of(args.runs, collect)
        k_ms = median_of(args.runs, kernel_tools)
        with open(snap) as f:
            doc = json.load(f)
        ours = [n for n in doc.get("namespaces", []) if (n["id"].get("name") or "").startswith("pwt-bench-ct")]
        listeners = sum(len(n["listeners"]) for n in ours)
        exposure_json = os.path.join(args.out, "containers-exposure.json")
        e_ms, e_rss = timed(["sh", "-c", f"exec {pw} exposure --snapshot {snap} --format json > {exposure_json}"], timeout=args.eval_timeout)
        if e_ms != float("inf"):
            e_ms = statistics.median([e_ms] + [timed([pw, "exposure", "--snapshot", snap, "--format", "json"], timeout=args.eval_timeout)[0]
                                               for _ in range(args.runs - 1)])
            with open(exposure_json) as f:
                published = json.load(f).get("forwarded", [])
        else:
            published = []
        received = sum(1 for p in published if p.get("listener"))
        result = {
            "containers": args.containers, "services": args.services, "namespaces_read": len(ours), "container_listeners": listeners,
            "collect_ms": round(c_ms, 1), "ss_every_ns_plus_nft_ms": round(k_ms, 1), "ratio": round(c_ms / k_ms, 3),
            "exposure_ms": None if e_ms == float("inf") else round(e_ms, 1), "exposure_timeout_s": args.eval_timeout,
            "exposure_peak_rss_kib": e_rss, "published_paths": len(published), "published_with_receiver": received,
        }
        with open(os.path.join(args.out, "containers.json"), "w") as f:
            json.dump(result, f, indent=2)
        print(f"| containers | services | namespaces read | listeners | collect | ss in every ns + nft -j | ratio | exposure | published paths (with a socket) |")
        print(f"|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        e_text = f"> {args.eval_timeout:.0f} s (stopped)" if e_ms == float("inf") else f"{e_ms:.0f} ms"
        print(f"| {args.containers} | {args.services} | {len(ours)} | {listeners} | {c_ms:.0f} ms | {k_ms:.0f} ms | {c_ms / k_ms:.2f}x | {e_text} | {len(published)} ({received}) |")
        return 0
    finally:
        if holder:
            os.kill(holder, signal.SIGKILL)
            os.waitpid(holder, 0)
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
