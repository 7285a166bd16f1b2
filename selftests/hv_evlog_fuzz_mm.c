// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: mappings of the device in the thread's zone, and the mm calls
 * on them.
 */
#include "hv_evlog_fuzz.h"

static uintptr_t slot_addr(int i)
{
	return ZONE_BASE + (uintptr_t)self->id * ZONE_SIZE + (uintptr_t)i * SLOT_SIZE;
}

static int pick_slot(enum slot_state want)
{
	int start = below(SLOTS);

	for (int i = 0; i < SLOTS; i++) {
		int k = (start + i) % SLOTS;

		if (self->slot[k].state == want)
			return k;
	}
	return -1;
}

static int pick_used_slot(void)
{
	int k = pick_slot(chance(75) ? S_DEV : S_UNKNOWN);

	return k >= 0 ? k : pick_slot(S_DEV) >= 0 ? pick_slot(S_DEV) : pick_slot(S_UNKNOWN);
}

/* Unmaps the whole slot (only this thread maps there). */
void free_slot(int k)
{
	begin(OP_MUNMAP, "munmap(slot %d %#lx, %#lx)", k, slot_addr(k), SLOT_SIZE);
	if (CALL(munmap((void *)slot_addr(k), SLOT_SIZE)))
		fail("munmap of a whole slot failed");
	self->slot[k].state = S_EMPTY;
	self->slot[k].n = 0;
}

/*
 * Adds a piece to a slot; one more than PIECES and the slot is not tracked
 * any more (it is not read, only unmapped).
 */
static void add_piece(struct slot *s, uintptr_t addr, size_t len, uint64_t off)
{
	if (!len)
		return;
	if (s->n == PIECES) {
		s->state = S_UNKNOWN;
		return;
	}
	s->p[s->n++] = (struct piece){ addr, len, off };
}

/*
 * [a, a + len), inside piece i of s, is gone from there: what is left of
 * the piece before and after it stays, each with its own device offset.
 */
static void carve(struct slot *s, int i, uintptr_t a, size_t len)
{
	struct piece p = s->p[i];

	s->p[i] = s->p[--s->n];
	add_piece(s, p.addr, a - p.addr, p.off);
	add_piece(s, a + len, p.addr + p.len - (a + len), p.off + (a + len - p.addr));
	if (s->state == S_DEV && s->n == 0)
		s->state = S_UNKNOWN;
}

/*
 * Reads words 32-bit words at p into out: 0, or -1 if a read raised
 * SIGBUS (on_signal() jumps back here then).
 */
int probe(const void *p, uint32_t *out, int words)
{
	const uint32_t *w = p;

	if (sigsetjmp(self->probe_jump, 1))
		return -1;
	self->probing = 1;
	/* Each word read once, and in order with probing's stores. */
	for (int i = 0; i < words; i++)
		out[i] = __atomic_load_n(&w[i], __ATOMIC_SEQ_CST);
	self->probing = 0;
	return 0;
}

/*
 * The flags of every index below max_buffers in the table now (ABSENT:
 * no buffer there), from the thread's control file.
 */
int table_flags(uint32_t *flags)
{
	struct hv_evlog_buffers req = { .count = info0.max_buffers, .table = (uintptr_t)self->tab };

	for (uint32_t i = 0; i < info0.max_buffers; i++)
		flags[i] = ABSENT;
	if (ioctl(self->ctl, HV_EVLOG_IOC_BUFFERS, &req)) {
		fail("BUFFERS on the control file failed: %s", strerror(errno));
		return -1;
	}
	for (uint32_t i = 0; i < req.count; i++)
		if (self->tab[i].index < info0.max_buffers)
			flags[self->tab[i].index] = self->tab[i].flags;
	return 0;
}

/*
 * The page at addr maps device offset at: it shows buffer
 * at / buffer_size, whose header (where the buffer starts, once set up)
 * names it; or the read raises SIGBUS, and then the table shows that
 * buffer retired. flags is the table from before the read: a buffer
 * retired then never shows data (its PTEs were zapped before the table
 * said so), and a mapped index never leaves the table.
 */
