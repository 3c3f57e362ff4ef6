/* Linux interfaces that Swift cannot call directly: the ethtool ioctl
 * (ioctl is variadic), setns (needs _GNU_SOURCE), and the netlink and
 * ethtool constants that arrive as macros. */
#ifndef XDPBATCH_CLINUX_SHIM_H
#define XDPBATCH_CLINUX_SHIM_H

/* No _GNU_SOURCE here: it changes glibc's struct definitions (fd_set)
 * and then clashes with the Glibc and CBPF modules. setns is declared by
 * hand instead. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/genetlink.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>

/* errno as a function: Swift cannot read the thread-local macro directly. */
static inline int clinux_errno(void) { return errno; }

/* ETHTOOL_GDRVINFO on `name` through the socket `fd`: driver, version,
 * firmware and bus info. Returns 0, or -1 with errno set. */
static inline int clinux_ethtool_drvinfo(int fd, const char *name, struct ethtool_drvinfo *info)
{
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  memset(info, 0, sizeof(*info));
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  info->cmd = ETHTOOL_GDRVINFO;
  request.ifr_data = (void *)info;
  return ioctl(fd, SIOCETHTOOL, &request);
}

extern int setns(int fd, int nstype);
extern int sched_getcpu(void);

/* Asks the CPU to bring the cache line at `address` in ahead of use
   (a driver's prefetch of a received frame's headers). */
static inline void clinux_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/* The CPU the calling thread runs on now (sched_getcpu(3)), or -1. */
static inline int clinux_current_cpu(void) { return sched_getcpu(); }

/* setns(2) for network namespaces (CLONE_NEWNET): moves the calling thread only. */
static inline int clinux_enter_network_namespace(int fd) { return setns(fd, 0x40000000); }

/* mount -t bpf bpf PATH. */
static inline int clinux_mount_bpffs(const char *path)
{
  return mount("bpf", path, "bpf", 0, "mode=0700");
}

/* Whether PATH is on a bpf filesystem: 1 yes, 0 no, -1 error. */
static inline int clinux_is_bpffs(const char *path)
{
  struct statfs info;
  if (statfs(path, &info) != 0) return -1;
  return info.f_type == BPF_FS_MAGIC ? 1 : 0;
}

/* CPU affinity of the calling thread (GNU extensions, declared by hand as
 * setns is). A mask is an array of bits, CPU n at bit n % 8 of byte n / 8. */
extern int sched_getcpu(void);
extern int sched_getaffinity(int pid, size_t size, void *mask);
extern int sched_setaffinity(int pid, size_t size, const void *mask);

/* A raw AF_PACKET socket that sends whole Ethernet frames out of interface
 * `ifindex` and receives nothing (protocol 0), past the qdisc layer
 * (PACKET_QDISC_BYPASS): a frame the driver cannot take fails the send
 * with ENOBUFS instead of being dropped silently, so the sender counts
 * exactly what left. Returns the descriptor, or -1 with errno set. */
static inline int clinux_packet_sender(int ifindex)
{
  struct sockaddr_ll address;
  int bypass = 1;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  memset(&address, 0, sizeof(address));
  address.sll_family = AF_PACKET;
  address.sll_ifindex = ifindex;
  address.sll_protocol = 0;
  if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &bypass, sizeof(bypass)) != 0 ||
      bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* sendmmsg(2), a GNU extension: glibc declares `struct mmsghdr` only under
 * _GNU_SOURCE, so the shim has a struct of the same layout (a msghdr and
 * the bytes sent) and declares the call by hand, as setns is. */
struct clinux_mmsghdr {
  struct msghdr msg_hdr;
  unsigned int msg_len;
};
extern int sendmmsg(int fd, struct clinux_mmsghdr *messages, unsigned int count, int flags);

#endif
