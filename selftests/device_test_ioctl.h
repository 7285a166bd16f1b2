/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_test: the ioctls' answers (INFO, BUFFERS, RESIZE) and their refusals.
 * Included by device_test.c (which says why), not compiled on its own.
 */

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

	/*
	 * Indices run below the group maximum, which may be above n: up to
	 * it there is nothing, past it the request is refused.
	 */
	req = (struct hv_evlog_buffers){ .first = self->info.max_buffers, .count = 2,
					 .table = (uintptr_t)one };
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req));
	EXPECT_EQ(0, req.count);

	req = (struct hv_evlog_buffers){ .first = self->info.max_buffers + 1, .count = 1,
					 .table = (uintptr_t)one };
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
	/*
	 * Loaded here (max_buffers=0), the group maximum leaves room to grow:
	 * DEFAULT_HEADROOM (hv_evlog/policy/live.rs) times the count planned
	 * at load, at most 512. A group someone else set up may have any
	 * maximum that holds its buffers.
	 */
	if (loaded_here) {
		uint32_t room = DEFAULT_HEADROOM * self->info.buffer_count;

		EXPECT_EQ(room < HV_EVLOG_MAX_BUFFERS ? room : HV_EVLOG_MAX_BUFFERS,
			  self->info.max_buffers);
	}
	EXPECT_LE(self->info.buffer_count, self->info.max_buffers);
	EXPECT_GE(HV_EVLOG_MAX_BUFFERS, self->info.max_buffers);
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
 * RESIZE to what is there changes nothing; one more per CPU than the group
 * maximum holds, or 0, is EINVAL and the table stays.
 */
TEST_F(dev, resize_bounds)
{
	uint32_t now = per_cpu_now(self->tab, self->info.buffer_count);
	uint32_t cpus = self->info.buffer_count / now;
	__u32 past = self->info.max_buffers / cpus + 1;
	struct hv_evlog_info after;

	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &now));
	EXPECT_LT(self->info.max_buffers, past * cpus);
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_RESIZE, &past));
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
