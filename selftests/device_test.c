// SPDX-License-Identifier: GPL-2.0
/*
 * device_test: /dev/hv_evlog against its ABI (include/uapi/linux/hv_evlog.h).
 *
 * Every refused operation is checked for its exact errno. When the device is
 * not there, /lib/modules/hv_evlog.ko is loaded with backend=sim first and
 * unloaded again at the end; when it is (a group set up by someone else, e.g.
 * on the real hypervisor), it is used as it is and never unloaded.
 *
 * Tests named completion_* need buffers to complete after HV_EVLOG_IOC_FLUSH.
 * They run when the group is simulated (info.backend == 1), or when
 * HV_EVLOG_COMPLETIONS=1 says the real group completes buffers on a flush;
 * otherwise they are skipped.
 *
 * Runs as root (the device is 0600 root:root). Exit status: kselftest's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/hv_evlog.h"

#define MODULE_PATH	"/lib/modules/hv_evlog.ko"
#define MODULE_NAME	"hv_evlog"
#define MODULE_PARAMS	"backend=sim"

/* The TLFS buffer header fields the tests look at (offsets in bytes). */
#define HDR_BUFFER_SIZE		0
#define HDR_BUFFER_INDEX	4
#define HDR_EVENTS_LOST		8
#define HDR_TIME_STAMP		16
#define HDR_LOGICAL_PROCESSOR	40	/* 16 bits */
#define HDR_BUFFER_STATE	44
#define HDR_NEXT_OFFSET		48
#define HDR_TYPE		52
#define HDR_NEXT_INDEX		56
#define STATE_IN_USE		2
#define STATE_COMPLETE		3
#define END_OF_CHAIN		0xFFFFFFFFu

/* Set in main() before any test forks: this program loaded the module. */
static int loaded_here;

static uint32_t hdr32(const void *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)buf + off, sizeof(v));
	return v;
}

static uint64_t hdr64(const void *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)buf + off, sizeof(v));
	return v;
}

/*
 * A consistent copy of a live header, as the kernel reads it (snapshot.rs):
 * the hypervisor publishes buffer_state last with a release store, so load
 * the state with acquire, copy the header, then load the state again; equal
 * states (also in the copy) mean the fields belong to that state. Returns
 * the state, or -1 if the writer never held still.
 */
static int64_t hdr_snapshot(const void *buf, unsigned char out[72])
{
	const uint32_t *state = (const uint32_t *)((const char *)buf + HDR_BUFFER_STATE);
	const volatile unsigned char *src = buf;

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t before = __atomic_load_n(state, __ATOMIC_ACQUIRE);

		for (int i = 0; i < 72; i++)
			out[i] = src[i];
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(state, __ATOMIC_RELAXED) == before &&
		    hdr32(out, HDR_BUFFER_STATE) == before)
			return before;
	}
	return -1;
}

static int load_module(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, MODULE_PARAMS, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK) ? -errno : 0;
}

static int dev_open(int flags)
{
	return open(HV_EVLOG_DEVICE, flags | O_CLOEXEC);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

FIXTURE(dev) {
	int fd;
	long page;
	struct hv_evlog_info info;
	struct hv_evlog_buffer_info *tab;
	size_t total;		/* bytes of all buffers */
};

FIXTURE_SETUP(dev)
{
	struct hv_evlog_buffers req = { 0 };

	self->page = sysconf(_SC_PAGESIZE);
	self->fd = dev_open(O_RDONLY);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", HV_EVLOG_DEVICE, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &self->info));
	ASSERT_LT(0, self->info.buffer_count);
	ASSERT_GE(HV_EVLOG_MAX_BUFFERS, self->info.buffer_count);
	self->tab = calloc(self->info.buffer_count, sizeof(*self->tab));
	ASSERT_NE(NULL, self->tab);
	req.count = self->info.buffer_count;
	req.table = (uintptr_t)self->tab;
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	ASSERT_EQ(self->info.buffer_count, req.count);
	self->total = (size_t)self->info.buffer_count * self->info.buffer_size;
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
	free(self->tab);
}

/* Skips a completion test unless the group completes buffers on a flush. */
#define NEED_COMPLETIONS() do {						\
	const char *e = getenv("HV_EVLOG_COMPLETIONS");			\
	if (self->info.backend != 1 && !(e && !strcmp(e, "1")))	\
		SKIP(return, "needs completions (simulated backend)");	\
} while (0)

/*
 * Reads every record queued within a few scan intervals and releases its
 * buffer, so that a test starts with nothing pending. Returns the count.
 */
static int drain(int fd)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	int flags = fcntl(fd, F_GETFL);
	int n = 0;
	ssize_t got;

	sleep_ms(100);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while ((got = read(fd, rec, sizeof(rec))) > 0) {
		for (size_t i = 0; i < got / sizeof(rec[0]); i++, n++)
			ioctl(fd, HV_EVLOG_IOC_RELEASE, &rec[i].buffer_index);
	}
	fcntl(fd, F_SETFL, flags);
	return n;
}

/* Waits up to `ms` for POLLIN; returns poll()'s revents. */
static short wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return p.revents;
}

TEST_F(dev, info)
{
	EXPECT_EQ(HV_EVLOG_ABI_VERSION, self->info.abi_version);
	EXPECT_EQ(sizeof(struct hv_evlog_info), self->info.info_size);
	EXPECT_EQ(72, self->info.header_size);
	EXPECT_EQ(sizeof(struct hv_evlog_record), self->info.record_size);
	EXPECT_LT(0, self->info.buffer_size);
	EXPECT_EQ(0, self->info.buffer_size % self->page);
	EXPECT_GE(512 * self->page, self->info.buffer_size);
	EXPECT_GE(2, self->info.type);
	EXPECT_GE(1, self->info.mode);
	EXPECT_GE(2, self->info.time_basis);
	EXPECT_GE(1, self->info.backend);
	/* The simulator delivers completion messages; on Hyper-V 7.2 they cannot be taken. */
	EXPECT_EQ(self->info.backend == 1 ? HV_EVLOG_COMPLETION_MESSAGES : HV_EVLOG_COMPLETION_SCAN,
		  self->info.completion);
}

