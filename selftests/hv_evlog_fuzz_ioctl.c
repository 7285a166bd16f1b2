// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: the device's ioctls, with bad pointers, indexes and commands.
 */
#include "hv_evlog_fuzz.h"

static void check_info(const struct hv_evlog_info *in)
{
	struct hv_evlog_info a = *in, b = info0;

	a.sources = b.sources = 0;	/* SET_SOURCES changes it */
	/* A RESIZE (or CPU hotplug) changes these, and they only. */
	if (in->generation != info0.generation) {
		a.buffer_count = b.buffer_count = 0;
		a.generation = b.generation = 0;
	}
	if (memcmp(&a, &b, sizeof(a)))
		fail("INFO returned other geometry than at the start (count %u size %u abi %u generation %u)",
		     in->buffer_count, in->buffer_size, in->abi_version, in->generation);
	if (in->buffer_count < served || in->buffer_count > info0.max_buffers)
		fail("INFO: %u buffers for %u CPUs, maximum %u", in->buffer_count, served,
		     info0.max_buffers);
}

void do_info(void)
{
	enum ptr_class c;
	uintptr_t p = gen_ptr(sizeof(struct hv_evlog_info), &c);
	long r;

	begin(OP_INFO, "ioctl(%d, INFO, %#lx %s)", self->fd, p, ptr_name[c]);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_INFO, p));
	if (r == 0 && must_fail(c, 1))
		fail("succeeded although it cannot write there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED)) {
		struct hv_evlog_info in;

		memcpy(&in, (void *)p, sizeof(in));
		check_info(&in);
	}
}

void do_stats(void)
{
	enum ptr_class c;
	uintptr_t p = gen_ptr(sizeof(struct hv_evlog_stats), &c);
	int lifetime = chance(50);
	long r;

	begin(lifetime ? OP_LIFETIME : OP_STATS, "ioctl(%d, %s, %#lx %s)", self->fd,
	      lifetime ? "LIFETIME_STATS" : "STATS", p, ptr_name[c]);
	r = CALL(ioctl(self->fd, lifetime ? HV_EVLOG_IOC_LIFETIME_STATS : HV_EVLOG_IOC_STATS, p));
	if (r == 0 && must_fail(c, 1))
		fail("succeeded although it cannot write there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED)) {
		struct hv_evlog_stats st;

		memcpy(&st, (void *)p, sizeof(st));
		if (st.releases > st.completions)
			fail("stats: %llu releases but %llu completions",
			     (unsigned long long)st.releases, (unsigned long long)st.completions);
	}
}

static uint32_t gen_first(void)
{
	uint32_t n = info0.buffer_count;

	switch (below(7)) {
	case 0: return 0;
	case 1: return n;
	case 2: return n + 1 + below(3);
	case 3: return 0xffffffffu - below(2);
	/* At and just past the group maximum, which may be above n. */
	case 4: return info0.max_buffers + below(2);
	default: return below(n);
	}
}

/*
 * Entries of a table that a RESIZE changed: indices rising from first,
 * below the maximum, each at its offset, with known flags only.
 */
static void check_entries(const char *t, uint32_t count, uint32_t first)
{
	uint32_t next = first;

	for (uint32_t i = 0; i < count; i++) {
		struct hv_evlog_buffer_info b;

		memcpy(&b, t + i * sizeof(b), sizeof(b));
		if (b.index < next || b.index >= info0.max_buffers ||
		    b.mmap_offset != (uint64_t)b.index * info0.buffer_size ||
		    (b.flags & ~(HV_EVLOG_BUFFER_RETIRED | HV_EVLOG_BUFFER_CPU_OFFLINE))) {
			fail("entry %u: index %u offset %llu flags %#x (from index %u on)", i,
			     b.index, (unsigned long long)b.mmap_offset, b.flags, next);
			return;
		}
		next = b.index + 1;
	}
}