void check_page(uintptr_t addr, uint64_t at, const uint32_t *flags)
{
	uint32_t index = at / info0.buffer_size, h[2], now[HV_EVLOG_MAX_BUFFERS];
	int first = at % info0.buffer_size == 0;
	const void *p = (void *)(first ? addr : addr + (below(PAGE) & ~3UL));

	if (index >= info0.max_buffers || (flags[index] & ABSENT)) {
		fail("%#lx (device offset %#llx) is mapped, but buffer %u is not in the table",
		     addr, (unsigned long long)at, index);
		return;
	}
	if (probe(p, h, first ? 2 : 1) == 0) {
		if (flags[index] & HV_EVLOG_BUFFER_RETIRED)
			fail("%#lx (device offset %#llx): buffer %u, retired, shows data", addr,
			     (unsigned long long)at, index);
		else if (first && h[0] && (h[0] != info0.buffer_size - HDR_SIZE || h[1] != index))
			fail("%#lx (device offset %#llx): header of buffer %u says buffer %u of size %u",
			     addr, (unsigned long long)at, index, h[1], h[0]);
		return;
	}
	/*
	 * SIGBUS: revoked. The resize that takes a buffer out revokes it,
	 * asks the hypervisor to unmap it, and only then flags it retired:
	 * give it that long.
	 */
	for (int ms = 0; ms < 2000; ms++) {
		struct timespec ts = { 0, 1000 * 1000 };

		if (table_flags(now))
			return;
		if (now[index] & ABSENT) {
			fail("SIGBUS at %#lx (device offset %#llx), and buffer %u left the table while mapped",
			     addr, (unsigned long long)at, index);
			return;
		}
		if (now[index] & HV_EVLOG_BUFFER_RETIRED)
			return;
		nanosleep(&ts, NULL);
	}
	fail("SIGBUS at %#lx (device offset %#llx), but buffer %u is not retired 2 s later (read again: %s)",
	     addr, (unsigned long long)at, index, probe(p, h, 1) ? "SIGBUS" : "data");
}

/*
 * The invariant, after every call on a slot: every page of each of its
 * pieces, header included where a buffer starts (check_page()).
 */
void check_slot(int k)
{
	struct slot *s = &self->slot[k];
	uint32_t flags[HV_EVLOG_MAX_BUFFERS];
	char last[sizeof(self->what)];

	if (s->state != S_DEV)
		return;
	memcpy(last, self->what, sizeof(last));
	begin(OP_MINCORE, "check of slot %d (%d pieces) after %.100s", k, s->n, last);
	if (table_flags(flags))
		return;
	for (int i = 0; i < s->n; i++)
		for (size_t o = 0; o < s->p[i].len; o += PAGE)
			check_page(s->p[i].addr + o, s->p[i].off + o, flags);
}

void check_all_slots(void)
{
	for (int k = 0; k < SLOTS; k++)
		check_slot(k);
}

static uint64_t gen_offset(void)
{
	uint64_t pages = group_size / PAGE;
	uint64_t most = (uint64_t)info0.max_buffers * info0.buffer_size;

	switch (below(18)) {
	case 0: return group_size;
	case 1: return group_size + PAGE * (1 + below(4));
	case 2: return below(group_size) | 1;			/* unaligned */
	case 3: return (uint64_t)1 << (40 + below(23));		/* huge */
	case 4: return -PAGE * (1 + below(2));			/* "negative" */
	case 5: case 6: case 7: return below(info0.buffer_count) * (uint64_t)info0.buffer_size;
	/* Indices a RESIZE may have filled, and the end of them all. */
	case 8: return below(info0.max_buffers) * (uint64_t)info0.buffer_size;
	case 9: return most;
	default: return below(pages) * PAGE;
	}
}

static size_t gen_len(uint64_t off)
{
	uint64_t room = off < group_size ? group_size - off : 0;

	switch (below(14)) {
	case 0: return 0;
	case 1: return room + PAGE;				/* one page past */
	case 2: return group_size;
	case 3: return 1 + below(3 * PAGE);			/* unaligned */
	case 4: return (size_t)1 << (32 + below(31));		/* huge */
	case 5: return SIZE_MAX - below(PAGE);
	case 6:
	case 7:
		return room ? room : PAGE;			/* to the end */
	default: return PAGE * (1 + below(room ? room / PAGE : 4));	/* fits */
	}
}

