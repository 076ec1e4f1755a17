#ifndef PORTWARDEN_CNETFILTER_SHIM_H
#define PORTWARDEN_CNETFILTER_SHIM_H

// <netinet/in.h> must come before any linux/ header: <linux/in.h> otherwise redefines what Glibc's module
// already defines and the Clang module build fails (see nftables-netlink.md §6, pitfall 1).
#include <stdint.h>
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/syscall.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter_arp.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

/// nft's own receive buffer size (NFT_NLMSG_MAXSIZE): one 64 KiB datagram plus a page. MNL_SOCKET_BUFFER_SIZE
/// calls sysconf and does not import.
static inline size_t pw_dump_buffer_size(void) {
    return (size_t)UINT16_MAX + (size_t)getpagesize();
}

static inline int pw_errno(void) { return errno; }

/// Joins the network namespace of `fd` on the calling thread only (setns(2) with CLONE_NEWNET); glibc declares
/// setns only under _GNU_SOURCE, which a module map cannot set. Returns 0 or -1 with errno.
static inline int pw_join_netns(int fd) { return (int)syscall(SYS_setns, fd, 0x40000000 /* CLONE_NEWNET */); }

#endif
