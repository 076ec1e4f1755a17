import HostModel

/// The network part of `SnapshotFastReader`: interfaces, routes, sysctls and the other network namespaces.
extension SnapshotFastReader {
    mutating func routing() throws(Declined) -> Routing {
        try object { r throws(Declined) in
            Routing(
                routes: try r.decode("routes") { r throws(Declined) in try r.array { r throws(Declined) in try r.route() } },
                rules: try r.decode("rules") { r throws(Declined) in try r.array { r throws(Declined) in try r.routingRule() } })
        }
    }

    mutating func namespaceID() throws(Declined) -> NamespaceID {
        try object { r throws(Declined) in NamespaceID(inode: try r.uint("inode"), name: try r.stringIfPresent("name")) }
    }

    /// Another network namespace: members in sorted-key order, as the writer puts them.
    mutating func namespace() throws(Declined) -> NetworkNamespace {
        try object { r throws(Declined) in
            let entered = try r.bool("entered")
            let firewall = try r.decode("firewall") { r throws(Declined) in try r.firewall() }
            let id = try r.decode("id") { r throws(Declined) in try r.namespaceID() }
            let interfaces = try r.decode("interfaces") { r throws(Declined) in try r.array { r throws(Declined) in try r.interface() } }
            let listeners = try r.decode("listeners") { r throws(Declined) in try r.array { r throws(Declined) in try r.listener() } }
            let owner = try r.decodeIfPresent("owner") { r throws(Declined) in
                try r.object { r throws(Declined) in
                    let id = try r.stringIfPresent("id"), name = try r.stringIfPresent("name"), pod = try r.stringIfPresent("pod")
                    let podNamespace = try r.stringIfPresent("podNamespace")
                    return NamespaceOwner(runtime: try r.string("runtime"), id: id, name: name, pod: pod, podNamespace: podNamespace)
                }
            }
            let pids = try r.decode("pids") { r throws(Declined) in try r.array { r throws(Declined) in try r.int32() } }
            let routes = try r.decode("routes") { r throws(Declined) in try r.routing() }
            let sysctls = try r.decode("sysctls") { r throws(Declined) in try r.sysctls() }
            return NetworkNamespace(
                id: id, owner: owner, entered: entered, pids: pids, listeners: listeners, interfaces: interfaces,
                routes: routes, sysctls: sysctls, firewall: firewall,
                warnings: try r.decode("warnings") { r throws(Declined) in try r.strings() })
        }
    }

    mutating func interface() throws(Declined) -> Interface {
        try object { r throws(Declined) in
            Interface(
                index: try r.uint("index"), name: try r.string("name"),
                flags: try r.decode("flags") { r throws(Declined) in try r.strings() },
                kind: try r.stringIfPresent("kind"),
                addresses: try r.decode("addresses") { r throws(Declined) in
                    try r.array { r throws(Declined) in
                        try r.object { r throws(Declined) in
                            InterfaceAddress(
                                family: try r.enumValue("family"), address: try r.string("address"),
                                prefixLength: try r.uint("prefixLength"), scope: try r.string("scope"))
                        }
                    }
                },
                master: try r.stringIfPresent("master"))
        }
    }

    mutating func route() throws(Declined) -> Route {
        try object { r throws(Declined) in
            Route(
                family: try r.enumValue("family"), table: try r.uint("table"), type: try r.string("type"),
                destination: try r.string("destination"), prefixLength: try r.uint("prefixLength"),
                gateway: try r.stringIfPresent("gateway"), device: try r.stringIfPresent("device"),
                deviceIndex: try r.uint("deviceIndex"), preferredSource: try r.stringIfPresent("preferredSource"),
                metric: try r.uint("metric"))
        }
    }

    mutating func routingRule() throws(Declined) -> RoutingRule {
        try object { r throws(Declined) in
            RoutingRule(
                family: try r.enumValue("family"), priority: try r.uint("priority"), table: try r.uint("table"),
                action: try r.string("action"), source: try r.stringIfPresent("source"),
                sourcePrefixLength: try r.uint("sourcePrefixLength"), destination: try r.stringIfPresent("destination"),
                destinationPrefixLength: try r.uint("destinationPrefixLength"), iifname: try r.stringIfPresent("iifname"),
                oifname: try r.stringIfPresent("oifname"), fwmark: try r.uintIfPresent("fwmark"),
                fwmask: try r.uintIfPresent("fwmask"), inverted: try r.bool("inverted"))
        }
    }

    mutating func sysctls() throws(Declined) -> Sysctls {
        try object { r throws(Declined) in
            Sysctls(
                ipLocalPortRange: try r.decodeIfPresent("ipLocalPortRange") { r throws(Declined) in try r.portRange() },
                ipLocalReservedPorts: try r.decode("ipLocalReservedPorts") { r throws(Declined) in
                    try r.array { r throws(Declined) in try r.portRange() }
                },
                ipUnprivilegedPortStart: try r.uintIfPresent("ipUnprivilegedPortStart"),
                bindv6only: try r.boolIfPresent("bindv6only"), ipForward: try r.boolIfPresent("ipForward"),
                ipv6Forwarding: try r.boolIfPresent("ipv6Forwarding"),
                routeLocalnet: try r.decode("routeLocalnet") { r throws(Declined) in try r.boolDictionary() },
                ipNonlocalBind: try r.boolIfPresent("ipNonlocalBind"), ipv6NonlocalBind: try r.boolIfPresent("ipv6NonlocalBind"),
                tcpL3mdevAccept: try r.boolIfPresent("tcpL3mdevAccept"), udpL3mdevAccept: try r.boolIfPresent("udpL3mdevAccept"))
        }
    }

    mutating func portRange() throws(Declined) -> PortRange {
        try object { r throws(Declined) in PortRange(first: try r.uint("first"), last: try r.uint("last")) }
    }
}