void do_buffers(void)
{
	struct hv_evlog_buffers req, *rp;
	enum ptr_class c, tc;
	uintptr_t p, t;
	uint32_t n = info0.buffer_count, want, room, pos = 0;
	long r;

	req.first = gen_first();
	switch (below(5)) {
	case 0:
		req.count = 0;
		break;
	case 1:
		req.count = HV_EVLOG_MAX_BUFFERS;
		break;
	case 2:
		req.count = 0xffffffffu;
		break;
	default:
		req.count = 1 + below(n + 2);
		break;
	}
	/* The start's table: its entries from index first on. */
	while (pos < table0_count && table0[pos].index < req.first)
		pos++;
	want = req.count < table0_count - pos ? req.count : table0_count - pos;
	/* What any table can fill: a RESIZE may have added indices. */
	room = req.first < info0.max_buffers ? info0.max_buffers - req.first : 0;
	room = req.count < room ? req.count : room;
	/* The table first, so that the request cannot land on it. */
	t = gen_ptr((size_t)room * sizeof(struct hv_evlog_buffer_info), &tc);
	req.table = t;
	do {
		p = gen_ptr(sizeof(req), &c);
	} while ((c == P_VALID || c == P_MISALIGNED) && tc <= P_MISALIGNED &&
		 p + sizeof(req) > t && p < t + room * sizeof(struct hv_evlog_buffer_info));
	if (c == P_VALID || c == P_MISALIGNED)
		memcpy((void *)p, &req, sizeof(req));
	begin(OP_BUFFERS, "ioctl(%d, BUFFERS, %#lx %s {first %u count %u table %#lx %s})",
	      self->fd, p, ptr_name[c], req.first, req.count, t, ptr_name[tc]);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_BUFFERS, p));
	if (r < 0)
		return;
	/*
	 * The table has room for every index a RESIZE may have filled; a
	 * straddling one must fail only if the entries written (the count
	 * returned) ran into the guard page.
	 */
	if (must_fail(c, 1))
		fail("succeeded although it cannot write there");
	if (c == P_VALID || c == P_MISALIGNED) {
		size_t bytes = (size_t)((struct hv_evlog_buffers *)p)->count *
			       sizeof(struct hv_evlog_buffer_info);

		if (bytes && (tc == P_STRADDLE ? t + bytes > (uintptr_t)self->arena + ARENA_SIZE
					       : must_fail(tc, 1)))
			fail("succeeded although it cannot write %zu bytes there", bytes);
	}
	/*
	 * Indices run below the group maximum, not the count: past the
	 * buffers but within the maximum there is nothing, not an error.
	 */
	if (req.first > info0.max_buffers)
		fail("succeeded with first %u past the group maximum %u", req.first,
		     info0.max_buffers);
	if (c != P_VALID && c != P_MISALIGNED)
		return;
	rp = (void *)p;
	/*
	 * The start's table while nothing changed it; after a RESIZE, the
	 * indices of another generation.
	 */
	if (rp->generation != info0.generation) {
		if (rp->count > room || rp->first != req.first || rp->table != req.table ||
		    rp->reserved)
			fail("returned count %u, room for %u", rp->count, room);
		else if (tc == P_VALID || tc == P_MISALIGNED)
			check_entries((void *)t, rp->count, req.first);
		return;
	}
	if (rp->count != want || rp->first != req.first || rp->table != req.table) {
		fail("returned count %u, expected %u", rp->count, want);
		return;
	}
	if (tc != P_VALID && tc != P_MISALIGNED)
		return;
	for (uint32_t i = 0; i < want; i++) {
		struct hv_evlog_buffer_info b;

		memcpy(&b, (char *)t + i * sizeof(b), sizeof(b));
		if (memcmp(&b, &table0[pos + i], sizeof(b)))
			fail("entry %u differs from the table read at the start (index %u offset %llu)",
			     pos + i, b.index, (unsigned long long)b.mmap_offset);
	}
}

/*
 * An argument for RELEASE, FLUSH or SET_SOURCES, written at a generated
 * pointer; returns the pointer.
 */
static uintptr_t gen_arg(size_t size, uint64_t value, enum ptr_class *c)
{
	uintptr_t p = gen_ptr(size, c);

	if (*c == P_VALID || *c == P_MISALIGNED)
		memcpy((void *)p, &value, size);
	return p;
}

void release(uint32_t index, int valid_ptr)
{
	enum ptr_class c = P_VALID;
	uintptr_t p;
	long r;

	if (valid_ptr)
		p = (uintptr_t)&index;
	else
		p = gen_arg(sizeof(index), index, &c);
	begin(OP_RELEASE, "ioctl(%d, RELEASE, %#lx %s {%u})", self->fd, p, ptr_name[c], index);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_RELEASE, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED) && index >= info0.max_buffers)
		fail("released buffer %u, maximum %u", index, info0.max_buffers);
}

void do_release(void)
{
	uint32_t n = info0.buffer_count;
	uint32_t v = chance(80) ? below(n) : chance(50) ? n + below(4) : (uint32_t)rnd();

	release(v, 0);
}

/*
 * The copying path: a buffer index (mostly valid), a destination from the
 * pointer classes and a room that may be too small.
 */
