// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: random ioctl/mmap/read/poll traffic on /dev/hv_evlog from
 * several threads while the simulator logs events (issue 11).
 *
 *   hv_evlog_fuzz [-s SEED] [-n CALLS] [-t SECONDS] [-j THREADS]
 *
 * Bounded in calls (default 10000, all threads together) and time (default
 * 60 s), whichever ends first. The seed (default: from the clock) is printed
 * first; -s SEED replays every thread's sequence of calls (thread t draws
 * from SEED and t), though not their interleaving, which the scheduler
 * decides.
 *
 * Random calls are not judged by their result, except:
 *  - every failure must carry an errno of the call's allowed set (below,
 *    from Documentation/hv_evlog.rst and the module's code for the simulated
 *    backend, plus what the kernel's own mm code returns for the mm calls);
 *  - an ioctl command the device does not define fails with ENOTTY;
 *  - a call whose user pointer cannot be written (NULL, unmapped, kernel or
 *    non-canonical addresses, read-only memory, a read-only mapping of the
 *    device, a range that runs into a guard page) or read (the same, less
 *    the read-only ones) must fail: success would mean the kernel wrote to
 *    or read from memory the caller does not own;
 *  - what succeeds returns what the ABI says: INFO and BUFFERS equal the
 *    values read at the start, records name existing buffers, STATS never
 *    counts more releases than completions, poll reports only POLLIN;
 *  - mmap succeeds only for PROT_READ, MAP_SHARED and a range inside the
 *    buffers, and never grows through mremap;
 *  - each mapping shows the right buffers: a header that is set up names
 *    the buffer at that offset and has the group's buffer size;
 *  - while the device is open, open() fails with EBUSY; when every file and
 *    mapping is gone, exactly one of the threads racing to open gets it;
 *  - no signal but the program's own SIGUSR1 (sent to interrupt blocking
 *    reads) arrives: memory of a mapping is only read while the mapping is
 *    known intact, so SIGSEGV or SIGBUS is a failure;
 *  - no call blocks for 30 s.
 *
 * The run is split into epochs of a few hundred calls. In each, the threads
 * race to open the device (one wins), work on their own dup() of that file
 * and on their own mappings, and at the end unmap and close everything, so
 * the file's release runs once per epoch while epoll watches it.
 *
 * Mappings are placed in each thread's own address zone (slots of 16 MiB
 * far from where the kernel places mappings on its own), so that MAP_FIXED,
 * partial munmap and mremap never touch memory the program did not map
 * there. Mappings the kernel places itself are unmapped whole at once.
 *
 * Exit status: 0 passed, 1 failed, 4 skipped (no simulated group).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
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

#define PAGE		4096UL
#define MAX_THREADS	16
#define SLOT_SIZE	(16UL << 20)
#define SLOTS		64
/* Thread t's zone: SLOTS slots from here; the kernel's own placement works
 * down from below 128 TiB and never gets near 16 TiB in this program. */
#define ZONE_BASE	0x100000000000UL
#define ZONE_SIZE	(SLOTS * SLOT_SIZE)
/* The per-thread scratch memory ioctls and reads copy to and from, with an
 * inaccessible page on each side. Large enough for a full BUFFERS table. */
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
	OP_BADFD, OP_LIFETIME, OP_COPY, OP_COUNT
};

static const char *const op_name[OP_COUNT] = {
	"ioctl INFO", "ioctl BUFFERS", "ioctl RELEASE", "ioctl FLUSH",
	"ioctl SET_SOURCES", "ioctl STATS", "ioctl other", "read", "poll",
	"epoll_ctl", "epoll_wait", "mmap", "munmap", "mremap", "mprotect",
	"madvise", "mlock", "msync", "mincore", "open", "dup/close", "fcntl",
	"lseek/pread", "write", "bad fd", "ioctl LIFETIME_STATS", "ioctl COPY",
};

/*
 * Allowed errnos per call. The device's (simulated backend): ioctls fail
 * with EFAULT for a bad pointer, EINVAL for a bad index, CPU, mask or
 * BUFFERS.first (the simulator's refusals of release and set sources map to
 * EINVAL; a flush that races a completion is not an error), ENOTTY for an
 * unknown command; read() with EINVAL (room for less than a record), EAGAIN
 * (O_NONBLOCK), EFAULT, EINTR (this program's SIGUSR1); open() with EBUSY.
 * The mm calls' sets are the kernel's for these arguments on a VM_PFNMAP |
 * VM_IO | VM_DONTEXPAND mapping without VM_MAYWRITE/VM_MAYEXEC.
 */
static const int allowed[OP_COUNT][10] = {
	[OP_INFO] = { EFAULT },
	[OP_BUFFERS] = { EFAULT, EINVAL },
	[OP_RELEASE] = { EFAULT, EINVAL },
	[OP_FLUSH] = { EFAULT, EINVAL },
	[OP_SOURCES] = { EFAULT, EINVAL },
	[OP_STATS] = { EFAULT },
	[OP_LIFETIME] = { EFAULT },
	[OP_COPY] = { EFAULT, EINVAL },
	[OP_IOCTL_OTHER] = { ENOTTY },
	[OP_READ] = { EINVAL, EAGAIN, EFAULT, EINTR },
	[OP_POLL] = { EINTR },
	[OP_EPOLL_CTL] = { EEXIST, ENOENT, EBADF },
	[OP_EPOLL_WAIT] = { EINTR },
	/* EBADF, ENODEV: the fd is -1 or the epoll file. EEXIST:
	 * MAP_FIXED_NOREPLACE on an occupied slot. EOPNOTSUPP:
	 * MAP_SHARED_VALIDATE with a flag it does not know or MAP_SYNC.
	 * EOVERFLOW: offset plus length past the file offset range. */
	[OP_MMAP] = { EINVAL, EACCES, EPERM, ENOMEM, EOVERFLOW, EEXIST, EOPNOTSUPP, EBADF,
		      ENODEV },
	/* ENOMEM: splitting a mapping needs memory and a free map count. */
	[OP_MUNMAP] = { EINVAL, ENOMEM },
	[OP_MREMAP] = { EFAULT, EINVAL, ENOMEM },
	[OP_MPROTECT] = { EACCES, EINVAL, ENOMEM },
	/* EFAULT: MADV_POPULATE_* on a VM_PFNMAP/VM_IO range. EACCES:
	 * MADV_REMOVE without VM_MAYWRITE. EBADF: MADV_WILLNEED on an
	 * anonymous mapping without CONFIG_SWAP (mm/madvise.c). EAGAIN: a
	 * split that found no memory. */
	[OP_MADVISE] = { EINVAL, EACCES, ENOMEM, EFAULT, EBADF, EAGAIN },
	/* EAGAIN: some pages could not be locked. */
	[OP_MLOCK] = { ENOMEM, EINVAL, EAGAIN },
	[OP_MSYNC] = { EBUSY, EINVAL, ENOMEM },
	[OP_MINCORE] = { ENOMEM, EINVAL },
	[OP_OPEN] = { EBUSY },
	[OP_LSEEK] = { ESPIPE },
	/* EBADF: opened O_RDONLY; EINVAL: O_RDWR, the device has no write. */
	[OP_WRITE] = { EBADF, EINVAL },
	[OP_BADFD] = { EBADF },
};

static int is_allowed(enum op op, int err)
{
	for (int i = 0; i < 10 && allowed[op][i]; i++)
		if (allowed[op][i] == err)
			return 1;
	return 0;
}