TEST_F(dev, buffer_table)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	for (uint32_t i = 0; i < self->info.buffer_count; i++) {
		const struct hv_evlog_buffer_info *b = &self->tab[i];
		int served = 0;

		EXPECT_EQ(i, b->index);
		EXPECT_EQ((uint64_t)i * self->info.buffer_size, b->mmap_offset);
		EXPECT_EQ(0, b->flags);
		EXPECT_GT(HV_EVLOG_MAX_CPUS, b->node);
		for (int c = 0; c < HV_EVLOG_MAX_CPUS; c++) {
			if (!(b->cpus[c / 64] >> (c % 64) & 1))
				continue;
			served++;
			EXPECT_GT(cpus, c) TH_LOG("buffer %u serves CPU %d", i, c);
		}
		EXPECT_LT(0, served) TH_LOG("buffer %u serves no CPU", i);
	}
}

TEST_F(dev, buffer_table_ranges)
{
	struct hv_evlog_buffer_info one[2];
	struct hv_evlog_buffers req;
	uint32_t n = self->info.buffer_count;

	/* A window at the end is clamped to what is there. */
	memset(one, 0xff, sizeof(one));
	req = (struct hv_evlog_buffers){ .first = n - 1, .count = 2, .table = (uintptr_t)one };
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(1, req.count);
	EXPECT_EQ(n - 1, one[0].index);
	EXPECT_EQ(0xffffffffu, one[1].index);	/* untouched */

	req = (struct hv_evlog_buffers){ .first = n, .count = 2, .table = (uintptr_t)one };
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(0, req.count);

	req = (struct hv_evlog_buffers){ .first = n + 1, .count = 1, .table = (uintptr_t)one };
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(EINVAL, errno);

	req = (struct hv_evlog_buffers){ .first = 0, .count = 1, .table = 8 };
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(EFAULT, errno);
}

/* BUFFERS says which generation of the table it returns: INFO's. */
TEST_F(dev, buffer_table_generation)
{
	struct hv_evlog_buffer_info one;
	struct hv_evlog_buffers req = { .first = 0, .count = 1, .table = (uintptr_t)&one };

	memset(&req.generation, 0xff, 8);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(self->info.generation, req.generation);
	EXPECT_EQ(0, req.reserved);
	/* max_buffers defaults to the count planned at load. */
	EXPECT_EQ(self->info.buffer_count, self->info.max_buffers);
}

/*
 * An O_WRONLY open is a control file beside the consumer: INFO and the
 * control ioctls work; reading, mapping, RELEASE and STATS do not, and the
 * consumer slot stays taken.
 */
TEST_F(dev, control_file_beside_consumer)
{
	struct hv_evlog_info info;
	struct hv_evlog_stats st;
	uint32_t index = 0;
	char buf[64];
	int c = dev_open(O_WRONLY), again;

	ASSERT_LE(0, c) TH_LOG("control open beside the consumer: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(c, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(self->info.buffer_count, info.buffer_count);
	EXPECT_EQ(0, ioctl(c, HV_EVLOG_IOC_FLUSH, &(__u32){ HV_EVLOG_ALL_CPUS }));
	EXPECT_EQ(-1, ioctl(c, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(c, HV_EVLOG_IOC_RELEASE, &index));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, read(c, buf, sizeof(buf)));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->page, PROT_READ, MAP_SHARED, c, 0));
	EXPECT_EQ(EACCES, errno);
	again = dev_open(O_RDONLY);
	EXPECT_EQ(-1, again);
	EXPECT_EQ(EBUSY, errno);
	if (again >= 0)
		close(again);
	close(c);
}

/* Buffers of the CPU that buffer 0 serves. */
static uint32_t per_cpu_now(const struct hv_evlog_buffer_info *tab, uint32_t n)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < n; i++)
		count += !memcmp(tab[i].cpus, tab[0].cpus, sizeof(tab[0].cpus));
	return count;
}

/*
 * RESIZE within the maximum (the planned count by default) to what is there
 * changes nothing; past it, or to 0, it is EINVAL and the table stays.
 */
TEST_F(dev, resize_bounds)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	struct hv_evlog_info after;

	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now));
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ now + 1 }));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 0 }));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &after));
	EXPECT_EQ(self->info.generation, after.generation);
	EXPECT_EQ(self->info.buffer_count, after.buffer_count);
}

/*
 * A mapping may be split (each part counts the buffers it covers): a page
 * unmapped from the middle of two buffers' mapping leaves both readable.
 */
TEST_F(dev, mapping_split)
{
	size_t size = self->info.buffer_size;
	char *p;
	uint32_t index;

	ASSERT_LE(2, self->info.buffer_count);
	p = mmap(NULL, 2 * size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p + self->page, self->page));
	memcpy(&index, p + 4, 4);
	EXPECT_EQ(0, index);
	memcpy(&index, p + size + 4, 4);
	EXPECT_EQ(1, index);
	EXPECT_EQ(0, munmap(p, 2 * size));
}

TEST_F(dev, unknown_ioctl)
{
	uint32_t v = 0;

	EXPECT_EQ(-1, ioctl(self->fd, _IOW(HV_EVLOG_IOC_MAGIC, 0x3f, __u32), &v));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
}

/* Each mapped buffer starts with its header: index, size and type match. */
TEST_F(dev, mmap_headers)
{
	const char *base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	int checked = 0;

	ASSERT_NE(MAP_FAILED, base) TH_LOG("mmap: %s", strerror(errno));
	for (uint32_t i = 0; i < self->info.buffer_count; i++) {
		unsigned char hdr[72];
		int64_t state = hdr_snapshot(base + self->tab[i].mmap_offset, hdr);
		const unsigned char *buf = hdr;
		uint32_t size;

		ASSERT_LE(0, state) TH_LOG("buffer %u: header never held still", i);
		/* Standby (0): the hypervisor has not published this header. */
		if (state == 0)
			continue;
		checked++;
		EXPECT_EQ(i, hdr32(buf, HDR_BUFFER_INDEX));
		EXPECT_EQ(self->info.type, hdr32(buf, HDR_TYPE));
		/* buffer_size counts the bytes after the header. */
		size = hdr32(buf, HDR_BUFFER_SIZE);
		EXPECT_EQ(self->info.buffer_size - self->info.header_size, size)
			TH_LOG("buffer %u: header buffer_size %u", i, size);
		/* next_buffer_offset counts entry bytes after the header too. */
		EXPECT_GE(size, hdr32(buf, HDR_NEXT_OFFSET));
	}
	if (self->info.backend == 1)
		EXPECT_EQ(self->info.buffer_count, checked);
	EXPECT_EQ(0, munmap((void *)base, self->total));
}