void do_copy(void)
{
	size_t most = info0.buffer_size < ARENA_SIZE / 2 ? info0.buffer_size : ARENA_SIZE / 2;
	uint32_t n = info0.buffer_count;
	struct hv_evlog_copy req = { 0 };
	enum ptr_class c, cs = P_VALID;
	uintptr_t p;
	long r;

	req.buffer_index = chance(85) ? below(n) : chance(50) ? n + below(4) : (uint32_t)rnd();
	req.addr = gen_ptr(most, &c);
	req.size = chance(70) ? most : chance(50) ? below(most + 1) : rnd();
	p = chance(85) ? (uintptr_t)&req : gen_ptr(sizeof(req), &cs);
	if (p != (uintptr_t)&req && (cs == P_VALID || cs == P_MISALIGNED))
		memcpy((void *)p, &req, sizeof(req));
	begin(OP_COPY, "ioctl(%d, COPY, %#lx %s {%u, %#llx %s, %llu})", self->fd, p,
	      ptr_name[cs], req.buffer_index, (unsigned long long)req.addr, ptr_name[c],
	      (unsigned long long)req.size);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_COPY, p));
	/*
	 * The copy writes only the buffer's used bytes, which may end before a
	 * straddling destination reaches its guard page: only a destination
	 * whose first byte cannot be written must fail.
	 */
	if (r == 0 && (must_fail(cs, 1) || (c != P_STRADDLE && must_fail(c, 1))))
		fail("succeeded although it cannot read or write there");
	if (r == 0 && req.buffer_index >= info0.max_buffers)
		fail("copied buffer %u, maximum %u", req.buffer_index, info0.max_buffers);
	if (r == 0 && p == (uintptr_t)&req && req.bytes > req.size)
		fail("copied %u bytes into room for %llu", req.bytes, (unsigned long long)req.size);
}

void do_flush(void)
{
	enum ptr_class c;
	uint32_t v;
	uintptr_t p;
	long r;

	switch (below(5)) {
	case 0:
		v = HV_EVLOG_ALL_CPUS;
		break;
	case 1:
		v = ncpus + below(3);
		break;
	case 2:
		v = (uint32_t)rnd();
		break;
	default:
		v = below(ncpus);
		break;
	}
	p = gen_arg(sizeof(v), v, &c);
	begin(OP_FLUSH, "ioctl(%d, FLUSH, %#lx %s {%#x})", self->fd, p, ptr_name[c], v);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_FLUSH, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
}

void do_sources(void)
{
	enum ptr_class c;
	uint64_t v;
	uintptr_t p;
	long r;

	/* Mostly masks that keep events flowing. */
	switch (below(8)) {
	case 0:
		v = 0;
		break;
	case 1:
		v = rnd();
		break;
	case 2:
		v = 0x3fffff00ULL | 1;
		break;
	case 3:
		v = (rnd() & 0x3fffff00ULL) | 0x100;
		break;
	default:
		v = 0x3fffff00ULL;
		break;
	}
	p = gen_arg(sizeof(v), v, &c);
	begin(OP_SOURCES, "ioctl(%d, SET_SOURCES, %#lx %s {%#llx})", self->fd, p, ptr_name[c],
	      (unsigned long long)v);
	r = CALL(ioctl(self->fd, HV_EVLOG_IOC_SET_SOURCES, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED) && ((v & 1) || (v & ~0x3fffff00ULL)))
		fail("mask %#llx accepted", (unsigned long long)v);
}

/*
 * The fuzzer's own resizes one at a time, so that one that succeeds can
 * be checked against what it asked for.
 */
static pthread_mutex_t resizing = PTHREAD_MUTEX_INITIALIZER;

/*
 * RESIZE: mostly a count the maximum holds, from the thread's control
 * file, the consumer's file or a control file opened for it; sometimes 0
 * or past the maximum (EINVAL) or through a bad pointer. A shrink waits
 * for the buffers it takes out while this or another thread maps them,
 * until SIGUSR1 (EINTR); the mappings then show them retired (SIGBUS).
 */