void do_mmap(void)
{
	static const int extra[] = {
		MAP_POPULATE, MAP_LOCKED, MAP_NORESERVE, MAP_NONBLOCK, MAP_SYNC,
		MAP_HUGETLB, MAP_ANONYMOUS, MAP_STACK, MAP_GROWSDOWN, MAP_32BIT,
		MAP_DENYWRITE, MAP_EXECUTABLE,
	};
	uint64_t off = gen_offset(), most = (uint64_t)info0.max_buffers * info0.buffer_size;
	size_t len = gen_len(off), rlen;
	int prot, flags, fd = self->fd, k = -1, how = below(100);
	uintptr_t addr = 0;
	void *m;

	prot = chance(75) ? PROT_READ : (int)below(16) | (chance(10) ? PROT_GROWSDOWN : 0);
	flags = chance(70) ? MAP_SHARED : chance(50) ? MAP_SHARED_VALIDATE : MAP_PRIVATE;
	if (chance(25))
		flags |= extra[below(ARRAY_SIZE(extra))];
	if (chance(3))
		fd = chance(50) ? -1 : self->epfd;
	rlen = (len + PAGE - 1) & ~(PAGE - 1);
	/*
	 * Where: a free slot (no replacing), over a used slot, or the kernel's
	 * choice; lengths above a slot only with the kernel's choice.
	 */
	if (len <= SLOT_SIZE && how < 60)
		k = pick_slot(S_EMPTY);
	if (k >= 0) {
		addr = slot_addr(k) + (chance(20) ? below(4) * PAGE : 0);
		if (addr + rlen > slot_addr(k) + SLOT_SIZE)
			addr = slot_addr(k);
		flags |= MAP_FIXED_NOREPLACE;
	} else {
		if (len <= SLOT_SIZE && how < 80)
			k = pick_used_slot();
		if (k >= 0) {
			addr = slot_addr(k);
			flags |= MAP_FIXED;
		} else {
			flags &= ~MAP_GROWSDOWN;	/* would grow into whatever lies below */
		}
	}
	begin(OP_MMAP, "mmap(%#lx, %#zx, %#x, %#x, %d, %#llx)", addr, len, prot, flags, fd,
	      (unsigned long long)off);
	m = mmap((void *)addr, len, prot, flags, fd, off);
	if (m == MAP_FAILED) {
		judge(-1, errno);
		/* A failed MAP_FIXED may have unmapped what was there. */
		if (k >= 0 && (flags & MAP_FIXED) && self->slot[k].state == S_DEV)
			self->slot[k].state = S_UNKNOWN;
		return;
	}
	judge(0, 0);
	/*
	 * Whether each buffer of the window exists and is in the rotation
	 * (a RESIZE changes that) is for the check below to find.
	 */
	if (fd == self->fd && !(flags & MAP_ANONYMOUS)) {
		if ((flags & MAP_TYPE) == MAP_PRIVATE)
			fail("MAP_PRIVATE mapping of the device succeeded");
		if (prot & (PROT_WRITE | PROT_EXEC))
			fail("mapping with prot %#x succeeded", prot);
		if ((off & (PAGE - 1)) || off > most || rlen > most - off)
			fail("mapping of %#zx bytes at offset %#llx of %#llx succeeded", len,
			     (unsigned long long)off, (unsigned long long)most);
	}
	if (k < 0) {
		/* The kernel's choice: not ours to keep; read it if it may be. */
		if (fd == self->fd && prot == PROT_READ && !(flags & ~(MAP_TYPE | MAP_POPULATE |
		    MAP_NORESERVE | MAP_NONBLOCK | MAP_LOCKED | MAP_STACK)) && rlen <= most) {
			uint32_t flags_now[HV_EVLOG_MAX_BUFFERS];

			if (table_flags(flags_now) == 0) {
				check_page((uintptr_t)m, off, flags_now);
				check_page((uintptr_t)m + rlen - PAGE, off + rlen - PAGE,
					   flags_now);
			}
		}
		begin(OP_MUNMAP, "munmap(%p, %#zx)", m, len);
		if (CALL(munmap(m, len)))
			fail("munmap of a new mapping failed");
		return;
	}
	if ((uintptr_t)m < slot_addr(k) || (uintptr_t)m + rlen > slot_addr(k) + SLOT_SIZE) {
		fail("mapping at %p outside the slot %#lx asked for", m, slot_addr(k));
		return;
	}
	self->slot[k] = (struct slot){ .state = S_UNKNOWN };
	if (fd == self->fd && prot == PROT_READ && !(flags & (MAP_ANONYMOUS | MAP_GROWSDOWN)) &&
	    (flags & MAP_TYPE) != MAP_PRIVATE) {
		self->slot[k] = (struct slot){ S_DEV, 1, { { (uintptr_t)m, rlen, off } } };
		check_slot(k);
	}
}

