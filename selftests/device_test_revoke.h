/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Buffers leaving the rotation while userspace maps them (included by
 * device_test.c): the count of mappings per buffer follows every way the
 * kernel splits and moves a mapping, and no mapping shows a buffer after
 * a resize took it out (SIGBUS, never data).
 */
#include <setjmp.h>
#include <stdatomic.h>

/*
 * Stops the writer and hands every buffer back: sources off, every CPU's
 * buffer in use completed, every record read and released. A resize then
 * finds each buffer free and takes the ones it removes out at once.
 */
static void quiesce(int fd)
{
	__u64 off = 0;
	__u32 all = HV_EVLOG_ALL_CPUS;

	ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &off);
	ioctl(fd, HV_EVLOG_IOC_FLUSH, &all);
	drain(fd);
	drain(fd);
}

/* Buffers per CPU now and the table's retired entries, from BUFFERS. */
static uint32_t retired_now(int fd, uint32_t limit)
{
	struct hv_evlog_buffer_info *tab = calloc(limit, sizeof(*tab));
	struct hv_evlog_buffers req = { .count = limit, .table = (uintptr_t)tab };
	uint32_t retired = 0;

	if (!tab)
		return UINT32_MAX;
	if (ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req) == 0) {
		for (uint32_t i = 0; i < req.count; i++)
			retired += !!(tab[i].flags & HV_EVLOG_BUFFER_RETIRED);
	} else {
		retired = UINT32_MAX;
	}
	free(tab);
	return retired;
}

/*
 * Three buffers mapped as one mapping, the middle one moved elsewhere
 * (mremap with MREMAP_FIXED copies it first, while the old mapping still
 * covers it, then unmaps it from the old one), every piece unmapped: no
 * buffer stays counted as mapped, so a shrinking RESIZE takes its buffers
 * out at once (not EBUSY after waiting for a mapping that is gone), none
 * stays retired, and growing back works.
 */
TEST_F(dev, mremap_middle_then_resize)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	size_t size = self->info.buffer_size;
	struct hv_evlog_info info;
	char *p, *hole;
	const char *moved;

	if (now < 2 || self->info.buffer_count < 3)
		SKIP(return, "needs 3 buffers, 2 per CPU");
	quiesce(self->fd);
	p = mmap(NULL, 3 * size, PROT_READ, MAP_SHARED, self->fd, 0);
	hole = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, hole);
	moved = mremap(p + size, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, moved) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(self->tab[0].index, hdr32(p, HDR_BUFFER_INDEX));
	EXPECT_EQ(self->tab[1].index, hdr32(moved, HDR_BUFFER_INDEX));
	EXPECT_EQ(self->tab[2].index, hdr32(p + 2 * size, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap(p, size));
	EXPECT_EQ(0, munmap((void *)moved, size));
	EXPECT_EQ(0, munmap(p + 2 * size, size));

	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }))
		TH_LOG("RESIZE 1 with nothing mapped: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(self->info.buffer_count / now, info.buffer_count);
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now))
		TH_LOG("RESIZE back to %u: %s", now, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(self->info.buffer_count, info.buffer_count);
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &self->info.sources));
}

static sigjmp_buf bus_jump;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jump, sig);
}

/*
 * Reads the 32-bit word at p: its value, or -1 if the read raised SIGBUS.
 */
static int64_t read_or_sigbus(const void *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int64_t value = -1;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jump, 1) == 0)
		value = READ_ONCE(*(const uint32_t *)p);
	sigaction(SIGBUS, &old, NULL);
	return value;
}

/*
 * A resize takes out buffers that a mapping still shows, their pages
 * already read through it: from then on that mapping gets SIGBUS there,
 * never the pages' data (the PTEs were zapped before the hypervisor took
 * the buffers back, and a new fault is refused); the buffers that stay
 * read on. The resize waits for the mapping and ends with EBUSY; they stay
 * retired (in the table, flagged) until it goes, after which a RESIZE
 * deletes them and growing back works.
 */
