// SPDX-License-Identifier: GPL-2.0
/*
 * circular_records_test: in circular mode at a high rate, every record a
 * consumer reads describes one real fill of its buffer, and no lost count
 * is reported twice.
 *
 * The simulator restarts complete buffers all the time here (the consumer
 * never releases one, so every restart is of a complete buffer), while the
 * completion scanner reads their headers. A header read that took the
 * fields of two fills for one (state Complete before and after the copy,
 * a new fill begun in between) queued a record that matches no fill; its
 * next scan withdrew it as dropped or, once read, reported the real fill
 * again, and the buffer's events_lost was counted twice.
 *
 * For every record read:
 *  - bytes_used > 0, a whole number of the simulator's 32-byte entries,
 *    and while events flow exactly a full buffer's worth: the simulator
 *    completes a buffer only when the next entry does not fit, or on a
 *    FLUSH, and no FLUSH is made while events flow;
 *  - the records of one buffer come with strictly increasing time stamps
 *    (its fills follow one another, and each is reported at most once);
 *  - if the buffer still holds that fill when the record is read (its
 *    header reads Complete with the record's time stamp before and after,
 *    read as the kernel reads a header, policy/snapshot.rs), the record
 *    matches the fill: its first entry is a synthetic entry whose time
 *    stamp is the record's, and the header's next_buffer_offset,
 *    events_lost and logical_processor are the record's. A fill that is
 *    already gone (restarted since) cannot be looked at; the test says how
 *    many were.
 * At the end, between two quiet points (sources off, every buffer flushed,
 * every record read):
 *  - every completion counted in STATS was read or counted as dropped, and
 *    each dropped one is a gap in the sequence numbers;
 *  - STATS counted no more completions than the simulator made (a fill
 *    reported twice would be one more);
 *  - the records' events_lost add up to no more than the STATS events_lost
 *    delta, and to exactly that when no record was dropped. (A withdrawn
 *    record's events_lost stays in STATS, which counts every completion
 *    reported, and a consumer cannot see it: with drops only the bound
 *    can be checked.)
 *
 * Loads /lib/modules/hv_evlog.ko itself with backend=sim mode=circular
 * buffer_pages=1 sim_rate=50000 threshold=1, and buffers_per_cpu=8 so that
 * a complete buffer is restarted only after seven more fills of its CPU
 * (some 17 ms): long enough for a consumer that keeps up to read its record
 * before that, and to find the fill still there; unloads it at the end.
 * Skipped if hv_evlog is already loaded. Runs as root. Exit status:
 * kselftest's.
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

#define MODULE_PARAMS	"backend=sim mode=circular buffer_pages=1 sim_rate=50000 threshold=1 " \
			"buffers_per_cpu=8"
/* How long events flow. */
#define FLOW_MS		5000

/* An entry: { u32 context; u16 size; u16 type; u64 timestamp; payload }. */
#define ENTRY_SIZE_AT		4
#define ENTRY_TYPE_AT		6
#define ENTRY_TIME_STAMP_AT	8
/*
 * The simulator's entries (hv_evlog/sim/model/writer.rs): 16 payload bytes
 * (PAYLOAD_BYTES in hv_evlog/sim/mod.rs) after the 16-byte entry header,
 * of type SYNTHETIC_ENTRY_TYPE.
 */
