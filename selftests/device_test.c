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
#include "hv_evlog_selftest.h"

#define MODULE_PARAMS	"backend=sim"
/*
 * With max_buffers=0, as MODULE_PARAMS leaves it, the group maximum is this
 * many times the count planned at load, at most HV_EVLOG_MAX_BUFFERS
 * (DEFAULT_HEADROOM in hv_evlog/policy/live.rs).
 */
#define DEFAULT_HEADROOM	4


/*
 * A consistent copy of a live header, as the kernel reads it
 * (policy/snapshot.rs): the hypervisor shows InUse before it rewrites a
 * header and stores the state a fill ends in last, and every fill has its
 * own time stamp. So load the time stamp and the state with acquire, copy
 * the header, then load the state and the time stamp again: equal values
 * (also in the copy) mean the fields belong to that state, the time stamp
 * telling a fill that began and ended during the copy. Returns the state,
 * or -1 if the writer never held still.
 */
static int64_t hdr_snapshot(const void *buf, unsigned char out[72])
{
	const uint32_t *state = (const uint32_t *)((const char *)buf + HDR_BUFFER_STATE);
	const uint64_t *stamp = (const uint64_t *)((const char *)buf + HDR_TIME_STAMP);
	const unsigned char *src = buf;

	for (int tries = 0; tries < 1000; tries++) {
		uint64_t t = __atomic_load_n(stamp, __ATOMIC_ACQUIRE);
		uint32_t before = __atomic_load_n(state, __ATOMIC_ACQUIRE);

		for (int i = 0; i < 72; i++)
			out[i] = READ_ONCE(src[i]);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(state, __ATOMIC_ACQUIRE) == before &&
		    __atomic_load_n(stamp, __ATOMIC_RELAXED) == t &&
		    hdr32(out, HDR_BUFFER_STATE) == before && hdr64(out, HDR_TIME_STAMP) == t)
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

/*
 * Whether the group completes buffers on a flush; a completion test skips
 * with NEEDS_COMPLETIONS if not.
 */
static int completes_buffers(const struct hv_evlog_info *info)
{
	const char *e = getenv("HV_EVLOG_COMPLETIONS");

	return info->backend == 1 || (e && !strcmp(e, "1"));
}

#define NEEDS_COMPLETIONS	"needs completions (simulated backend)"

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

/*
 * The tests, one file per concern, in the order they run. Included, not
 * linked: kselftest_harness.h registers each TEST_F() in static state of its
 * translation unit, so one harness binary is one .c file; the files use the
 * fixture and helpers above.
 */
#include "device_test_ioctl.h"
#include "device_test_mmap.h"
#include "device_test_file.h"
#include "device_test_completion.h"
#include "device_test_revoke.h"
#include "device_test_read_races.h"

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