TEST_F(dev, retired_buffer_sigbus)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	uint32_t kept = 0, gone = 0, n = self->info.buffer_count;
	struct hv_evlog_info info;
	uint8_t *served;
	char *p;

	if (now < 2)
		SKIP(return, "needs 2 buffers per CPU");
	served = calloc(n, 1);
	ASSERT_NE(NULL, served);
	quiesce(self->fd);
	p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (uint32_t i = 0; i < n; i++)
		EXPECT_EQ(self->tab[i].index, read_or_sigbus(p + self->tab[i].mmap_offset + HDR_BUFFER_INDEX));

	/* Mapped: taken out of the rotation, not deleted. */
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n - n / now, retired_now(self->fd, info.max_buffers));
	/* Each CPU keeps its first buffer (the lowest index); the rest went. */
	for (uint32_t i = 0; i < n; i++) {
		int first = 1;

		for (uint32_t j = 0; j < i; j++)
			first &= !!memcmp(self->tab[j].cpus, self->tab[i].cpus,
					  sizeof(self->tab[i].cpus));
		served[i] = first;
	}
	for (uint32_t i = 0; i < n; i++) {
		int64_t got = read_or_sigbus(p + self->tab[i].mmap_offset + HDR_BUFFER_INDEX);

		if (served[i]) {
			EXPECT_EQ(self->tab[i].index, got) TH_LOG("buffer %u stayed", i);
			kept++;
		} else {
			EXPECT_EQ(-1, got) TH_LOG("retired buffer %u still shows data", i);
			gone++;
		}
	}
	EXPECT_EQ(n / now, kept);
	EXPECT_EQ(n - n / now, gone);

	EXPECT_EQ(0, munmap(p, self->total));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }))
		TH_LOG("RESIZE 1 once unmapped: %s", strerror(errno));
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now))
		TH_LOG("RESIZE back to %u: %s", now, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n, info.buffer_count);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &self->info.sources));
	free(served);
}

/* Writes `value` to the file at `path`; 0 or -errno. */
static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

/*
 * Each allocation the kernel makes while mprotect() splits a mapping of
 * three buffers in three fails in turn (fail-nth, slab allocations that
 * may sleep included). Whatever failed, the call fails cleanly or works,
 * and once the mapping is unmapped no buffer stays counted: RESIZE 1
 * takes the buffers out at once and none stays retired.
 */
TEST_F(dev, mprotect_split_fail_nth)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	size_t size = self->info.buffer_size;
	const char *gfp = "/sys/kernel/debug/failslab/ignore-gfp-wait";
	const char *verbose = "/sys/kernel/debug/failslab/verbose";
	int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	int failed = 0, worked = 0, n;
	struct hv_evlog_info info;

	if (nth < 0 || access(gfp, W_OK))
		SKIP(return, "no fail-nth or failslab in this kernel");
	if (now < 2 || self->info.buffer_count < 3)
		SKIP(return, "needs 3 buffers, 2 per CPU");
	ASSERT_EQ(0, write_file(gfp, "N"));
	/* No stack dump per injected failure on the console. */
	ASSERT_EQ(0, write_file(verbose, "0"));
	quiesce(self->fd);
	for (n = 1; n < 1000; n++) {
		char *p = mmap(NULL, 3 * size, PROT_READ, MAP_SHARED, self->fd, 0);
		char buf[16];
		int r, hit;

		ASSERT_NE(MAP_FAILED, p);
		snprintf(buf, sizeof(buf), "%d", n);
		ASSERT_EQ((ssize_t)strlen(buf), pwrite(nth, buf, strlen(buf), 0));
		r = mprotect(p + size, size, PROT_NONE);
		/* What is left of the count: 0 once the failure was injected. */
		memset(buf, 0, sizeof(buf));
		ASSERT_LT(0, pread(nth, buf, sizeof(buf) - 1, 0));
		hit = atoi(buf) == 0;
		ASSERT_EQ(1, pwrite(nth, "0", 1, 0));
		if (r)
			EXPECT_EQ(ENOMEM, errno) TH_LOG("mprotect with allocation %d failing", n);
		failed += r != 0;
		worked += r == 0;
		/* Either way the ends still show their buffers. */
		EXPECT_EQ(0, hdr32(p, HDR_BUFFER_INDEX));
		EXPECT_EQ(2, hdr32(p + 2 * size, HDR_BUFFER_INDEX));
		EXPECT_EQ(0, munmap(p, 3 * size));
		if (!hit)
			break;
	}
	TH_LOG("%d allocations failed in turn: mprotect failed %d times, worked %d times",
	       n - 1, failed, worked);
	EXPECT_LT(0, failed);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }))
		TH_LOG("RESIZE 1 with nothing mapped: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now))
		TH_LOG("RESIZE back to %u: %s", now, strerror(errno));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &self->info.sources));
	write_file(gfp, "Y");
	close(nth);
}

