// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: read, poll and epoll on the device, and calls on its file.
 */
#include "hv_evlog_fuzz.h"

/* ---------------------------------------------------------------------- */
/* read, poll, epoll                                                      */
/* ---------------------------------------------------------------------- */

/*
 * Checks buffer index through one of the thread's intact mappings that
 * shows its header, if one does (check_page()).
 */
void check_header_mapped(uint32_t index)
{
	uint64_t at = (uint64_t)index * info0.buffer_size;
	uint32_t flags[HV_EVLOG_MAX_BUFFERS];

	for (int i = 0; i < SLOTS; i++) {
		const struct slot *s = &self->slot[i];

		for (int j = 0; s->state == S_DEV && j < s->n; j++) {
			const struct piece *p = &s->p[j];

			if (p->off <= at && at < p->off + p->len) {
				if (table_flags(flags) == 0)
					check_page(p->addr + (at - p->off), at, flags);
				return;
			}
		}
	}
}

void do_read(void)
{
	static const size_t odd[] = { 0, 1, 7, 31, 33, 63, 65, 100, 4095, 4097 };
	enum ptr_class c;
	size_t size;
	uintptr_t p;
	long r;

	switch (below(4)) {
	case 0:
		size = odd[below(ARRAY_SIZE(odd))];
		break;
	case 1:
		size = RECORD_SIZE;
		break;
	case 2:
		size = chance(50) ? (1UL << 30) : SIZE_MAX >> 1;	/* far more than fits */
		break;
	default:
		size = RECORD_SIZE * (1 + below(32));
		break;
	}
	p = gen_ptr(size < ARENA_SIZE / 2 ? size : ARENA_SIZE / 2, &c);
	begin(OP_READ, "read(%d, %#lx %s, %zu)", self->fd, p, ptr_name[c], size);
	r = CALL(read(self->fd, (void *)p, size));
	if (r < 0)
		return;
	if (r == 0 || r % RECORD_SIZE || (size_t)r > size) {
		fail("returned %ld for room of %zu", r, size);
		return;
	}
	/* A straddling destination may have room for the records there were. */
	if (c != P_STRADDLE && must_fail(c, 1))
		fail("returned %ld although it cannot write there", r);
	if (c != P_VALID && c != P_MISALIGNED)
		return;
	/* What a valid destination got: check each record, release most. */
	if ((size_t)r > ARENA_SIZE / 2) {
		fail("returned %ld bytes, more than the group's records", r);
		return;
	}
	for (long i = 0; i < r / (long)RECORD_SIZE; i++) {
		struct hv_evlog_record rec;

		memcpy(&rec, (char *)p + i * RECORD_SIZE, sizeof(rec));
		if (rec.buffer_index >= info0.max_buffers || rec.cpu >= ncpus ||
		    rec.bytes_used > info0.buffer_size - HDR_SIZE) {
			fail("record %ld: buffer %u cpu %u bytes_used %u", i, rec.buffer_index,
			     rec.cpu, rec.bytes_used);
			return;
		}
		check_header_mapped(rec.buffer_index);
		if (chance(90))
			release(rec.buffer_index, 1);
	}
}

void do_poll(void)
{
	struct pollfd pfd = {
		.fd = self->fd,
		.events = chance(70) ? POLLIN : (short)rnd(),
	};
	int timeout = below(3) * 5;
	long r;

	begin(OP_POLL, "poll(%d, %#x, %d ms)", self->fd, pfd.events & 0xffff, timeout);
	r = CALL(poll(&pfd, 1, timeout));
	if (r == 1 && (pfd.revents & ~(POLLIN | POLLRDNORM | POLLPRI)))
		fail("revents %#x", pfd.revents);
	/*
	 * POLLPRI: the table changed since the file last read it, so it is
	 * of another generation than at the start.
	 */
	if (r == 1 && (pfd.revents & POLLPRI)) {
		struct hv_evlog_info in;

		if (ioctl(self->ctl, HV_EVLOG_IOC_INFO, &in) == 0 &&
		    in.generation == info0.generation)
			fail("POLLPRI, but the table is of the start's generation %u", in.generation);
	}
	if (r == 0 && pfd.revents)
		fail("returned 0 with revents %#x", pfd.revents);
}