/*
 * Zero copy: a mapping is the buffers' own memory, not a copy made at mmap
 * time. The mapping is a PFN mapping (VM_PFNMAP), which /proc/self/pagemap
 * does not walk (it reports such pages as not present), so frame numbers
 * cannot be compared; instead: a buffer in use when it was mapped is seen
 * turning complete through that same mapping after FLUSH, with no further
 * call, and a second mapping of it shows the same bytes.
 */
TEST_F(dev, mmap_same_pages)
{
	size_t size = self->info.buffer_size;
	uint32_t cpu = HV_EVLOG_ALL_CPUS, i;
	const char *all, *one, *buf = NULL;
	uint32_t state = 0;

	NEED_COMPLETIONS();
	drain(self->fd);
	all = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, all);
	for (i = 0; i < self->info.buffer_count; i++) {
		buf = all + self->tab[i].mmap_offset;
		if (__atomic_load_n((const uint32_t *)(buf + HDR_BUFFER_STATE),
				    __ATOMIC_ACQUIRE) == STATE_IN_USE)
			break;
	}
	ASSERT_GT(self->info.buffer_count, i) TH_LOG("no buffer in use");
	one = mmap(NULL, size, PROT_READ, MAP_SHARED, self->fd, self->tab[i].mmap_offset);
	ASSERT_NE(MAP_FAILED, one);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &cpu));
	for (int t = 0; t < 200; t++) {
		state = __atomic_load_n((const uint32_t *)(buf + HDR_BUFFER_STATE),
					__ATOMIC_ACQUIRE);
		if (state == STATE_COMPLETE)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(STATE_COMPLETE, state) TH_LOG("buffer %u", i);
	/* Complete and not released: nobody writes it now. */
	EXPECT_EQ(i, hdr32(one, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, memcmp(buf, one, size));
	munmap((void *)one, size);
	munmap((void *)all, self->total);
	drain(self->fd);
}

/*
 * The buffer pages cannot be pinned: the mapping is a PFN mapping, which
 * get_user_pages() refuses, so nothing can hold a page beyond munmap().
 */
TEST_F(dev, vmsplice_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	struct iovec iov = { .iov_base = (void *)p, .iov_len = self->page };
	int pipefd[2];

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* Not even part of a page. */
	iov.iov_len = 72;
	EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

TEST_F(dev, process_vm_readv_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	char *dst = malloc(self->page);
	struct iovec local = { .iov_base = dst, .iov_len = self->page };
	struct iovec remote = { .iov_base = (void *)p, .iov_len = self->page };

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(NULL, dst);
	/*
	 * The test kernel has CONFIG_CROSS_MEMORY_ATTACH: an ordinary page of
	 * this process reads (ENOSYS here is a failure, not a skip).
	 */
	remote.iov_base = dst + 1;
	local.iov_len = remote.iov_len = 1;
	ASSERT_EQ(1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0))
		TH_LOG("process_vm_readv of an ordinary page: %s", strerror(errno));
	remote.iov_base = (void *)p;
	local.iov_len = remote.iov_len = self->page;
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* The mapping itself reads fine. */
	memcpy(dst, p, 72);
	EXPECT_EQ(0, memcmp(dst, p, 72));
	free(dst);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/*
 * Another GUP path (get_user_pages_remote(), as ptrace and debuggers use):
 * /proc/self/mem cannot read the mapping (EIO: no page), while it reads an
 * ordinary page of this process.
 */
TEST_F(dev, proc_mem_read_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	static char plain[72] = "an ordinary page";
	char got[72];
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_LE(0, mem);
	ASSERT_EQ(sizeof(got), pread(mem, got, sizeof(got), (off_t)(uintptr_t)plain));
	EXPECT_EQ(0, memcmp(got, plain, sizeof(got)));
	EXPECT_EQ(-1, pread(mem, got, sizeof(got), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	close(mem);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/*
 * fork() with the device mapped: the child gets no mapping (VM_DONTCOPY;
 * touching the range kills it with SIGSEGV), the parent's still reads, and
 * a child that closed its copy of the file does not keep the device busy.
 */
TEST_F(dev, fork_child_has_no_mapping)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	uint32_t index;
	int status, fd, sync[2];
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, p);
	index = hdr32(p, HDR_BUFFER_INDEX);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		(void)*(const volatile char *)p;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the child read the mapping");
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	EXPECT_EQ(index, hdr32(p, HDR_BUFFER_INDEX));

	/* A child that lives on without the file. */
	ASSERT_EQ(0, pipe(sync));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(self->fd);
		close(sync[1]);
		/* Until the parent closes its end. */
		while (read(sync[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(sync[0]);
	EXPECT_EQ(0, munmap((void *)p, self->total));
	close(self->fd);
	self->fd = -1;
	/* The last reference goes with munmap(); release may run a bit later. */
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	EXPECT_LE(0, fd) TH_LOG("open while the child lives: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	close(sync[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
}

/* Whether the page at `p` is mapped at all: mincore() says ENOMEM if not. */
static int mapped(const void *p, long page)
{
	unsigned char vec;

	if (mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), page, &vec) == 0)
		return 1;
	return errno == ENOMEM ? 0 : -errno;
}

/*
 * MADV_DONTNEED cannot drop a PFN mapping's PTEs (the kernel refuses
 * VM_PFNMAP with EINVAL): the mapping stays and reads the live buffer.
 */
TEST_F(dev, madvise_dontneed_refused_mapping_stays)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, madvise((void *)p, self->total, MADV_DONTNEED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise((void *)p, self->page, MADV_DONTNEED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, mapped(p, self->page));
	for (uint32_t i = 0; i < self->info.buffer_count; i++)
		EXPECT_EQ(i, hdr32(p + self->tab[i].mmap_offset, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap((void *)p, self->total));
}

/*
 * mremap() may move a mapping (same size): the new range shows the same
 * buffers, the old one is gone. Keeping the old range too
 * (MREMAP_DONTUNMAP) is refused for a PFN mapping with EINVAL.
 */
TEST_F(dev, mremap_move)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	char *q = mmap(NULL, self->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *moved;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(MAP_FAILED, mremap((void *)p, self->total, self->total,
				     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, q));
	EXPECT_EQ(EINVAL, errno);
	moved = mremap((void *)p, self->total, self->total, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	ASSERT_EQ(q, moved) TH_LOG("mremap: %s", strerror(errno));
	for (uint32_t i = 0; i < self->info.buffer_count; i++)
		EXPECT_EQ(i, hdr32(moved + self->tab[i].mmap_offset, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, mapped(p, self->page));
	EXPECT_EQ(0, munmap((void *)moved, self->total));
}

/*
 * munmap() of a page inside the mapping splits it: that page is gone, the
 * rest reads on, and each piece keeps the device busy until it is unmapped.
 */
TEST_F(dev, partial_munmap)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	size_t second;
	int fd = -1;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_LE(2, self->info.buffer_count);
	second = self->tab[1].mmap_offset;
	EXPECT_EQ(0, munmap((void *)(p + self->page), self->page));
	EXPECT_EQ(0, mapped(p + self->page, self->page));
	EXPECT_EQ(0, hdr32(p, HDR_BUFFER_INDEX));
	EXPECT_EQ(1, hdr32(p + second, HDR_BUFFER_INDEX));
	close(self->fd);
	self->fd = -1;
	/* The first piece gone, the second still holds the file. */
	EXPECT_EQ(0, munmap((void *)p, self->page));
	EXPECT_EQ(-1, dev_open(O_RDONLY));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, hdr32(p + second, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap((void *)(p + 2 * self->page), self->total - 2 * self->page));
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	EXPECT_LE(0, fd) TH_LOG("open after the last piece: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* BUFFERS writes its table only to user memory: EFAULT otherwise. */
TEST_F(dev, buffers_bad_table_refused)
{
	static const __u64 bad[] = {
		8,				/* unmapped, low */
		0xffffffff81000000ull,		/* kernel text */
		0xffff888000000000ull,		/* the direct map */
	};
	struct hv_evlog_buffers req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req = (struct hv_evlog_buffers){ .first = 0, .count = 1, .table = bad[i] };
		EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req))
			TH_LOG("table %#llx accepted", (unsigned long long)bad[i]);
		EXPECT_EQ(EFAULT, errno);
	}
	/* The argument itself at a kernel address. */
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, (void *)0xffffffff81000000ull));
	EXPECT_EQ(EFAULT, errno);
}

/* A page-aligned window inside the buffers is allowed. */
TEST_F(dev, mmap_window)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, self->page);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/* The kernel rounds a length up to whole pages before the driver sees it. */
TEST_F(dev, mmap_length_rounded_up)
{
	const volatile char *p = mmap(NULL, 100, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	(void)p[self->page - 1];
	EXPECT_EQ(0, munmap((void *)p, 100));
}

TEST_F(dev, mmap_write_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);

	/* From the kernel: the file is not open for writing. */
	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
}

TEST_F(dev, mmap_write_refused_rdwr)
{
	void *p;
	int fd;

	close(self->fd);
	self->fd = -1;
	fd = dev_open(O_RDWR);
	ASSERT_LE(0, fd);
	/* From the driver, the same answer as for a read-only file. */
	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	/* A read-only mapping of an O_RDWR file cannot be made writable. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->page);
	close(fd);
}

TEST_F(dev, mmap_exec_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ | PROT_EXEC, MAP_SHARED, self->fd, 0);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, mmap_private_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, self->fd, 0);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mmap_misaligned_offset_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 8);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mmap_past_end_refused)
{
	size_t size = self->info.buffer_size;
	void *p;

	/* One page too long. */
	p = mmap(NULL, self->total + self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Starting at the end. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, self->total);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* The last buffer and one more. */
	p = mmap(NULL, 2 * size, PROT_READ, MAP_SHARED, self->fd, self->total - size);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Far past the end. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, (off_t)1 << 40);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mprotect_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, mprotect(p, self->page, PROT_NONE));
	EXPECT_EQ(0, mprotect(p, self->page, PROT_READ));
	munmap(p, self->page);
}

TEST_F(dev, mremap_grow_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	void *q;

	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, self->page, 2 * self->page, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	q = mremap(p, self->page, 2 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	munmap(p, self->page);
}

/* A store through the read-only mapping faults and changes nothing. */
TEST_F(dev, write_through_mapping_faults)
{
	volatile char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	char before;
	int status;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, p);
	before = p[0];
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		p[0] = before + 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	EXPECT_EQ(before, p[0]);
	munmap((void *)p, self->page);
}

TEST_F(dev, second_open_busy)
{
	int fd = dev_open(O_RDONLY);

	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EBUSY, errno);
	close(self->fd);
	self->fd = -1;
	fd = dev_open(O_RDONLY);
	EXPECT_LE(0, fd) TH_LOG("reopen after close: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * A mapping outlives close(): it stays valid and keeps the device busy.
 * Only the header fields the hypervisor never changes are compared (size,
 * index, type): its writers may fill the buffer meanwhile.
 */
TEST_F(dev, mapping_outlives_close)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	uint32_t size, index, type;
	int fd;

	ASSERT_NE(MAP_FAILED, p);
	memcpy(&size, p + 0, 4);
	memcpy(&index, p + 4, 4);
	memcpy(&type, p + 52, 4);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, memcmp(&size, p + 0, 4));
	EXPECT_EQ(0, memcmp(&index, p + 4, 4));
	EXPECT_EQ(0, memcmp(&type, p + 52, 4));
	fd = dev_open(O_RDONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, munmap((void *)p, self->total));
	/* The last reference goes with munmap(); release may run a bit later. */
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	EXPECT_LE(0, fd) TH_LOG("open after munmap: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

TEST_F(dev, open_as_nobody_refused)
{
	int status;
	pid_t pid;

	close(self->fd);
	self->fd = -1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		if (dev_open(O_RDONLY) >= 0)
			_exit(11);
		_exit(errno == EACCES ? 0 : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("10: setuid failed, 11: opened, 12: other errno");
}

TEST_F(dev, device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat(HV_EVLOG_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
}

TEST_F(dev, read_short_refused)
{
	char buf[sizeof(struct hv_evlog_record)];

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf) - 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, read_nonblock_empty)
{
	struct hv_evlog_record rec;

	drain(self->fd);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, &rec, sizeof(rec)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, wait_readable(self->fd, 0));
}

TEST_F(dev, not_a_stream_position)
{
	struct hv_evlog_record rec;

	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pread(self->fd, &rec, sizeof(rec), 0));
	EXPECT_EQ(ESPIPE, errno);
}

TEST_F(dev, release_refused)
{
	uint32_t i;

	drain(self->fd);
	/* Not complete, or complete but never reported: both refused. */
	for (i = 0; i < self->info.buffer_count; i++) {
		EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &i));
		EXPECT_EQ(EINVAL, errno);
	}
	i = self->info.buffer_count;
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &i));
	EXPECT_EQ(EINVAL, errno);
	i = 0xffffffffu;
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &i));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, flush_bad_cpu_refused)
{
	uint32_t cpu = 1u << 20;

	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &cpu));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, stats_start_at_zero)
{
	struct hv_evlog_stats st;

	memset(&st, 0xff, sizeof(st));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(0, st.releases);
	EXPECT_EQ(0, st.records_dropped);
	EXPECT_EQ(0, st.flushes);
}

