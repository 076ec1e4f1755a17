import Foundation
import HostModel
import Testing
@testable import Collector

/// Who runs in a namespace, from cgroup paths and the runtimes' files on disk (a temporary tree stands for them).
@Suite struct ContainerOwnersTests {
    let id = "3f2a19c0b1d24e5f8a7b6c5d4e3f2a19c0b1d24e5f8a7b6c5d4e3f2a19c0b1d2"
    let uid = "8d1c2f9e-4b7a-4c3d-9e8f-1a2b3c4d5e6f"

    func roots() throws -> (ContainerOwners.Roots, URL) {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pwco-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let docker = dir.appendingPathComponent("docker/\(id)")
        try FileManager.default.createDirectory(at: docker, withIntermediateDirectories: true)
        try Data(#"{"ID":"\#(id)","Name":"/web","State":{"Running":true}}"#.utf8).write(to: docker.appendingPathComponent("config.v2.json"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("pods/shop_api-7f9c_\(uid)"), withIntermediateDirectories: true)
        return (
            ContainerOwners.Roots(
                procRoot: dir.path, dockerContainers: dir.appendingPathComponent("docker").path,
                podLogs: dir.appendingPathComponent("pods").path), dir
        )
    }

    @Test func dockerSystemdDriverWithName() throws {
        let (r, dir) = try roots()
        defer { try? FileManager.default.removeItem(at: dir) }
        let o = ContainerOwners.owner(cgroup: "0::/system.slice/docker-\(id).scope\n", roots: r)
        #expect(o == NamespaceOwner(runtime: "docker", id: id, name: "web"))
        #expect(o?.label == "docker web")
    }

    @Test func dockerCgroupfsDriverV1() throws {
        let (r, dir) = try roots()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = "12:pids:/docker/\(id)\n1:name=systemd:/docker/\(id)\n"
        #expect(ContainerOwners.owner(cgroup: text, roots: r)?.name == "web")
    }

    @Test func kubernetesPodFromKubeletLogs() throws {
        let (r, dir) = try roots()
        defer { try? FileManager.default.removeItem(at: dir) }
        let slice =
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope\n"
        let o = try #require(ContainerOwners.owner(cgroup: slice, roots: r))
        #expect(o.runtime == "kubernetes" && o.pod == "api-7f9c" && o.podNamespace == "shop" && o.id == id)
        #expect(o.label == "kubernetes shop/api-7f9c")
    }

    @Test func podmanAndPlainProcesses() throws {
        let (r, dir) = try roots()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(ContainerOwners.owner(cgroup: "0::/machine.slice/libpod-\(id).scope\n", roots: r) == NamespaceOwner(runtime: "podman", id: id))
        #expect(ContainerOwners.owner(cgroup: "0::/machine.slice/libpod-conmon-\(id).scope\n", roots: r) == nil)
        #expect(ContainerOwners.owner(cgroup: "0::/user.slice/user-1000.slice/session-2.scope\n", roots: r) == nil)
        // from /proc/PID/cgroup of the first pid that names a runtime
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("77"), withIntermediateDirectories: true)
        try Data("0::/system.slice/docker-\(id).scope\n".utf8).write(to: dir.appendingPathComponent("77/cgroup"))
        #expect(ContainerOwners.owner(pids: [76, 77], roots: r)?.name == "web")
    }
}
