import Foundation
import HostModel

/// Names the container or pod that runs in a namespace from what is on disk: the cgroup path of one of its processes
/// (`/proc/PID/cgroup`), Docker's `config.v2.json` for a container name, and kubelet's `/var/log/pods/NS_NAME_UID`
/// directories for a pod name. No runtime daemon is asked.
public enum ContainerOwners {
    /// Where the runtimes keep their state (a test points them at its own directories).
    public struct Roots: Sendable {
        public var procRoot: String
        public var dockerContainers: String
        public var podLogs: String

        public init(procRoot: String = "/proc", dockerContainers: String = "/var/lib/docker/containers", podLogs: String = "/var/log/pods") {
            self.procRoot = procRoot
            self.dockerContainers = dockerContainers
            self.podLogs = podLogs
        }
    }

    /// The owner of the first of `pids` whose cgroup names a runtime; `process` when none does but a process is there.
    public static func owner(pids: [Int32], roots: Roots = Roots()) -> NamespaceOwner? {
        for pid in pids {
            guard let data = FileManager.default.contents(atPath: "\(roots.procRoot)/\(pid)/cgroup") else { continue }
            if let o = owner(cgroup: String(decoding: data, as: UTF8.self), roots: roots) { return o }
        }
        return nil
    }

    /// The runtime, id and names told by one `/proc/PID/cgroup` text.
    public static func owner(cgroup text: String, roots: Roots = Roots()) -> NamespaceOwner? {
        var path = ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "0", parts[1].isEmpty { path = String(parts[2]); break }
            if parts.count == 3, path.isEmpty { path = String(parts[2]) }
        }
        let comps = path.split(separator: "/").map(String.init)
        var podUID: String?
        var found: NamespaceOwner?
        for (i, c) in comps.enumerated() {
            if let uid = podComponent(c) { podUID = uid }
            if let id = scopedID(c, prefixes: ["docker-"]) ?? (c == "docker" && i + 1 < comps.count && isID(comps[i + 1]) ? comps[i + 1] : nil) {
                found = NamespaceOwner(runtime: "docker", id: id, name: dockerName(id, roots: roots))
            } else if let id = scopedID(c, prefixes: ["libpod-"]), !c.hasPrefix("libpod-conmon-") {
                found = NamespaceOwner(runtime: "podman", id: id)
            } else if let id = scopedID(c, prefixes: ["cri-containerd-", "crio-", "containerd-"]) {
                found = NamespaceOwner(runtime: "kubernetes", id: id)
            } else if c.hasPrefix("lxc.payload.") {
                found = NamespaceOwner(runtime: "lxc", name: String(c.dropFirst(12)))
            }
        }
        if let uid = podUID {
            var o = found ?? NamespaceOwner(runtime: "kubernetes")
            o.runtime = "kubernetes"
            if let (ns, name) = podName(uid: uid, roots: roots) { o.pod = name; o.podNamespace = ns } else { o.pod = "pod \(uid)" }
            return o
        }
        return found
    }

    static func isID(_ s: String) -> Bool { s.count >= 12 && s.allSatisfy(\.isHexDigit) }

    /// `docker-<id>.scope` → id (systemd cgroup driver), or the bare `<prefix><id>` form.
    static func scopedID(_ c: String, prefixes: [String]) -> String? {
        for p in prefixes where c.hasPrefix(p) {
            var id = Substring(c.dropFirst(p.count))
            if id.hasSuffix(".scope") { id = id.dropLast(6) }
            if isID(String(id)) { return String(id) }
        }
        return nil
    }

    /// `kubepods-besteffort-pod<uid_with_underscores>.slice` or `pod<uid>` → the pod UID with dashes.
    static func podComponent(_ c: String) -> String? {
        var s = Substring(c)
        if s.hasSuffix(".slice") { s = s.dropLast(6) }
        guard let r = s.range(of: "pod", options: .backwards) else { return nil }
        let uid = s[r.upperBound...].replacingOccurrences(of: "_", with: "-")
        guard uid.count == 36, uid.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return uid
    }

    /// Docker's `/var/lib/docker/containers/<id>/config.v2.json` `Name` (`/web` → `web`).
    static func dockerName(_ id: String, roots: Roots) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(roots.dockerContainers)/\(id)/config.v2.json"),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let name = obj["Name"] as? String
        else { return nil }
        return name.hasPrefix("/") ? String(name.dropFirst()) : name
    }

    /// kubelet's log directory for a pod: `<namespace>_<name>_<uid>`.
    static func podName(uid: String, roots: Roots) -> (String, String)? {
        for d in listDirectory(roots.podLogs) where d.hasSuffix("_\(uid)") {
            let parts = d.dropLast(uid.count + 1).split(separator: "_", maxSplits: 1)
            if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
        }
        return nil
    }
}
