// SPDX-License-Identifier: GPL-2.0
/*
 * copy_resize_test: a consumer that only copies (HV_EVLOG_IOC_COPY, never
 * mmap) while a control file shrinks and grows the group over and over is
 * told about each completion exactly once, and every record it reads can
 * be copied.
 *
 * A shrinking RESIZE flushes a buffer it takes out that is in use, waits
 * for the consumer to read its record and copy it (which releases it),
 * then unmaps and deletes it within its next look (RESIZE polls every
 * 10 ms): no scan need run between that release and the deletion. The
 * scan keeps each buffer's last header snapshot; one kept for a buffer
 * that is gone still read Complete with the time stamp the consumer was
 * told about, and the released buffer, Idle again in the tracker, was
 * reported once more by the next scan: a second record with the same
 * (buffer_index, time_stamp), for a buffer COPY then refuses (EINVAL).
 * With scan_interval_ms=1000 the scans come only from completion
 * messages (and once a second), so a release and a deletion with no scan
 * in between are common; the group stays shrunk for HOLD_MS, long enough
 * for the next completion's scan to look at the gone buffer before a
 * grow creates it again.
 *
 * Exact results:
 *  - no (buffer_index, time_stamp) pair comes in two records;
 *  - every COPY of a record just read succeeds, copies header_size +
 *    bytes_used bytes, and the copied header is that completion's (its
 *    index, its time stamp, state Complete);
 *  - every RESIZE succeeds;
 *  - STATS releases are the copies made;
 *  - after a quiet end (resizes stopped, sources off, every buffer
 *    flushed, every record read), the sequence numbers' gaps are exactly
 *    STATS records_dropped, and STATS completions are the records read
 *    plus those dropped.
 *
 * Loads /lib/modules/hv_evlog.ko itself with backend=sim buffer_pages=1
 * scan_interval_ms=1000 sim_rate=1000 (a 4 KiB buffer fills in some
 * 126 ms per CPU) and unloads it at the end. Skipped if hv_evlog is
 * already loaded. Runs as root. Exit status: kselftest's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/hv_evlog.h"
#include "hv_evlog_selftest.h"

#define MODULE_PARAMS	"backend=sim buffer_pages=1 scan_interval_ms=1000 sim_rate=1000"
/* How long the resizes go on. */
#define RESIZE_MS	8000
/* How long the group stays at each size. */
#define HOLD_MS		100
/* Failures printed in full; the rest are counted. */
#define SHOWN		5

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The control file's RESIZE 1 / RESIZE 2 loop. */
struct resizer {
	int fd;
	int stop;
	unsigned long done, failed;
	int first_errno;
	__u32 first_failed_count;
};

static void *resize_loop(void *arg)
{
	struct resizer *r = arg;
	__u32 per_cpu = 1;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (ioctl(r->fd, HV_EVLOG_IOC_RESIZE, &per_cpu)) {
			if (!r->failed++) {
				r->first_errno = errno;
				r->first_failed_count = per_cpu;
			}
		}
		r->done++;
		sleep_ms(HOLD_MS);
		per_cpu = per_cpu == 1 ? 2 : 1;
	}
	/* End as loaded, 2 per CPU. */
	if (per_cpu == 2) {
		if (ioctl(r->fd, HV_EVLOG_IOC_RESIZE, &per_cpu) && !r->failed++) {
			r->first_errno = errno;
			r->first_failed_count = per_cpu;
		}
		r->done++;
	}
	return NULL;
}

/* One record's buffer and completion. */
struct pair {
	uint32_t buffer_index;
	uint64_t time_stamp;
	uint64_t sequence;
};

/* What the consumer has seen. */
struct seen {
	struct hv_evlog_info info;
	char *copy;
	struct pair *pairs;
	size_t count, room;
	uint64_t next_sequence, gaps;
	/* COPY refusals, and copies whose bytes are not the record's. */
	uint64_t copy_failed, copy_wrong;
};

static int by_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->buffer_index != y->buffer_index)
		return x->buffer_index < y->buffer_index ? -1 : 1;
	if (x->time_stamp != y->time_stamp)
		return x->time_stamp < y->time_stamp ? -1 : 1;
	return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

/* Notes one record, then copies (and so releases) its buffer. */
static void take(struct __test_metadata *_metadata, int fd, struct seen *s,
		 const struct hv_evlog_record *r)
{
	struct hv_evlog_copy c = {
		.buffer_index = r->buffer_index,
		.addr = (uintptr_t)s->copy,
		.size = s->info.buffer_size,
	};

	if (s->count == s->room) {
		s->room = s->room ? 2 * s->room : 4096;
		s->pairs = realloc(s->pairs, s->room * sizeof(*s->pairs));
		ASSERT_NE(NULL, s->pairs);
	}
	s->pairs[s->count++] = (struct pair){ r->buffer_index, r->timestamp, r->sequence };
	EXPECT_GT(s->info.max_buffers, r->buffer_index);
	EXPECT_LE(s->next_sequence, r->sequence);
	if (r->sequence > s->next_sequence)
		s->gaps += r->sequence - s->next_sequence;
	s->next_sequence = r->sequence + 1;

	if (ioctl(fd, HV_EVLOG_IOC_COPY, &c)) {
		if (s->copy_failed++ < SHOWN)
			TH_LOG("COPY of record %llu (buffer %u, time stamp %llu) refused: %s",
			       (unsigned long long)r->sequence, r->buffer_index,
			       (unsigned long long)r->timestamp, strerror(errno));
		return;
	}
	if (c.bytes != s->info.header_size + r->bytes_used ||
	    hdr32(s->copy, HDR_BUFFER_INDEX) != r->buffer_index ||
	    hdr64(s->copy, HDR_TIME_STAMP) != r->timestamp ||
	    hdr32(s->copy, HDR_BUFFER_STATE) != STATE_COMPLETE) {
		if (s->copy_wrong++ < SHOWN)
			TH_LOG("COPY of record %llu (buffer %u, time stamp %llu, %u bytes used): %u bytes of buffer %u, time stamp %llu, state %u",
			       (unsigned long long)r->sequence, r->buffer_index,
			       (unsigned long long)r->timestamp, r->bytes_used, c.bytes,
			       hdr32(s->copy, HDR_BUFFER_INDEX),
			       (unsigned long long)hdr64(s->copy, HDR_TIME_STAMP),
			       hdr32(s->copy, HDR_BUFFER_STATE));
	}
}

