import Foundation
import Testing

// A container host built from namespaces: a client `peer` on the host's uplink `vp0` (192.0.2.1/24, 2001:db8::1/64;
// the peer is 192.0.2.9 and .10, 2001:db8::9), a bridge `pwbr0` in the host (198.51.100.1/24, 2001:db8:ac::1/64) and a
// `container` namespace behind a veth on it (eth0 198.51.100.2/24, 2001:db8:ac::2/64, default routes via the bridge)
// with real sockets. The host's ruleset decides; real connections and datagrams from the peer show what the kernel
// did; `portwarden collect` inside the host (reading the container namespace too) and `trace` say what we predict.

/// The Python side: a socket holder that logs what arrives and a prober that sends one probe per line.
let containerLabScript = #"""
    #!/usr/bin/env python3
    import json, os, select, socket, sys, time

    def serve(ready, log_path, specs):
        socks = []
        for spec in specs:
            proto, addr, port = spec.split(",")
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((addr, int(port)))
            if proto == "tcp":
                s.listen(64)
            socks.append((s, proto))
        log = open(log_path, "a", buffering=1)
        open(ready, "w").write("ok")
        conns = []
        while not os.path.exists(ready + ".stop"):
            r, _, _ = select.select([s for s, _ in socks] + [c for c, _ in conns], [], [], 0.1)
            for s in r:
                match = [p for x, p in socks if x is s]
                if match and match[0] == "tcp":
                    c, peer = s.accept()
                    conns.append((c, c.getsockname()[1]))
                elif match:
                    data, peer = s.recvfrom(256)
                    log.write(json.dumps({"proto": "udp", "port": s.getsockname()[1], "id": data.decode()}) + "\n")
                else:
                    port = [p for x, p in conns if x is s][0]
                    data = s.recv(256)
                    if data:
                        log.write(json.dumps({"proto": "tcp", "port": port, "id": data.decode()}) + "\n")
                    conns = [(x, p) for x, p in conns if x is not s]
                    s.close()

    def probe():
        for line in sys.stdin:
            p = json.loads(line)
            fam = socket.AF_INET6 if ":" in p["dst"] else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM if p["proto"] == "tcp" else socket.SOCK_DGRAM)
            s.bind((p["src"], 0))
            s.settimeout(1.5)
            note = "sent"
            try:
                s.connect((p["dst"], p["dport"]))
                s.send(p["id"].encode())
                note = "connected"
            except socket.timeout:
                note = "timeout"
            except OSError as e:
                note = e.strerror or str(e)
            s.close()
            print(json.dumps({"id": p["id"], "note": note}), flush=True)
        time.sleep(0.5)

    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        probe()
    """#

/// One probe from the peer to the host's uplink address, and what the kernel and portwarden made of it.
struct ContainerProbe: Sendable {
    var id: String
    var proto: String
    var src: String
    var dst: String
    var dport: Int

    /// The prober's line (with the id it sends as payload).
    var json: String {
        #"{"proto":"\#(proto)","src":"\#(src)","dst":"\#(dst)","dport":\#(dport),"iif":"vp0","id":"\#(id)"}"#
    }

    /// The trace contract's probe line: arriving on the host's uplink.
    var traceLine: String {
        #"{"proto":"\#(proto)","src":"\#(src)","dst":"\#(dst)","dport":\#(dport),"iif":"vp0"}"#
    }
}

struct ContainerVerdicts: Sendable {
    /// Kernel: the container's socket that received it (port), nil when nothing did.
    var kernel: [String: Int?]
    /// portwarden: the receiving socket's port when `delivered`, and the namespace it named.
    var predicted: [String: (port: Int?, namespace: String?, verdict: String)]
}

final class ContainerLab {
    let peer: TestNamespace
    let host: TestNamespace
    let container: TestNamespace
    let work: URL
    private var server: Process?

    init() throws {
        work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pwct-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try Data(containerLabScript.utf8).write(to: work.appendingPathComponent("lab.py"))
        peer = try TestNamespace("ctp")
        host = try TestNamespace("cth")
        container = try TestNamespace("ctc")
        do { try build() } catch { cleanup(); throw error }
    }

    deinit { cleanup() }

    func cleanup() {
        FileManager.default.createFile(atPath: work.appendingPathComponent("ready.stop").path, contents: Data())
        server?.waitUntilExit()
        container.cleanup()
        host.cleanup()
        peer.cleanup()
        try? FileManager.default.removeItem(at: work)
    }

    private func build() throws {
        try host.veth("vp0", "eth0", peer: peer)
        try host.exec(["ip", "link", "add", "pwbr0", "type", "bridge"])
        try host.exec(["ip", "link", "set", "pwbr0", "up"])
        try host.veth("vc1", "eth0", peer: container)
        try host.exec(["ip", "link", "set", "vc1", "master", "pwbr0"])
        try host.exec([
            "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1"
        ])
        let addrs: [(TestNamespace, String, String)] = [
            (host, "vp0", "192.0.2.1/24"), (host, "vp0", "192.0.2.2/24"), (host, "vp0", "2001:db8::1/64"),
            (host, "pwbr0", "198.51.100.1/24"), (host, "pwbr0", "2001:db8:ac::1/64"),
            (peer, "eth0", "192.0.2.9/24"), (peer, "eth0", "192.0.2.10/24"), (peer, "eth0", "2001:db8::9/64"),
            (container, "eth0", "198.51.100.2/24"), (container, "eth0", "2001:db8:ac::2/64")
        ]
        for (ns, dev, a) in addrs { try ns.exec(["ip", "addr", "add", a, "dev", dev] + (a.contains(":") ? ["nodad"] : [])) }
        try container.exec(["ip", "route", "add", "default", "via", "198.51.100.1"])
        try container.exec(["ip", "-6", "route", "add", "default", "via", "2001:db8:ac::1"])
        try peer.exec(["ip", "-6", "route", "add", "2001:db8:ac::/64", "via", "2001:db8::1"])
        // Container sockets: a dual-stack web server on 80, DNS on 53/udp; nothing on 81.
        let ready = work.appendingPathComponent("ready").path
        server = try container.spawn([
            "python3", work.appendingPathComponent("lab.py").path, "serve", ready,
            work.appendingPathComponent("arrivals.log").path, "tcp,::,80", "udp,0.0.0.0,53"
        ])
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready) {
            guard Date() < deadline else { throw ShellError.failed(command: ["lab.py serve"], status: -1, stderr: "not ready") }
            usleep(50_000)
        }
    }

    /// Sends every probe from the peer, then traces each on a snapshot the host took of itself and the container.
    func run(_ probes: [ContainerProbe]) throws -> ContainerVerdicts {
        // The holder keeps the log open: it is read, never replaced (one run per lab).
        let log = work.appendingPathComponent("arrivals.log")
        _ = try peer.exec(
            ["python3", work.appendingPathComponent("lab.py").path, "probe"],
            input: Data(probes.map(\.json).joined(separator: "\n").utf8))
        var kernel: [String: Int?] = Dictionary(uniqueKeysWithValues: probes.map { ($0.id, nil) })
        for line in (try String(contentsOf: log, encoding: .utf8)).split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = o["id"] as? String else { continue }
            kernel[id] = o["port"] as? Int
        }
        let snap = work.appendingPathComponent("snap.json").path
        try host.exec([portwardenBinary, "collect", "--netns", container.name, "--output", snap])
        let traced = try runCommand(
            [portwardenBinary, "trace", "--snapshot", snap, "--probes", "-"],
            input: Data(probes.map(\.traceLine).joined(separator: "\n").utf8))
        var predicted: [String: (port: Int?, namespace: String?, verdict: String)] = [:]
        for (p, line) in zip(probes, traced.stdout.split(separator: "\n")) {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let listener = o["listener"] as? [String: Any]
            let delivered = o["delivered"] as? Bool ?? false
            predicted[p.id] = (delivered ? listener?["port"] as? Int : nil, listener?["namespace"] as? String, o["verdict"] as? String ?? "?")
        }
        return ContainerVerdicts(kernel: kernel, predicted: predicted)
    }

    /// `portwarden exposure --format json` on the host, with the container namespace.
    func exposure() throws -> [String: Any] {
        let r = try host.exec([portwardenBinary, "exposure", "--netns", container.name, "--format", "json"])
        return try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any] ?? [:]
    }
}

/// The free `run`, for methods of a type that has a `run` of its own.
func runCommand(_ command: [String], input: Data? = nil) throws -> CommandResult { try run(command, input: input) }
