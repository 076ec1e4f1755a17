import Foundation
import Testing

/// The differential harness on a ruleset written by firewalld (nftables backend), run inside the host test namespace
/// with a private mount namespace: its own /etc/firewalld (the package defaults from /usr/lib/firewalld plus the
/// zones configured here), its own /run (with a private D-Bus system bus), /var/log and /var/lib/firewalld, and
/// `modprobe` replaced by `true`. firewalld is started there with `CleanupOnExit=no`, applies its ruleset to the
/// namespace, and is stopped again; the ruleset stays.
///
/// firewalld must be installed with service start blocked (a `policy-rc.d` that exits 101; on a host with systemd
/// also `systemctl mask firewalld` before installing); the test is skipped when it is not. It checks that the
/// machine's own /etc/firewalld and the root namespace's ruleset are unchanged afterwards.
enum DiffFirewalld {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/firewalld") && FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon")
    }

    static let commands = [
        "firewall-offline-cmd --zone=public --add-interface=pwa0",
        "firewall-offline-cmd --zone=internal --add-interface=pwb0",
        "firewall-offline-cmd --zone=public --add-port=80/tcp",
        "firewall-offline-cmd --zone=public --add-port=1000-2000/udp",
        "firewall-offline-cmd --zone=public --add-rich-rule='rule family=\"ipv4\" source address=\"203.0.113.0/25\" port port=\"5353\" protocol=\"udp\" accept'",
        "firewall-offline-cmd --zone=public --add-rich-rule='rule family=\"ipv4\" source address=\"203.0.113.10\" port port=\"8080\" protocol=\"tcp\" reject'",
        "firewall-offline-cmd --zone=public --add-port=8080/tcp",
        "firewall-offline-cmd --zone=public --add-rich-rule='rule family=\"ipv6\" source address=\"2001:db8:c::/64\" port port=\"443\" protocol=\"tcp\" accept'",
        "firewall-offline-cmd --zone=public --add-forward-port=port=8022:proto=tcp:toport=22",
        "firewall-offline-cmd --zone=internal --add-port=3000/tcp"
    ]

    static func script(workDir: URL) -> String {
        let w = workDir.appendingPathComponent("firewalld").path
        return """
            set -e
            W='\(w)'
            rm -rf "$W"; mkdir -p "$W/etc" "$W/run" "$W/log" "$W/varlib"
            for d in zones services policies ipsets icmptypes helpers; do mkdir -p "$W/etc/$d"; done
            cat > "$W/etc/firewalld.conf" <<'EOF'
            DefaultZone=public
            CleanupOnExit=no
            CleanupModulesOnExit=no
            Lockdown=no
            IPv6_rpfilter=yes
            IndividualCalls=no
            LogDenied=off
            FirewallBackend=nftables
            FlushAllOnReload=yes
            RFC3964_IPv4=yes
            EOF
            mount --bind "$W/etc" /etc/firewalld
            mount --bind "$W/run" /run
            mount --bind "$W/log" /var/log
            if [ -d /var/lib/firewalld ]; then mount --bind "$W/varlib" /var/lib/firewalld; fi
            for m in /usr/sbin/modprobe /sbin/modprobe /usr/bin/modprobe; do if [ -e "$m" ]; then mount --bind /bin/true "$m"; fi; done
            mkdir -p /run/dbus
            cat > "$W/bus.conf" <<'EOF'
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <listen>unix:path=/run/dbus/system_bus_socket</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <allow own="*"/>
                <allow send_destination="*" eavesdrop="true"/>
                <allow receive_sender="*"/>
              </policy>
            </busconfig>
            EOF
            dbus-daemon --config-file="$W/bus.conf" --fork --nopidfile --print-pid > "$W/dbus.pid"
            \(commands.joined(separator: " >/dev/null\n")) >/dev/null
            firewalld --nofork --nopid >"$W/firewalld.out" 2>&1 &
            FW=$!
            i=0
            until firewall-cmd --state >/dev/null 2>&1; do
                i=$((i+1)); if [ $i -ge 300 ]; then echo "firewalld did not start" >&2; cat "$W/firewalld.out" >&2; kill $FW; kill "$(cat "$W/dbus.pid")"; exit 1; fi
                sleep 0.1
            done
            firewall-cmd --get-active-zones
            kill $FW; wait $FW || true
            kill "$(cat "$W/dbus.pid")" || true
            """
    }

    static func makeCase(workDir: URL) -> DiffCase {
        typealias T = DiffToolCase
        let listeners = [
            T.l(1, "tcp", "0.0.0.0", 22), T.l(2, "tcp", "::", 80), T.l(3, "udp", "0.0.0.0", 1500), T.l(4, "udp", "0.0.0.0", 5353),
            T.l(5, "tcp", "::", 8080), T.l(6, "tcp", "::", 443, v6only: true), T.l(7, "tcp", "0.0.0.0", 3000), T.l(8, "udp", "::", 9000),
            T.l(9, "tcp", "127.0.0.1", 5432)
        ]
        let probes = T.probes(listeners, seed: 0x66_77_64, extraPorts: [("tcp", 8022)])
        var c = DiffCase(seed: 0, layout: .none, ruleset: commands.joined(separator: "\n"), listeners: listeners, probes: probes, name: "firewalld")
        c.toolScript = script(workDir: workDir)
        return c
    }
}

extension DifferentialTests {
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason), .enabled(if: DiffFirewalld.available, "firewalld is not installed"))
    func firewalldRulesetAgreesWithKernel() throws {
        try DiffToolCase.check("firewalld") { DiffFirewalld.makeCase(workDir: $0) }
    }
}
