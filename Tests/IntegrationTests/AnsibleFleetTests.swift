import Foundation
import Testing
import TestSupport

/// What the fleet test needs besides root: ansible-playbook (ansible-core from PyPI, `scripts/test` installs it) and
/// sshd (openssh-server). Under PORTWARDEN_REQUIRE_NETNS=1 a missing one fails the test instead of skipping it.
enum FleetTools {
    static let playbook = repoRoot + "/examples/ansible/portwarden-fleet.yml"
    static let exampleInventory = repoRoot + "/examples/ansible/inventory.example.ini"
    static var repoRoot: String { repositoryRoot.path }

    /// The absolute path of ansible-playbook on PATH, or nil.
    static let ansiblePlaybook: String? = {
        guard let r = try? run(["sh", "-c", "command -v ansible-playbook"], check: false), r.status == 0 else { return nil }
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }()

    static let sshd = "/usr/sbin/sshd"
    static var haveSSH: Bool { FileManager.default.isExecutableFile(atPath: sshd) && (try? run(["ssh-keygen", "-?"], check: false)) != nil }

    /// True when the test can run; otherwise records a failure under PORTWARDEN_REQUIRE_NETNS=1 and returns false.
    static func ready(needSSH: Bool) -> Bool {
        var missing: [String] = []
        if ansiblePlaybook == nil { missing.append("ansible-playbook (python3 -m pip install ansible-core)") }
        if needSSH && !haveSSH { missing.append("sshd and ssh-keygen (apt-get install openssh-server openssh-client)") }
        guard missing.isEmpty else {
            #expect(!NetnsGate.required, "missing: \(missing.joined(separator: ", ")); scripts/test installs them")
            return false
        }
        return true
    }
}

/// One simulated host: a namespace with its own listener, ruleset, hostname (UTS namespace) and sshd, linked to the
/// controller namespace by a veth (controller 192.0.2.(4i+1)/30, host 192.0.2.(4i+2)/30).
struct FleetHost {
    let name: String
    let namespace: TestNamespace
    let address: String
    let port: Int