/* Where a user pointer points. */
enum ptr_class {
	P_VALID, P_MISALIGNED, P_STRADDLE, P_NULL, P_LOW, P_GUARD, P_KERNEL,
	P_NONCANON, P_ROANON, P_DEVRO, P_RANDOM, P_CLASSES
};

static const char *const ptr_name[P_CLASSES] = {
	"valid", "misaligned", "straddling a guard page", "NULL", "low",
	"unmapped", "kernel", "non-canonical", "read-only", "read-only device mapping",
	"random",
};

/* Must a copy of size > 0 to (write) or from (read) this class fail? */
static int must_fail(enum ptr_class c, int write)
{
	switch (c) {
	case P_STRADDLE: case P_NULL: case P_LOW: case P_GUARD: case P_KERNEL:
	case P_NONCANON:
		return 1;
	case P_ROANON: case P_DEVRO:
		return write;
	default:
		return 0;
	}
}

enum slot_state { S_EMPTY, S_DEV, S_UNKNOWN };

/* One slot of a thread's zone. S_DEV: exactly [addr, addr + len) maps the
 * device from offset off, read-only and intact, so it may be read. */
struct slot {
	enum slot_state state;
	uintptr_t addr;
	size_t len;
	uint64_t off;
};

struct thread {
	int id;
	pthread_t tid;
	uint64_t rng;
	int fd;			/* own dup() of the epoch's file, or -1 */
	int epfd;		/* epoll instance, kept across epochs */
	char *arena;		/* ARENA_SIZE, guard pages around it */
	char *ro;		/* one read-only anonymous page */
	struct slot slot[SLOTS];
	/* Progress and the call in flight, for the hang and signal reports. */
	_Atomic uint64_t calls;
	_Atomic int op;
	char what[160];
	uint64_t count[OP_COUNT];
	uint64_t ok[OP_COUNT];
	uint64_t err[OP_COUNT][134];
};

static struct thread threads[MAX_THREADS];
static int nthreads = 4;
static uint64_t seed;
static uint64_t max_calls = 10000;
static unsigned int max_seconds = 60;
static struct timespec t_start;

/* Geometry and buffer table read at the start: the answers to compare. */
static struct hv_evlog_info info0;
static struct hv_evlog_buffer_info *table0;
static uint64_t group_size;
static long ncpus;

static _Atomic uint64_t total_calls;
static _Atomic int stop;
static _Atomic int failed;
static _Atomic int done;
static _Atomic uint64_t epochs;

/* The epoch's file: the fd of the thread that won the open race. */
static _Atomic int epoch_fd = -1;
static _Atomic int epoch_owner = -1;
static _Atomic int64_t epoch_budget;
static int go_on = 1;
static pthread_barrier_t barrier;

static __thread struct thread *self;

static const uint64_t kernel_ptrs[] = {
	0xffff888000000000ULL,	/* direct map */
	0xffffffff81000000ULL,	/* kernel text */
	0xffffffffff600000ULL,	/* vsyscall page */
	0xfffffffffffff000ULL,
	0xffffffffffffffffULL,
	0xffffc90000000000ULL,	/* vmalloc */
};

static const uint64_t noncanon_ptrs[] = {
	0x0000800000000000ULL, 0x8000000000000000ULL, 0x7fffffffffffffffULL,
	0x00007ffffffff000ULL,	/* last user page: unmapped */
};

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* splitmix64: seeds each thread's xorshift from the run's seed. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	uint64_t x = self->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	self->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int chance(unsigned int percent)
{
	return below(100) < percent;
}

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(STDOUT_FILENO, line, n) < 0)
		_exit(1);
}

static void fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first few failures are enough to act on. */
	if (atomic_fetch_add(&failed, 1) < 10)
		say("# FAIL (seed %" PRIu64 ", thread %d, call %" PRIu64 "): %s: %s\n",
		    seed, self ? self->id : -1, self ? self->calls : 0,
		    self ? self->what : "", msg);
	atomic_store(&stop, 1);
}

/* Records the call about to be made, for the reports. */
static void begin(enum op op, const char *fmt, ...)
{
	va_list ap;

	self->op = op;
	va_start(ap, fmt);
	vsnprintf(self->what, sizeof(self->what), fmt, ap);
	va_end(ap);
}

/* Counts a call's result; a failure must have an allowed errno. Returns
 * ret unchanged (errno is kept). */
static long judge(long ret, int err)
{
	enum op op = self->op;

	self->count[op]++;
	self->calls++;
	atomic_fetch_add(&total_calls, 1);
	if (ret >= 0) {
		self->ok[op]++;
	} else {
		self->err[op][err < 134 ? err : 0]++;
		if (!is_allowed(op, err))
			fail("errno %d (%s) is not one %s may return", err,
			     strerror(err), op_name[op]);
	}
	errno = err;
	return ret;
}

#define CALL(expr) ({ long __r = (long)(expr); judge(__r < 0 ? -1 : __r, __r < 0 ? errno : 0); })

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	say("# FAIL (seed %" PRIu64 ", thread %d, call %" PRIu64 "): signal %d (%s) at %p during %s\n",
	    seed, self ? self->id : -1, self ? self->calls : 0, sig, strsignal(sig),
	    si->si_addr, self ? self->what : "?");
	_exit(1);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* ---------------------------------------------------------------------- */
/* User pointers                                                          */
/* ---------------------------------------------------------------------- */

static const struct slot *dev_slot(void)
{
	int start = below(SLOTS);

	for (int i = 0; i < SLOTS; i++) {
		const struct slot *s = &self->slot[(start + i) % SLOTS];

		if (s->state == S_DEV)
			return s;
	}
	return NULL;
}

/* A pointer for a copy of size bytes, and its class. P_VALID and
 * P_MISALIGNED point into the arena with room for size bytes (size is at
 * most ARENA_SIZE / 2 for them). */
static uintptr_t gen_ptr(size_t size, enum ptr_class *cls)
{
	enum ptr_class c;
	unsigned int r = below(100);
	uintptr_t a = (uintptr_t)self->arena;

	if (size > ARENA_SIZE)
		size = ARENA_SIZE;
	c = r < 55 ? P_VALID : r < 62 ? P_MISALIGNED : r < 68 ? P_STRADDLE :
	    r < 71 ? P_NULL : r < 73 ? P_LOW : r < 77 ? P_GUARD :
	    r < 83 ? P_KERNEL : r < 86 ? P_NONCANON : r < 90 ? P_ROANON :
	    r < 96 ? P_DEVRO : P_RANDOM;
	if (c == P_STRADDLE && size < 2)
		c = P_VALID;
	*cls = c;
	switch (c) {
	case P_VALID:
		return a + (below((ARENA_SIZE - size) / 8 + 1)) * 8;
	case P_MISALIGNED:
		return a + below(ARENA_SIZE - size) + (size ? 0 : 1);
	case P_STRADDLE:
		/* The last 1 to size - 1 bytes fit, the rest hit the guard. */
		return a + ARENA_SIZE - 1 - below(size - 1);
	case P_NULL:
		return 0;
	case P_LOW:
		return 0x1000 + below(0xe000);
	case P_GUARD:
		return chance(50) ? a + ARENA_SIZE + below(PAGE) : a - PAGE + below(PAGE);
	case P_KERNEL:
		return kernel_ptrs[below(sizeof(kernel_ptrs) / sizeof(kernel_ptrs[0]))] -
		       (chance(50) ? 0 : below(PAGE));
	case P_NONCANON:
		return noncanon_ptrs[below(sizeof(noncanon_ptrs) / sizeof(noncanon_ptrs[0]))];
	case P_ROANON:
		return (uintptr_t)self->ro + below(PAGE - (size < PAGE ? size : PAGE) + 1);
	case P_DEVRO: {
		const struct slot *s = dev_slot();

		if (!s || s->len < size) {
			*cls = P_ROANON;
			return (uintptr_t)self->ro;
		}
		return s->addr + below(s->len - size + 1);
	}
	default:
		return rnd();
	}
}