/*
 * A buffer that an earlier resize retired and that a mapping still covers
 * holds up nothing but its own deletion: a resize that grows the group
 * (as a CPU coming online does) returns at once with the new buffers, and
 * the retired ones go with the next resize after their mapping does.
 */
TEST_F(dev, grow_while_retired_stays_mapped)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	uint32_t n = self->info.buffer_count, cpus;
	struct hv_evlog_info info;
	char *p;

	if (now < 2)
		SKIP(return, "needs 2 buffers per CPU");
	cpus = n / now;
	quiesce(self->fd);
	p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Taken out while mapped: retired, the resize ends with EBUSY. */
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(cpus, info.buffer_count);
	EXPECT_EQ(n - cpus, retired_now(self->fd, info.max_buffers));
	/* Growing back adds buffers at free indices and does not wait. */
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now))
		TH_LOG("RESIZE %u beside mapped retired buffers: %s", now, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n, info.buffer_count);
	EXPECT_EQ(n - cpus, retired_now(self->fd, info.max_buffers));
	/* Unmapped, they go with the next resize (which changes nothing else). */
	EXPECT_EQ(0, munmap(p, self->total));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n, info.buffer_count);
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	/*
	 * Back to the load's layout for the tests after this one: the grown
	 * buffers out, then the lowest free indices filled again, CPU by CPU.
	 */
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now));
	p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("buffers 0 to %u again: %s", n - 1, strerror(errno));
	for (uint32_t i = 0; i < n; i++)
		EXPECT_EQ(i, hdr32(p + (size_t)i * self->info.buffer_size, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap(p, self->total));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &self->info.sources));
}

/* Buffer index's flags from the table, or UINT32_MAX if it is not there. */
static uint32_t flags_of(int fd, uint32_t index)
{
	struct hv_evlog_buffer_info b;
	struct hv_evlog_buffers req = { .first = index, .count = 1, .table = (uintptr_t)&b };

	if (ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req) || req.count != 1 || b.index != index)
		return UINT32_MAX;
	return b.flags;
}

/*
 * The second thread of mremap_middle_during_resize: RESIZE 1 and back
 * from a control file until told to stop, each result counted.
 */
struct resize_loop {
	int fd;
	__u32 back;
	/* Shared with the test while the loop runs. */
	_Atomic int stop;
	_Atomic uint32_t cycles;	/* RESIZE 1 and back, both returned */
	uint32_t shrunk, busy, grown;	/* RESIZE 1: 0, EBUSY; RESIZE back: 0 */
	int other;			/* any other errno */
};