/*
 * The lifetime counters sum every open's: after this open flushes, drains
 * and closes, a new open's own counters are zero and the lifetime ones grew
 * by exactly this open's releases and flushes (completions by at least its
 * own: the new open's first scan may add more).
 */
TEST_F(dev, lifetime_stats_outlive_the_open)
{
	struct hv_evlog_stats before, st0, st, after;
	uint32_t all = HV_EVLOG_ALL_CPUS;

	NEED_COMPLETIONS();
	/*
	 * This open's scanner may already have counted completions, into its
	 * own stats and the lifetime sum both: the lifetime first, then this
	 * open's, so that before - st0 is at most what other opens counted.
	 */
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_LIFETIME_STATS, &before));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st0));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	wait_readable(self->fd, 2000);
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(1, st.flushes);
	EXPECT_LT(0, st.releases);
	close(self->fd);
	self->fd = -1;
	/* The slot is freed once the closed file's session is gone. */
	for (int i = 0; i < 100 && self->fd < 0; i++) {
		self->fd = dev_open(O_RDONLY);
		if (self->fd < 0)
			sleep_ms(10);
	}
	ASSERT_LE(0, self->fd) TH_LOG("reopen: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_LIFETIME_STATS, &after));
	EXPECT_EQ(before.flushes + 1, after.flushes);
	EXPECT_EQ(before.releases + st.releases, after.releases);
	EXPECT_LE(before.completions - st0.completions + st.completions, after.completions);
	EXPECT_LE(before.events_lost - st0.events_lost + st.events_lost, after.events_lost);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(0, st.flushes);
	EXPECT_EQ(0, st.releases);
}