void do_munmap(void)
{
	int k = pick_used_slot(), i;
	struct slot *s;
	struct piece pc;
	size_t cut;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state != S_DEV || chance(30)) {
		free_slot(k);
		return;
	}
	i = below(s->n);
	pc = s->p[i];
	cut = PAGE * (1 + below(pc.len / PAGE));
	switch (below(3)) {
	case 0:	/* head */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) head of %#lx+%#zx", pc.addr, cut, pc.addr,
		      pc.len);
		if (CALL(munmap((void *)pc.addr, cut)) == 0)
			carve(s, i, pc.addr, cut);
		break;
	case 1:	/* tail */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) tail of %#lx+%#zx", pc.addr + pc.len - cut,
		      cut, pc.addr, pc.len);
		if (CALL(munmap((void *)(pc.addr + pc.len - cut), cut)) == 0)
			carve(s, i, pc.addr + pc.len - cut, cut);
		break;
	default: {	/* a hole; unaligned sometimes (EINVAL) */
		uintptr_t a = pc.addr + below(pc.len / PAGE) * PAGE;
		int odd = chance(10);

		if (cut > pc.addr + pc.len - a)
			cut = pc.addr + pc.len - a;
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) inside %#lx+%#zx", a + odd, cut, pc.addr,
		      pc.len);
		if (CALL(munmap((void *)(a + odd), cut)) == 0) {
			if (odd)
				s->state = S_UNKNOWN;
			else
				carve(s, i, a, cut);
		}
		break;
	}
	}
	check_slot(k);
}

/*
 * mremap of any page-aligned part of a piece: the head, the middle, the
 * tail or all of it, shrunk in place (with or without MREMAP_MAYMOVE) or
 * moved to a free slot (MREMAP_MAYMOVE | MREMAP_FIXED), the same size or
 * smaller; or what must fail: growing, MREMAP_DONTUNMAP, old size 0, bad
 * flags and addresses. What stays of the piece (up to two pieces) and
 * what moved are tracked exactly and checked.
 */
void do_mremap(void)
{
	int k = pick_used_slot(), to, i = 0;
	struct slot *s;
	size_t len, nlen;
	uintptr_t a, na;
	uint64_t off = 0;
	void *m;
	int flags;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state == S_DEV) {
		const struct piece *pc = &s->p[i = below(s->n)];
		size_t skip = chance(30) ? 0 : PAGE * below(pc->len / PAGE);

		a = pc->addr + skip;
		off = pc->off + skip;
		len = chance(30) ? pc->len - skip : PAGE * (1 + below((pc->len - skip) / PAGE));
	} else {
		a = slot_addr(k);
		len = PAGE * (1 + below(8));
	}
	to = pick_slot(S_EMPTY);
	switch (below(8)) {
	case 0: case 1:	/* shrink in place */
		nlen = PAGE * (1 + below(len / PAGE));
		flags = chance(50) ? MREMAP_MAYMOVE : 0;
		na = 0;
		break;
	case 2:	/* grow, in place or moving: EFAULT (VM_DONTEXPAND) */
		nlen = len + PAGE * (1 + below(4));
		/*
		 * Moving only what cannot move: an unknown mapping may be
		 * anonymous and go anywhere.
		 */
		flags = s->state == S_DEV && chance(50) ? MREMAP_MAYMOVE : 0;
		na = 0;
		break;
	case 3: case 4:	/* move the part to a free slot */
		if (to < 0)
			return;
		nlen = chance(70) ? len : PAGE * (1 + below(len / PAGE));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to) + (chance(20) ? below(4) * PAGE : 0);
		break;
	case 5:	/* keep the old one too */
		if (to < 0)
			return;
		nlen = len;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
		na = slot_addr(to);
		break;
	case 6:	/* old size 0: a second mapping of a shared one (growing: EFAULT) */
		if (to < 0)
			return;
		nlen = PAGE * (1 + below(4));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to);
		len = 0;
		break;
	default:	/* misaligned, MREMAP_FIXED alone, or bad flags */
		a += chance(50) ? 1 : 0;
		nlen = len;
		flags = chance(50) ? MREMAP_FIXED : (int)(rnd() & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) | 8;
		na = to >= 0 ? slot_addr(to) : 0;
		break;
	}
	begin(OP_MREMAP, "mremap(%#lx, %#zx, %#zx, %#x, %#lx) slot %d state %d", a, len, nlen,
	      flags, na, k, s->state);
	m = mremap((void *)a, len, nlen, flags, (void *)na);
	if (m == MAP_FAILED) {
		judge(-1, errno);
		/*
		 * A failed move may have unmapped the target, and a move that
		 * shrinks unmaps the source's end before it moves the rest.
		 */
		if (flags & MREMAP_FIXED && to >= 0)
			self->slot[to].state = S_UNKNOWN;
		if ((flags & MREMAP_FIXED) && nlen < len)
			s->state = S_UNKNOWN;
		check_slot(k);
		return;
	}
	judge(0, 0);
	if (s->state == S_DEV && (nlen > len || (flags & MREMAP_DONTUNMAP)))
		fail("mremap of a device mapping from %#zx to %#zx bytes (flags %#x) succeeded",
		     len, nlen, flags);
	if (!(flags & MREMAP_FIXED)) {
		if (s->state == S_DEV && (uintptr_t)m == a && nlen <= len) {
			if (nlen < len)
				carve(s, i, a + nlen, len - nlen);
		} else {
			s->state = S_UNKNOWN;
		}
		check_slot(k);
		return;
	}
	if ((uintptr_t)m != na) {
		fail("MREMAP_FIXED moved to %p, not %#lx", m, na);
		return;
	}
	if (s->state == S_DEV && !(flags & MREMAP_DONTUNMAP) && len) {
		carve(s, i, a, len);
		self->slot[to] = (struct slot){ S_DEV, 1, { { na, nlen, off } } };
	} else {
		self->slot[to].state = S_UNKNOWN;
		s->state = S_UNKNOWN;
	}
	/* Nothing tracked left: the slot is emptied for reuse. */
	if (s->state == S_UNKNOWN && s->n == 0)
		free_slot(k);
	check_slot(k);
	check_slot(to);
}