/* ---------------------------------------------------------------------- */
/* ioctls                                                                 */
/* ---------------------------------------------------------------------- */

static void check_info(const struct hv_evlog_info *in)
{
	struct hv_evlog_info a = *in, b = info0;

	a.sources = b.sources = 0;	/* SET_SOURCES changes it */
	if (memcmp(&a, &b, sizeof(a)))
		fail("INFO returned other geometry than at the start (count %u size %u abi %u)",
		     in->buffer_count, in->buffer_size, in->abi_version);
}

static void do_info(void)
{
	enum ptr_class c;
	uintptr_t p = gen_ptr(sizeof(struct hv_evlog_info), &c);
	long r;

	begin(OP_INFO, "ioctl(%d, INFO, %#lx %s)", self->fd, p, ptr_name[c]);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_INFO, p));
	if (r == 0 && must_fail(c, 1))
		fail("succeeded although it cannot write there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED)) {
		struct hv_evlog_info in;

		memcpy(&in, (void *)p, sizeof(in));
		check_info(&in);
	}
}

static void do_stats(void)
{
	enum ptr_class c;
	uintptr_t p = gen_ptr(sizeof(struct hv_evlog_stats), &c);
	int lifetime = chance(50);
	long r;

	begin(lifetime ? OP_LIFETIME : OP_STATS, "ioctl(%d, %s, %#lx %s)", self->fd,
	      lifetime ? "LIFETIME_STATS" : "STATS", p, ptr_name[c]);
	r = CALL(ioctl(self->fd, lifetime ? HV_EVLOG_IOC_LIFETIME_STATS : HV_EVLOG_IOC_STATS, p));
	if (r == 0 && must_fail(c, 1))
		fail("succeeded although it cannot write there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED)) {
		struct hv_evlog_stats st;

		memcpy(&st, (void *)p, sizeof(st));
		if (st.releases > st.completions)
			fail("stats: %llu releases but %llu completions",
			     (unsigned long long)st.releases, (unsigned long long)st.completions);
	}
}

static uint32_t gen_first(void)
{
	uint32_t n = info0.buffer_count;

	switch (below(6)) {
	case 0: return 0;
	case 1: return n;
	case 2: return n + 1 + below(3);
	case 3: return 0xffffffffu - below(2);
	default: return below(n);
	}
}

static void do_buffers(void)
{
	struct hv_evlog_buffers req, *rp;
	enum ptr_class c, tc;
	uintptr_t p, t;
	uint32_t n = info0.buffer_count, want;
	long r;

	req.first = gen_first();
	switch (below(5)) {
	case 0: req.count = 0; break;
	case 1: req.count = HV_EVLOG_MAX_BUFFERS; break;
	case 2: req.count = 0xffffffffu; break;
	default: req.count = 1 + below(n + 2); break;
	}
	want = req.first > n ? 0 : (req.count < n - req.first ? req.count : n - req.first);
	/* The table first, so that the request cannot land on it. */
	t = gen_ptr((size_t)want * sizeof(struct hv_evlog_buffer_info), &tc);
	req.table = t;
	do {
		p = gen_ptr(sizeof(req), &c);
	} while ((c == P_VALID || c == P_MISALIGNED) && tc <= P_MISALIGNED &&
		 p + sizeof(req) > t && p < t + want * sizeof(struct hv_evlog_buffer_info));
	if (c == P_VALID || c == P_MISALIGNED)
		memcpy((void *)p, &req, sizeof(req));
	begin(OP_BUFFERS, "ioctl(%d, BUFFERS, %#lx %s {first %u count %u table %#lx %s})",
	      self->fd, p, ptr_name[c], req.first, req.count, t, ptr_name[tc]);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, p));
	if (r < 0)
		return;
	if (must_fail(c, 1) || (want && must_fail(tc, 1)))
		fail("succeeded although it cannot write there");
	if (req.first > n)
		fail("succeeded with first %u past %u buffers", req.first, n);
	if (c != P_VALID && c != P_MISALIGNED)
		return;
	rp = (void *)p;
	if (rp->count != want || rp->first != req.first || rp->table != req.table) {
		fail("returned count %u, expected %u", rp->count, want);
		return;
	}
	if (tc != P_VALID && tc != P_MISALIGNED)
		return;
	for (uint32_t i = 0; i < want; i++) {
		struct hv_evlog_buffer_info b;

		memcpy(&b, (char *)t + i * sizeof(b), sizeof(b));
		if (memcmp(&b, &table0[req.first + i], sizeof(b)))
			fail("entry %u differs from the table read at the start (index %u offset %llu)",
			     req.first + i, b.index, (unsigned long long)b.mmap_offset);
	}
}

/* An argument for RELEASE, FLUSH or SET_SOURCES, written at a generated
 * pointer; returns the pointer. */
static uintptr_t gen_arg(size_t size, uint64_t value, enum ptr_class *c)
{
	uintptr_t p = gen_ptr(size, c);

	if (*c == P_VALID || *c == P_MISALIGNED)
		memcpy((void *)p, &value, size);
	return p;
}

static void release(uint32_t index, int valid_ptr)
{
	enum ptr_class c = P_VALID;
	uintptr_t p;
	long r;

	if (valid_ptr) {
		p = (uintptr_t)&index;
	} else {
		p = gen_arg(sizeof(index), index, &c);
	}
	begin(OP_RELEASE, "ioctl(%d, RELEASE, %#lx %s {%u})", self->fd, p, ptr_name[c], index);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_RELEASE, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED) && index >= info0.buffer_count)
		fail("released buffer %u of %u", index, info0.buffer_count);
}

static void do_release(void)
{
	uint32_t n = info0.buffer_count;
	uint32_t v = chance(80) ? below(n) : chance(50) ? n + below(4) : (uint32_t)rnd();

	release(v, 0);
}

/* The copying path: a buffer index (mostly valid), a destination from the
 * pointer classes and a room that may be too small. */
static void do_copy(void)
{
	size_t most = info0.buffer_size < ARENA_SIZE / 2 ? info0.buffer_size : ARENA_SIZE / 2;
	uint32_t n = info0.buffer_count;
	struct hv_evlog_copy req = { 0 };
	enum ptr_class c, cs = P_VALID;
	uintptr_t p;
	long r;

	req.buffer_index = chance(85) ? below(n) : chance(50) ? n + below(4) : (uint32_t)rnd();
	req.addr = gen_ptr(most, &c);
	req.size = chance(70) ? most : chance(50) ? below(most + 1) : rnd();
	p = chance(85) ? (uintptr_t)&req : gen_ptr(sizeof(req), &cs);
	if (p != (uintptr_t)&req && (cs == P_VALID || cs == P_MISALIGNED))
		memcpy((void *)p, &req, sizeof(req));
	begin(OP_COPY, "ioctl(%d, COPY, %#lx %s {%u, %#llx %s, %llu})", self->fd, p,
	      ptr_name[cs], req.buffer_index, (unsigned long long)req.addr, ptr_name[c],
	      (unsigned long long)req.size);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_COPY, p));
	/*
	 * The copy writes only the buffer's used bytes, which may end before a
	 * straddling destination reaches its guard page: only a destination
	 * whose first byte cannot be written must fail.
	 */
	if (r == 0 && (must_fail(cs, 1) || (c != P_STRADDLE && must_fail(c, 1))))
		fail("succeeded although it cannot read or write there");
	if (r == 0 && req.buffer_index >= n)
		fail("copied buffer %u of %u", req.buffer_index, n);
	if (r == 0 && p == (uintptr_t)&req && req.bytes > req.size)
		fail("copied %u bytes into room for %llu", req.bytes, (unsigned long long)req.size);
}

