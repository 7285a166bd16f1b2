// SPDX-License-Identifier: GPL-2.0
/*
 * kick_trace_test: no work item of a consumer's open runs after its
 * release() returned, and no hv_evlog work runs after rmmod returned,
 * seen through the workqueue trace events.
 *
 * A completion message queues the open's kick (a scan at once) from the
 * SINT0 handler at any time while the consumer has the device open, and
 * the open queues one itself. release() stops the scanner: the waker is
 * cleared under the inbox's lock (no kick can be queued afterwards), then
 * flush_work() waits for the kick. flush_work() only waits on the
 * workqueue the item was last queued on: a kick queued on a second
 * workqueue while a run on the first was still going could outlive
 * release(), holding the session, and its final drop could run in module
 * text that rmmod has freed.
 *
 * Loads and unloads /lib/modules/hv_evlog.ko LOADS (6) times (backend=sim
 * mode=circular buffer_pages=1 sim_rate=1000000 threshold=1: a completion
 * message for every 4 KiB the simulator writes, and in circular mode they
 * go on whether the consumer releases or not); each time OPENS (50)
 * opens, each held a different short while (closed at once, or reading
 * and releasing records for a few milliseconds). Each open() is made on
 * one CPU and its close() on the next: the open's own kick runs on the
 * CPU it was queued from (a per-CPU queue, if it is queued there) while
 * release() runs on another. A trace_marker line goes right before
 * each open() and right after each close() and rmmod return. The
 * workqueue events queue_work, execute_start and execute_end are recorded
 * (global trace clock, one order for all CPUs), filtered to the module's
 * text; the work functions are told apart by their symbols in
 * /proc/kallsyms while it is loaded: the kick and the periodic scan are
 * kernel::workqueue's WorkItemPointer<1>::run and <0>::run of
 * Arc<device::Session>, the simulator's writer WorkItemPointer<0>::run of
 * Arc<Periodic<Sim>>.
 *
 * The periodic scan may not run after release() either: release() sets
 * `stopping` under the session's lock, which every scan run takes and
 * checks before it re-arms, then flushes the kick (whose scan sees
 * `stopping` too) and the delayed scan (a pending timer's run is started
 * at once and waited for). So the rule is the same for both: only the
 * simulator's writer, which runs while the module is loaded whoever has
 * the device open, may run with no consumer.
 *
 * Exact results, each counted over every load:
 *  - no execute_start, execute_end or queue_work of the kick or the scan
 *    between a close marker and the next open marker (an end there is a
 *    run that was still going when close() returned); an event whose
 *    time stamp equals a marker's is not judged (see struct suspect);
 *  - each of the kick and the scan is queued on one workqueue only (the
 *    one flush_work() waits on);
 *  - after the rmmod marker, no event of any hv_evlog work function;
 *  - every open succeeds: the consumer slot is free again once close()
 *    returned (a run holding the session would keep it: EBUSY);
 *  - the kick ran at least once per open (the open's own scan: release()
 *    flushes it), so the trace did see the module's work; no event was
 *    lost (the trace's entries-in-buffer equals entries-written).
 *
 * Skipped if hv_evlog is already loaded, or if the kernel has no tracefs
 * or no workqueue trace events (CONFIG_TRACING and CONFIG_EVENT_TRACING,
 * which CONFIG_FTRACE=y gives with its default tracers; the test kernel
 * has them through CONFIG_PROVE_LOCKING's irq-flag tracepoints). Runs as
 * root. Exit status: kselftest's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/hv_evlog.h"
#include "hv_evlog_selftest.h"

#define MODULE_PARAMS	"backend=sim mode=circular buffer_pages=1 sim_rate=1000000 threshold=1"
#define LOADS		6
#define OPENS		50
/* Per CPU: some 600 events a second of the filtered ones. */
#define TRACE_KB	"4096"
/* Offending trace lines printed in full; the rest are counted. */
#define SHOWN		5
#define MARK		"hv_evlog_kick_test"

static const char *const events[] = {
	"workqueue_queue_work", "workqueue_execute_start", "workqueue_execute_end",
};