TEST_F(dev, set_sources)
{
	struct hv_evlog_info info;
	__u64 mask = self->info.sources;

	/* A legacy group mask: bit 0 clear, some group bit set. */
	EXPECT_EQ(0, self->info.sources & 1);
	EXPECT_NE(0, self->info.sources & 0x3fffff00);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &mask));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(self->info.sources, info.sources);
}

/*
 * Bit 0 of the legacy group mask means "extended format": refused, like
 * bits outside Microsoft's groups (0x100-0x20000000); the mask is unchanged.
 */
TEST_F(dev, set_sources_refuses_non_groups)
{
	static const __u64 bad[] = { 0x1, 0x3, 0x401, 0x80, 0x40000000, 1ull << 63 };
	struct hv_evlog_info info;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		__u64 mask = bad[i];

		EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &mask))
			TH_LOG("mask %#llx accepted", (unsigned long long)bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(self->info.sources, info.sources);
}

/* rmmod is refused while a file or a mapping of it exists. */
TEST_F(dev, rmmod_refused_while_used)
{
	void *p;

	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	EXPECT_EQ(0, hdr32(p, HDR_BUFFER_INDEX));
	munmap(p, self->total);
}

/* Checks the records in rec[0..n) against the mapped headers. */
static void check_records(struct __test_metadata *_metadata,
			  FIXTURE_DATA(dev) *self, const char *base,
			  const struct hv_evlog_record *rec, size_t n,
			  uint64_t first_sequence)
{
	for (size_t k = 0; k < n; k++) {
		const struct hv_evlog_record *r = &rec[k];
		const char *buf;
		uint32_t next, off, end;

		EXPECT_EQ(first_sequence + k, r->sequence);
		ASSERT_GT(self->info.buffer_count, r->buffer_index);
		buf = base + self->tab[r->buffer_index].mmap_offset;
		EXPECT_EQ(STATE_COMPLETE, hdr32(buf, HDR_BUFFER_STATE));
		EXPECT_EQ(r->buffer_index, hdr32(buf, HDR_BUFFER_INDEX));
		EXPECT_EQ(hdr32(buf, HDR_NEXT_OFFSET), r->bytes_used);
		EXPECT_EQ(hdr32(buf, HDR_EVENTS_LOST), r->events_lost);
		EXPECT_EQ(hdr64(buf, HDR_TIME_STAMP), r->timestamp);
		/* vp: the header's logical processor; cpu: the Linux CPU with
		 * that VP index, which the simulator numbers as Linux does,
		 * and the one CPU of the buffer's table entry. */
		EXPECT_EQ(hdr32(buf, HDR_LOGICAL_PROCESSOR) & 0xffff, r->vp);
		EXPECT_EQ(r->vp, r->cpu);
		EXPECT_LT(r->cpu, HV_EVLOG_MAX_CPUS);
		if (r->cpu < HV_EVLOG_MAX_CPUS)
			EXPECT_TRUE(self->tab[r->buffer_index].cpus[r->cpu / 64] >> (r->cpu % 64) & 1);
		EXPECT_EQ(0, r->reserved);
		/* bytes_used: entry bytes after the header, not an offset. */
		ASSERT_GE(self->info.buffer_size - self->info.header_size, r->bytes_used);
		end = self->info.header_size + r->bytes_used;
		/* Entries: 8-byte aligned, at least their header, inside. */
		for (off = self->info.header_size; off < end;) {
			uint16_t size;

			ASSERT_EQ(0, off % 8);
			ASSERT_GE(end, off + 16);
			memcpy(&size, buf + off + 4, sizeof(size));
			ASSERT_LE(16, size);
			ASSERT_GE(end, off + size);
			off = (off + size + 7) & ~7u;
		}
		/* The walk ends exactly at the end of the used area. */
		EXPECT_EQ(end, off);
		/* Buffers of one chain come in chain order. */
		next = hdr32(buf, HDR_NEXT_INDEX);
		if (k + 1 < n && next != END_OF_CHAIN && next < self->info.buffer_count &&
		    hdr32(base + self->tab[next].mmap_offset, HDR_BUFFER_STATE) == STATE_COMPLETE)
			EXPECT_EQ(next, rec[k + 1].buffer_index);
	}
}