static void *resize_loop(void *arg)
{
	struct resize_loop *l = arg;

	while (!atomic_load(&l->stop)) {
		if (ioctl(l->fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }) == 0)
			l->shrunk++;
		else if (errno == EBUSY)
			l->busy++;
		else
			l->other = errno;
		if (ioctl(l->fd, HV_EVLOG_IOC_RESIZE, &l->back) == 0)
			l->grown++;
		else
			l->other = errno;
		atomic_fetch_add(&l->cycles, 1);
	}
	return NULL;
}

/*
 * mremap_middle_then_resize with the resizes running meanwhile: three
 * buffers mapped as one mapping, the middle one (one that RESIZE 1 takes
 * out) moved elsewhere (MREMAP_MAYMOVE | MREMAP_FIXED) while a second
 * thread loops RESIZE 1 and back from a control file. Each mapped offset
 * keeps showing its own buffer's index, or SIGBUS once the table shows
 * that buffer retired (never data then, never another buffer's), and no
 * mapped index leaves the table. The first RESIZE 1 waits for the mapping
 * and ends with EBUSY; every later one returns at once (it never waits
 * for a buffer an earlier one retired), and every RESIZE back works. Once
 * every piece is unmapped and the loop stopped, RESIZE 1 works at once
 * and leaves nothing retired, and RESIZE back gives buffers 0 to n - 1.
 */
