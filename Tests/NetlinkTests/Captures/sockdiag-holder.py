import socket, os, time, sys
S = []
def tcp(fam, addr, port, v6only=None, dev=None):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev)
    s.bind((addr, port)); s.listen(); S.append(s); return s
def udp(fam, addr, port, v6only=None, dev=None):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev)
    s.bind((addr, port)); S.append(s); return s
A4, A6 = socket.AF_INET, socket.AF_INET6
tcp(A4, "0.0.0.0", 8080)
lo = tcp(A4, "127.0.0.1", 631)
tcp(A6, "::", 9090, v6only=0)
tcp(A6, "::", 9091, v6only=1)
tcp(A6, "2001:db8::10", 443)
udp(A4, "192.0.2.10", 53, dev=b"d0")
udp(A6, "::", 5353, v6only=0)
# an established pair and a connected UDP socket: neither is a listener
c = socket.create_connection(("127.0.0.1", 631)); a, _ = lo.accept(); S += [c, a]
cu = socket.socket(A4, socket.SOCK_DGRAM); cu.bind(("127.0.0.1", 4000)); cu.connect(("127.0.0.1", 4001)); S.append(cu)
pid = os.fork()
if pid == 0:
    os.setgid(65534); os.setuid(65534)
    udp(A4, "0.0.0.0", 5000)
    tcp(A4, "192.0.2.10", 7000)
    print("child ready", flush=True)
    time.sleep(int(sys.argv[1]))
    sys.exit(0)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(int(sys.argv[1]))