/* Which hv_evlog work function. */
enum kind { NONE, KICK, SCAN, WRITER, OTHER, KINDS };

static const char *const kind_name[KINDS] = {
	"none", "kick", "scan", "simulator writer", "other hv_evlog function",
};

/* The module's text symbols of one load. */
struct syms {
	unsigned long lo, hi;
	unsigned long kick, scan, writer;
};

static const char *tracefs;
static char path[256];

static const char *at(const char *file)
{
	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	return path;
}

/* Writes `s` to the tracefs file `file`; 0 or an errno. */
static int put(const char *file, const char *s)
{
	int fd = open(at(file), O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

static void mark(const char *what, int load, int open_no)
{
	char line[96];

	snprintf(line, sizeof(line), MARK " %s %d.%d\n", what, load, open_no);
	put("trace_marker", line);
}

/* Finds tracefs, mounting it if needed; NULL if the kernel has none. */
static const char *find_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/trace", &st))
		return "/sys/kernel/tracing";
	if (!mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    !stat("/sys/kernel/tracing/trace", &st))
		return "/sys/kernel/tracing";
	if (!stat("/sys/kernel/debug/tracing/trace", &st))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

/*
 * The loaded module's text: its range and the three work functions, from
 * /proc/kallsyms (Rust v0 symbols: identifiers as <length><name>, a u64
 * const generic as Ky<hex>_).
 */
static int read_syms(struct syms *s)
{
	char line[1024], name[900], type;
	unsigned long addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	memset(s, 0, sizeof(*s));
	s->lo = ~0ul;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[" MODULE_NAME "]"))
			continue;
		if (sscanf(line, "%lx %c %899s", &addr, &type, name) != 3 ||
		    (type != 't' && type != 'T') || !addr)
			continue;
		if (addr < s->lo)
			s->lo = addr;
		if (addr > s->hi)
			s->hi = addr;
		if (!strstr(name, "15WorkItemPointer"))
			continue;
		if (strstr(name, "6device7Session") && strstr(name, "Ky1_E3run"))
			s->kick = addr;
		else if (strstr(name, "6device7Session") && strstr(name, "Ky0_E3run"))
			s->scan = addr;
		else if (strstr(name, "8Periodic") && strstr(name, "3sim3Sim"))
			s->writer = addr;
	}
	fclose(f);
	return s->kick && s->scan && s->writer ? 0 : -1;
}

/* The kind of the work function a trace line names (address or symbol). */
static enum kind classify(const struct syms *s, const char *fn)
{
	unsigned long addr;

	if (!strncmp(fn, "0x", 2)) {
		addr = strtoul(fn, NULL, 16);
		if (addr == s->kick)
			return KICK;
		if (addr == s->scan)
			return SCAN;
		if (addr == s->writer)
			return WRITER;
		/* The last symbol's size is unknown: a page past it is ours. */
		return addr >= s->lo && addr < s->hi + 4096 ? OTHER : NONE;
	}
	if (!strstr(fn, "8" MODULE_NAME))
		return NONE;
	if (strstr(fn, "15WorkItemPointer") && strstr(fn, "6device7Session"))
		return strstr(fn, "Ky1_E3run") ? KICK : strstr(fn, "Ky0_E3run") ? SCAN : OTHER;
	if (strstr(fn, "15WorkItemPointer") && strstr(fn, "8Periodic"))
		return WRITER;
	return OTHER;
}

/* What the trace of all loads showed. */
struct verdict {
	unsigned long opens, kick_runs, scan_runs, writer_runs;
	/* Failures. */
	unsigned long late_starts, late_ends, late_queues, after_rmmod, lost;
	unsigned long busy_opens;
	unsigned long second_queue[KINDS];
	char queue_of[KINDS][48];
};

/* Counts one failure in `count`, and prints the first few of each. */
static void show(struct __test_metadata *_metadata, unsigned long *count, enum kind k,
		 const char *why, const char *line)
{
	if ((*count)++ < SHOWN)
		TH_LOG("%s %s: %s", kind_name[k], why, line);
}

/*
 * An event that comes after a marker in the trace but may have happened
 * before it: its time stamp equals the marker's. The global trace clock
 * is each CPU's clock, raised to the last time stamp any CPU took, so
 * CPUs whose clocks lag take equal stamps, and the trace puts equal
 * stamps in CPU order, not in the order they were taken. An event is
 * only judged to be after a marker with a later stamp, and before the
 * next marker only with an earlier one.
 */
struct suspect {
	unsigned long long us;
	unsigned long *count;
	enum kind k;
	const char *why;
	char line[512];
};

#define SUSPECTS	64

/* The suspects taken before the marker stamped `us` are failures. */
static void judge(struct __test_metadata *_metadata, struct suspect *sus, int *n,
		  unsigned long long us)
{
	for (int i = 0; i < *n; i++)
		if (sus[i].us < us)
			show(_metadata, sus[i].count, sus[i].k, sus[i].why, sus[i].line);
	*n = 0;
}

/* Checks the trace of load `load`, whose symbols are `s`. */
static void check_trace(struct __test_metadata *_metadata, const struct syms *s, int load,
			struct verdict *v)
{
	enum { BEFORE, OPEN, CLOSED, UNLOADED } phase = BEFORE;
	static struct suspect sus[SUSPECTS];
	static char line[4096];
	unsigned long in_buffer = 0, written = 0;
	unsigned long long mark_us = 0;
	int seen_end = 0, nsus = 0;
	FILE *f = fopen(at("trace"), "r");

	ASSERT_NE(NULL, f) TH_LOG("%s: %s", at("trace"), strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char fn[512] = "", wq[48] = "";
		unsigned long sec, usec;
		unsigned long long us;
		size_t len;
		const char *p, *m;
		enum kind k;
		int start, queue;

		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#') {
			p = strstr(line, "entries-in-buffer/entries-written:");
			if (p)
				sscanf(p, "entries-in-buffer/entries-written: %lu/%lu", &in_buffer,
				       &written);
			continue;
		}
		/* "... [cpu] flags sec.usec: event: ..." */
		p = strstr(line, "] ");
		if (!p || sscanf(p + 2, "%*s %lu.%lu:", &sec, &usec) != 2)
			continue;
		us = (unsigned long long)sec * 1000000 + usec;
		m = strstr(line, MARK " ");
		if (m) {
			m += strlen(MARK " ");
			judge(_metadata, sus, &nsus, us);
			mark_us = us;
			if (!strncmp(m, "open ", 5)) {
				phase = OPEN;
				v->opens++;
			} else if (!strncmp(m, "close ", 6)) {
				phase = CLOSED;
			} else if (!strncmp(m, "rmmod ", 6)) {
				phase = UNLOADED;
			} else if (!strncmp(m, "end ", 4)) {
				seen_end = 1;
			}
			continue;
		}
		queue = !!strstr(line, ": workqueue_queue_work: ");
		start = !!strstr(line, ": workqueue_execute_start: ");
		if (queue) {
			p = strstr(line, "function=");
			if (p)
				sscanf(p, "function=%511s workqueue=%47s", fn, wq);
		} else if (start || strstr(line, ": workqueue_execute_end: ")) {
			p = strstr(line, "function ");
			if (p)
				sscanf(p, "function %511s", fn);
		} else {
			continue;
		}
		k = classify(s, fn);
		if (k == NONE)
			continue;
		if (queue && !v->queue_of[k][0])
			snprintf(v->queue_of[k], sizeof(v->queue_of[k]), "%s", wq);
		else if (queue && strcmp(v->queue_of[k], wq))
			show(_metadata, &v->second_queue[k], k, "queued on a second workqueue", line);
		v->kick_runs += start && k == KICK;
		v->scan_runs += start && k == SCAN;
		v->writer_runs += start && k == WRITER;
		/* Only after a later stamp than the marker's, and before the next one. */
		if (us == mark_us || nsus == SUSPECTS ||
		    (phase != UNLOADED && (phase != CLOSED || k == WRITER)))
			continue;
		sus[nsus] = (struct suspect){ .us = us, .k = k };
		len = strnlen(line, sizeof(sus[nsus].line) - 1);
		memcpy(sus[nsus].line, line, len);
		if (phase == UNLOADED) {
			sus[nsus].count = &v->after_rmmod;
			sus[nsus].why = "after rmmod returned";
		} else if (queue) {
			sus[nsus].count = &v->late_queues;
			sus[nsus].why = "queued after release()";
		} else if (start) {
			sus[nsus].count = &v->late_starts;
			sus[nsus].why = "started after release()";
		} else {
			sus[nsus].count = &v->late_ends;
			sus[nsus].why = "ended after release()";
		}
		nsus++;
	}
	fclose(f);
	judge(_metadata, sus, &nsus, ~0ull);
	EXPECT_TRUE(seen_end) TH_LOG("load %d: the trace has no end marker", load);
	if (in_buffer != written) {
		v->lost += written - in_buffer;
		TH_LOG("load %d: %lu trace events of %lu lost: the buffer is too small", load,
		       written - in_buffer, written);
	}
}

