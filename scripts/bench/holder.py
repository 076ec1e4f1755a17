"""A socket holder: enters a benchmark namespace, opens the sockets listed in a plan file, reports, then waits.

Usage (started by bench.py, never by hand): holder.py NETNS PLAN.json INDEX
The plan is a JSON list of [proto, family, address, port, v6only]. Prints one line `ready OPENED FAILED` on stdout
once every socket is open, then blocks until stdin closes or a signal arrives. Dies with its parent.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys

sys.dont_write_bytecode = True  # keep scripts/bench free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsutil  # noqa: E402


def main() -> int:
    netns, plan_path, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nsutil.die_with_parent(signal.SIGKILL)
    if os.getppid() == 1:  # the harness is already gone
        return 1
    nsutil.set_process_name(f"pwt-holder-{index}")
    nsutil.enter_netns(netns)
    with open(plan_path) as f:
        plan = json.load(f)
    need = len(plan) + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
        except (ValueError, OSError) as e:
            print(f"holder {index}: cannot raise RLIMIT_NOFILE to {need}: {e}", file=sys.stderr)
    held: list[socket.socket] = []
    failed = 0
    first_errors: list[str] = []
    for proto, family, address, port, v6only in plan:
        fam = socket.AF_INET6 if family == 6 else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        try:
            s = socket.socket(fam, kind)
            try:
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
                s.bind((address, port))
                if proto == "tcp":
                    s.listen(8)
            except OSError:
                s.close()
                raise
            held.append(s)
        except OSError as e:
            failed += 1
            if len(first_errors) < 5:
                first_errors.append(f"{proto} [{address}]:{port} v6only={v6only}: {e}")
    for line in first_errors:
        print(f"holder {index}: {line}", file=sys.stderr)
    print(f"ready {len(held)} {failed}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness decides when holders go (it sends SIGTERM)
    try:
        while sys.stdin.read(65536):
            pass
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
