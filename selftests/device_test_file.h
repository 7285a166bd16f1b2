/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_test: the file: opening, reading, releasing, stats, sources, rmmod while in use.
 * Included by device_test.c (which says why), not compiled on its own.
 */

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

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
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

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
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