#define SIM_ENTRY_SIZE		32u
#define SIM_ENTRY_TYPE		0x5E0Eu

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t load32(const char *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

static uint16_t load16(const char *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

/* What the buffer of a record shows of the fill the record is about. */
struct fill {
	uint32_t buffer_index;
	uint32_t events_lost;
	uint32_t logical_processor;
	uint32_t next_offset;
	uint16_t entry_size;
	uint16_t entry_type;
	uint64_t entry_time_stamp;
};

/*
 * Whether the buffer at `buf` still holds the fill stamped `stamp`, read the
 * way the kernel reads a header (policy/snapshot.rs): time stamp and state
 * with acquire before, the fields and the first entry, a read fence, state
 * and time stamp again. The simulator shows InUse before it writes anything
 * of a new fill and stores the final state last, and fills differ in their
 * time stamp, so equal values around the reads mean they are that fill's.
 */
static int holds_fill(const char *buf, uint32_t header_size, uint64_t stamp, struct fill *f)
{
	const uint64_t *ts = (const uint64_t *)(buf + HDR_TIME_STAMP);
	const uint32_t *state = (const uint32_t *)(buf + HDR_BUFFER_STATE);
	const char *entry = buf + header_size;

	if (__atomic_load_n(ts, __ATOMIC_ACQUIRE) != stamp ||
	    __atomic_load_n(state, __ATOMIC_ACQUIRE) != STATE_COMPLETE)
		return 0;
	f->buffer_index = load32(buf + HDR_BUFFER_INDEX);
	f->events_lost = load32(buf + HDR_EVENTS_LOST);
	f->logical_processor = load16(buf + HDR_LOGICAL_PROCESSOR);
	f->next_offset = load32(buf + HDR_NEXT_OFFSET);
	f->entry_size = load16(entry + ENTRY_SIZE_AT);
	f->entry_type = load16(entry + ENTRY_TYPE_AT);
	f->entry_time_stamp = __atomic_load_n((const uint64_t *)(entry + ENTRY_TIME_STAMP_AT),
					      __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(state, __ATOMIC_ACQUIRE) == STATE_COMPLETE &&
	       __atomic_load_n(ts, __ATOMIC_ACQUIRE) == stamp;
}

/* What the consumer has seen. */
struct seen {
	const char *base;
	struct hv_evlog_info info;
	/* Per buffer: the time stamp of its last record, 0 before one. */
	uint64_t last_stamp[HV_EVLOG_MAX_BUFFERS];
	/* The sequence number the next record should have. */
	uint64_t next_sequence;
	/* Counted from the first quiet point on. */
	int counting;
	uint64_t reads, gaps, events_lost;
	/* Records checked against their fill, and those whose fill was gone. */
	uint64_t checked, gone;
};

/* Checks one record; `flowing`: events were flowing when it was read. */
static void check_record(struct __test_metadata *_metadata, struct seen *s,
			 const struct hv_evlog_record *r, int flowing)
{
	uint32_t room = s->info.buffer_size - s->info.header_size;
	uint32_t full = room / SIM_ENTRY_SIZE * SIM_ENTRY_SIZE;
	uint64_t *last = &s->last_stamp[r->buffer_index];
	const char *buf;
	struct fill f;

	ASSERT_GT(s->info.buffer_count, r->buffer_index);
	EXPECT_LT(0u, r->bytes_used) TH_LOG("buffer %u, record %llu", r->buffer_index,
					  (unsigned long long)r->sequence);
	EXPECT_EQ(0u, r->bytes_used % SIM_ENTRY_SIZE);
	EXPECT_GE(room, r->bytes_used);
	if (flowing)
		EXPECT_EQ(full, r->bytes_used) TH_LOG("buffer %u, record %llu",
						      r->buffer_index,
						      (unsigned long long)r->sequence);
	EXPECT_LT(*last, r->timestamp) TH_LOG("buffer %u: stamp %llu after %llu",
					     r->buffer_index,
					     (unsigned long long)r->timestamp,
					     (unsigned long long)*last);
	*last = r->timestamp;
	EXPECT_EQ(r->vp, r->cpu);
	EXPECT_EQ(0u, r->reserved);

	EXPECT_LE(s->next_sequence, r->sequence);
	if (s->counting) {
		s->gaps += r->sequence - s->next_sequence;
		s->reads++;
		s->events_lost += r->events_lost;
	}
	s->next_sequence = r->sequence + 1;

	buf = s->base + (size_t)r->buffer_index * s->info.buffer_size;
	if (!holds_fill(buf, s->info.header_size, r->timestamp, &f)) {
		s->gone++;
		return;
	}
	s->checked++;
	EXPECT_EQ(r->timestamp, f.entry_time_stamp) TH_LOG("buffer %u", r->buffer_index);
	EXPECT_EQ(SIM_ENTRY_SIZE, f.entry_size);
	EXPECT_EQ(SIM_ENTRY_TYPE, f.entry_type);
	EXPECT_EQ(r->buffer_index, f.buffer_index);
	EXPECT_EQ(f.next_offset, r->bytes_used) TH_LOG("buffer %u", r->buffer_index);
	EXPECT_EQ(f.events_lost, r->events_lost) TH_LOG("buffer %u", r->buffer_index);
	EXPECT_EQ(f.logical_processor, r->vp);
}

/* Reads and checks every queued record (nonblocking); returns the count. */
static size_t read_all(struct __test_metadata *_metadata, int fd, struct seen *s, int flowing)
{
	struct hv_evlog_record rec[256];
	size_t n = 0;
	ssize_t got;

	while ((got = read(fd, rec, sizeof(rec))) > 0) {
		for (size_t k = 0; k < got / sizeof(rec[0]); k++)
			check_record(_metadata, s, &rec[k], flowing);
		n += got / sizeof(rec[0]);
	}
	return n;
}

TEST(circular_records_match_their_fills_and_lost_counts_once)
{
	static struct seen s;
	struct hv_evlog_stats s0, s1;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	uint64_t c0, c1, end, completions, dropped, lost;
	size_t size;
	__u64 off = 0;
	int fd;

	memset(&s, 0, sizeof(s));
	fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_INFO, &s.info));
	ASSERT_EQ(1u, s.info.mode);
	ASSERT_EQ(1u, s.info.backend);
	ASSERT_EQ(4096u, s.info.buffer_size);
	ASSERT_GE((__u32)HV_EVLOG_MAX_BUFFERS, s.info.buffer_count);
	size = (size_t)s.info.buffer_count * s.info.buffer_size;
	s.base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, s.base);

	/* A quiet start: no writes, every buffer complete and its record read. */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_FLUSH, &all));
	sleep_ms(300);
	read_all(_metadata, fd, &s, 0);
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_STATS, &s0));
	c0 = sim_completions();
	ASSERT_NE(UINT64_MAX, c0) TH_LOG("no %s", SIM_COMPLETIONS);
	/*
	 * Records dropped before (the reader was not reading yet) are not
	 * counted: the next sequence number is the completions so far.
	 */
	EXPECT_LE(s.next_sequence, s0.completions);
	s.next_sequence = s0.completions;
	s.counting = 1;

	/*
	 * Events flow; every record is read as soon as it is there, and no
	 * buffer is released: each restart is of a complete buffer.
	 */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &s.info.sources));
	end = now_ms() + FLOW_MS;
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			read_all(_metadata, fd, &s, 1);
	}

	/* Quiet again: the in-use buffers complete, every record is read. */
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_FLUSH, &all));
	sleep_ms(300);
	read_all(_metadata, fd, &s, 0);
	ASSERT_EQ(0, ioctl(fd, HV_EVLOG_IOC_STATS, &s1));
	c1 = sim_completions();

	completions = s1.completions - s0.completions;
	dropped = s1.records_dropped - s0.records_dropped;
	lost = s1.events_lost - s0.events_lost;
	/* Dropped after the last record read: gaps at the end. */
	s.gaps += s1.completions - s.next_sequence;
	TH_LOG("completions %llu (simulator %llu), read %llu (checked against their fill %llu, fill gone %llu), dropped %llu, events_lost %llu (records %llu)",
	       (unsigned long long)completions, (unsigned long long)(c1 - c0),
	       (unsigned long long)s.reads, (unsigned long long)s.checked,
	       (unsigned long long)s.gone, (unsigned long long)dropped,
	       (unsigned long long)lost, (unsigned long long)s.events_lost);
	/* Events flowed, buffers were restarted, records were checked. */
	EXPECT_LT(2 * s.info.buffer_count, c1 - c0);
	EXPECT_LT(0u, s.checked);
	/* Every completion counted: read or dropped, each drop a gap. */
	EXPECT_EQ(completions, s.reads + dropped);
	EXPECT_EQ(dropped, s.gaps);
	/* No completion reported that the simulator did not make. */
	EXPECT_GE(c1 - c0, completions);
	/* No lost count reported twice. */
	EXPECT_GE(lost, s.events_lost);
	if (dropped == 0)
		EXPECT_EQ(lost, s.events_lost);
	EXPECT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &s.info.sources));
	munmap((void *)s.base, size);
	close(fd);
}

int main(int argc, char **argv)
{
	return run_with_own_load(argc, argv, MODULE_PARAMS);
}
