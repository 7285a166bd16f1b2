/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the harness programs (device_test, circular_test,
 * circular_records_test) share: the module's file and name, the buffer
 * header's fields they read, small helpers, and the main() of a program
 * that loads the module itself with its own parameters. Included after
 * kselftest_harness.h.
 */
#ifndef HV_EVLOG_SELFTEST_H
#define HV_EVLOG_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MODULE_PATH	"/lib/modules/hv_evlog.ko"
#define MODULE_NAME	"hv_evlog"
/* The simulator's count of completions (debugfs). */
#define SIM_COMPLETIONS	"/sys/kernel/debug/hv_evlog/sim_completions"

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

/*
 * The kernel's READ_ONCE() and WRITE_ONCE(), for memory that the other
 * side writes or whose access may fault: each is one access of the object's
 * size, done where the program says (relaxed atomics, which the compiler
 * neither drops nor merges nor splits).
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

/* Set in main() before any test forks: this program loaded the module. */
static int loaded_here;

static inline uint32_t hdr32(const void *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)buf + off, sizeof(v));
	return v;
}

static inline uint64_t hdr64(const void *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)buf + off, sizeof(v));
	return v;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The simulator's completions so far, or UINT64_MAX if it cannot tell. */
static inline uint64_t sim_completions(void)
{
	unsigned long long n = 0;
	FILE *f = fopen(SIM_COMPLETIONS, "r");

	if (!f)
		return UINT64_MAX;
	if (fscanf(f, "%llu", &n) != 1)
		n = UINT64_MAX;
	fclose(f);
	return n;
}

static inline void unload_at_exit(void)
{
	if (loaded_here)
		syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK);
}

/*
 * main() of a program whose tests need the module loaded with `params`:
 * loads it (a skip if it is loaded already or absent), runs the tests and
 * unloads it at exit.
 */
static inline int run_with_own_load(int argc, char **argv, const char *params)
{
	int fd, ret;

	if (!access("/sys/module/" MODULE_NAME, F_OK)) {
		printf("1..0 # SKIP hv_evlog is already loaded; this test loads it itself\n");
		return KSFT_SKIP;
	}
	fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("1..0 # SKIP %s: %s\n", MODULE_PATH, strerror(errno));
		return KSFT_SKIP;
	}
	ret = syscall(SYS_finit_module, fd, params, 0);
	if (ret) {
		printf("1..1\nnot ok 1 insmod %s %s: %s\n", MODULE_PATH, params, strerror(errno));
		return KSFT_FAIL;
	}
	close(fd);
	loaded_here = 1;
	atexit(unload_at_exit);
	return test_harness_run(argc, argv);
}

#endif