/* Reads every queued record (nonblocking) and copies each; returns the count. */
static size_t read_all(struct __test_metadata *_metadata, int fd, struct seen *s)
{
	struct hv_evlog_record rec[64];
	size_t n = 0;
	ssize_t got;

	while ((got = read(fd, rec, sizeof(rec))) > 0) {
		for (size_t k = 0; k < got / sizeof(rec[0]); k++)
			take(_metadata, fd, s, &rec[k]);
		n += got / sizeof(rec[0]);
	}
	EXPECT_EQ(EAGAIN, errno);
	return n;
}

TEST(copy_only_consumer_under_resizes_gets_each_completion_once)
{
	static struct seen s;
	struct resizer r = { .fd = -1 };
	struct hv_evlog_stats st;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	uint64_t end, quiet, repeats = 0;
	pthread_t thread;
	__u64 off = 0;
	int fd;

	memset(&s, 0, sizeof(s));
	fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_INFO, &s.info));
	ASSERT_EQ(1u, s.info.backend);
	ASSERT_EQ(0u, s.info.mode);
	ASSERT_EQ(HV_EVLOG_COMPLETION_MESSAGES, s.info.completion);
	ASSERT_EQ(4096u, s.info.buffer_size);
	s.copy = malloc(s.info.buffer_size);
	ASSERT_NE(NULL, s.copy);
	r.fd = open(HV_EVLOG_DEVICE, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, r.fd) TH_LOG("control open: %s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&thread, NULL, resize_loop, &r));

	/* Events flow at sim_rate: each record is copied as soon as it is read. */
	end = now_ms() + RESIZE_MS;
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			read_all(_metadata, fd, &s);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	/* The resizer may wait for a buffer to be copied: keep copying. */
	while (pthread_tryjoin_np(thread, NULL) == EBUSY) {
		read_all(_metadata, fd, &s);
		sleep_ms(5);
	}

	/*
	 * Quiet: no writes, every buffer in use completed, every record read
	 * (a scan at least every scan_interval_ms: 2.5 s without one is the
	 * end).
	 */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_FLUSH, &all));
	quiet = now_ms() + 2500;
	while (now_ms() < quiet) {
		if (read_all(_metadata, fd, &s))
			quiet = now_ms() + 2500;
		sleep_ms(20);
	}
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_STATS, &st));
	/* Dropped after the last record read: gaps at the end. */
	s.gaps += st.completions - s.next_sequence;

	qsort(s.pairs, s.count, sizeof(*s.pairs), by_pair);
	for (size_t i = 1; i < s.count; i++) {
		const struct pair *a = &s.pairs[i - 1], *b = &s.pairs[i];

		if (a->buffer_index != b->buffer_index || a->time_stamp != b->time_stamp)
			continue;
		if (repeats++ < SHOWN)
			TH_LOG("buffer %u, time stamp %llu: records %llu and %llu",
			       b->buffer_index, (unsigned long long)b->time_stamp,
			       (unsigned long long)a->sequence, (unsigned long long)b->sequence);
	}
	TH_LOG("%lu resizes (%lu failed), %zu records read, %llu copies refused, %llu copies not the record's, %llu repeated (index, time stamp) pairs; STATS: %llu completions, %llu releases, %llu records dropped",
	       r.done, r.failed, s.count, (unsigned long long)s.copy_failed,
	       (unsigned long long)s.copy_wrong, (unsigned long long)repeats,
	       (unsigned long long)st.completions, (unsigned long long)st.releases,
	       (unsigned long long)st.records_dropped);
	if (r.failed)
		TH_LOG("first failed RESIZE %u: %s", r.first_failed_count,
		       strerror(r.first_errno));

	/* The loop ran, the buffers it took out completed and were copied. */
	EXPECT_LE(RESIZE_MS / HOLD_MS / 4, r.done);
	EXPECT_LT(4 * s.info.buffer_count, s.count);
	EXPECT_EQ(0u, r.failed);
	EXPECT_EQ(0u, repeats);
	EXPECT_EQ(0u, s.copy_failed);
	EXPECT_EQ(0u, s.copy_wrong);
	EXPECT_EQ(st.records_dropped, s.gaps);
	EXPECT_EQ(st.completions, s.count + st.records_dropped);
	/* Each copy released its buffer, and nothing else did. */
	EXPECT_EQ(s.count - s.copy_failed, st.releases);
	EXPECT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &s.info.sources));
	free(s.pairs);
	free(s.copy);
	close(r.fd);
	close(fd);
}

int main(int argc, char **argv)
{
	return run_with_own_load(argc, argv, MODULE_PARAMS);
}