/* Reads records until `want` arrived or 2 s passed; returns the count. */
static size_t read_records(int fd, struct hv_evlog_record *rec, size_t room, size_t want)
{
	size_t n = 0;

	while (n < want && wait_readable(fd, 2000) & POLLIN) {
		ssize_t got = read(fd, rec + n, (room - n) * sizeof(*rec));

		if (got <= 0 || got % sizeof(*rec))
			break;
		n += got / sizeof(*rec);
	}
	return n;
}

TEST_F(dev, completion_flush_read_release)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	struct hv_evlog_stats st;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	const char *base;
	int drained;
	size_t n;

	NEED_COMPLETIONS();
	base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, base);
	drained = drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	EXPECT_EQ(POLLIN, wait_readable(self->fd, 2000) & (POLLIN | POLLERR));
	sleep_ms(100);	/* every buffer of the flush */
	n = read_records(self->fd, rec, HV_EVLOG_MAX_BUFFERS, 1);
	ASSERT_LT(0, n);
	n += read_records(self->fd, rec + n, HV_EVLOG_MAX_BUFFERS - n,
			  wait_readable(self->fd, 0) ? HV_EVLOG_MAX_BUFFERS : 0);
	check_records(_metadata, self, base, rec, n, drained);

	for (size_t k = 0; k < n; k++) {
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index))
			TH_LOG("release %u: %s", rec[k].buffer_index, strerror(errno));
		/* Only once. */
		EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index));
		EXPECT_EQ(EINVAL, errno);
	}
	/* Buffers a running group filled meanwhile. */
	drained += drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(drained + n, st.completions);
	EXPECT_EQ(drained + n, st.releases);
	EXPECT_EQ(0, st.records_dropped);
	EXPECT_EQ(1, st.flushes);
	munmap((void *)base, self->total);
}

/*
 * HV_EVLOG_IOC_COPY, the copying path: the bytes copied are the mapped bytes
 * (header and entries), and the buffer is released with them, once.
 */
TEST_F(dev, completion_copy_equals_mapping)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	struct hv_evlog_copy c = { 0 };
	struct hv_evlog_stats st;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	unsigned char *mem, *want;
	const char *base, *buf;
	size_t n, bytes;

	NEED_COMPLETIONS();
	base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, base);
	mem = malloc(self->info.buffer_size);
	want = malloc(self->info.buffer_size);
	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, want);
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	n = read_records(self->fd, rec, HV_EVLOG_MAX_BUFFERS, 1);
	ASSERT_LT(0, n);
	buf = base + self->tab[rec[0].buffer_index].mmap_offset;
	bytes = self->info.header_size + rec[0].bytes_used;
	ASSERT_LT(self->info.header_size, bytes) TH_LOG("a flushed buffer with no entry");
	memcpy(want, buf, bytes);

	/* Room for one byte less: refused, nothing copied, not released. */
	memset(mem, 0xEE, self->info.buffer_size);
	c.buffer_index = rec[0].buffer_index;
	c.addr = (uintptr_t)mem;
	c.size = bytes - 1;
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_COPY, &c));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0xEE, mem[0]);
	EXPECT_EQ(STATE_COMPLETE, hdr32(buf, HDR_BUFFER_STATE));
	/* A destination that faults: EFAULT, not released either. */
	c.addr = 8;
	c.size = self->info.buffer_size;
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_COPY, &c));
	EXPECT_EQ(EFAULT, errno);

	c.addr = (uintptr_t)mem;
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_COPY, &c))
		TH_LOG("copy %u: %s", c.buffer_index, strerror(errno));
	EXPECT_EQ(bytes, c.bytes);
	EXPECT_EQ(0, memcmp(want, mem, bytes)) TH_LOG("copied bytes differ from the mapping");
	EXPECT_EQ(0xEE, mem[bytes]) TH_LOG("copied past the used bytes");
	/* Released: a second copy or a release is refused. */
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_COPY, &c));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &c.buffer_index));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_LE(1, st.releases);
	for (size_t k = 1; k < n; k++)
		ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index);
	/* A buffer out of range. */
	c.buffer_index = self->info.buffer_count;
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_COPY, &c));
	EXPECT_EQ(EINVAL, errno);
	free(mem);
	free(want);
	munmap((void *)base, self->total);
}

/* Whole records only: a buffer for one and a half gets one. */
TEST_F(dev, completion_whole_records)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	char buf[sizeof(rec[0]) * 3 / 2];
	uint32_t all = HV_EVLOG_ALL_CPUS;
	ssize_t got;
	size_t n;
	int drained;

	NEED_COMPLETIONS();
	drained = drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	got = read(self->fd, buf, sizeof(buf));
	ASSERT_EQ(sizeof(rec[0]), got);
	memcpy(&rec[0], buf, sizeof(rec[0]));
	EXPECT_EQ(drained, rec[0].sequence);
	sleep_ms(100);
	n = 1 + read_records(self->fd, rec + 1, HV_EVLOG_MAX_BUFFERS - 1,
			     wait_readable(self->fd, 0) ? HV_EVLOG_MAX_BUFFERS : 0);
	for (size_t k = 0; k < n; k++) {
		EXPECT_EQ(drained + k, rec[k].sequence);
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index));
	}
}

/* A complete buffer whose record was not read yet cannot be released. */
TEST_F(dev, completion_release_before_read_refused)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	uint32_t all = HV_EVLOG_ALL_CPUS;
	const char *base;
	uint32_t i, complete = END_OF_CHAIN;
	size_t n;

	NEED_COMPLETIONS();
	base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, base);
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	for (i = 0; i < self->info.buffer_count && complete == END_OF_CHAIN; i++)
		if (hdr32(base + self->tab[i].mmap_offset, HDR_BUFFER_STATE) == STATE_COMPLETE)
			complete = i;
	ASSERT_NE(END_OF_CHAIN, complete);
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &complete));
	EXPECT_EQ(EINVAL, errno);
	sleep_ms(100);
	n = read_records(self->fd, rec, HV_EVLOG_MAX_BUFFERS, HV_EVLOG_MAX_BUFFERS);
	for (size_t k = 0; k < n; k++)
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index));
	munmap((void *)base, self->total);
}

