import HostModel

/// A port that should not be reachable from beyond the host without a deliberate decision, and why.
public struct SensitivePort: Sendable, Equatable {
    public var proto: L4Proto
    public var port: UInt16
    public var service: String
    public var reason: String
    /// Critical when reachable from anywhere (unauthenticated by default, or remote code execution by design).
    public var critical: Bool
}

/// The data table behind PW1006. Sorted by port; one line per (proto, port).
public enum SensitivePorts {
    static func t(_ port: UInt16, _ service: String, _ reason: String, critical: Bool = false) -> SensitivePort {
        SensitivePort(proto: .tcp, port: port, service: service, reason: reason, critical: critical)
    }
    static func u(_ port: UInt16, _ service: String, _ reason: String, critical: Bool = false) -> SensitivePort {
        SensitivePort(proto: .udp, port: port, service: service, reason: reason, critical: critical)
    }

    public static let table: [SensitivePort] = [
        t(21, "FTP", "cleartext protocol: credentials and data travel unencrypted"),
        t(23, "telnet", "cleartext remote shell: credentials travel unencrypted", critical: true),
        t(69, "TFTP (tcp)", "unauthenticated file transfer"),
        u(69, "TFTP", "unauthenticated file transfer"),
        t(111, "rpcbind", "exposes the RPC service map and is used for amplification"),
        u(111, "rpcbind", "exposes the RPC service map and is used for amplification"),
        t(135, "MS RPC", "Windows RPC endpoint mapper"),
        t(139, "NetBIOS session", "file sharing; long history of remote exploits"),
        u(161, "SNMP", "community strings in cleartext; v1/v2c reveals host configuration"),
        t(445, "SMB", "file sharing; long history of remote exploits"),
        t(512, "rexec", "cleartext remote execution", critical: true),
        t(513, "rlogin", "trusts source addresses; cleartext", critical: true),
        t(514, "rsh", "trusts source addresses; cleartext", critical: true),
        t(873, "rsync daemon", "often configured without authentication"),
        t(1433, "Microsoft SQL Server", "database: data and credentials"),
        t(1521, "Oracle database", "database: data and credentials"),
        t(2049, "NFS", "file systems exported by address, not by user"),
        u(2049, "NFS", "file systems exported by address, not by user"),
        t(2375, "Docker API (plain)", "unauthenticated root on the host through the container API", critical: true),
        t(2376, "Docker API (TLS)", "root on the host through the container API"),
        t(2379, "etcd client", "cluster state and secrets of Kubernetes", critical: true),
        t(2380, "etcd peer", "cluster state replication"),
        t(3000, "Grafana / development servers", "admin interfaces and development servers"),
        t(3306, "MySQL / MariaDB", "database: data and credentials"),
        t(3389, "RDP", "remote desktop: brute force and pre-auth exploits"),
        t(4243, "Docker API (alt)", "unauthenticated root on the host through the container API", critical: true),
        t(5000, "Docker registry / Flask debug", "image registry or development server"),
        t(5432, "PostgreSQL", "database: data and credentials"),
        t(5601, "Kibana", "log data and admin interface"),
        t(5672, "AMQP (RabbitMQ)", "message queue"),
        t(5900, "VNC", "remote desktop, often weakly authenticated"),
        t(5984, "CouchDB", "database with an HTTP admin API"),
        t(6379, "Redis", "no authentication by default; writable config leads to code execution", critical: true),
        t(6443, "Kubernetes API", "cluster control plane"),
        t(8086, "InfluxDB", "time-series database"),
        t(8500, "Consul", "service catalog and key-value store with an HTTP API"),
        t(9000, "PHP-FPM / admin consoles", "FastCGI allows code execution when reachable"),
        t(9090, "Prometheus / admin consoles", "metrics and admin endpoints"),
        t(9092, "Kafka", "message queue"),
        t(9200, "Elasticsearch", "search database with an HTTP API, historically unauthenticated", critical: true),
        t(9300, "Elasticsearch transport", "cluster transport"),
        t(10250, "kubelet API", "executes commands in pods", critical: true),
        t(11211, "memcached", "unauthenticated cache; UDP amplification"),
        u(11211, "memcached", "unauthenticated cache; UDP amplification", critical: true),
        t(15672, "RabbitMQ management", "admin interface"),
        t(27017, "MongoDB", "database: historically unauthenticated by default", critical: true),
        t(50000, "SAP / Jenkins agents", "admin and agent channels")
    ]

    /// The entry for a listener's protocol and port.
    public static func lookup(_ proto: L4Proto, _ port: UInt16) -> SensitivePort? {
        table.first { $0.proto == proto && $0.port == port }
    }
}
