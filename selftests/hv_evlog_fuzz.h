/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hv_evlog_fuzz: what its files share. hv_evlog_fuzz.c says what the fuzzer
 * checks and runs it; the other files hold the oracle, the user pointers
 * and the calls, one file per kind.
 */
#ifndef HV_EVLOG_FUZZ_H
#define HV_EVLOG_FUZZ_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../include/uapi/linux/hv_evlog.h"

#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

/* As kselftest.h has it; this program does without the kselftest headers. */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#endif

#define PAGE		4096UL
#define MAX_THREADS	16
#define SLOT_SIZE	(16UL << 20)
#define SLOTS		64
/*
 * Thread t's zone: SLOTS slots from here; the kernel's own placement works
 * down from below 128 TiB and never gets near 16 TiB in this program.
 */
#define ZONE_BASE	0x100000000000UL
#define ZONE_SIZE	(SLOTS * SLOT_SIZE)
/*
 * The per-thread scratch memory ioctls and reads copy to and from, with an
 * inaccessible page on each side. Large enough for a full BUFFERS table.
 */
#define ARENA_SIZE	(128UL << 10)
#define HDR_SIZE	72
#define HDR_BUFFER_SIZE	0
#define HDR_BUFFER_INDEX 4
#define RECORD_SIZE	sizeof(struct hv_evlog_record)
/* A call that has not returned for this long is a hang. */
#define HANG_SECONDS	30

/* The calls, as the summary names them. */
enum op {
	OP_INFO, OP_BUFFERS, OP_RELEASE, OP_FLUSH, OP_SOURCES, OP_STATS,
	OP_IOCTL_OTHER, OP_READ, OP_POLL, OP_EPOLL_CTL, OP_EPOLL_WAIT,
	OP_MMAP, OP_MUNMAP, OP_MREMAP, OP_MPROTECT, OP_MADVISE, OP_MLOCK,
	OP_MSYNC, OP_MINCORE, OP_OPEN, OP_DUP, OP_FCNTL, OP_LSEEK, OP_WRITE,
	OP_BADFD, OP_LIFETIME, OP_COPY, OP_RESIZE, OP_COUNT
};

/* Where a user pointer points. */
enum ptr_class {
	P_VALID, P_MISALIGNED, P_STRADDLE, P_NULL, P_LOW, P_GUARD, P_KERNEL,
	P_NONCANON, P_ROANON, P_DEVRO, P_RANDOM, P_CLASSES
};

enum slot_state { S_EMPTY, S_DEV, S_UNKNOWN };

/* One device mapping: [addr, addr + len) shows the device from offset off. */
struct piece {
	uintptr_t addr;
	size_t len;
	uint64_t off;
};

/* A partial munmap or mremap leaves up to two pieces of one behind. */
#define PIECES		4

/*
 * One slot of a thread's zone. S_DEV: each of the n pieces maps the device,
 * read-only and intact, so it may be read; they do not overlap.
 */
struct slot {
	enum slot_state state;
	int n;
	struct piece p[PIECES];
};

struct thread {
	int id;
	pthread_t tid;
	uint64_t rng;
	int fd;			/* own dup() of the epoch's file, or -1 */
	int ctl;		/* own control file (O_WRONLY), for the whole run */
	int epfd;		/* epoll instance, kept across epochs */
	char *arena;		/* ARENA_SIZE, guard pages around it */
	char *ro;		/* one read-only anonymous page */
	struct slot slot[SLOTS];
	/* The buffer table as the invariant check reads it (max_buffers). */
	struct hv_evlog_buffer_info *tab;
	/*
	 * While probing says so to the handler (a lock-free atomic, which a
	 * signal handler may read), a read of a mapping that may raise SIGBUS
	 * (probe()) jumps to probe_jump.
	 */
	_Atomic int probing;
	sigjmp_buf probe_jump;
	/* Progress and the call in flight, for the hang and signal reports. */
	_Atomic uint64_t calls;
	_Atomic int op;
	char what[160];
	uint64_t count[OP_COUNT];
	uint64_t ok[OP_COUNT];
	uint64_t err[OP_COUNT][134];
};

/* hv_evlog_fuzz.c: the run's state and the helpers of every call. */
extern __thread struct thread *self;
extern struct hv_evlog_info info0;
extern struct hv_evlog_buffer_info *table0;
extern uint32_t table0_count;
extern uint64_t group_size;
extern long ncpus;
extern uint32_t per_cpu0, served;
extern int outside;
extern _Atomic uint64_t total_calls;
extern _Atomic int epoch_fd;
uint64_t rnd(void);
uint64_t below(uint64_t n);
int chance(unsigned int percent);
void fail(const char *fmt, ...);
void begin(enum op op, const char *fmt, ...);

/* hv_evlog_fuzz_oracle.c */
extern const char *const op_name[OP_COUNT];
long judge(long ret, int err);
#define CALL(expr) ({ long __r = (long)(expr); judge(__r < 0 ? -1 : __r, __r < 0 ? errno : 0); })

/* hv_evlog_fuzz_ptr.c */
extern const char *const ptr_name[P_CLASSES];
int must_fail(enum ptr_class c, int write);
uintptr_t gen_ptr(size_t size, enum ptr_class *cls);

/* hv_evlog_fuzz_ioctl.c */
void do_info(void);
void do_buffers(void);
void do_release(void);
void do_flush(void);
void do_sources(void);
void do_stats(void);
void do_copy(void);
void do_ioctl_other(void);
void do_resize(void);
void release(uint32_t index, int valid_ptr);

/* hv_evlog_fuzz_file.c */
void check_header_mapped(uint32_t index);
void do_read(void);
void do_poll(void);
void do_epoll(void);
void do_open(void);
void redup(void);
void do_file_misc(void);

/* hv_evlog_fuzz_mm.c */
#define ABSENT		0x80000000u
int probe(const void *p, uint32_t *out, int words);
int table_flags(uint32_t *flags);
void check_page(uintptr_t addr, uint64_t at, const uint32_t *flags);
void check_slot(int k);
void check_all_slots(void);
void free_slot(int k);
void do_mmap(void);
void do_munmap(void);
void do_mremap(void);
void do_mprotect(void);
void do_madvise(void);
void do_misc_mm(void);

#endif