static void do_flush(void)
{
	enum ptr_class c;
	uint32_t v;
	uintptr_t p;
	long r;

	switch (below(5)) {
	case 0: v = HV_EVLOG_ALL_CPUS; break;
	case 1: v = ncpus + below(3); break;
	case 2: v = (uint32_t)rnd(); break;
	default: v = below(ncpus); break;
	}
	p = gen_arg(sizeof(v), v, &c);
	begin(OP_FLUSH, "ioctl(%d, FLUSH, %#lx %s {%#x})", self->fd, p, ptr_name[c], v);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_FLUSH, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
}

static void do_sources(void)
{
	enum ptr_class c;
	uint64_t v;
	uintptr_t p;
	long r;

	/* Mostly masks that keep events flowing. */
	switch (below(8)) {
	case 0: v = 0; break;
	case 1: v = rnd(); break;
	case 2: v = 0x3fffff00ULL | 1; break;
	case 3: v = (rnd() & 0x3fffff00ULL) | 0x100; break;
	default: v = 0x3fffff00ULL; break;
	}
	p = gen_arg(sizeof(v), v, &c);
	begin(OP_SOURCES, "ioctl(%d, SET_SOURCES, %#lx %s {%#llx})", self->fd, p, ptr_name[c],
	      (unsigned long long)v);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED) && ((v & 1) || (v & ~0x3fffff00ULL)))
		fail("mask %#llx accepted", (unsigned long long)v);
}

static int defined_cmd(unsigned int cmd)
{
	return cmd == HV_EVLOG_IOC_INFO || cmd == HV_EVLOG_IOC_BUFFERS ||
	       cmd == HV_EVLOG_IOC_RELEASE || cmd == HV_EVLOG_IOC_FLUSH ||
	       cmd == HV_EVLOG_IOC_SET_SOURCES || cmd == HV_EVLOG_IOC_STATS ||
	       cmd == HV_EVLOG_IOC_LIFETIME_STATS || cmd == HV_EVLOG_IOC_COPY ||
	       cmd == HV_EVLOG_IOC_RESIZE;
}

/* Commands that the VFS answers itself before the driver sees them
 * (do_vfs_ioctl(): FIO*, FIFREEZE, FICLONE, FS_IOC_*) have these types. */
static int vfs_type(unsigned int type)
{
	return type == 0x00 || type == 0x15 || type == 'T' || type == 'X' ||
	       type == 'f' || type == 0x94;
}

static void do_ioctl_other(void)
{
	static const unsigned int defined[] = {
		HV_EVLOG_IOC_INFO, HV_EVLOG_IOC_BUFFERS, HV_EVLOG_IOC_RELEASE,
		HV_EVLOG_IOC_FLUSH, HV_EVLOG_IOC_SET_SOURCES, HV_EVLOG_IOC_STATS,
		HV_EVLOG_IOC_LIFETIME_STATS, HV_EVLOG_IOC_COPY,
	};
	enum ptr_class c;
	unsigned int cmd;
	uintptr_t p;
	long r;

	do {
		switch (below(5)) {
		case 0:	/* a defined command with another size or direction */
			cmd = defined[below(sizeof(defined) / sizeof(defined[0]))];
			cmd = chance(50) ? (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
					   (below(_IOC_SIZEMASK + 1) << _IOC_SIZESHIFT)
					 : cmd ^ ((1 + below(3)) << _IOC_DIRSHIFT);
			break;
		case 1:	/* the magic, any number, size, direction */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC, below(256), below(_IOC_SIZEMASK + 1));
			break;
		case 2:	/* just past the defined numbers */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC, 9 + below(4), below(64));
			break;
		case 3:	/* the neighbouring magics (0xB8 is mshv's) */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC - 1 + 2 * below(2), below(8),
				   below(64));
			break;
		default:
			cmd = (unsigned int)rnd();
			break;
		}
	} while (defined_cmd(cmd) || vfs_type(_IOC_TYPE(cmd)));
	p = gen_ptr(_IOC_SIZE(cmd) < ARENA_SIZE / 2 ? _IOC_SIZE(cmd) : 0, &c);
	begin(OP_IOCTL_OTHER, "ioctl(%d, %#x, %#lx %s)", self->fd, cmd, p, ptr_name[c]);
	r = CALL(ioctl(self->fd, cmd, p));
	if (r != -1 || errno != ENOTTY)
		fail("an undefined command returned %ld (errno %d), not ENOTTY", r, errno);
}

/* ---------------------------------------------------------------------- */
/* read, poll, epoll                                                      */
/* ---------------------------------------------------------------------- */

/* Reads header field off of buffer index through a mapping, if one of the
 * thread's intact mappings covers it; checks what every set-up header
 * holds. */
static void check_header_mapped(uint32_t index)
{
	uint64_t at = (uint64_t)index * info0.buffer_size;

	for (int i = 0; i < SLOTS; i++) {
		const struct slot *s = &self->slot[i];

		if (s->state == S_DEV && s->off <= at && at + HDR_SIZE <= s->off + s->len) {
			const volatile uint32_t *h = (void *)(s->addr + (at - s->off));
			uint32_t size = h[HDR_BUFFER_SIZE / 4], idx = h[HDR_BUFFER_INDEX / 4];

			if (size && (size != info0.buffer_size - HDR_SIZE || idx != index))
				fail("mapping at %#lx (offset %#llx): header of buffer %u says buffer %u of size %u",
				     s->addr, (unsigned long long)s->off, index, idx, size);
			return;
		}
	}
}

static void do_read(void)
{
	static const size_t odd[] = { 0, 1, 7, 31, 33, 63, 65, 100, 4095, 4097 };
	enum ptr_class c;
	size_t size;
	uintptr_t p;
	long r;

	switch (below(4)) {
	case 0: size = odd[below(sizeof(odd) / sizeof(odd[0]))]; break;
	case 1: size = RECORD_SIZE; break;
	case 2: size = chance(50) ? (1UL << 30) : SIZE_MAX >> 1; break;	/* far more than fits */
	default: size = RECORD_SIZE * (1 + below(32)); break;
	}
	p = gen_ptr(size < ARENA_SIZE / 2 ? size : ARENA_SIZE / 2, &c);
	begin(OP_READ, "read(%d, %#lx %s, %zu)", self->fd, p, ptr_name[c], size);
	r = CALL(read(self->fd, (void *)p, size));
	if (r < 0)
		return;
	if (r == 0 || r % RECORD_SIZE || (size_t)r > size) {
		fail("returned %ld for room of %zu", r, size);
		return;
	}
	/* A straddling destination may have room for the records there were. */
	if (c != P_STRADDLE && must_fail(c, 1))
		fail("returned %ld although it cannot write there", r);
	if (c != P_VALID && c != P_MISALIGNED)
		return;
	/* What a valid destination got: check each record, release most. */
	if ((size_t)r > ARENA_SIZE / 2) {
		fail("returned %ld bytes, more than the group's records", r);
		return;
	}
	for (long i = 0; i < r / (long)RECORD_SIZE; i++) {
		struct hv_evlog_record rec;

		memcpy(&rec, (char *)p + i * RECORD_SIZE, sizeof(rec));
		if (rec.buffer_index >= info0.buffer_count || rec.cpu >= ncpus ||
		    rec.bytes_used > info0.buffer_size - HDR_SIZE) {
			fail("record %ld: buffer %u cpu %u bytes_used %u", i, rec.buffer_index,
			     rec.cpu, rec.bytes_used);
			return;
		}
		check_header_mapped(rec.buffer_index);
		if (chance(90))
			release(rec.buffer_index, 1);
	}
}