/* Sets up the trace of one load: empty, the module's text only, on. */
static int trace_on(const struct syms *s)
{
	char filter[128];
	int err = 0;

	snprintf(filter, sizeof(filter), "function >= 0x%lx && function < 0x%lx", s->lo,
		 s->hi + 4096);
	for (size_t i = 0; i < ARRAY_SIZE(events) && !err; i++) {
		char file[96];

		snprintf(file, sizeof(file), "events/workqueue/%s/filter", events[i]);
		err = put(file, filter);
	}
	if (!err) {
		/* Opened with O_TRUNC: the trace is emptied. */
		int fd = open(at("trace"), O_WRONLY | O_TRUNC | O_CLOEXEC);

		if (fd < 0)
			err = errno;
		else
			close(fd);
	}
	return err ? err : put("tracing_on", "1");
}

/* One consumer open, held for a while that depends on `n`. */
static void hold(int fd, int n)
{
	struct hv_evlog_record rec[64];
	int rounds = n % 4 == 3 ? 5 : n % 4;
	ssize_t got;

	for (int r = 0; r < rounds; r++) {
		if (r)
			sleep_ms(1);
		while ((got = read(fd, rec, sizeof(rec))) > 0) {
			for (size_t k = 0; k < got / sizeof(rec[0]); k++)
				ioctl(fd, HV_EVLOG_IOC_RELEASE, &rec[k].buffer_index);
		}
	}
}

