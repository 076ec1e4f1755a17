"""Random trace probes (JSON lines, the `portwarden trace --probes` contract) against a synthetic host."""
from __future__ import annotations

import ipaddress
import json
import random

import synthhost as sh

V4_SOURCES = ["198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
V6_SOURCES = ["2001:db8::/32"]


def _rand_in(rng: random.Random, cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + rng.randrange(1, net.num_addresses - 1))


def generate(socks: list[sh.Sock], count: int, seed: int) -> list[dict]:
    """count probes: 60% aimed at a real listener's port and protocol, 40% at a random port; 80% arriving on the
    veth from a random outside source, 20% local traffic on `lo` (loopback or the host's own addresses)."""
    rng = random.Random(f"probes-{seed}-{count}")
    v4_pools = [(c, ipaddress.ip_network(c).num_addresses) for c in V4_SOURCES]
    out = []
    for _ in range(count):
        if socks and rng.random() < 0.6:
            s = rng.choice(socks)
            proto, dport = s.proto, s.port
            v6 = s.family == 6 and (s.v6only or s.kind == "host6" or rng.random() < 0.5)
        else:
            proto = "tcp" if rng.random() < 0.7 else "udp"
            dport = rng.randint(1, 65535)
            v6 = rng.random() < 0.3
        if rng.random() < 0.2:
            iif = "lo"
            if v6:
                dst = rng.choice(["::1", sh.HOST6])
            else:
                dst = rng.choice(["127.0.0.1", sh.HOST4])
            src = dst
        else:
            iif = sh.IFACE
            if v6:
                src, dst = _rand_in(rng, V6_SOURCES[0]), sh.HOST6
            else:
                pool = rng.choices([c for c, _ in v4_pools], [1, 1, 1, 1])[0]
                src, dst = _rand_in(rng, pool), sh.HOST4
        p = {"proto": proto, "src": src, "dst": dst, "dport": dport, "iif": iif}
        if rng.random() < 0.5:
            p["sport"] = rng.randint(32768, 60999)
        out.append(p)
    return out


def write(path: str, probes: list[dict]) -> None:
    with open(path, "w") as f:
        for p in probes:
            f.write(json.dumps(p, separators=(",", ":")) + "\n")
