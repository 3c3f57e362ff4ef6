/* The slice of libbpf (low-level API) that xdpbatch uses. */
#ifndef XDPBATCH_CBPF_SHIM_H
#define XDPBATCH_CBPF_SHIM_H

#include <errno.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

/* errno as a function: Swift cannot read the thread-local macro directly. */
static inline int cbpf_errno(void) { return errno; }

/* Silences libbpf's own stderr printing; callers report errors themselves. */
static int cbpf_quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
  (void)level; (void)fmt; (void)args;
  return 0;
}
static inline void cbpf_silence_libbpf(void) { libbpf_set_print(cbpf_quiet_print); }

#endif