void do_mprotect(void)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_NONE,
		PROT_WRITE, PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_READ | PROT_SEM,
	};
	int k = pick_used_slot(), prot = prots[below(8)];
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state == S_DEV) {
		const struct piece *pc = &s->p[below(s->n)];

		a = pc->addr + PAGE * below(pc->len / PAGE);
		len = pc->addr + pc->len - a;
	} else {
		a = slot_addr(k);
		len = PAGE * (1 + below(8));
	}
	begin(OP_MPROTECT, "mprotect(%#lx, %#zx, %#x) slot %d state %d", a, len, prot, k,
	      s->state);
	if (CALL(mprotect((void *)a, len, prot)) == 0) {
		if (s->state == S_DEV && (prot & (PROT_WRITE | PROT_EXEC)))
			fail("made a device mapping writable or executable");
		if (prot != PROT_READ)
			s->state = S_UNKNOWN;
	}
	check_slot(k);
}

void do_madvise(void)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
		MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
		MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_COLLAPSE, MADV_GUARD_INSTALL,
		MADV_GUARD_REMOVE, 17, 99,
	};
	int k = pick_used_slot(), adv = advice[below(ARRAY_SIZE(advice))];
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state == S_DEV) {
		const struct piece *pc = &s->p[below(s->n)];

		a = pc->addr + PAGE * below(pc->len / PAGE);
		len = PAGE * (1 + below((pc->addr + pc->len - a) / PAGE));
	} else {
		a = slot_addr(k);
		len = PAGE * (1 + below(8));
	}
	begin(OP_MADVISE, "madvise(%#lx, %#zx, %d) slot %d state %d", a, len, adv, k, s->state);
	if (CALL(madvise((void *)a, len, adv)) == 0 && s->state == S_DEV) {
		/* Advice that only hints keeps the mapping as it was. */
		if (adv != MADV_NORMAL && adv != MADV_RANDOM && adv != MADV_SEQUENTIAL &&
		    adv != MADV_WILLNEED && adv != MADV_DONTDUMP && adv != MADV_DODUMP &&
		    adv != MADV_COLD && adv != MADV_PAGEOUT)
			s->state = S_UNKNOWN;
	}
	check_slot(k);
}

void do_misc_mm(void)
{
	int k = pick_used_slot();
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state == S_DEV) {
		const struct piece *pc = &s->p[below(s->n)];

		a = pc->addr;
		len = pc->len;
	} else {
		a = slot_addr(k);
		len = PAGE * (1 + below(8));
	}
	switch (below(4)) {
	case 0:
		begin(OP_MLOCK, "mlock(%#lx, %#zx)", a, len);
		CALL(chance(50) ? mlock((void *)a, len) : munlock((void *)a, len));
		break;
	case 1: {
		int fl = chance(50) ? MS_SYNC : MS_ASYNC;

		fl |= chance(30) ? MS_INVALIDATE : 0;
		begin(OP_MSYNC, "msync(%#lx, %#zx, %#x)", a, len, fl);
		CALL(msync((void *)a, len, fl));
		break;
	}
	case 2: {
		unsigned char vec[SLOT_SIZE / PAGE];

		begin(OP_MINCORE, "mincore(%#lx, %#zx)", a, len);
		CALL(mincore((void *)a, len, vec));
		break;
	}
	default:
		break;
	}
	check_slot(k);
}
