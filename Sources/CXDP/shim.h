/* The slice of libxdp's AF_XDP socket API (<xdp/xsk.h>) and of the Linux
 * socket, TAP and interface ioctls that the software datapath uses. ioctl,
 * getsockopt with SOL_XDP and the TUN constants are macros or variadic, so
 * small inline functions wrap them. */
#ifndef XDPBATCH_CXDP_SHIM_H
#define XDPBATCH_CXDP_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>
#include <xdp/libxdp.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* posix_spawn: close every descriptor from `fd` up in the child (a macro-free
 * wrapper; `actions` is a posix_spawn_file_actions_t). */
static inline int cxdp_spawn_close_from(void *actions, int fd)
{
  return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, fd);
}

/* errno as a function: Swift cannot read the thread-local macro directly. */
static inline int cxdp_errno(void) { return errno; }

/* The flag that keeps libxdp from loading its own XDP program. */
static inline unsigned int cxdp_inhibit_program_load(void) { return XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; }

/* XDP_COPY / XDP_ZEROCOPY / XDP_USE_NEED_WAKEUP bind flags. */
static inline unsigned short cxdp_bind_copy(void) { return XDP_COPY; }
static inline unsigned short cxdp_bind_zerocopy(void) { return XDP_ZEROCOPY; }
static inline unsigned short cxdp_bind_need_wakeup(void) { return XDP_USE_NEED_WAKEUP; }

/* The socket's drop counters (XDP_STATISTICS). Returns 0 or -1 with errno. */
static inline int cxdp_statistics(int fd, struct xdp_statistics *out)
{
  socklen_t length = sizeof(*out);
  memset(out, 0, sizeof(*out));
  return getsockopt(fd, SOL_XDP, XDP_STATISTICS, out, &length);
}

/* The bind flags the socket ended up with (XDP_OPTIONS: XDP_OPTIONS_ZEROCOPY). */
static inline int cxdp_is_zerocopy(int fd)
{
  struct xdp_options options;
  socklen_t length = sizeof(options);
  if (getsockopt(fd, SOL_XDP, XDP_OPTIONS, &options, &length) != 0) return -1;
  return (options.flags & XDP_OPTIONS_ZEROCOPY) ? 1 : 0;
}

/* Re-reads the kernel's producer index of a consumer ring: libxdp's peek
 * reads it only when the slots it cached ran out, so a ring peeked short
 * and cancelled (a paced loop waiting for more) would never see more.
 * Returns the filled slots not yet peeked. */
static inline __u32 cxdp_ring_cons_refresh(struct xsk_ring_cons *ring)
{
  ring->cached_prod = __atomic_load_n(ring->producer, __ATOMIC_ACQUIRE);
  return ring->cached_prod - ring->cached_cons;
}

/* Copy-mode TX needs a system call to send what the TX ring holds. */
static inline int cxdp_kick(int fd)
{
  return (int)sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
}

/* Waits up to `milliseconds` for frames on the RX ring: 1 ready, 0 timeout, -1 error. */
static inline int cxdp_wait_readable(int fd, int milliseconds)
{
  struct pollfd entry = { .fd = fd, .events = POLLIN };
  int ready = poll(&entry, 1, milliseconds);
  return ready < 0 ? -1 : (ready > 0 ? 1 : 0);
}

/* ppoll(2) is declared by <poll.h> only under _GNU_SOURCE, which this
 * shim leaves off (it changes glibc's struct definitions); glibc exports it
 * whatever the feature macros. */
extern int ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout,
                 const sigset_t *mask);

/* As cxdp_wait_readable, for at most `microseconds` (one ppoll with a
 * timespec: a wait shorter than poll's millisecond, for any descriptor
 * number). Returns 1 when readable, 0 on timeout, -1 on error. */
static inline int cxdp_wait_readable_us(int fd, long microseconds)
{
  struct pollfd entry = { .fd = fd, .events = POLLIN };
  if (microseconds < 0) microseconds = 0;
  struct timespec timeout = { .tv_sec = microseconds / 1000000L,
                              .tv_nsec = (microseconds % 1000000L) * 1000L };
  int ready = ppoll(&entry, 1, &timeout, NULL);
  return ready < 0 ? -1 : (ready > 0 ? 1 : 0);
}

/* Opens a TAP device named `name` (IFF_TAP | IFF_NO_PI, non-persistent: it
 * disappears with its last descriptor). Returns the descriptor or -1. */
static inline int cxdp_tap_open(const char *name)
{
  struct ifreq request;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  memset(&request, 0, sizeof(request));
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &request) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* One SIOC* ioctl on interface `name` with `request` (its name filled in).
   Returns the ioctl's result; errno is the ioctl's on failure. */
static inline int cxdp_interface_ioctl(const char *name, unsigned long operation,
                                       struct ifreq *request)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  strncpy(request->ifr_name, name, IFNAMSIZ - 1);
  int result = ioctl(fd, operation, request);
  int saved = errno;
  close(fd);
  errno = saved;
  return result;
}

/* Interface flags (IFF_*) of `name`, or -1. */
static inline int cxdp_interface_flags(const char *name)
{
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  if (cxdp_interface_ioctl(name, SIOCGIFFLAGS, &request) != 0) return -1;
  return request.ifr_flags & 0xffff;
}

static inline int cxdp_flag_loopback(void) { return IFF_LOOPBACK; }

/* Sets IFF_UP on `name`. Returns 0 or -1 with errno. */
static inline int cxdp_interface_up(const char *name)
{
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  if (cxdp_interface_ioctl(name, SIOCGIFFLAGS, &request) != 0) return -1;
  request.ifr_flags |= IFF_UP;
  return cxdp_interface_ioctl(name, SIOCSIFFLAGS, &request);
}

/* The hardware (MAC) address of `name` into out[6]. Returns 0 or -1. */
static inline int cxdp_hardware_address(const char *name, unsigned char *out)
{
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  if (cxdp_interface_ioctl(name, SIOCGIFHWADDR, &request) != 0) return -1;
  memcpy(out, request.ifr_hwaddr.sa_data, 6);
  return 0;
}

/* A raw AF_PACKET socket bound to interface `ifindex`, for sending whole
 * Ethernet frames out of it. Returns the descriptor or -1. */
static inline int cxdp_packet_socket(int ifindex)
{
  struct sockaddr_ll address;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  memset(&address, 0, sizeof(address));
  address.sll_family = AF_PACKET;
  address.sll_ifindex = ifindex;
  address.sll_protocol = 0;
  if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

#endif