/*
 * FLUSH of one CPU completes what that CPU is filling: the module flushes
 * its in-use buffer by buffer index (the hypervisor's flush takes no CPU),
 * and a record for that CPU arrives.
 */
TEST_F(dev, completion_flush_one_cpu)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	struct hv_evlog_stats st;
	uint32_t cpu = END_OF_CHAIN;
	const char *base;
	size_t n, mine = 0;

	NEED_COMPLETIONS();
	base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, base);
	drain(self->fd);
	for (uint32_t i = 0; i < self->info.buffer_count && cpu == END_OF_CHAIN; i++) {
		const char *buf = base + self->tab[i].mmap_offset;

		if (hdr32(buf, HDR_BUFFER_STATE) == STATE_IN_USE)
			cpu = hdr32(buf, HDR_LOGICAL_PROCESSOR) & 0xffff;
	}
	ASSERT_NE(END_OF_CHAIN, cpu) TH_LOG("no buffer in use");
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &cpu))
		TH_LOG("flush cpu %u: %s", cpu, strerror(errno));
	n = read_records(self->fd, rec, HV_EVLOG_MAX_BUFFERS, 1);
	sleep_ms(100);
	n += read_records(self->fd, rec + n, HV_EVLOG_MAX_BUFFERS - n,
			  wait_readable(self->fd, 0) ? HV_EVLOG_MAX_BUFFERS : 0);
	for (size_t k = 0; k < n; k++) {
		if (rec[k].cpu == cpu)
			mine++;
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index));
	}
	EXPECT_LT(0, mine) TH_LOG("no record for cpu %u among %zu", cpu, n);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_EQ(1, st.flushes);
	munmap((void *)base, self->total);
}

/* A blocking read sleeps until a completion arrives. */
TEST_F(dev, completion_blocking_read)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	ssize_t got;
	pid_t pid;
	int status;

	NEED_COMPLETIONS();
	drain(self->fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t all = HV_EVLOG_ALL_CPUS;

		sleep_ms(200);
		_exit(ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all) ? 1 : 0);
	}
	alarm(10);
	got = read(self->fd, rec, sizeof(rec));
	alarm(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_LT(0, got);
	EXPECT_EQ(0, got % sizeof(rec[0]));
	sleep_ms(100);
	drain(self->fd);
	for (size_t k = 0; k < got / sizeof(rec[0]); k++)
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index));
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal interrupts a blocking read (no SA_RESTART: EINTR). */
TEST_F(dev, blocking_read_interrupted)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct hv_evlog_record rec;
	ssize_t got = 0;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	/* A running group may complete a buffer first: then try again. */
	for (int tries = 0; tries < 5; tries++) {
		drain(self->fd);
		alarm(1);
		got = read(self->fd, &rec, sizeof(rec));
		alarm(0);
		if (got < 0)
			break;
		ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index);
	}
	EXPECT_EQ(-1, got);
	EXPECT_EQ(EINTR, errno);
}

TEST_F(dev, completion_epoll)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t all = HV_EVLOG_ALL_CPUS;
	int ep;

	NEED_COMPLETIONS();
	drain(self->fd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 2000));
	EXPECT_TRUE(ev.events & EPOLLIN);
	close(ep);
	drain(self->fd);
}

/* A new open reports what is complete and unreleased, from sequence 0. */
TEST_F(dev, completion_reopen_reports_again)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS], again[HV_EVLOG_MAX_BUFFERS];
	uint32_t all = HV_EVLOG_ALL_CPUS;
	size_t n, m;

	NEED_COMPLETIONS();
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	sleep_ms(100);
	n = read_records(self->fd, rec, HV_EVLOG_MAX_BUFFERS, HV_EVLOG_MAX_BUFFERS);
	ASSERT_LT(0, n);
	close(self->fd);
	self->fd = dev_open(O_RDONLY);
	ASSERT_LE(0, self->fd);
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	sleep_ms(100);
	m = read_records(self->fd, again, HV_EVLOG_MAX_BUFFERS, HV_EVLOG_MAX_BUFFERS);
	/* Everything read before, and whatever a running group added. */
	ASSERT_LE(n, m);
	for (size_t k = 0; k < n; k++) {
		size_t j = 0;

		while (j < m && again[j].buffer_index != rec[k].buffer_index)
			j++;
		EXPECT_GT(m, j) TH_LOG("buffer %u not reported again", rec[k].buffer_index);
	}
	for (size_t k = 0; k < m; k++) {
		EXPECT_EQ(k, again[k].sequence);
		EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &again[k].buffer_index));
	}
}

/* What the thread of read_into_userfaultfd_does_not_block_others runs. */
struct uffd_reader {
	int fd;
	void *dst;
	ssize_t got;
	int error;
};

