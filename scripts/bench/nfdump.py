"""The kernel side of the rule-dump crossover: GETRULE as one whole-ruleset dump versus one dump per chain.

Usage: nfdump.py NETNS [--repeat 5] [--strategies whole,per-chain]  -> one JSON object on stdout.

Raw nfnetlink from the Python standard library, GET/dump requests only (read-only). Each strategy receives every
NEWRULE message and counts it without decoding it, so what is timed is the kernel's dump cost plus a constant
per-message cost that is the same for both strategies. This shows where per-chain dumps win independently of the
collector; when `portwarden collect` offers a strategy option the benchmark times the collector itself as well.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep scripts/bench free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsutil  # noqa: E402

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN = 4, 3
NFT_MSG_GETRULE, NFT_MSG_NEWRULE = 7, 6
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_INTR = 0x10
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME = 1, 3
NFTA_RULE_TABLE, NFTA_RULE_CHAIN = 1, 2
NFPROTO_UNSPEC = 0


def _attr(kind: int, value: bytes) -> bytes:
    ln = 4 + len(value)
    return struct.pack("=HH", ln, kind) + value + b"\0" * ((4 - ln % 4) % 4)


def _attrs(buf: bytes) -> dict[int, bytes]:
    out, i = {}, 0
    while i + 4 <= len(buf):
        ln, kind = struct.unpack_from("=HH", buf, i)
        if ln < 4:
            break
        out[kind & 0x3fff] = buf[i + 4: i + ln]
        i += (ln + 3) & ~3
    return out


class Dumper:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self.buf = bytearray(1 << 20)
        self.seq = int(time.time())

    def dump(self, msg: int, family: int, payload: bytes, collect=None) -> tuple[int, int, bool]:
        """Sends one dump request; returns (objects, recv calls, interrupted). collect(body) sees each object."""
        self.seq += 1
        body = struct.pack("=BBH", family, 0, 0) + payload
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | msg,
                          NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0)
        self.sock.send(hdr + body)
        count = recvs = 0
        intr = False
        view = memoryview(self.buf)
        while True:
            n = self.sock.recv_into(self.buf)
            recvs += 1
            i = 0
            while i + 16 <= n:
                ln, typ, flags, seq, _pid = struct.unpack_from("=IHHII", self.buf, i)
                if ln < 16:
                    raise RuntimeError("malformed netlink message")
                if flags & NLM_F_DUMP_INTR:
                    intr = True
                if typ == NLMSG_DONE:
                    return count, recvs, intr
                if typ == NLMSG_ERROR:
                    err = struct.unpack_from("=i", self.buf, i + 16)[0]
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return count, recvs, intr
                count += 1
                if collect is not None:
                    collect(bytes(view[i + 16 + 4: i + ln]), self.buf[i + 16])
                i += (ln + 3) & ~3

    def chains(self) -> list[tuple[int, bytes, bytes]]:
        out: list[tuple[int, bytes, bytes]] = []

        def take(body: bytes, family: int) -> None:
            a = _attrs(body)
            out.append((family, a.get(NFTA_CHAIN_TABLE, b""), a.get(NFTA_CHAIN_NAME, b"")))
        self.dump(NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, b"", take)
        return out

    def rules_whole(self) -> tuple[int, int]:
        n, r, intr = self.dump(NFT_MSG_GETRULE, NFPROTO_UNSPEC, b"")
        if intr:
            raise RuntimeError("dump interrupted (ruleset changed)")
        return n, r

    def rules_per_chain(self, chains) -> tuple[int, int]:
        total = recvs = 0
        for family, table, chain in chains:
            n, r, intr = self.dump(NFT_MSG_GETRULE, family,
                                   _attr(NFTA_RULE_TABLE, table) + _attr(NFTA_RULE_CHAIN, chain))
            if intr:
                raise RuntimeError("dump interrupted (ruleset changed)")
            total += n
            recvs += r
        return total, recvs


def main() -> int:
    netns = sys.argv[1]
    repeat = 5
    strategies = ["whole", "per-chain"]
    args = sys.argv[2:]
    while args:
        a = args.pop(0)
        if a == "--repeat":
            repeat = int(args.pop(0))
        elif a == "--strategies":
            strategies = args.pop(0).split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    nsutil.die_with_parent(signal.SIGTERM)
    nsutil.enter_netns(netns)
    d = Dumper()
    t0 = time.perf_counter()
    chains = d.chains()
    chains_ms = (time.perf_counter() - t0) * 1000
    times: dict[str, list[float]] = {s: [] for s in strategies}
    counts: dict[str, int] = {}
    recvs: dict[str, int] = {}
    for i in range(repeat + 1):          # the first round is a warm-up
        for s in strategies:
            t0 = time.perf_counter()
            n, r = d.rules_whole() if s == "whole" else d.rules_per_chain(chains)
            ms = (time.perf_counter() - t0) * 1000
            print(f"    kernel GETRULE {s}: {'warm-up' if i == 0 else f'run {i}/{repeat}'} {ms:.1f} ms "
                  f"({n} rules, {r} recv)", file=sys.stderr, flush=True)
            if i:
                times[s].append(ms)
            counts[s], recvs[s] = n, r
    out = {"chains": len(chains), "chains_ms": chains_ms, "repeat": repeat,
           "strategies": {s: {"median_ms": statistics.median(times[s]) if times[s] else None,
                              "min_ms": min(times[s]) if times[s] else None,
                              "rules": counts.get(s), "recv_calls": recvs.get(s)} for s in strategies}}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
