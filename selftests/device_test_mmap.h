/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_test: the read-only shared mapping of the buffers, and what may not be done with it.
 * Included by device_test.c (which says why), not compiled on its own.
 */

/* Each mapped buffer starts with its header: index, size and type match. */
TEST_F(dev, mmap_headers)
{
	const char *base = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	int checked = 0;

	ASSERT_NE(MAP_FAILED, base) TH_LOG("mmap: %s", strerror(errno));
	for (uint32_t i = 0; i < self->info.buffer_count; i++) {
		unsigned char hdr[72];
		int64_t state = hdr_snapshot(base + self->tab[i].mmap_offset, hdr);
		const unsigned char *buf = hdr;
		uint32_t size;

		ASSERT_LE(0, state) TH_LOG("buffer %u: header never held still", i);
		/* Standby (0): the hypervisor has not published this header. */
		if (state == 0)
			continue;
		checked++;
		EXPECT_EQ(i, hdr32(buf, HDR_BUFFER_INDEX));
		EXPECT_EQ(self->info.type, hdr32(buf, HDR_TYPE));
		/* buffer_size counts the bytes after the header. */
		size = hdr32(buf, HDR_BUFFER_SIZE);
		EXPECT_EQ(self->info.buffer_size - self->info.header_size, size)
			TH_LOG("buffer %u: header buffer_size %u", i, size);
		/* next_buffer_offset counts entry bytes after the header too. */
		EXPECT_GE(size, hdr32(buf, HDR_NEXT_OFFSET));
	}
	if (self->info.backend == 1)
		EXPECT_EQ(self->info.buffer_count, checked);
	EXPECT_EQ(0, munmap((void *)base, self->total));
}

/*
 * Zero copy: a mapping is the buffers' own memory, not a copy made at mmap
 * time. The mapping is a PFN mapping (VM_PFNMAP), which /proc/self/pagemap
 * does not walk (it reports such pages as not present), so frame numbers
 * cannot be compared; instead: a buffer in use when it was mapped is seen
 * turning complete through that same mapping after FLUSH, with no further
 * call, and a second mapping of it shows the same bytes.
 */
