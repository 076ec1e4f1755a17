import Foundation
import TestSupport

/// The iptables-nft part of a differential case (`DiffGenerator`), loaded with iptables-restore.
extension DiffGenerator {
    /// An iptables-restore file using the xt matches and targets the evaluator decodes (tcp, udp, multiport,
    /// conntrack, state, addrtype, iprange, comment; REJECT, LOG, DNAT, REDIRECT), user chains, RETURN and goto.
    mutating func xtables(v6: Bool) -> String {
        var filter = [
            "*filter", ":INPUT \(rng.chance(50) ? "DROP" : "ACCEPT") [0:0]", ":PWUSER - [0:0]", ":PWGOTO - [0:0]",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        ]
        let srcs4 = ["203.0.113.0/25", "198.51.100.0/24", "192.0.2.2", "127.0.0.0/8"]
        let srcs6 = ["2001:db8:c::/64", "2001:db8:b::/64", "2001:db8:a::2", "::1"]
        func ports() -> String { rng.sample(self.ports + Self.natPorts, rng.range(2...3)).map(String.init).joined(separator: ",") }
        func one(_ chain: String, allowJump: Bool) -> String {
            let proto = rng.pick(["tcp", "udp", "tcp"])
            var m: [String] = []
            switch rng.below(9) {
            case 0: m.append("-p \(proto) -m multiport --dports \(ports())")
            case 1: m.append("-p \(proto) -m \(proto) --dport \(rng.pick(self.ports))")
            case 2: m.append("-p \(proto) --dport \(rng.pick(["1000:2000", "1:1023", "2000:9000"]))")
            case 3: m.append("-p \(proto) -m \(proto) ! --dport \(rng.pick(self.ports))")
            case 4:
                m.append(
                    "-m \(rng.pick(["conntrack --ctstate NEW", "state --state NEW", "conntrack --ctstate NEW,UNTRACKED", "conntrack --ctstate INVALID"])) -p \(proto) --dport \(rng.pick(self.ports))"
                )
            case 5: m.append("-m addrtype --dst-type LOCAL -p \(proto) --dport \(rng.pick(self.ports))")
            case 6:
                let range = v6 ? "2001:db8:c::1-2001:db8:c::ffff" : "203.0.113.0-203.0.113.150"
                m.append("-m iprange \(rng.chance(30) ? "! " : "")--src-range \(range) -p \(proto) --dport \(rng.pick(self.ports))")
            case 7: m.append("\(rng.chance(30) ? "! " : "")-s \(rng.pick(v6 ? srcs6 : srcs4))")
            default: m.append("\(rng.pick(["-i pwa0", "-i pwb+", "! -i pw+", "-i lo"])) -p \(proto) --dport \(rng.pick(self.ports))")
            }
            if rng.chance(25) { m.append("-m comment --comment \"pw \(rng.below(100))\"") }
            var targets = ["ACCEPT", "ACCEPT", "DROP", "REJECT", "LOG --log-prefix pw"]
            if m[0].contains("-p tcp") { targets.append("REJECT --reject-with tcp-reset") }
            if allowJump { targets += ["PWUSER", "PWGOTO"] } else { targets.append("RETURN") }
            var target = rng.pick(targets)
            var flag = "-j"
            if target == "PWGOTO" { flag = "-g" }
            if target == "PWUSER" && rng.chance(30) { target = "PWGOTO" }
            return "-A \(chain) \(m.joined(separator: " ")) \(flag) \(target)"
        }
        for _ in 0..<rng.range(2...6) { filter.append(one("INPUT", allowJump: true)) }
        for _ in 0..<rng.range(1...3) { filter.append(one("PWUSER", allowJump: false)) }
        for _ in 0..<rng.range(1...2) { filter.append(one("PWGOTO", allowJump: false)) }
        filter.append("COMMIT")
        var out = filter
        if rng.chance(50) {
            var nat = ["*nat", ":PREROUTING ACCEPT [0:0]"]
            for _ in 0..<rng.range(1...2) {
                let proto = rng.pick(["tcp", "udp"])
                let ext = rng.pick(Self.natPorts)
                let target = rng.pick(listeners.map(\.port) + Self.closedPorts)
                if rng.chance(50) {
                    nat.append("-A PREROUTING -p \(proto) --dport \(ext) -j REDIRECT --to-ports \(target)")
                } else {
                    let to = v6 ? "[\(rng.pick(DiffTopology.hostV6))]:\(target)" : "\(rng.pick(DiffTopology.hostV4)):\(target)"
                    nat.append("-A PREROUTING -m addrtype --dst-type LOCAL -p \(proto) --dport \(ext) -j DNAT --to-destination \(to)")
                }
                natMappings.append((ext, proto, v6))
            }
            nat.append("COMMIT")
            out += nat
        }
        return out.joined(separator: "\n") + "\n"
    }
}