/* Runs the test on `cpu` alone, or anywhere with -1. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (cpu < 0 || c == cpu)
			CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void tracing_reset(void)
{
	put("tracing_on", "0");
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		char file[96];

		snprintf(file, sizeof(file), "events/workqueue/%s/enable", events[i]);
		put(file, "0");
		snprintf(file, sizeof(file), "events/workqueue/%s/filter", events[i]);
		put(file, "0");
	}
	put("buffer_size_kb", "1");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

FIXTURE(kick) {
	int mod;
};

FIXTURE_SETUP(kick)
{
	self->mod = -1;
}

/* Also after a failed ASSERT: tracing off, and the module unloaded. */
FIXTURE_TEARDOWN(kick)
{
	if (tracefs)
		tracing_reset();
	if (self->mod >= 0)
		close(self->mod);
	if (!access("/sys/module/" MODULE_NAME, F_OK))
		syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK);
}

TEST_F_TIMEOUT(kick, never_runs_after_release_or_rmmod, 300)
{
	static struct verdict v;
	struct syms s;
	char file[96];
	long ncpus;

	tracefs = find_tracefs();
	if (!tracefs)
		SKIP(return, "no tracefs: the kernel needs CONFIG_TRACING and CONFIG_EVENT_TRACING (CONFIG_FTRACE=y with its default tracers gives both)");
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(file, sizeof(file), "events/workqueue/%s/enable", events[i]);
		if (access(at(file), W_OK))
			SKIP(return, "no %s trace event: the kernel needs CONFIG_EVENT_TRACING",
			     events[i]);
	}
	self->mod = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	if (self->mod < 0)
		SKIP(return, "%s: %s", MODULE_PATH, strerror(errno));

	ASSERT_EQ(0, put("tracing_on", "0"));
	ASSERT_EQ(0, put("trace_clock", "global"));
	ASSERT_EQ(0, put("buffer_size_kb", TRACE_KB));
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(file, sizeof(file), "events/workqueue/%s/enable", events[i]);
		ASSERT_EQ(0, put(file, "1"));
	}

	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	ASSERT_LT(0, ncpus);
	memset(&v, 0, sizeof(v));
	for (int load = 0; load < LOADS; load++) {
		uint64_t t0 = now_ms(), t1, t2, t3;

		ASSERT_EQ(0, syscall(SYS_finit_module, self->mod, MODULE_PARAMS, 0))
			TH_LOG("insmod %s: %s", MODULE_PARAMS, strerror(errno));
		ASSERT_EQ(0, read_syms(&s)) TH_LOG("no kick, scan and writer in /proc/kallsyms");
		ASSERT_EQ(0, trace_on(&s)) TH_LOG("tracing on: %s", strerror(errno));
		t1 = now_ms();
		for (int i = 0; i < OPENS; i++) {
			int fd;

			pin(i % ncpus);
			mark("open", load, i);
			fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0 && errno == EBUSY) {
				/*
				 * The consumer slot goes with the session's
				 * last reference: a run of its work outlived
				 * the last close(). Its trace says which.
				 */
				v.busy_opens++;
				TH_LOG("open %d.%d: EBUSY right after a close()", load, i);
				mark("close", load, i);
				continue;
			}
			ASSERT_LE(0, fd) TH_LOG("open %d.%d: %s", load, i, strerror(errno));
			hold(fd, i);
			pin((i + 1) % ncpus);
			close(fd);
			mark("close", load, i);
		}
		t2 = now_ms();
		ASSERT_EQ(0, syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK))
			TH_LOG("rmmod: %s", strerror(errno));
		mark("rmmod", load, 0);
		/* Time for anything still queued or on a timer to run. */
		sleep_ms(300);
		mark("end", load, 0);
		ASSERT_EQ(0, put("tracing_on", "0"));
		t3 = now_ms();
		check_trace(_metadata, &s, load, &v);
		TH_LOG("load %d: insmod and symbols %llu ms, opens %llu ms, rmmod %llu ms, trace checked in %llu ms",
		       load, (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
		       (unsigned long long)(t3 - t2), (unsigned long long)(now_ms() - t3));
	}

	pin(-1);
	TH_LOG("%lu opens; runs: %lu kick, %lu scan, %lu simulator writer; kick queued on %s, scan on %s",
	       v.opens, v.kick_runs, v.scan_runs, v.writer_runs,
	       v.queue_of[KICK][0] ? v.queue_of[KICK] : "-",
	       v.queue_of[SCAN][0] ? v.queue_of[SCAN] : "-");
	TH_LOG("kick or scan: %lu started, %lu ended and %lu queued after release(), queued on a second workqueue %lu (kick) %lu (scan); %lu events after rmmod; %lu trace events lost; %lu opens refused (EBUSY)",
	       v.late_starts, v.late_ends, v.late_queues, v.second_queue[KICK],
	       v.second_queue[SCAN], v.after_rmmod, v.lost, v.busy_opens);
	EXPECT_EQ(LOADS * OPENS, v.opens);
	EXPECT_LE(v.opens - v.busy_opens, v.kick_runs);
	EXPECT_EQ(0u, v.lost);
	EXPECT_EQ(0u, v.late_starts);
	EXPECT_EQ(0u, v.late_queues);
	EXPECT_EQ(0u, v.late_ends);
	EXPECT_EQ(0u, v.second_queue[KICK]);
	EXPECT_EQ(0u, v.second_queue[SCAN]);
	EXPECT_EQ(0u, v.after_rmmod);
	EXPECT_EQ(0u, v.busy_opens);
}

int main(int argc, char **argv)
{
	if (!access("/sys/module/" MODULE_NAME, F_OK)) {
		printf("1..0 # SKIP hv_evlog is already loaded; this test loads it itself\n");
		return KSFT_SKIP;
	}
	return test_harness_run(argc, argv);
}