    init(index i: Int, port: Int, controller: TestNamespace, dir: TempDir) throws {
        name = "fleet-h\(i)"
        self.port = port
        address = "192.0.2.\(4 * i + 2)"
        namespace = try TestNamespace("fh\(i)")
        try controller.veth("c\(i)", "e\(i)", peer: namespace)
        try controller.exec(["ip", "addr", "add", "192.0.2.\(4 * i + 1)/30", "dev", "c\(i)"])
        try namespace.exec(["ip", "addr", "add", "\(address)/30", "dev", "e\(i)"])
        try namespace.nft(
            """
            table inet filter {
              chain input {
                type filter hook input priority filter; policy drop;
                iif lo accept
                ct state established,related accept
                ip saddr 192.0.2.0/24 tcp dport 22 accept
                tcp dport \(port) accept
              }
            }
            """)
        try namespace.spawn(["python3", "-c", "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', \(port)))\ns.listen()\ntime.sleep(3600)"])
        let config = dir.file("sshd-\(i).conf")
        try """
        ListenAddress \(address):22
        HostKey \(dir.file("host_key"))
        AuthorizedKeysFile \(dir.file("authorized_keys"))
        PidFile \(dir.file("sshd-\(i).pid"))
        StrictModes no
        UsePAM no
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        Subsystem sftp internal-sftp
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try run([FleetTools.sshd, "-t", "-f", config])
        // Its own UTS namespace, so the audit (gethostname) names this host and not the machine running the test.
        // sshd daemonizes (no -D): a child of Foundation's Process that closes its inherited descriptors, as sshd
        // does, makes Process wait for it forever; the daemon is killed with the namespace's other processes.
        try namespace.exec([
            "unshare", "--uts", "sh", "-c", "hostname \(name) && exec \(FleetTools.sshd) -E \(dir.file("sshd-\(i).log")) -f \(config)"
        ])
        try waitForListener(port: 22)
        try waitForListener(port: port)
    }

    func waitForListener(port: Int) throws {
        for _ in 0..<100 {
            if try namespace.exec(["ss", "-Hltn", "sport = :\(port)"]).stdout.contains(":\(port)") { return }
            usleep(50_000)
        }
        throw ShellError.failed(command: ["ss", "sport = :\(port)"], status: 1, stderr: "nothing listens on port \(port) in \(namespace.name)")
    }
}

/// `examples/ansible/portwarden-fleet.yml` for real: three hosts simulated by namespaces, each with its own sshd, the
/// controller (ansible-playbook) in a namespace too; the merged report must name every host and its own listener.
@Suite(.serialized) struct AnsibleFleetTests {
    @Test(.enabled(if: FleetTools.ansiblePlaybook != nil || NetnsGate.required, "ansible-playbook is not installed"))
    func playbookPassesSyntaxCheck() throws {
        guard FleetTools.ready(needSSH: false), let ansible = FleetTools.ansiblePlaybook else { return }
        let r = try run([ansible, "--syntax-check", "-i", FleetTools.exampleInventory, FleetTools.playbook], check: false)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    @Test(
        .enabled(if: NetnsGate.enabled, NetnsGate.reason),
        .enabled(if: (FleetTools.ansiblePlaybook != nil && FleetTools.haveSSH) || NetnsGate.required, "ansible-playbook or sshd is not installed"))
    func playbookAuditsEveryHostAndMergesTheReports() throws {
        guard FleetTools.ready(needSSH: true), let ansible = FleetTools.ansiblePlaybook else { return }
        let dir = try TempDir("fleet")
        try run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file("id")])
        try run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file("host_key")])
        try FileManager.default.copyItem(atPath: dir.file("id.pub"), toPath: dir.file("authorized_keys"))
        // sshd refuses to start without its privilege separation directory; made only when missing, removed after.
        let privsep = "/run/sshd"
        let madePrivsep = !FileManager.default.fileExists(atPath: privsep)
        if madePrivsep {
            try FileManager.default.createDirectory(atPath: privsep, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        }
        let controller = try TestNamespace("ctl")
        var hosts: [FleetHost] = []
        defer {
            for h in hosts {
                h.namespace.cleanup()
                try? FileManager.default.removeItem(atPath: "/tmp/portwarden-\(h.name).json")
            }
            controller.cleanup()
            if madePrivsep { try? FileManager.default.removeItem(atPath: privsep) }
        }
        for (i, port) in [(1, 5432), (2, 3306), (3, 6379)] {
            hosts.append(try FleetHost(index: i, port: port, controller: controller, dir: dir))
        }
        let inventory = dir.file("inventory.json")
        try writeInventory(inventory, hosts: hosts, dir: dir)
        let syntax = try run([ansible, "--syntax-check", "-i", inventory, FleetTools.playbook], check: false)
        #expect(syntax.status == 0, "\(syntax.stdout)\(syntax.stderr)")
        var env = ProcessInfo.processInfo.environment
        env["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=no"
        env["ANSIBLE_LOCAL_TEMP"] = dir.file("ansible-local")
        env["ANSIBLE_REMOTE_TMP"] = dir.file("ansible-remote")
        env["ANSIBLE_NOCOLOR"] = "1"
        let play = try run(["ip", "netns", "exec", controller.name, ansible, "-i", inventory, FleetTools.playbook], environment: env, check: false)
        let logs = (1...3).map { (try? String(contentsOfFile: dir.file("sshd-\($0).log"), encoding: .utf8)) ?? "" }.joined()
        try #require(play.status == 0, "ansible-playbook exited \(play.status):\n\(play.stdout)\n\(play.stderr)\nsshd: \(logs)")
        let fleet = try String(contentsOfFile: dir.file("out/fleet.txt"), encoding: .utf8)
        #expect(fleet.contains("fleet report: 3 hosts"), "\(fleet)")
        let pw1006 = fleet.split(separator: "\n").first { $0.hasPrefix("  PW1006 ") }.map(String.init) ?? ""
        for h in hosts {
            #expect(fleet.contains("  \(h.name) (collected "), "\(h.name) missing:\n\(fleet)")
            #expect(pw1006.contains("\(h.name) tcp 0.0.0.0:\(h.port)"), "\(h.name)'s listener missing:\n\(fleet)")
            for other in hosts where other.port != h.port {
                #expect(!pw1006.contains("\(h.name) tcp 0.0.0.0:\(other.port)"), "\(h.name) reports \(other.name)'s listener")
            }
            #expect(FileManager.default.fileExists(atPath: dir.file("out/reports/\(h.name).json")))
        }
        let sarif = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("out/fleet.sarif")))) as? [String: Any]
        let ids = (sarif?["runs"] as? [[String: Any]] ?? []).compactMap { ($0["automationDetails"] as? [String: Any])?["id"] as? String }
        #expect(ids == hosts.map { "portwarden/\($0.name)/" })
        if let validator = integrationSarifValidator() {
            let v = try run([validator, dir.file("out/fleet.sarif")], check: false)
            #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        }
    }

    /// A YAML (JSON) inventory: lists such as `portwarden_audit_args` stay lists, unlike INI group vars.
    func writeInventory(_ path: String, hosts: [FleetHost], dir: TempDir) throws {
        let python = try run(["python3", "-c", "import sys; print(sys.executable)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var entries: [String: Any] = [:]
        for h in hosts { entries[h.name] = ["ansible_host": h.address] }
        let vars: [String: Any] = [
            "ansible_user": "root",
            "ansible_become_method": "su",
            "ansible_python_interpreter": python,
            "ansible_ssh_private_key_file": dir.file("id"),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes",
            "portwarden_bin": URL(fileURLWithPath: portwardenBinary).standardizedFileURL.path,
            // Only the host's own namespace: the others under /run/netns are the other simulated hosts.
            "portwarden_audit_args": ["--netns", "host"],
            "portwarden_out": dir.file("out")
        ]
        let inventory: [String: Any] = ["all": ["hosts": entries, "vars": vars]]
        try JSONSerialization.data(withJSONObject: inventory, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }
}
