/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_test: blocking reads racing a userfaultfd fault and a close().
 * Included by device_test.c (which says why), not compiled on its own.
 */

/* What the thread of read_into_userfaultfd_does_not_block_others runs. */
struct uffd_reader {
	int fd;
	void *dst;
	ssize_t got;
	int error;
};

static void *uffd_read(void *arg)
{
	struct uffd_reader *r = arg;

	r->got = read(r->fd, r->dst, sizeof(struct hv_evlog_record));
	r->error = r->got < 0 ? errno : 0;
	return NULL;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * read() copies records without the device's lock: a thread whose read()
 * destination is a userfaultfd-registered page that nobody serves yet sits
 * in the fault, while another thread's poll(), RELEASE and STATS return at
 * once (each within 500 ms; with the copy under the lock they would wait
 * until the fault is served, here by a watchdog after 3 s). Then the fault
 * is served and the read returns its one record.
 */
TEST_F(dev, read_into_userfaultfd_does_not_block_others)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	struct uffd_reader r = { 0 };
	struct hv_evlog_record rec;
	struct hv_evlog_stats st;
	struct uffd_msg msg;
	struct pollfd pfd;
	struct timespec t0;
	uint32_t all = HV_EVLOG_ALL_CPUS;
	char *area, *zeros;
	pthread_t reader;
	int uffd;

	if (!completes_buffers(&self->info))
		SKIP(return, NEEDS_COMPLETIONS);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s (needs CONFIG_USERFAULTFD, root)",
				  strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	area = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zeros = calloc(1, self->page);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_NE(NULL, zeros);
	reg.range.start = (uintptr_t)area;
	reg.range.len = self->page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	/* At least two records: one read now, one for the stuck read. */
	drain(self->fd);
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_FLUSH, &all));
	ASSERT_TRUE(wait_readable(self->fd, 2000) & POLLIN);
	sleep_ms(100);
	ASSERT_EQ(sizeof(rec), read(self->fd, &rec, sizeof(rec)));
	ASSERT_TRUE(wait_readable(self->fd, 0) & POLLIN) TH_LOG("only one record queued");

	r.fd = self->fd;
	r.dst = area;
	ASSERT_EQ(0, pthread_create(&reader, NULL, uffd_read, &r));
	/* The reader is in the fault once its message arrives. */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ((uintptr_t)area, msg.arg.pagefault.address & ~(uint64_t)(self->page - 1));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd = (struct pollfd){ .fd = self->fd, .events = POLLIN };
	EXPECT_LE(0, poll(&pfd, 1, 0));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("poll() waited for the stuck read");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index))
		TH_LOG("release %u: %s", rec.buffer_index, strerror(errno));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("RELEASE waited for the stuck read");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_STATS, &st));
	EXPECT_GT(500, elapsed_ms(&t0)) TH_LOG("STATS waited for the stuck read");
	EXPECT_EQ(1, st.releases);
	/* The reader still sits in the fault. */
	EXPECT_EQ(0, r.got);

	/* Serve the fault: the read finishes with one whole record. */
	copy.dst = (uintptr_t)area;
	copy.src = (uintptr_t)zeros;
	copy.len = self->page;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, pthread_join(reader, NULL));
	EXPECT_EQ(sizeof(rec), r.got) TH_LOG("read: %s", strerror(r.error));
	memcpy(&rec, area, sizeof(rec));
	EXPECT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index));
	drain(self->fd);
	close(uffd);
	munmap(area, self->page);
	free(zeros);
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct blocked_reader {
	int fd;
	ssize_t got;
	int error;
};

static void *blocked_read(void *arg)
{
	struct blocked_reader *r = arg;
	struct hv_evlog_record rec;

	r->got = read(r->fd, &rec, sizeof(rec));
	r->error = r->got < 0 ? errno : 0;
	return NULL;
}

/*
 * close() while another thread sleeps in read(): the read holds the file,
 * so it goes on sleeping (no record can come: sources are off) until a
 * signal ends it with EINTR; then the last reference goes and the device
 * opens again. Also, nonblocking reads racing close() 100 times: each
 * returns whole records, or EAGAIN, or EBADF; the device always reopens.
 */
TEST_F(dev, read_racing_close)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct blocked_reader r = { .got = 1 };
	struct hv_evlog_info info;
	__u64 off = 0;
	pthread_t t;
	int fd = -1;

	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_INFO, &info));
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, &off));
	drain(self->fd);
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_read, &r));
	sleep_ms(200);
	close(self->fd);
	self->fd = -1;
	sleep_ms(200);
	EXPECT_EQ(1, r.got) TH_LOG("the read ended when the fd was closed");
	EXPECT_EQ(-1, dev_open(O_RDONLY));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, pthread_kill(t, SIGUSR1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-1, r.got);
	EXPECT_EQ(EINTR, r.error);
	for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
		sleep_ms(10);
	ASSERT_LE(0, fd) TH_LOG("open after the read ended: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &info.sources));

	for (int round = 0; round < 100; round++) {
		uint32_t all = HV_EVLOG_ALL_CPUS;
		struct blocked_reader nb = { 0 };

		if (round % 20 == 0)
			ioctl(fd, HV_EVLOG_IOC_FLUSH, &all);
		ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
		nb.fd = fd;
		ASSERT_EQ(0, pthread_create(&t, NULL, blocked_read, &nb));
		close(fd);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (nb.got < 0) {
			EXPECT_TRUE(nb.error == EAGAIN || nb.error == EBADF)
				TH_LOG("round %d: %s", round, strerror(nb.error));
		} else {
			EXPECT_EQ(sizeof(struct hv_evlog_record), nb.got);
		}
		fd = -1;
		for (int i = 0; i < 100 && (fd = dev_open(O_RDONLY)) < 0; i++)
			sleep_ms(10);
		ASSERT_LE(0, fd) TH_LOG("round %d: open: %s", round, strerror(errno));
	}
	self->fd = fd;
}