TEST_F(dev, mremap_middle_during_resize)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	uint32_t n = self->info.buffer_count, w = 0, best = 0, idx[3], bus = 0, reads = 0;
	struct resize_loop loop = { .back = now };
	size_t size = self->info.buffer_size;
	int taken[3], *going;
	struct timespec t0, t1;
	struct hv_evlog_info info;
	const char *at[3];
	pthread_t thread;
	char *p, *hole, *whole;

	if (now < 2 || n < 3)
		SKIP(return, "needs 3 buffers, 2 per CPU");
	going = calloc(n, sizeof(*going));
	ASSERT_NE(NULL, going);
	/* RESIZE 1 keeps each CPU's lowest index (the table is in index order). */
	for (uint32_t i = 0; i < n; i++) {
		going[i] = 0;
		for (uint32_t j = 0; j < i; j++)
			going[i] |= !memcmp(self->tab[j].cpus, self->tab[i].cpus,
					    sizeof(self->tab[i].cpus));
	}
	/* Three neighbours, the middle one taken out, as many as can be too. */
	for (uint32_t i = 0; i + 2 < n; i++) {
		uint32_t score = going[i + 1] ? 2 + going[i] + going[i + 2] : 0;

		if (score > best) {
			best = score;
			w = i;
		}
	}
	ASSERT_LE(2, best) TH_LOG("no buffer that RESIZE 1 takes out has neighbours");
	ASSERT_EQ(self->tab[w].index + 2, self->tab[w + 2].index);
	for (int j = 0; j < 3; j++) {
		idx[j] = self->tab[w + j].index;
		taken[j] = going[w + j];
	}
	quiesce(self->fd);
	loop.fd = dev_open(O_WRONLY);
	ASSERT_LE(0, loop.fd) TH_LOG("control open: %s", strerror(errno));
	p = mmap(NULL, 3 * size, PROT_READ, MAP_SHARED, self->fd, self->tab[w].mmap_offset);
	hole = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, hole);
	for (int j = 0; j < 3; j++)
		EXPECT_EQ(idx[j], hdr32(p + j * size, HDR_BUFFER_INDEX));

	ASSERT_EQ(0, pthread_create(&thread, NULL, resize_loop, &loop));
	at[1] = mremap(p + size, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	EXPECT_EQ(hole, at[1]) TH_LOG("mremap: %s", strerror(errno));
	at[0] = p;
	at[2] = p + 2 * size;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t1 = t0;
	/* Three cycles (the first waits 5 s for the mapping), at most 20 s. */
	while (at[1] == hole && atomic_load(&loop.cycles) < 3 && t1.tv_sec - t0.tv_sec < 20) {
		for (int j = 0; j < 3; j++) {
			uint32_t before = flags_of(self->fd, idx[j]), after;
			int64_t got = read_or_sigbus(at[j] + HDR_BUFFER_INDEX);

			reads++;
			EXPECT_NE(UINT32_MAX, before)
				TH_LOG("mapped buffer %u left the table", idx[j]);
			if (got != -1) {
				EXPECT_EQ(idx[j], got);
				EXPECT_EQ(0, before & HV_EVLOG_BUFFER_RETIRED)
					TH_LOG("retired buffer %u shows data", idx[j]);
				continue;
			}
			/* Flagged retired right after the hypervisor unmapped it. */
			bus++;
			for (int ms = 0; ms < 1000; ms++) {
				after = flags_of(self->fd, idx[j]);
				if (after == UINT32_MAX || (after & HV_EVLOG_BUFFER_RETIRED))
					break;
				sleep_ms(1);
			}
			EXPECT_NE(UINT32_MAX, after)
				TH_LOG("mapped buffer %u left the table", idx[j]);
			EXPECT_TRUE(taken[j])
				TH_LOG("SIGBUS on buffer %u, which RESIZE 1 keeps", idx[j]);
			EXPECT_NE(0, after & HV_EVLOG_BUFFER_RETIRED)
				TH_LOG("SIGBUS on buffer %u, not retired (flags %#x)", idx[j],
				       after);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	EXPECT_LE(3, atomic_load(&loop.cycles));
	/* After the cycles: exactly the buffers RESIZE 1 takes out are retired. */
	for (int j = 0; j < 3; j++) {
		uint32_t flags = flags_of(self->fd, idx[j]);

		EXPECT_NE(UINT32_MAX, flags) TH_LOG("mapped buffer %u left the table", idx[j]);
		EXPECT_EQ(taken[j] ? HV_EVLOG_BUFFER_RETIRED : 0, flags & HV_EVLOG_BUFFER_RETIRED)
			TH_LOG("buffer %u", idx[j]);
		EXPECT_EQ(taken[j] ? -1 : (int64_t)idx[j], read_or_sigbus(at[j] + HDR_BUFFER_INDEX))
			TH_LOG("buffer %u", idx[j]);
	}
	TH_LOG("%u reads, %u SIGBUS, %u cycles while mapped", reads, bus,
	       atomic_load(&loop.cycles));
	EXPECT_EQ(0, munmap(p, size));
	EXPECT_EQ(0, munmap((void *)at[1], size));
	EXPECT_EQ(0, munmap(p + 2 * size, size));
	atomic_store(&loop.stop, 1);
	pthread_join(thread, NULL);
	EXPECT_EQ(0, loop.other) TH_LOG("RESIZE in the loop: %s", strerror(loop.other));
	EXPECT_EQ(1, loop.busy) TH_LOG("RESIZE 1 ended with EBUSY %u times", loop.busy);
	EXPECT_EQ(atomic_load(&loop.cycles), loop.shrunk + loop.busy);
	EXPECT_EQ(atomic_load(&loop.cycles), loop.grown);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, ioctl(loop.fd, HV_EVLOG_IOC_RESIZE, &(__u32){ 1 }))
		TH_LOG("RESIZE 1 with nothing mapped: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(1000, (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000)
		TH_LOG("RESIZE 1 waited");
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n / now, info.buffer_count);
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	EXPECT_EQ(0, ioctl(loop.fd, HV_EVLOG_IOC_RESIZE, &now))
		TH_LOG("RESIZE back to %u: %s", now, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	EXPECT_EQ(n, info.buffer_count);
	EXPECT_EQ(0, retired_now(self->fd, info.max_buffers));
	whole = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, whole) TH_LOG("buffers 0 to %u again: %s", n - 1, strerror(errno));
	for (uint32_t i = 0; i < n; i++)
		EXPECT_EQ(i, hdr32(whole + (size_t)i * size, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap(whole, self->total));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &self->info.sources));
	close(loop.fd);
	free(going);
}