TEST_F(dev, mmap_same_pages)
{
	size_t size = self->info.buffer_size;
	uint32_t cpu = HV_EVLOG_ALL_CPUS, i;
	const char *all, *one, *buf = NULL;
	uint32_t state = 0;

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
	drain(self->fd);
	all = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, all);
	for (i = 0; i < self->info.buffer_count; i++) {
		buf = all + self->tab[i].mmap_offset;
		if (__atomic_load_n((const uint32_t *)(buf + HDR_BUFFER_STATE),
				    __ATOMIC_ACQUIRE) == STATE_IN_USE)
			break;
	}
	ASSERT_GT(self->info.buffer_count, i) TH_LOG("no buffer in use");
	one = mmap(NULL, size, PROT_READ, MAP_SHARED, self->fd, self->tab[i].mmap_offset);
	ASSERT_NE(MAP_FAILED, one);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &cpu));
	for (int t = 0; t < 200; t++) {
		state = __atomic_load_n((const uint32_t *)(buf + HDR_BUFFER_STATE),
					__ATOMIC_ACQUIRE);
		if (state == STATE_COMPLETE)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(STATE_COMPLETE, state) TH_LOG("buffer %u", i);
	/* Complete and not released: nobody writes it now. */
	EXPECT_EQ(i, hdr32(one, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, memcmp(buf, one, size));
	munmap((void *)one, size);
	munmap((void *)all, self->total);
	drain(self->fd);
}

/*
 * The buffer pages cannot be pinned: the mapping is a PFN mapping, which
 * get_user_pages() refuses, so nothing can hold a page beyond munmap().
 */
TEST_F(dev, vmsplice_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	struct iovec iov = { .iov_base = (void *)p, .iov_len = self->page };
	int pipefd[2];

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* Not even part of a page. */
	iov.iov_len = 72;
	EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

TEST_F(dev, process_vm_readv_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	char *dst = malloc(self->page);
	struct iovec local = { .iov_base = dst, .iov_len = self->page };
	struct iovec remote = { .iov_base = (void *)p, .iov_len = self->page };

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(NULL, dst);
	/*
	 * The test kernel has CONFIG_CROSS_MEMORY_ATTACH: an ordinary page of
	 * this process reads (ENOSYS here is a failure, not a skip).
	 */
	remote.iov_base = dst + 1;
	local.iov_len = remote.iov_len = 1;
	ASSERT_EQ(1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0))
		TH_LOG("process_vm_readv of an ordinary page: %s", strerror(errno));
	remote.iov_base = (void *)p;
	local.iov_len = remote.iov_len = self->page;
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* The mapping itself reads fine. */
	memcpy(dst, p, 72);
	EXPECT_EQ(0, memcmp(dst, p, 72));
	free(dst);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/*
 * Another GUP path (get_user_pages_remote(), as ptrace and debuggers use):
 * /proc/self/mem cannot read the mapping (EIO: no page), while it reads an
 * ordinary page of this process.
 */
TEST_F(dev, proc_mem_read_refused)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	static char plain[72] = "an ordinary page";
	char got[72];
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_LE(0, mem);
	ASSERT_EQ(sizeof(got), pread(mem, got, sizeof(got), (off_t)(uintptr_t)plain));
	EXPECT_EQ(0, memcmp(got, plain, sizeof(got)));
	EXPECT_EQ(-1, pread(mem, got, sizeof(got), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	close(mem);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/*
 * fork() with the device mapped: the child gets no mapping (VM_DONTCOPY;
 * touching the range kills it with SIGSEGV), the parent's still reads, and
 * a child that closed its copy of the file does not keep the device busy.
 */
TEST_F(dev, fork_child_has_no_mapping)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	uint32_t index;
	int status, fd, sync[2];
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, p);
	index = hdr32(p, HDR_BUFFER_INDEX);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		(void)READ_ONCE(*p);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the child read the mapping");
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	EXPECT_EQ(index, hdr32(p, HDR_BUFFER_INDEX));

	/* A child that lives on without the file. */
	ASSERT_EQ(0, pipe(sync));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(self->fd);
		close(sync[1]);
		/* Until the parent closes its end. */
		while (read(sync[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(sync[0]);
	EXPECT_EQ(0, munmap((void *)p, self->total));
	close(self->fd);
	self->fd = -1;
	/* The last reference goes with munmap(); release may run a bit later. */
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	EXPECT_LE(0, fd) TH_LOG("open while the child lives: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	close(sync[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
}

/* Whether the page at `p` is mapped at all: mincore() says ENOMEM if not. */
static int mapped(const void *p, long page)
{
	unsigned char vec;

	if (mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), page, &vec) == 0)
		return 1;
	return errno == ENOMEM ? 0 : -errno;
}

/*
 * MADV_DONTNEED cannot drop a PFN mapping's PTEs (the kernel refuses
 * VM_PFNMAP with EINVAL): the mapping stays and reads the live buffer.
 */
TEST_F(dev, madvise_dontneed_refused_mapping_stays)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, madvise((void *)p, self->total, MADV_DONTNEED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise((void *)p, self->page, MADV_DONTNEED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, mapped(p, self->page));
	for (uint32_t i = 0; i < self->info.buffer_count; i++)
		EXPECT_EQ(i, hdr32(p + self->tab[i].mmap_offset, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap((void *)p, self->total));
}

/*
 * mremap() may move a mapping (same size): the new range shows the same
 * buffers, the old one is gone. Keeping the old range too
 * (MREMAP_DONTUNMAP) is refused for a PFN mapping with EINVAL.
 */
TEST_F(dev, mremap_move)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	char *q = mmap(NULL, self->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *moved;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(MAP_FAILED, mremap((void *)p, self->total, self->total,
				     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, q));
	EXPECT_EQ(EINVAL, errno);
	moved = mremap((void *)p, self->total, self->total, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	ASSERT_EQ(q, moved) TH_LOG("mremap: %s", strerror(errno));
	for (uint32_t i = 0; i < self->info.buffer_count; i++)
		EXPECT_EQ(i, hdr32(moved + self->tab[i].mmap_offset, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, mapped(p, self->page));
	EXPECT_EQ(0, munmap((void *)moved, self->total));
}

/*
 * munmap() of a page inside the mapping splits it: that page is gone, the
 * rest reads on, and each piece keeps the device busy until it is unmapped.
 */
TEST_F(dev, partial_munmap)
{
	const char *p = mmap(NULL, self->total, PROT_READ, MAP_SHARED, self->fd, 0);
	size_t second;
	int fd = -1;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_LE(2, self->info.buffer_count);
	second = self->tab[1].mmap_offset;
	EXPECT_EQ(0, munmap((void *)(p + self->page), self->page));
	EXPECT_EQ(0, mapped(p + self->page, self->page));
	EXPECT_EQ(0, hdr32(p, HDR_BUFFER_INDEX));
	EXPECT_EQ(1, hdr32(p + second, HDR_BUFFER_INDEX));
	close(self->fd);
	self->fd = -1;
	/* The first piece gone, the second still holds the file. */
	EXPECT_EQ(0, munmap((void *)p, self->page));
	EXPECT_EQ(-1, dev_open(O_RDONLY));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, hdr32(p + second, HDR_BUFFER_INDEX));
	EXPECT_EQ(0, munmap((void *)(p + 2 * self->page), self->total - 2 * self->page));
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	EXPECT_LE(0, fd) TH_LOG("open after the last piece: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* BUFFERS writes its table only to user memory: EFAULT otherwise. */
TEST_F(dev, buffers_bad_table_refused)
{
	static const __u64 bad[] = {
		8,				/* unmapped, low */
		0xffffffff81000000ull,		/* kernel text */
		0xffff888000000000ull,		/* the direct map */
	};
	struct hv_evlog_buffers req;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		req = (struct hv_evlog_buffers){ .first = 0, .count = 1, .table = bad[i] };
		EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, &req))
			TH_LOG("table %#llx accepted", (unsigned long long)bad[i]);
		EXPECT_EQ(EFAULT, errno);
	}
	/* The argument itself at a kernel address. */
	EXPECT_EQ(-1, ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, (void *)0xffffffff81000000ull));
	EXPECT_EQ(EFAULT, errno);
}

/* A page-aligned window inside the buffers is allowed. */
TEST_F(dev, mmap_window)
{
	const char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, self->page);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap((void *)p, self->page));
}

/* The kernel rounds a length up to whole pages before the driver sees it. */
TEST_F(dev, mmap_length_rounded_up)
{
	const char *p = mmap(NULL, 100, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	(void)READ_ONCE(p[self->page - 1]);
	EXPECT_EQ(0, munmap((void *)p, 100));
}

TEST_F(dev, mmap_write_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);

	/* From the kernel: the file is not open for writing. */
	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
}

TEST_F(dev, mmap_write_refused_rdwr)
{
	void *p;
	int fd;

	close(self->fd);
	self->fd = -1;
	fd = dev_open(O_RDWR);
	ASSERT_LE(0, fd);
	/* From the driver, the same answer as for a read-only file. */
	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	/* A read-only mapping of an O_RDWR file cannot be made writable. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->page);
	close(fd);
}

TEST_F(dev, mmap_exec_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ | PROT_EXEC, MAP_SHARED, self->fd, 0);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, mmap_private_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, self->fd, 0);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mmap_misaligned_offset_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 8);

	ASSERT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mmap_past_end_refused)
{
	size_t size = self->info.buffer_size;
	void *p;

	/* One page too long. */
	p = mmap(NULL, self->total + self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Starting at the end. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, self->total);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* The last buffer and one more. */
	p = mmap(NULL, 2 * size, PROT_READ, MAP_SHARED, self->fd, self->total - size);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Far past the end. */
	p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, (off_t)1 << 40);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, mprotect_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, mprotect(p, self->page, PROT_NONE));
	EXPECT_EQ(0, mprotect(p, self->page, PROT_READ));
	munmap(p, self->page);
}

TEST_F(dev, mremap_grow_refused)
{
	void *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	void *q;

	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, self->page, 2 * self->page, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	q = mremap(p, self->page, 2 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	munmap(p, self->page);
}

/* A store through the read-only mapping faults and changes nothing. */
TEST_F(dev, write_through_mapping_faults)
{
	char *p = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	char before;
	int status;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, p);
	before = READ_ONCE(p[0]);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		WRITE_ONCE(p[0], before + 1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	EXPECT_EQ(before, READ_ONCE(p[0]));
	munmap(p, self->page);
}
