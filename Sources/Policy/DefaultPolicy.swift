// Generated from policies/default.yaml; PolicyTests checks that the two are identical. Edit the YAML, then copy it here.

/// The built-in default policy, embedded so the binary needs no data files.
public enum DefaultPolicy {
    /// The name used in messages and report locations.
    public static let name = "policies/default.yaml"

    /// The exact text of `policies/default.yaml`.
    public static let text = #"""
        # portwarden built-in default policy (embedded in the binary; `portwarden audit` uses it when no --policy is given).
        #
        # It declares no listeners, so it does not judge which services a host should run. It reports what is risky on any
        # host: sensitive services (databases, caches, queues, admin and debug ports, remote desktop, container APIs,
        # cleartext protocols) reachable from beyond the host, missing or unreadable firewalls, wide-open input paths,
        # privileged-port and ephemeral-range problems, IPv4/IPv6 mismatches and ruleset defects.
        #
        # Copy it as a starting point, or run `portwarden policy init` to describe a host as it is.
        version: 1

        checks:
          # Without declared listeners every reachable port would be "undeclared": that is a policy decision, not a default.
          undeclared-listener:
            disabled: true
          # Wildcard binds are normal on a host nobody has described yet.
          wildcard-bind:
            disabled: true

        forbidden:
          - proto: tcp
            port: 23
            reason: telnet sends credentials in cleartext
          - proto: tcp
            port: 513-514
            reason: rlogin and rsh trust source addresses and send cleartext

        """#
}
