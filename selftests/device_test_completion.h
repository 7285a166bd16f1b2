/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_test: completed buffers reported by read(), poll() and epoll, and released.
 * Included by device_test.c (which says why), not compiled on its own.
 */

/* Checks the records in rec[0..n) against the mapped headers. */
static void check_records(struct __test_metadata *_metadata,
			  const struct hv_evlog_info *info,
			  const struct hv_evlog_buffer_info *tab, const char *base,
			  const struct hv_evlog_record *rec, size_t n,
			  uint64_t first_sequence)
{
	for (size_t k = 0; k < n; k++) {
		const struct hv_evlog_record *r = &rec[k];
		const char *buf;
		uint32_t next, off, end;

		EXPECT_EQ(first_sequence + k, r->sequence);
		ASSERT_GT(info->buffer_count, r->buffer_index);
		buf = base + tab[r->buffer_index].mmap_offset;
		EXPECT_EQ(STATE_COMPLETE, hdr32(buf, HDR_BUFFER_STATE));
		EXPECT_EQ(r->buffer_index, hdr32(buf, HDR_BUFFER_INDEX));
		EXPECT_EQ(hdr32(buf, HDR_NEXT_OFFSET), r->bytes_used);
		EXPECT_EQ(hdr32(buf, HDR_EVENTS_LOST), r->events_lost);
		EXPECT_EQ(hdr64(buf, HDR_TIME_STAMP), r->timestamp);
		/*
		 * vp: the header's logical processor; cpu: the Linux CPU with
		 * that VP index, which the simulator numbers as Linux does,
		 * and the one CPU of the buffer's table entry.
		 */
		EXPECT_EQ(hdr32(buf, HDR_LOGICAL_PROCESSOR) & 0xffff, r->vp);
		EXPECT_EQ(r->vp, r->cpu);
		EXPECT_LT(r->cpu, HV_EVLOG_MAX_CPUS);
		if (r->cpu < HV_EVLOG_MAX_CPUS)
			EXPECT_TRUE(tab[r->buffer_index].cpus[r->cpu / 64] >> (r->cpu % 64) & 1);
		EXPECT_EQ(0, r->reserved);
		/* bytes_used: entry bytes after the header, not an offset. */
		ASSERT_GE(info->buffer_size - info->header_size, r->bytes_used);
		end = info->header_size + r->bytes_used;
		/* Entries: 8-byte aligned, at least their header, inside. */
		for (off = info->header_size; off < end;) {
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
		if (k + 1 < n && next != END_OF_CHAIN && next < info->buffer_count &&
		    hdr32(base + tab[next].mmap_offset, HDR_BUFFER_STATE) == STATE_COMPLETE)
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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
	check_records(_metadata, &self->info, self->tab, base, rec, n, drained);

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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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