static void do_poll(void)
{
	struct pollfd pfd = {
		.fd = self->fd,
		.events = chance(70) ? POLLIN : (short)rnd(),
	};
	int timeout = below(3) * 5;
	long r;

	begin(OP_POLL, "poll(%d, %#x, %d ms)", self->fd, pfd.events & 0xffff, timeout);
	r = CALL(poll(&pfd, 1, timeout));
	if (r == 1 && (pfd.revents & ~(POLLIN | POLLRDNORM)))
		fail("revents %#x", pfd.revents);
	if (r == 0 && pfd.revents)
		fail("returned 0 with revents %#x", pfd.revents);
}

static void do_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN | (chance(50) ? EPOLLET : 0) };
	long r;

	if (chance(50)) {
		int op = chance(60) ? EPOLL_CTL_ADD : chance(50) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

		begin(OP_EPOLL_CTL, "epoll_ctl(%d, %d, %d)", self->epfd, op, self->fd);
		CALL(epoll_ctl(self->epfd, op, self->fd, &ev));
		return;
	}
	begin(OP_EPOLL_WAIT, "epoll_wait(%d)", self->epfd);
	r = CALL(epoll_wait(self->epfd, &ev, 1, below(3) * 5));
	if (r == 1 && (ev.events & ~(EPOLLIN | EPOLLRDNORM)))
		fail("events %#x", ev.events);
}

/* ---------------------------------------------------------------------- */
/* Mappings                                                               */
/* ---------------------------------------------------------------------- */

static uintptr_t slot_addr(int i)
{
	return ZONE_BASE + (uintptr_t)self->id * ZONE_SIZE + (uintptr_t)i * SLOT_SIZE;
}

static int pick_slot(enum slot_state want)
{
	int start = below(SLOTS);

	for (int i = 0; i < SLOTS; i++) {
		int k = (start + i) % SLOTS;

		if (self->slot[k].state == want)
			return k;
	}
	return -1;
}

static int pick_used_slot(void)
{
	int k = pick_slot(chance(75) ? S_DEV : S_UNKNOWN);

	return k >= 0 ? k : pick_slot(S_DEV) >= 0 ? pick_slot(S_DEV) : pick_slot(S_UNKNOWN);
}

/* Unmaps the whole slot (only this thread maps there). */
static void free_slot(int k)
{
	begin(OP_MUNMAP, "munmap(slot %d %#lx, %#lx)", k, slot_addr(k), SLOT_SIZE);
	if (CALL(munmap((void *)slot_addr(k), SLOT_SIZE)))
		fail("munmap of a whole slot failed");
	self->slot[k].state = S_EMPTY;
}

/* Reads every page of an intact mapping (or a random sample of them) and
 * checks each buffer header in it. */
static void touch(int k)
{
	struct slot *s = &self->slot[k];
	size_t pages = s->len / PAGE;

	begin(OP_MINCORE, "touch(slot %d %#lx, %#zx, offset %#llx)", k, s->addr, s->len,
	      (unsigned long long)s->off);
	for (size_t i = 0; i < 16 && i < pages; i++) {
		size_t pg = pages <= 16 ? i : below(pages);

		(void)*(volatile const char *)(s->addr + pg * PAGE + below(PAGE));
	}
	for (uint64_t at = (s->off + info0.buffer_size - 1) / info0.buffer_size * info0.buffer_size;
	     at + HDR_SIZE <= s->off + s->len; at += info0.buffer_size)
		check_header_mapped(at / info0.buffer_size);
}

static uint64_t gen_offset(void)
{
	uint64_t pages = group_size / PAGE;

	switch (below(16)) {
	case 0: return group_size;
	case 1: return group_size + PAGE * (1 + below(4));
	case 2: return below(group_size) | 1;			/* unaligned */
	case 3: return (uint64_t)1 << (40 + below(23));		/* huge */
	case 4: return -PAGE * (1 + below(2));			/* "negative" */
	case 5: case 6: case 7: return below(info0.buffer_count) * (uint64_t)info0.buffer_size;
	default: return below(pages) * PAGE;
	}
}

static size_t gen_len(uint64_t off)
{
	uint64_t room = off < group_size ? group_size - off : 0;

	switch (below(14)) {
	case 0: return 0;
	case 1: return room + PAGE;				/* one page past */
	case 2: return group_size;
	case 3: return 1 + below(3 * PAGE);			/* unaligned */
	case 4: return (size_t)1 << (32 + below(31));		/* huge */
	case 5: return SIZE_MAX - below(PAGE);
	case 6: case 7: return room ? room : PAGE;		/* to the end */
	default: return PAGE * (1 + below(room ? room / PAGE : 4));	/* fits */
	}
}