void do_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN | (chance(50) ? EPOLLET : 0) };
	long r;

	if (chance(50)) {
		int op = chance(60) ? EPOLL_CTL_ADD : chance(50) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

		begin(OP_EPOLL_CTL, "epoll_ctl(%d, %d, %d)", self->epfd, op, self->fd);
		CALL(epoll_ctl(self->epfd, op, self->fd, &ev));
		return;
	}
	begin(OP_EPOLL_WAIT, "epoll_wait(%d)", self->epfd);
	r = CALL(epoll_wait(self->epfd, &ev, 1, below(3) * 5));
	if (r == 1 && (ev.events & ~(EPOLLIN | EPOLLRDNORM)))
		fail("events %#x", ev.events);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */
/* ---------------------------------------------------------------------- */

void do_open(void)
{
	static const int modes[] = { O_RDONLY, O_RDWR, O_WRONLY, O_RDONLY | O_NONBLOCK };
	int flags = modes[below(4)] | O_CLOEXEC, fd;

	begin(OP_OPEN, "open(%s, %#x) while the device is held", HV_EVLOG_DEVICE, flags);
	fd = CALL(open(HV_EVLOG_DEVICE, flags));
	/* An O_WRONLY open is a control file, allowed beside the consumer. */
	if (fd >= 0 && (flags & O_ACCMODE) != O_WRONLY)
		fail("a second open succeeded while the device was open");
	if ((flags & O_ACCMODE) == O_WRONLY && fd < 0)
		fail("a control file (O_WRONLY) was refused beside the consumer");
	if (fd >= 0)
		close(fd);
}

void redup(void)
{
	int fd;

	begin(OP_DUP, "close(%d); dup(%d)", self->fd, atomic_load(&epoch_fd));
	if (self->fd >= 0 && CALL(close(self->fd)))
		fail("close failed");
	fd = CALL(dup(atomic_load(&epoch_fd)));
	if (fd < 0)
		fail("dup of the epoch's file failed");
	self->fd = fd;
}

void do_file_misc(void)
{
	char b[64] = { 0 };

	switch (below(5)) {
	case 0:
		redup();
		break;
	case 1: {
		int fl = fcntl(self->fd, F_GETFL);

		begin(OP_FCNTL, "fcntl(%d, F_SETFL, %#x ^ O_NONBLOCK)", self->fd, fl);
		CALL(fcntl(self->fd, F_SETFL, fl ^ O_NONBLOCK));
		break;
	}
	case 2:
		begin(OP_LSEEK, "lseek/pread(%d)", self->fd);
		if (chance(50))
			CALL(lseek(self->fd, below(4096), SEEK_SET));
		else
			CALL(pread(self->fd, self->arena, RECORD_SIZE, 0));
		break;
	case 3:
		begin(OP_WRITE, "write(%d, 32)", self->fd);
		if (CALL(write(self->fd, b, sizeof(b) / 2)) >= 0)
			fail("write succeeded");
		break;
	default: {
		int bad = chance(50) ? -1 : 1000000;

		begin(OP_BADFD, "ioctl/read/mmap on fd %d", bad);
		switch (below(3)) {
		case 0:
			CALL(ioctl(bad, HV_EVLOG_IOC_INFO, self->arena));
			break;
		case 1:
			CALL(read(bad, self->arena, RECORD_SIZE));
			break;
		default: {
			void *m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, bad, 0);

			judge(m == MAP_FAILED ? -1 : 0, m == MAP_FAILED ? errno : 0);
			if (m != MAP_FAILED)
				munmap(m, PAGE);
		}
		}
		break;
	}
	}
}
