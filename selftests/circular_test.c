// SPDX-License-Identifier: GPL-2.0
/*
 * circular_test: circular mode with a reader that falls behind. The
 * hypervisor restarts the oldest complete buffer of a CPU
 * when it needs one, released or not, so a buffer can complete again while
 * the record of its previous completion still waits. Every completion must
 * then be either read, with the bytes_used of its own fill, or counted in
 * records_dropped (a gap in the sequence numbers); the simulator's own
 * count (debugfs sim_completions) is the reference.
 *
 * Loads /lib/modules/hv_evlog.ko itself with backend=sim mode=circular
 * buffer_pages=1 sim_rate=250 (a 1-page buffer holds 125 events, so each
 * CPU completes one every 0.5 s and each stays complete for 0.5 s, many
 * scan intervals) and unloads it at the end; skipped if hv_evlog is
 * already loaded. Runs as root. Exit status: kselftest's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/hv_evlog.h"
#include "hv_evlog_selftest.h"

#define MODULE_PARAMS	"backend=sim mode=circular buffer_pages=1 sim_rate=250"
/* How long the reader falls behind, and how often it reads one record. */
#define BEHIND_MS	6000
#define READ_EVERY_MS	400


/* Reads every queued record (nonblocking); returns the count. */
static size_t read_all(int fd, struct hv_evlog_record *rec, size_t room)
{
	size_t n = 0;
	ssize_t got;

	while (n < room && (got = read(fd, rec + n, (room - n) * sizeof(*rec))) > 0)
		n += got / sizeof(*rec);
	return n;
}

TEST(circular_reader_behind_every_completion_read_or_dropped)
{
	struct hv_evlog_record rec[4096];
	struct hv_evlog_stats s0, s1;
	struct hv_evlog_info info;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	__u64 off = 0;
	uint64_t c0, c1, last = 0, gaps = 0, stale = 0;
	size_t n, reads = 0;
	const char *base;
	int fd;

	fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_INFO, &info));
	ASSERT_EQ(1, info.mode);
	ASSERT_EQ(1, info.backend);
	base = mmap(NULL, (size_t)info.buffer_count * info.buffer_size, PROT_READ,
		    MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, base);

	/* A quiet start: no writes, every buffer complete and read. */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_FLUSH, &all));
	sleep_ms(300);
	n = read_all(fd, rec, 4096);
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_STATS, &s0));
	ASSERT_EQ(s0.completions, n + s0.records_dropped);
	c0 = sim_completions();
	ASSERT_NE(UINT64_MAX, c0) TH_LOG("no %s", SIM_COMPLETIONS);
	last = s0.completions;	/* the next sequence number */

	/* Events flow; the reader takes one record now and then. */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &info.sources));
	for (int t = 0; t < BEHIND_MS; t += READ_EVERY_MS) {
		sleep_ms(READ_EVERY_MS);
		if (read(fd, rec, sizeof(rec[0])) != sizeof(rec[0]))
			continue;
		const char *h = base + (size_t)rec[0].buffer_index * info.buffer_size;
		uint32_t state = __atomic_load_n((const uint32_t *)(h + HDR_BUFFER_STATE),
						 __ATOMIC_ACQUIRE);
		uint64_t stamp;
		uint32_t used;

		memcpy(&stamp, h + HDR_TIME_STAMP, sizeof(stamp));
		memcpy(&used, h + HDR_NEXT_OFFSET, sizeof(used));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		/* Still that fill (same start): its record is not stale. */
		if (state == STATE_COMPLETE && stamp == rec[0].timestamp &&
		    __atomic_load_n((const uint32_t *)(h + HDR_BUFFER_STATE),
				    __ATOMIC_ACQUIRE) == STATE_COMPLETE && used != rec[0].bytes_used)
			stale++;
		EXPECT_LE(last, rec[0].sequence);
		gaps += rec[0].sequence - last;
		last = rec[0].sequence + 1;
		reads++;
	}

	/* Quiet again: everything completes and is read. */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_FLUSH, &all));
	sleep_ms(300);
	n = read_all(fd, rec, 4096);
	for (size_t k = 0; k < n; k++) {
		EXPECT_LE(last, rec[k].sequence);
		gaps += rec[k].sequence - last;
		last = rec[k].sequence + 1;
	}
	reads += n;
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_STATS, &s1));
	c1 = sim_completions();
	gaps += s1.completions - last;

	TH_LOG("completions %llu (simulator %llu), read %zu, dropped %llu",
	       (unsigned long long)(s1.completions - s0.completions),
	       (unsigned long long)(c1 - c0), reads,
	       (unsigned long long)(s1.records_dropped - s0.records_dropped));
	/* The reader did fall behind. */
	EXPECT_LT(0, s1.records_dropped - s0.records_dropped);
	EXPECT_LT(2 * info.buffer_count, c1 - c0);
	/* Every completion the simulator made: read or counted as dropped. */
	EXPECT_EQ(c1 - c0, s1.completions - s0.completions);
	EXPECT_EQ(c1 - c0, reads + (s1.records_dropped - s0.records_dropped));
	/* Each dropped record is a gap in the sequence numbers. */
	EXPECT_EQ(s1.records_dropped - s0.records_dropped, gaps);
	EXPECT_EQ(0, stale);
	EXPECT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &info.sources));
	munmap((void *)base, (size_t)info.buffer_count * info.buffer_size);
	close(fd);
}

int main(int argc, char **argv)
{
	return run_with_own_load(argc, argv, MODULE_PARAMS);
}