static void do_mmap(void)
{
	static const int extra[] = {
		MAP_POPULATE, MAP_LOCKED, MAP_NORESERVE, MAP_NONBLOCK, MAP_SYNC,
		MAP_HUGETLB, MAP_ANONYMOUS, MAP_STACK, MAP_GROWSDOWN, MAP_32BIT,
		MAP_DENYWRITE, MAP_EXECUTABLE,
	};
	uint64_t off = gen_offset();
	size_t len = gen_len(off), rlen;
	int prot, flags, fd = self->fd, k = -1, how = below(100);
	uintptr_t addr = 0;
	void *m;

	prot = chance(75) ? PROT_READ : (int)below(16) | (chance(10) ? PROT_GROWSDOWN : 0);
	flags = chance(70) ? MAP_SHARED : chance(50) ? MAP_SHARED_VALIDATE : MAP_PRIVATE;
	if (chance(25))
		flags |= extra[below(sizeof(extra) / sizeof(extra[0]))];
	if (chance(3))
		fd = chance(50) ? -1 : self->epfd;
	rlen = (len + PAGE - 1) & ~(PAGE - 1);
	/* Where: a free slot (no replacing), over a used slot, or the kernel's
	 * choice; lengths above a slot only with the kernel's choice. */
	if (len <= SLOT_SIZE && how < 60 && (k = pick_slot(S_EMPTY)) >= 0) {
		addr = slot_addr(k) + (chance(20) ? below(4) * PAGE : 0);
		if (addr + rlen > slot_addr(k) + SLOT_SIZE)
			addr = slot_addr(k);
		flags |= MAP_FIXED_NOREPLACE;
	} else if (len <= SLOT_SIZE && how < 80 && (k = pick_used_slot()) >= 0) {
		addr = slot_addr(k);
		flags |= MAP_FIXED;
	} else {
		k = -1;
		flags &= ~MAP_GROWSDOWN;	/* would grow into whatever lies below */
	}
	begin(OP_MMAP, "mmap(%#lx, %#zx, %#x, %#x, %d, %#llx)", addr, len, prot, flags, fd,
	      (unsigned long long)off);
	m = mmap((void *)addr, len, prot, flags, fd, off);
	if (m == MAP_FAILED) {
		judge(-1, errno);
		/* A failed MAP_FIXED may have unmapped what was there. */
		if (k >= 0 && (flags & MAP_FIXED) && self->slot[k].state == S_DEV)
			self->slot[k].state = S_UNKNOWN;
		return;
	}
	judge(0, 0);
	if (fd == self->fd && !(flags & MAP_ANONYMOUS)) {
		if ((flags & MAP_TYPE) == MAP_PRIVATE)
			fail("MAP_PRIVATE mapping of the device succeeded");
		if (prot & (PROT_WRITE | PROT_EXEC))
			fail("mapping with prot %#x succeeded", prot);
		if ((off & (PAGE - 1)) || off > group_size || rlen > group_size - off)
			fail("mapping of %#zx bytes at offset %#llx of %#llx succeeded", len,
			     (unsigned long long)off, (unsigned long long)group_size);
	}
	if (k < 0) {
		/* The kernel's choice: not ours to keep; read it if it may be. */
		if (fd == self->fd && prot == PROT_READ && !(flags & ~(MAP_TYPE | MAP_POPULATE |
		    MAP_NORESERVE | MAP_NONBLOCK | MAP_LOCKED | MAP_STACK)) && rlen <= group_size) {
			(void)*(volatile const char *)m;
			(void)*(volatile const char *)((char *)m + rlen - 1);
		}
		begin(OP_MUNMAP, "munmap(%p, %#zx)", m, len);
		if (CALL(munmap(m, len)))
			fail("munmap of a new mapping failed");
		return;
	}
	if ((uintptr_t)m < slot_addr(k) || (uintptr_t)m + rlen > slot_addr(k) + SLOT_SIZE) {
		fail("mapping at %p outside the slot %#lx asked for", m, slot_addr(k));
		return;
	}
	self->slot[k] = (struct slot){ .state = S_UNKNOWN };
	if (fd == self->fd && prot == PROT_READ && !(flags & (MAP_ANONYMOUS | MAP_GROWSDOWN)) &&
	    (flags & MAP_TYPE) != MAP_PRIVATE) {
		self->slot[k] = (struct slot){ S_DEV, (uintptr_t)m, rlen, off };
		if (chance(50))
			touch(k);
	}
}

static void do_munmap(void)
{
	int k = pick_used_slot();
	struct slot *s;
	size_t cut;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state != S_DEV || chance(30)) {
		free_slot(k);
		return;
	}
	cut = PAGE * (1 + below(s->len / PAGE));
	switch (below(3)) {
	case 0:	/* head */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) head of %#zx", s->addr, cut, s->len);
		if (CALL(munmap((void *)s->addr, cut)) == 0) {
			s->addr += cut;
			s->off += cut;
			s->len -= cut;
		}
		break;
	case 1:	/* tail */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) tail of %#zx", s->addr + s->len - cut, cut,
		      s->len);
		if (CALL(munmap((void *)(s->addr + s->len - cut), cut)) == 0)
			s->len -= cut;
		break;
	default: {	/* a hole; unaligned sometimes (EINVAL) */
		uintptr_t a = s->addr + below(s->len / PAGE) * PAGE + (chance(10) ? 1 : 0);

		begin(OP_MUNMAP, "munmap(%#lx, %#zx) inside %#lx+%#zx", a, cut, s->addr, s->len);
		if (CALL(munmap((void *)a, cut)) == 0)
			s->state = S_UNKNOWN;
		break;
	}
	}
	if (s->state == S_DEV && s->len == 0)
		s->state = S_UNKNOWN;
	if (s->state == S_DEV && chance(50))
		touch(k);
}

static void do_mremap(void)
{
	int k = pick_used_slot(), to;
	struct slot *s;
	size_t len, nlen;
	uintptr_t a, na;
	void *m;
	int flags;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr : slot_addr(k);
	len = s->state == S_DEV ? s->len : PAGE * (1 + below(8));
	to = pick_slot(S_EMPTY);
	switch (below(7)) {
	case 0:	/* shrink in place */
		nlen = PAGE * (1 + below(len / PAGE));
		flags = 0;
		na = 0;
		break;
	case 1:	/* grow, in place or moving: EFAULT (VM_DONTEXPAND) */
		nlen = len + PAGE * (1 + below(4));
		/* Moving only what cannot move: an unknown mapping may be
		 * anonymous and go anywhere. */
		flags = s->state == S_DEV && chance(50) ? MREMAP_MAYMOVE : 0;
		na = 0;
		break;
	case 2: case 3:	/* move (part of) it to a free slot */
		if (to < 0)
			return;
		if (chance(50) && len > PAGE) {
			size_t skip = PAGE * below(len / PAGE);

			a += skip;
			len -= skip;
		}
		nlen = chance(70) ? len : PAGE * (1 + below(len / PAGE));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to);
		break;
	case 4:	/* keep the old one too */
		if (to < 0)
			return;
		nlen = len;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
		na = slot_addr(to);
		break;
	case 5:	/* old size 0: a second mapping of a shared one (growing: EFAULT) */
		if (to < 0)
			return;
		nlen = PAGE * (1 + below(4));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to);
		len = 0;
		break;
	default:	/* misaligned or bad flags */
		a += chance(50) ? 1 : 0;
		nlen = len;
		flags = chance(50) ? MREMAP_FIXED : (int)(rnd() & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) | 8;
		na = to >= 0 ? slot_addr(to) : 0;
		break;
	}
	begin(OP_MREMAP, "mremap(%#lx, %#zx, %#zx, %#x, %#lx) slot %d state %d", a, len, nlen,
	      flags, na, k, s->state);
	m = mremap((void *)a, len, nlen, flags, (void *)na);
	if (m == MAP_FAILED) {
		judge(-1, errno);
		/* Nothing moved; but a failed move may have unmapped the target
		 * and the DONTUNMAP/old-size-0 cases are not worth trusting. */
		if (flags & MREMAP_FIXED && to >= 0)
			self->slot[to].state = S_UNKNOWN;
		return;
	}
	judge(0, 0);
	if (s->state == S_DEV && (nlen > len || (flags & MREMAP_DONTUNMAP)))
		fail("mremap of a device mapping from %#zx to %#zx bytes (flags %#x) succeeded",
		     len, nlen, flags);
	if (!(flags & MREMAP_FIXED)) {
		if (s->state == S_DEV && (uintptr_t)m == s->addr && nlen <= s->len)
			s->len = nlen;
		else
			s->state = S_UNKNOWN;
		return;
	}
	if ((uintptr_t)m != na) {
		fail("MREMAP_FIXED moved to %p, not %#lx", m, na);
		return;
	}
	if (s->state == S_DEV && !(flags & MREMAP_DONTUNMAP) && len) {
		self->slot[to] = (struct slot){ S_DEV, na, nlen, s->off + (a - s->addr) };
		/* What is left of the old one: the part before a. */
		if (a == s->addr && nlen == len)
			s->state = S_EMPTY;
		else
			s->state = S_UNKNOWN;
		if (chance(50))
			touch(to);
	} else {
		self->slot[to].state = S_UNKNOWN;
		s->state = S_UNKNOWN;
	}
	/* An empty slot must be free of mappings: leftovers are unknown. */
	if (s->state == S_EMPTY)
		free_slot(k);
}