static void *uffd_read(void *arg)
{
	struct uffd_reader *r = arg;

	r->got = read(r->fd, r->dst, sizeof(struct hv_evlog_record));
	r->error = r->got < 0 ? errno : 0;
	return NULL;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * read() copies records without the device's lock: a thread whose read()
 * destination is a userfaultfd-registered page that nobody serves yet sits
 * in the fault, while another thread's poll(), RELEASE and STATS return at
 * once (each within 500 ms; with the copy under the lock they would wait
 * until the fault is served, here by a watchdog after 3 s). Then the fault
 * is served and the read returns its one record.
 */
TEST_F(dev, read_into_userfaultfd_does_not_block_others)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	struct uffd_reader r = { 0 };
	struct hv_evlog_record rec;
	struct hv_evlog_stats st;
	struct uffd_msg msg;
	struct pollfd pfd;
	struct timespec t0;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	char *area, *zeros;
	pthread_t reader;
	int uffd;

	NEED_COMPLETIONS();
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s (needs CONFIG_USERFAULTFD, root)",
				  strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	area = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zeros = calloc(1, self->page);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_NE(NULL, zeros);
	reg.range.start = (uintptr_t)area;
	reg.range.len = self->page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	/* At least two records: one read now, one for the stuck read. */
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	sleep_ms(100);
	ASSERT_EQ(sizeof(rec), read(self->fd, &rec, sizeof(rec)));
	ASSERT_TRUE(wait_readable(self->fd, 0) & POLLIN) TH_LOG("only one record queued");

	r.fd = self->fd;
	r.dst = area;
	ASSERT_EQ(0, pthread_create(&reader, NULL, uffd_read, &r));
	/* The reader is in the fault once its message arrives. */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ((uintptr_t)area, msg.arg.pagefault.address & ~(uint64_t)(self->page - 1));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd = (struct pollfd){ .fd = self->fd, .events = POLLIN };
	EXPECT_LE(0, poll(&pfd, 1, 0));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("poll() waited for the stuck read");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index))
		TH_LOG("release %u: %s", rec.buffer_index, strerror(errno));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("RELEASE waited for the stuck read");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("STATS waited for the stuck read");
	EXPECT_EQ(1, st.releases);
	/* The reader still sits in the fault. */
	EXPECT_EQ(0, r.got);

	/* Serve the fault: the read finishes with one whole record. */
	copy.dst = (uintptr_t)area;
	copy.src = (uintptr_t)zeros;
	copy.len = self->page;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, pthread_join(reader, NULL));
	EXPECT_EQ(sizeof(rec), r.got) TH_LOG("read: %s", strerror(r.error));
	memcpy(&rec, area, sizeof(rec));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index));
	drain(self->fd);
	close(uffd);
	munmap(area, self->page);
	free(zeros);
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct blocked_reader {
	int fd;
	ssize_t got;
	int error;
};

static void *blocked_read(void *arg)
{
	struct blocked_reader *r = arg;
	struct hv_evlog_record rec;

	r->got = read(r->fd, &rec, sizeof(rec));
	r->error = r->got < 0 ? errno : 0;
	return NULL;
}

/*
 * close() while another thread sleeps in read(): the read holds the file,
 * so it goes on sleeping (no record can come: sources are off) until a
 * signal ends it with EINTR; then the last reference goes and the device
 * opens again. Also, nonblocking reads racing close() 100 times: each
 * returns whole records, or EAGAIN, or EBADF; the device always reopens.
 */
TEST_F(dev, read_racing_close)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct blocked_reader r = { .got = 1 };
	struct hv_evlog_info info;
	__u64 off = 0;
	pthread_t t;
	int fd = -1;

	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	drain(self->fd);
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_read, &r));
	sleep_ms(200);
	close(self->fd);
	self->fd = -1;
	sleep_ms(200);
	EXPECT_EQ(1, r.got) TH_LOG("the read ended when the fd was closed");
	EXPECT_EQ(-1, dev_open(O_RDONLY));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, pthread_kill(t, SIGUSR1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-1, r.got);
	EXPECT_EQ(EINTR, r.error);
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	ASSERT_LE(0, fd) TH_LOG("open after the read ended: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &info.sources));

	for (int round = 0; round < 100; round++) {
		uint32_t all = HV_EVLOG_ALL_CPUS;
		struct blocked_reader nb = { 0 };

		if (round % 20 == 0)
			ioctl(fd, HV_EVLOG_IOC_FLUSH, &all);
		ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
		nb.fd = fd;
		ASSERT_EQ(0, pthread_create(&t, NULL, blocked_read, &nb));
		close(fd);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (nb.got < 0) {
			EXPECT_TRUE(nb.error == EAGAIN || nb.error == EBADF)
				TH_LOG("round %d: %s", round, strerror(nb.error));
		} else {
			EXPECT_EQ(sizeof(struct hv_evlog_record), nb.got);
		}
		fd = -1;
		for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
			sleep_ms(10);
		ASSERT_LE(0, fd) TH_LOG("round %d: open: %s", round, strerror(errno));
	}
	self->fd = fd;
}

/*
 * After munmap(), close() and rmmod nothing of a buffer is reachable: a
 * pipe that vmsplice() was asked to fill from the mapping got nothing
 * (refused at vmsplice time), the old range is unmapped, /proc/self/mem
 * cannot read it, and the module is gone.
 */
TEST_F(dev, nothing_left_after_munmap_close_rmmod)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	struct iovec iov = { .iov_base = (void *)p, .iov_len = self->page };
	int pipefd[2], queued = -1, mem;
	char got[72];

	ASSERT_NE(MAP_FAILED, p);
	if (!loaded_here) {
		munmap((void *)p, self->total);
		SKIP(return, "the module was loaded by someone else");
	}
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, munmap((void *)p, self->total));
	close(self->fd);
	self->fd = -1;
	for (int i = 0; i < 100 && unload_module() == -EWOULDBLOCK; i++)
		sleep_ms(10);
	EXPECT_NE(0, access("/sys/module/" MODULE_NAME, F_OK)) TH_LOG("rmmod failed");
	EXPECT_EQ(0, ioctl(pipefd[0], FIONREAD, &queued));
	EXPECT_EQ(0, queued);
	EXPECT_EQ(0, mapped(p, self->page));
	mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, mem);
	EXPECT_EQ(-1, pread(mem, got, sizeof(got), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	close(mem);
	close(pipefd[0]);
	close(pipefd[1]);
	ASSERT_EQ(0, load_module());
}

/* Last: with nothing open or mapped the module unloads and loads again. */
TEST_F(dev, module_unload_and_reload)
{
	close(self->fd);
	self->fd = -1;
	if (!loaded_here)
		SKIP(return, "the module was loaded by someone else");
	ASSERT_EQ(0, unload_module());
	EXPECT_NE(0, access(HV_EVLOG_DEVICE, F_OK));
	ASSERT_EQ(0, load_module());
	EXPECT_EQ(0, access(HV_EVLOG_DEVICE, F_OK));
}

static void unload_at_exit(void)
{
	if (loaded_here)
		unload_module();
}

int main(int argc, char **argv)
{
	if (access(HV_EVLOG_DEVICE, F_OK)) {
		int ret = load_module();

		if (ret) {
			printf("1..0 # SKIP no %s and loading %s failed: %s\n",
			       HV_EVLOG_DEVICE, MODULE_PATH, strerror(-ret));
			return KSFT_SKIP;
		}
		loaded_here = 1;
		atexit(unload_at_exit);
	}
	return test_harness_run(argc, argv);
}