void do_resize(void)
{
	uint32_t most = info0.max_buffers / served, v;
	int fd = self->ctl, own = 0;
	struct hv_evlog_info in;
	enum ptr_class c = P_VALID;
	uintptr_t p;
	long r;

	switch (below(10)) {
	case 0:
		v = 0;
		break;
	case 1:
		v = most + 1 + below(3);
		break;
	case 2:
		v = (uint32_t)rnd();
		break;
	default:
		v = 1 + below(most);
		break;
	}
	p = chance(90) ? (uintptr_t)&v : gen_arg(sizeof(v), v, &c);
	if (chance(20)) {
		fd = self->fd;
	} else if (chance(20)) {
		fd = open(HV_EVLOG_DEVICE, O_WRONLY | O_CLOEXEC);
		own = 1;
		if (fd < 0) {
			fail("a control open for RESIZE failed: %s", strerror(errno));
			return;
		}
	}
	pthread_mutex_lock(&resizing);
	begin(OP_RESIZE, "ioctl(%d, RESIZE, %#lx %s {%u})", fd, p, ptr_name[c], v);
	r = CALL(ioctl(fd, HV_EVLOG_IOC_RESIZE, p));
	if (r == 0 && must_fail(c, 0))
		fail("succeeded although it cannot read there");
	if (r == 0 && (c == P_VALID || c == P_MISALIGNED) && (v == 0 || v > most))
		fail("%u buffers per CPU accepted, %u CPUs, maximum %u", v, served,
		     info0.max_buffers);
	if (r == 0 && p == (uintptr_t)&v && !outside &&
	    (ioctl(self->ctl, HV_EVLOG_IOC_INFO, &in) || in.buffer_count != v * served))
		fail("then INFO: %u buffers, expected %u x %u CPUs", in.buffer_count, v, served);
	pthread_mutex_unlock(&resizing);
	if (own)
		close(fd);
	check_all_slots();
}

static int defined_cmd(unsigned int cmd)
{
	return cmd == HV_EVLOG_IOC_INFO || cmd == HV_EVLOG_IOC_BUFFERS ||
	       cmd == HV_EVLOG_IOC_RELEASE || cmd == HV_EVLOG_IOC_FLUSH ||
	       cmd == HV_EVLOG_IOC_SET_SOURCES || cmd == HV_EVLOG_IOC_STATS ||
	       cmd == HV_EVLOG_IOC_LIFETIME_STATS || cmd == HV_EVLOG_IOC_COPY ||
	       cmd == HV_EVLOG_IOC_RESIZE;
}

/*
 * Commands that the VFS answers itself before the driver sees them
 * (do_vfs_ioctl(): FIO*, FIFREEZE, FICLONE, FS_IOC_*) have these types.
 */
static int vfs_type(unsigned int type)
{
	return type == 0x00 || type == 0x15 || type == 'T' || type == 'X' ||
	       type == 'f' || type == 0x94;
}

void do_ioctl_other(void)
{
	static const unsigned int defined[] = {
		HV_EVLOG_IOC_INFO, HV_EVLOG_IOC_BUFFERS, HV_EVLOG_IOC_RELEASE,
		HV_EVLOG_IOC_FLUSH, HV_EVLOG_IOC_SET_SOURCES, HV_EVLOG_IOC_STATS,
		HV_EVLOG_IOC_LIFETIME_STATS, HV_EVLOG_IOC_COPY,
	};
	enum ptr_class c;
	unsigned int cmd;
	uintptr_t p;
	long r;

	do {
		switch (below(5)) {
		case 0:	/* a defined command with another size or direction */
			cmd = defined[below(ARRAY_SIZE(defined))];
			cmd = chance(50) ? (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
					   (below(_IOC_SIZEMASK + 1) << _IOC_SIZESHIFT)
					 : cmd ^ ((1 + below(3)) << _IOC_DIRSHIFT);
			break;
		case 1:	/* the magic, any number, size, direction */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC, below(256), below(_IOC_SIZEMASK + 1));
			break;
		case 2:	/* just past the defined numbers */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC, 9 + below(4), below(64));
			break;
		case 3:	/* the neighbouring magics (0xB8 is mshv's) */
			cmd = _IOC(below(4), HV_EVLOG_IOC_MAGIC - 1 + 2 * below(2), below(8),
				   below(64));
			break;
		default:
			cmd = (unsigned int)rnd();
			break;
		}
	} while (defined_cmd(cmd) || vfs_type(_IOC_TYPE(cmd)));
	p = gen_ptr(_IOC_SIZE(cmd) < ARENA_SIZE / 2 ? _IOC_SIZE(cmd) : 0, &c);
	begin(OP_IOCTL_OTHER, "ioctl(%d, %#x, %#lx %s)", self->fd, cmd, p, ptr_name[c]);
	r = CALL(ioctl(self->fd, cmd, p));
	if (r != -1 || errno != ENOTTY)
		fail("an undefined command returned %ld (errno %d), not ENOTTY", r, errno);
}