static void do_mprotect(void)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_NONE,
		PROT_WRITE, PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_READ | PROT_SEM,
	};
	int k = pick_used_slot(), prot = prots[below(8)];
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr + PAGE * below(s->len / PAGE) : slot_addr(k);
	len = s->state == S_DEV ? s->addr + s->len - a : PAGE * (1 + below(8));
	begin(OP_MPROTECT, "mprotect(%#lx, %#zx, %#x) slot %d state %d", a, len, prot, k,
	      s->state);
	if (CALL(mprotect((void *)a, len, prot)) == 0) {
		if (s->state == S_DEV && (prot & (PROT_WRITE | PROT_EXEC)))
			fail("made a device mapping writable or executable");
		if (prot != PROT_READ)
			s->state = S_UNKNOWN;
	}
}

static void do_madvise(void)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
		MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
		MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_COLLAPSE, MADV_GUARD_INSTALL,
		MADV_GUARD_REMOVE, 17, 99,
	};
	int k = pick_used_slot(), adv = advice[below(sizeof(advice) / sizeof(advice[0]))];
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr + PAGE * below(s->len / PAGE) : slot_addr(k);
	len = s->state == S_DEV ? PAGE * (1 + below((s->addr + s->len - a) / PAGE))
				: PAGE * (1 + below(8));
	begin(OP_MADVISE, "madvise(%#lx, %#zx, %d) slot %d state %d", a, len, adv, k, s->state);
	if (CALL(madvise((void *)a, len, adv)) == 0 && s->state == S_DEV) {
		/* Advice that only hints keeps the mapping as it was. */
		if (adv != MADV_NORMAL && adv != MADV_RANDOM && adv != MADV_SEQUENTIAL &&
		    adv != MADV_WILLNEED && adv != MADV_DONTDUMP && adv != MADV_DODUMP &&
		    adv != MADV_COLD && adv != MADV_PAGEOUT)
			s->state = S_UNKNOWN;
		else if (chance(50))
			touch(k);
	}
}

static void do_misc_mm(void)
{
	int k = pick_used_slot();
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr : slot_addr(k);
	len = s->state == S_DEV ? s->len : PAGE * (1 + below(8));
	switch (below(4)) {
	case 0:
		begin(OP_MLOCK, "mlock(%#lx, %#zx)", a, len);
		CALL(chance(50) ? mlock((void *)a, len) : munlock((void *)a, len));
		break;
	case 1: {
		int fl = chance(50) ? MS_SYNC : MS_ASYNC;

		fl |= chance(30) ? MS_INVALIDATE : 0;
		begin(OP_MSYNC, "msync(%#lx, %#zx, %#x)", a, len, fl);
		CALL(msync((void *)a, len, fl));
		break;
	}
	case 2: {
		unsigned char vec[SLOT_SIZE / PAGE];

		begin(OP_MINCORE, "mincore(%#lx, %#zx)", a, len);
		CALL(mincore((void *)a, len, vec));
		break;
	}
	default:
		if (s->state == S_DEV)
			touch(k);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */
/* ---------------------------------------------------------------------- */

static void do_open(void)
{
	static const int modes[] = { O_RDONLY, O_RDWR, O_WRONLY, O_RDONLY | O_NONBLOCK };
	int flags = modes[below(4)] | O_CLOEXEC, fd;

	begin(OP_OPEN, "open(%s, %#x) while the device is held", HV_EVLOG_DEVICE, flags);
	fd = CALL(open(HV_EVLOG_DEVICE, flags));
	/* An O_WRONLY open is a control file, allowed beside the consumer. */
	if (fd >= 0 && (flags & O_ACCMODE) != O_WRONLY)
		fail("a second open succeeded while the device was open");
	if ((flags & O_ACCMODE) == O_WRONLY && fd < 0)
		fail("a control file (O_WRONLY) was refused beside the consumer");
	if (fd >= 0)
		close(fd);
}

static void redup(void)
{
	int fd;

	begin(OP_DUP, "close(%d); dup(%d)", self->fd, atomic_load(&epoch_fd));
	if (self->fd >= 0 && CALL(close(self->fd)))
		fail("close failed");
	fd = CALL(dup(atomic_load(&epoch_fd)));
	if (fd < 0)
		fail("dup of the epoch's file failed");
	self->fd = fd;
}

static void do_file_misc(void)
{
	char b[64] = { 0 };

	switch (below(5)) {
	case 0:
		redup();
		break;
	case 1: {
		int fl = fcntl(self->fd, F_GETFL);

		begin(OP_FCNTL, "fcntl(%d, F_SETFL, %#x ^ O_NONBLOCK)", self->fd, fl);
		CALL(fcntl(self->fd, F_SETFL, fl ^ O_NONBLOCK));
		break;
	}
	case 2:
		begin(OP_LSEEK, "lseek/pread(%d)", self->fd);
		if (chance(50))
			CALL(lseek(self->fd, below(4096), SEEK_SET));
		else
			CALL(pread(self->fd, self->arena, RECORD_SIZE, 0));
		break;
	case 3:
		begin(OP_WRITE, "write(%d, 32)", self->fd);
		if (CALL(write(self->fd, b, sizeof(b) / 2)) >= 0)
			fail("write succeeded");
		break;
	default: {
		int bad = chance(50) ? -1 : 1000000;

		begin(OP_BADFD, "ioctl/read/mmap on fd %d", bad);
		switch (below(3)) {
		case 0: CALL(ioctl(bad, HV_EVLOG_IOC_INFO, self->arena)); break;
		case 1: CALL(read(bad, self->arena, RECORD_SIZE)); break;
		default: {
			void *m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, bad, 0);

			judge(m == MAP_FAILED ? -1 : 0, m == MAP_FAILED ? errno : 0);
			if (m != MAP_FAILED)
				munmap(m, PAGE);
		}
		}
		break;
	}
	}
}

/* ---------------------------------------------------------------------- */
/* Threads and epochs                                                     */
/* ---------------------------------------------------------------------- */

static void one_call(void)
{
	unsigned int r = below(1000);

	if (r < 60) do_info();
	else if (r < 120) do_buffers();
	else if (r < 180) do_release();
	else if (r < 230) do_flush();
	else if (r < 260) do_sources();
	else if (r < 285) do_stats();
	else if (r < 300) do_copy();
	else if (r < 380) do_ioctl_other();
	else if (r < 500) do_read();
	else if (r < 550) do_poll();
	else if (r < 580) do_epoll();
	else if (r < 720) do_mmap();
	else if (r < 780) do_munmap();
	else if (r < 840) do_mremap();
	else if (r < 870) do_mprotect();
	else if (r < 910) do_madvise();
	else if (r < 950) do_misc_mm();
	else if (r < 965) do_open();
	else do_file_misc();
}

static int out_of_budget(void)
{
	return atomic_load(&stop) || atomic_load(&total_calls) >= max_calls ||
	       elapsed() >= max_seconds;
}

/* All threads race to open the device; exactly one may win. */
static void open_race(void)
{
	double t0 = elapsed();
	int fd;

	for (;;) {
		begin(OP_OPEN, "open(%s) racing the other threads", HV_EVLOG_DEVICE);
		fd = CALL(open(HV_EVLOG_DEVICE, (chance(50) ? O_RDONLY : O_RDWR) | O_CLOEXEC));
		if (fd >= 0) {
			int none = -1;

			if (!atomic_compare_exchange_strong(&epoch_owner, &none, self->id)) {
				fail("two threads hold the device: thread %d and this one", none);
				close(fd);
				return;
			}
			atomic_store(&epoch_fd, fd);
			atomic_store(&epoch_budget, 50 + below(800));
			return;
		}
		if (atomic_load(&epoch_owner) >= 0 || atomic_load(&stop))
			return;
		if (elapsed() - t0 > 5) {
			fail("the device stayed busy 5 s after every file and mapping was gone");
			return;
		}
		sched_yield();
	}
}

static void *worker(void *arg)
{
	struct thread *t = arg;

	self = t;
	for (;;) {
		pthread_barrier_wait(&barrier);
		if (!go_on)
			break;
		open_race();
		pthread_barrier_wait(&barrier);
		if (atomic_load(&epoch_fd) >= 0) {
			redup();
			/* Every epoch's file goes to the same epoll set; the
			 * entry of the previous file went with its release. */
			begin(OP_EPOLL_CTL, "epoll_ctl(%d, ADD, %d)", t->epfd, t->fd);
			struct epoll_event ev = { .events = EPOLLIN };

			CALL(epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->fd, &ev));
			while (atomic_fetch_sub(&epoch_budget, 1) > 0 && !out_of_budget())
				one_call();
		}
		/* The end of the epoch: every mapping and file of this thread. */
		for (int k = 0; k < SLOTS; k++)
			if (t->slot[k].state != S_EMPTY)
				free_slot(k);
		if (t->fd >= 0) {
			begin(OP_DUP, "close(%d) at the end of the epoch", t->fd);
			CALL(close(t->fd));
			t->fd = -1;
		}
		if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
			int fd = atomic_exchange(&epoch_fd, -1);

			if (fd >= 0)
				close(fd);
			atomic_store(&epoch_owner, -1);
			atomic_fetch_add(&epochs, 1);
			go_on = !out_of_budget();
		}
	}
	atomic_fetch_add(&done, 1);
	return NULL;
}

