"""Small Linux helpers for the benchmark (Python 3 standard library only).

Entering a network namespace uses setns(2) through ctypes, because `os.setns` only exists from Python 3.12 on and
`ip netns exec` would add its own process (and its memory high-water mark) in front of every measured command.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
NETNS_PREFIX = "pwt-bench-"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def enter_netns(name: str) -> None:
    """Moves the calling (single-threaded) process into the named network namespace created by `ip netns add`."""
    if not name.startswith(NETNS_PREFIX):
        raise ValueError(f"refusing to enter a namespace not created by the benchmark: {name!r}")
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):
            os.setns(fd, CLONE_NEWNET)
        elif _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def set_process_name(name: str) -> None:
    """Sets /proc/self/comm (what `ss -p` and the collector show as the owner's name)."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def die_with_parent(sig: int = 9) -> None:
    """Asks the kernel to send `sig` to this process when its parent exits (holders never outlive the harness)."""
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
