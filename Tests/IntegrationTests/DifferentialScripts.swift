// The Python helper of the differential harness (socket holder and prober), embedded so the test target
// needs no resource declaration; DiffLab writes it to its work directory. Python 3 standard library only.

let differentialHelperScript = #"""
    #!/usr/bin/env python3
    # Differential-harness helper for portwarden's IntegrationTests (embedded into DifferentialScripts.swift).
    #   pwdiff.py hold SPEC READY LOG   bind every listener in SPEC, log each arrival (socket id, peer, probe id) to LOG
    #   pwdiff.py probe TIMEOUT_MS      read probes (JSON lines) on stdin, send them all at once, print one result line each
    import errno, json, os, select, signal, socket, sys, time

    def norm(addr):
        if addr.startswith("::ffff:") and "." in addr:
            return addr[7:]
        return addr

    def family(addr):
        return socket.AF_INET6 if ":" in addr else socket.AF_INET

    def hold(spec_path, ready_path, log_path):
        # Stops when the file READY.stop appears (a signal would reach `ip netns exec`, not necessarily us).
        stop_path = ready_path + ".stop"
        with open(spec_path) as f:
            spec = json.load(f)
        by_fd = {}
        try:
            socks = []
            for l in spec:
                fam = socket.AF_INET6 if l["family"] == "ipv6" else socket.AF_INET
                typ = socket.SOCK_STREAM if l["proto"] == "tcp" else socket.SOCK_DGRAM
                s = socket.socket(fam, typ)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if l["proto"] == "tcp":
                    # TCP needs SO_REUSEPORT to hold a specific and a wildcard bind on one port; the harness never
                    # generates two sockets that could both match one packet within the same lookup bucket.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if l["v6only"] else 0)
                if l.get("device"):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, l["device"].encode())
                s.bind((l["address"], l["port"]))
                s.setblocking(False)
                socks.append((s, l))
            for s, l in socks:
                if l["proto"] == "tcp":
                    s.listen(512)
                by_fd[s.fileno()] = (s, l)
        except OSError as e:
            with open(ready_path + ".tmp", "w") as f:
                json.dump({"error": "%s while binding %s" % (e, json.dumps(l))}, f)
            os.rename(ready_path + ".tmp", ready_path)
            sys.exit(1)
        log = open(log_path, "w")
        accepted = []
        stop = [False]
        def on_term(signum, frame):
            stop[0] = True
        signal.signal(signal.SIGTERM, on_term)
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        with open(ready_path + ".tmp", "w") as f:
            json.dump({"ready": True, "pid": os.getpid()}, f)
        os.rename(ready_path + ".tmp", ready_path)

        def drain(fd):
            s, l = by_fd[fd]
            while True:
                try:
                    if l["proto"] == "tcp":
                        c, peer = s.accept()
                        local = c.getsockname()
                        # Kept open until the end: closing now would reset the prober's connect() before it looks.
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        accepted.append(c)
                        rec = {"id": l["id"], "proto": "tcp", "src": norm(peer[0]), "sport": peer[1],
                               "dst": norm(local[0]), "dport": local[1]}
                    else:
                        data, peer = s.recvfrom(2048)
                        rec = {"id": l["id"], "proto": "udp", "src": norm(peer[0]), "sport": peer[1],
                               "payload": data.decode("ascii", "replace")}
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                log.write(json.dumps(rec) + "\n")

        while not stop[0] and not os.path.exists(stop_path):
            try:
                events = poller.poll(20)
            except InterruptedError:
                events = []
            for fd, _ in events:
                drain(fd)
        for fd in by_fd:
            drain(fd)
        for c in accepted:
            c.close()
        log.flush()
        log.close()

    def probe(timeout_ms):
        probes = [json.loads(line) for line in sys.stdin if line.strip()]
        pending = {}
        results = []
        udp_sent = False
        for p in probes:
            fam = family(p["dst"])
            try:
                if p["proto"] == "tcp":
                    s = socket.socket(fam, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.bind((p["src"], p["sport"]))
                    s.setblocking(False)
                    rc = s.connect_ex((p["dst"], p["dport"]))
                    if rc in (0,):
                        results.append({"pid": p["pid"], "ok": True})
                        s.close()
                    elif rc in (errno.EINPROGRESS, errno.EAGAIN):
                        pending[s.fileno()] = (s, p)
                    else:
                        results.append({"pid": p["pid"], "ok": False, "err": errno.errorcode.get(rc, str(rc))})
                        s.close()
                else:
                    s = socket.socket(fam, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((p["src"], p["sport"]))
                    s.sendto(("pwprobe:%d" % p["pid"]).encode(), (p["dst"], p["dport"]))
                    s.close()
                    udp_sent = True
                    results.append({"pid": p["pid"], "ok": True, "sent": True})
            except OSError as e:
                results.append({"pid": p["pid"], "ok": False, "err": "local:%s" % e})
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        deadline = time.monotonic() + timeout_ms / 1000.0
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left * 1000):
                s, p = pending.pop(fd)
                poller.unregister(fd)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err == 0:
                    results.append({"pid": p["pid"], "ok": True})
                else:
                    results.append({"pid": p["pid"], "ok": False, "err": errno.errorcode.get(err, str(err))})
                s.close()
        for fd, (s, p) in pending.items():
            results.append({"pid": p["pid"], "ok": False, "err": "timeout"})
            s.close()
        if udp_sent:
            time.sleep(0.1)
        for r in results:
            print(json.dumps(r))

    if __name__ == "__main__":
        if sys.argv[1] == "hold":
            hold(sys.argv[2], sys.argv[3], sys.argv[4])
        elif sys.argv[1] == "probe":
            probe(int(sys.argv[2]))
        else:
            sys.exit(64)
    """#