static int setup_thread(struct thread *t, int id)
{
	uint64_t x = seed + (uint64_t)id * 0x1000193;
	char *g;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->fd = -1;
	t->rng = splitmix(&x) | 1;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	g = mmap(NULL, ARENA_SIZE + 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->epfd < 0 || g == MAP_FAILED)
		return -1;
	t->arena = g + PAGE;
	t->ro = g + ARENA_SIZE + 2 * PAGE;
	if (mprotect(t->arena, ARENA_SIZE, PROT_READ | PROT_WRITE) ||
	    mprotect(t->ro, PAGE, PROT_READ))
		return -1;
	return 0;
}

/* The answers to compare with: geometry and buffer table, read once. */
static int baseline(void)
{
	struct hv_evlog_buffers req;
	int fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		say("# cannot open %s: %s\n", HV_EVLOG_DEVICE, strerror(errno));
		return -1;
	}
	table0 = calloc(HV_EVLOG_MAX_BUFFERS, sizeof(*table0));
	req = (struct hv_evlog_buffers){ .count = HV_EVLOG_MAX_BUFFERS,
					 .table = (uintptr_t)table0 };
	if (!table0 || ioctl(fd, HV_EVLOG_IOC_INFO, &info0) ||
	    ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req) || req.count != info0.buffer_count) {
		say("# INFO/BUFFERS failed: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	group_size = (uint64_t)info0.buffer_count * info0.buffer_size;
	return 0;
}

static void summary(void)
{
	uint64_t count[OP_COUNT] = { 0 }, ok[OP_COUNT] = { 0 }, err[OP_COUNT][134] = { { 0 } };

	for (int t = 0; t < nthreads; t++)
		for (int o = 0; o < OP_COUNT; o++) {
			count[o] += threads[t].count[o];
			ok[o] += threads[t].ok[o];
			for (int e = 0; e < 134; e++)
				err[o][e] += threads[t].err[o][e];
		}
	for (int o = 0; o < OP_COUNT; o++) {
		char line[400];
		int n = snprintf(line, sizeof(line), "#   %-17s %8" PRIu64 " calls %8" PRIu64 " ok",
				 op_name[o], count[o], ok[o]);

		for (int e = 0; e < 134 && n < (int)sizeof(line) - 40; e++)
			if (err[o][e])
				n += snprintf(line + n, sizeof(line) - n, ", %s %" PRIu64,
					      strerrorname_np(e) ? strerrorname_np(e) : "?", err[o][e]);
		say("%s\n", line);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct sigaction su = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	uint64_t last = 0;
	double last_t = 0, last_report = 0;
	int opt;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((opt = getopt(argc, argv, "s:n:t:j:")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': max_calls = strtoull(optarg, NULL, 0); break;
		case 't': max_seconds = strtoul(optarg, NULL, 0); break;
		case 'j': nthreads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n CALLS] [-t SECONDS] [-j THREADS]\n",
				argv[0]);
			return 64;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 4;
	setvbuf(stdout, NULL, _IONBF, 0);
	/* First, so that any failure can be replayed. */
	say("# seed %" PRIu64 " (replay: %s -s %" PRIu64 " -n %" PRIu64 " -t %u -j %d)\n", seed,
	    argv[0], seed, max_calls, max_seconds, nthreads);
	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (baseline())
		return 1;
	if (info0.backend != 1) {
		say("# SKIP: the allowed errnos are the simulated backend's (backend %u)\n",
		    info0.backend);
		return 4;
	}
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGUSR1, &su, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_barrier_init(&barrier, NULL, nthreads);
	for (int i = 0; i < nthreads; i++)
		if (setup_thread(&threads[i], i)) {
			say("# thread set-up failed: %s\n", strerror(errno));
			return 1;
		}
	for (int i = 0; i < nthreads; i++)
		pthread_create(&threads[i].tid, NULL, worker, &threads[i]);

	/* Interrupt blocking reads and polls every 20 ms; watch for hangs. */
	while (atomic_load(&done) < nthreads) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		uint64_t now_calls = atomic_load(&total_calls);
		double now = elapsed();

		nanosleep(&ts, NULL);
		for (int i = 0; i < nthreads; i++)
			pthread_kill(threads[i].tid, SIGUSR1);
		if (now_calls != last) {
			last = now_calls;
			last_t = now;
		} else if (now - last_t > HANG_SECONDS) {
			say("# FAIL (seed %" PRIu64 "): no call returned for %d s\n", seed, HANG_SECONDS);
			for (int i = 0; i < nthreads; i++)
				say("#   thread %d in: %s\n", i, threads[i].what);
			_exit(1);
		}
		if (now - last_report >= 10) {
			last_report = now;
			say("# %.0f s: %" PRIu64 " calls, %" PRIu64 " epochs\n", now, now_calls,
			    atomic_load(&epochs));
		}
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);

	double secs = elapsed();
	uint64_t calls = atomic_load(&total_calls);

	summary();
	say("# fuzz: seed %" PRIu64 " calls %" PRIu64 " epochs %" PRIu64 " threads %d seconds %.1f calls/s %.0f failures %d\n",
	    seed, calls, atomic_load(&epochs), nthreads, secs, calls / (secs > 0 ? secs : 1),
	    atomic_load(&failed));
	return atomic_load(&failed) ? 1 : 0;
}
