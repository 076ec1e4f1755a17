"""The synthetic hosts of docs/performance-baselines.md: socket plans, nftables rulesets and prefix sets.

Everything here is pure and seeded (no I/O except writing files), so a scale always produces the same host.
Address ranges: only documentation, benchmarking, private and reserved ranges are used, never routable public space.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

# name: (listeners, rules, set elements)
SCALES: dict[str, tuple[int, int, int]] = {
    "s1": (100, 100, 100),
    "s2": (1_000, 1_000, 10_000),
    "s3": (10_000, 10_000, 100_000),
    "s4": (50_000, 50_000, 1_000_000),
}

IFACE = "pwv0"          # the veth end that carries the host's addresses (its peer pwv1 stays in the namespace too)
PEER = "pwv1"
HOST4 = "198.18.0.1"    # RFC 2544 benchmarking range, /16 out of 198.18.0.0/15
HOST4_PREFIX = 16
HOST6 = "2001:db8:b::1"  # RFC 3849 documentation range
HOST6_PREFIX = 64
TABLE = "pwbench"
PORT_MIN, PORT_MAX = 1024, 65000
JUMP_CHAINS = 20
SOCKETS_PER_HOLDER = 15_000  # below the default 20k open-file hard limit; more sockets -> more holders

# bind kinds: (kind, family, address, v6only, share)
BIND_MIX = [
    ("lo4", 4, "127.0.0.1", False, 0.20),
    ("any4", 4, "0.0.0.0", False, 0.25),
    ("dual6", 6, "::", False, 0.125),
    ("v6only", 6, "::", True, 0.125),
    ("host4", 4, HOST4, False, 0.20),
    ("host6", 6, HOST6, False, 0.10),
]
# Which bind kinds cannot share one (proto, port) without SO_REUSEADDR/SO_REUSEPORT (Linux semantics).
_CONFLICTS = {
    "lo4": {"lo4", "any4", "dual6"},
    "host4": {"host4", "any4", "dual6"},
    "any4": {"lo4", "host4", "any4", "dual6"},
    "dual6": {"lo4", "host4", "any4", "dual6", "v6only", "host6"},
    "v6only": {"dual6", "v6only", "host6"},
    "host6": {"dual6", "v6only", "host6"},
}

# Pools for the interval set, in order of use: benchmarking and documentation ranges first, then private and
# reserved space (large scales need ~50 addresses per prefix including gaps; nothing here is routable).
# The host's own 198.18.0.0/16 and the three documentation /24s (used as allowed probe sources) are left out.
PREFIX_POOLS = [
    "198.19.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10", "240.0.0.0/5",
]
# prefix length -> weight (a /24 to /32 mix)
PREFIX_MIX = {32: 50, 31: 5, 30: 10, 29: 10, 28: 10, 27: 5, 26: 3, 25: 2, 24: 5}


def _split(total: int, shares: list[float]) -> list[int]:
    """Largest-remainder split of `total` by `shares` (sums exactly to total)."""
    raw = [total * s for s in shares]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


@dataclass(frozen=True)
class Sock:
    proto: str      # tcp | udp
    kind: str       # a BIND_MIX kind
    family: int
    address: str
    port: int
    v6only: bool

    def plan_entry(self) -> list:
        return [self.proto, self.family, self.address, self.port, self.v6only]


def socket_plan(n: int, seed: int) -> list[Sock]:
    """n sockets: 70% TCP listening, 30% UDP bound, bind addresses per BIND_MIX, ports shuffled without conflicts."""
    rng = random.Random(f"sockets-{seed}-{n}")
    n_tcp, n_udp = _split(n, [0.7, 0.3])
    wanted: list[tuple[str, tuple]] = []
    for proto, count in (("tcp", n_tcp), ("udp", n_udp)):
        for entry, c in zip(BIND_MIX, _split(count, [b[4] for b in BIND_MIX])):
            wanted += [(proto, entry)] * c
    rng.shuffle(wanted)
    used: dict[tuple[str, int], set[str]] = {}
    out: list[Sock] = []
    for proto, (kind, family, address, v6only, _share) in wanted:
        for _ in range(10_000):
            port = rng.randint(PORT_MIN, PORT_MAX)
            taken = used.setdefault((proto, port), set())
            if not (taken & _CONFLICTS[kind]):
                taken.add(kind)
                out.append(Sock(proto, kind, family, address, port, v6only))
                break
        else:
            raise RuntimeError(f"no free port for {proto} {kind}")
    return out


def holder_chunks(socks: list[Sock]) -> list[list[Sock]]:
    return [socks[i: i + SOCKETS_PER_HOLDER] for i in range(0, len(socks), SOCKETS_PER_HOLDER)] or [[]]


def prefix_set(k: int, seed: int) -> list[str]:
    """k non-overlapping, non-adjacent IPv4 prefixes (/24 to /32) drawn from PREFIX_POOLS in order."""
    rng = random.Random(f"prefixes-{seed}-{k}")
    lengths = list(PREFIX_MIX)
    weights = [PREFIX_MIX[x] for x in lengths]
    pools = [ipaddress.ip_network(p) for p in PREFIX_POOLS]
    pool_i = 0
    cursor = int(pools[0].network_address)
    end = int(pools[0].broadcast_address) + 1
    out: list[str] = []
    picks = rng.choices(lengths, weights, k=k)
    for plen in picks:
        size = 1 << (32 - plen)
        while True:
            start = (cursor + size - 1) // size * size      # align to the prefix size
            if start + size <= end:
                break
            pool_i += 1
            if pool_i >= len(pools):
                raise RuntimeError(f"address pools exhausted after {len(out)} prefixes")
            cursor = int(pools[pool_i].network_address)
            end = int(pools[pool_i].broadcast_address) + 1
        a = start
        out.append(f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/{plen}" if plen != 32
                   else f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}")
        # leave a gap of at least one address (random, up to one more block) so intervals never touch
        cursor = start + size + 1 + rng.randrange(size)
    return out


def _v6_cidr(rng: random.Random) -> str:
    return f"2001:db8:{rng.randrange(1, 0xffff):x}::/48"


def _v4_cidr(rng: random.Random) -> str:
    pool = rng.choice(["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "198.19.0.0/16"])
    net = ipaddress.ip_network(pool)
    plen = rng.choice([24, 25, 26, 27, 28]) if net.prefixlen <= 24 else net.prefixlen
    if net.prefixlen < 24:
        base = int(net.network_address) + rng.randrange(0, net.num_addresses, 256)
        return f"{ipaddress.ip_address(base)}/{rng.choice([24, 25, 26])}"
    sub = list(net.subnets(new_prefix=plen))
    return str(rng.choice(sub))


# The ~12 rule templates of the regular chains: (weight, function(rng, lo, hi, port) -> rule text)
def _templates():
    def p2(rng, lo, hi, p):
        return min(hi, p + rng.randint(1, 50))
    return [
        (24, lambda r, lo, hi, p: f"tcp dport {p} accept"),
        (10, lambda r, lo, hi, p: f"udp dport {p} accept"),
        (6, lambda r, lo, hi, p: f"ip saddr {{ {_v4_cidr(r)}, {_v4_cidr(r)} }} tcp dport "
                                 f"{{ {', '.join(str(x) for x in sorted({p, r.randint(lo, hi), r.randint(lo, hi)}))} }} accept"),
        (8, lambda r, lo, hi, p: f"tcp dport {p}-{p2(r, lo, hi, p) if p < hi else hi} accept" if p < hi else f"tcp dport {p} accept"),
        (8, lambda r, lo, hi, p: f"iifname \"{IFACE}\" tcp dport {p} accept"),
        (6, lambda r, lo, hi, p: f"ip6 saddr {_v6_cidr(r)} tcp dport {p} accept"),
        (6, lambda r, lo, hi, p: f"ip daddr {HOST4} udp dport {p} accept"),
        (8, lambda r, lo, hi, p: f"ip saddr @pw_trusted tcp dport {p} accept"),
        (6, lambda r, lo, hi, p: f"tcp dport {p} reject with tcp reset"),
        (6, lambda r, lo, hi, p: f"udp dport {p} counter drop"),
        (6, lambda r, lo, hi, p: f"iifname \"pwv*\" ip saddr 203.0.113.0/24 tcp dport {p} counter accept"),
        (6, lambda r, lo, hi, p: f"tcp dport {p} ip saddr != 198.18.0.0/15 drop"),
    ]


def jump_ranges() -> list[tuple[int, int]]:
    span = PORT_MAX - PORT_MIN + 1
    out = []
    for i in range(JUMP_CHAINS):
        lo = PORT_MIN + span * i // JUMP_CHAINS
        hi = PORT_MIN + span * (i + 1) // JUMP_CHAINS - 1
        out.append((lo, hi))
    return out


FIXED_RULES = [
    'iif "lo" accept',
    "ct state established,related accept",
    "ct state invalid drop",
    "ip saddr @pw_prefixes drop",
    "meta l4proto ipv6-icmp accept",
    "tcp dport @pw_ports accept",
]


def ruleset(n_rules: int, k_elements: int, socks: list[Sock], seed: int) -> tuple[str, dict]:
    """The nft -f text of the whole ruleset (one transaction) and a summary of what it holds."""
    rng = random.Random(f"rules-{seed}-{n_rules}")
    listener_ports = [s.port for s in socks] or [PORT_MIN]
    ranges = jump_ranges()
    n_fixed = len(FIXED_RULES) + len(ranges)
    n_chain_rules = max(0, n_rules - n_fixed)
    templates = _templates()
    weights = [w for w, _ in templates]
    per_chain: list[list[str]] = [[] for _ in ranges]
    for i in range(n_chain_rules):
        c = i % len(ranges)
        lo, hi = ranges[c]
        # half of the rules name a port that really has a listener in this chain's range, when there is one
        in_range = [p for p in rng.sample(listener_ports, min(8, len(listener_ports))) if lo <= p <= hi]
        port = in_range[0] if in_range and rng.random() < 0.5 else rng.randint(lo, hi)
        _, make = rng.choices(templates, weights)[0]
        per_chain[c].append(make(rng, lo, hi, port))
    prefixes = prefix_set(k_elements, seed)
    ports200 = sorted(set(rng.sample(range(PORT_MIN, PORT_MAX + 1), 200)))
    lines = [
        f"table inet {TABLE} {{",
        "  set pw_prefixes {", "    type ipv4_addr", "    flags interval", "  }",
        "  set pw_ports {", "    type inet_service",
        f"    elements = {{ {', '.join(map(str, ports200))} }}", "  }",
        "  set pw_trusted {", "    type ipv4_addr", "    flags interval",
        "    elements = { 198.51.100.0/24, 203.0.113.0/25, 198.19.64.0/18 }", "  }",
    ]
    for c in range(len(ranges)):
        lines.append(f"  chain pw_c{c:02d} {{")
        lines += [f"    {r}" for r in per_chain[c]]
        lines.append("  }")
    lines += ["  chain input {", "    type filter hook input priority filter; policy drop;"]
    lines += [f"    {r}" for r in FIXED_RULES]
    for c, (lo, hi) in enumerate(ranges):
        lines.append(f"    meta l4proto {{ tcp, udp }} th dport {lo}-{hi} jump pw_c{c:02d}")
    lines += ["  }", "}"]
    chunk = 10_000
    for i in range(0, len(prefixes), chunk):
        lines.append(f"add element inet {TABLE} pw_prefixes {{ {', '.join(prefixes[i:i + chunk])} }}")
    summary = {
        "rules": n_fixed + n_chain_rules,
        "base_chain_rules": n_fixed,
        "regular_chains": len(ranges),
        "set_elements": len(prefixes),
        "named_sets": 3,
        "anonymous_set_rules": sum(1 for ch in per_chain for r in ch if "{" in r) + len(ranges),
    }
    return "\n".join(lines) + "\n", summary
