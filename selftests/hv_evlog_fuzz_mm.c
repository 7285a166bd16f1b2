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
}

/* Reads every page of an intact mapping (or a random sample of them) and
 * checks each buffer header in it. */
static void touch(int k)
{
	struct slot *s = &self->slot[k];
	size_t pages = s->len / PAGE;

	begin(OP_MINCORE, "touch(slot %d %#lx, %#zx, offset %#llx)", k, s->addr, s->len,
	      (unsigned long long)s->off);
	for (size_t i = 0; i < 16 && i < pages; i++) {
		size_t pg = pages <= 16 ? i : below(pages);

		(void)*(volatile const char *)(s->addr + pg * PAGE + below(PAGE));
	}
	for (uint64_t at = (s->off + info0.buffer_size - 1) / info0.buffer_size * info0.buffer_size;
	     at + HDR_SIZE <= s->off + s->len; at += info0.buffer_size)
		check_header_mapped(at / info0.buffer_size);
}

static uint64_t gen_offset(void)
{
	uint64_t pages = group_size / PAGE;

	switch (below(16)) {
	case 0: return group_size;
	case 1: return group_size + PAGE * (1 + below(4));
	case 2: return below(group_size) | 1;			/* unaligned */
	case 3: return (uint64_t)1 << (40 + below(23));		/* huge */
	case 4: return -PAGE * (1 + below(2));			/* "negative" */
	case 5: case 6: case 7: return below(info0.buffer_count) * (uint64_t)info0.buffer_size;
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
	case 6: case 7: return room ? room : PAGE;		/* to the end */
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
	uint64_t off = gen_offset();
	size_t len = gen_len(off), rlen;
	int prot, flags, fd = self->fd, k = -1, how = below(100);
	uintptr_t addr = 0;
	void *m;

	prot = chance(75) ? PROT_READ : (int)below(16) | (chance(10) ? PROT_GROWSDOWN : 0);
	flags = chance(70) ? MAP_SHARED : chance(50) ? MAP_SHARED_VALIDATE : MAP_PRIVATE;
	if (chance(25))
		flags |= extra[below(sizeof(extra) / sizeof(extra[0]))];
	if (chance(3))
		fd = chance(50) ? -1 : self->epfd;
	rlen = (len + PAGE - 1) & ~(PAGE - 1);
	/* Where: a free slot (no replacing), over a used slot, or the kernel's
	 * choice; lengths above a slot only with the kernel's choice. */
	if (len <= SLOT_SIZE && how < 60 && (k = pick_slot(S_EMPTY)) >= 0) {
		addr = slot_addr(k) + (chance(20) ? below(4) * PAGE : 0);
		if (addr + rlen > slot_addr(k) + SLOT_SIZE)
			addr = slot_addr(k);
		flags |= MAP_FIXED_NOREPLACE;
	} else if (len <= SLOT_SIZE && how < 80 && (k = pick_used_slot()) >= 0) {
		addr = slot_addr(k);
		flags |= MAP_FIXED;
	} else {
		k = -1;
		flags &= ~MAP_GROWSDOWN;	/* would grow into whatever lies below */
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
	if (fd == self->fd && !(flags & MAP_ANONYMOUS)) {
		if ((flags & MAP_TYPE) == MAP_PRIVATE)
			fail("MAP_PRIVATE mapping of the device succeeded");
		if (prot & (PROT_WRITE | PROT_EXEC))
			fail("mapping with prot %#x succeeded", prot);
		if ((off & (PAGE - 1)) || off > group_size || rlen > group_size - off)
			fail("mapping of %#zx bytes at offset %#llx of %#llx succeeded", len,
			     (unsigned long long)off, (unsigned long long)group_size);
	}
	if (k < 0) {
		/* The kernel's choice: not ours to keep; read it if it may be. */
		if (fd == self->fd && prot == PROT_READ && !(flags & ~(MAP_TYPE | MAP_POPULATE |
		    MAP_NORESERVE | MAP_NONBLOCK | MAP_LOCKED | MAP_STACK)) && rlen <= group_size) {
			(void)*(volatile const char *)m;
			(void)*(volatile const char *)((char *)m + rlen - 1);
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
		self->slot[k] = (struct slot){ S_DEV, (uintptr_t)m, rlen, off };
		if (chance(50))
			touch(k);
	}
}

void do_munmap(void)
{
	int k = pick_used_slot();
	struct slot *s;
	size_t cut;

	if (k < 0)
		return;
	s = &self->slot[k];
	if (s->state != S_DEV || chance(30)) {
		free_slot(k);
		return;
	}
	cut = PAGE * (1 + below(s->len / PAGE));
	switch (below(3)) {
	case 0:	/* head */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) head of %#zx", s->addr, cut, s->len);
		if (CALL(munmap((void *)s->addr, cut)) == 0) {
			s->addr += cut;
			s->off += cut;
			s->len -= cut;
		}
		break;
	case 1:	/* tail */
		begin(OP_MUNMAP, "munmap(%#lx, %#zx) tail of %#zx", s->addr + s->len - cut, cut,
		      s->len);
		if (CALL(munmap((void *)(s->addr + s->len - cut), cut)) == 0)
			s->len -= cut;
		break;
	default: {	/* a hole; unaligned sometimes (EINVAL) */
		uintptr_t a = s->addr + below(s->len / PAGE) * PAGE + (chance(10) ? 1 : 0);

		begin(OP_MUNMAP, "munmap(%#lx, %#zx) inside %#lx+%#zx", a, cut, s->addr, s->len);
		if (CALL(munmap((void *)a, cut)) == 0)
			s->state = S_UNKNOWN;
		break;
	}
	}
	if (s->state == S_DEV && s->len == 0)
		s->state = S_UNKNOWN;
	if (s->state == S_DEV && chance(50))
		touch(k);
}

void do_mremap(void)
{
	int k = pick_used_slot(), to;
	struct slot *s;
	size_t len, nlen;
	uintptr_t a, na;
	void *m;
	int flags;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr : slot_addr(k);
	len = s->state == S_DEV ? s->len : PAGE * (1 + below(8));
	to = pick_slot(S_EMPTY);
	switch (below(7)) {
	case 0:	/* shrink in place */
		nlen = PAGE * (1 + below(len / PAGE));
		flags = 0;
		na = 0;
		break;
	case 1:	/* grow, in place or moving: EFAULT (VM_DONTEXPAND) */
		nlen = len + PAGE * (1 + below(4));
		/* Moving only what cannot move: an unknown mapping may be
		 * anonymous and go anywhere. */
		flags = s->state == S_DEV && chance(50) ? MREMAP_MAYMOVE : 0;
		na = 0;
		break;
	case 2: case 3:	/* move (part of) it to a free slot */
		if (to < 0)
			return;
		if (chance(50) && len > PAGE) {
			size_t skip = PAGE * below(len / PAGE);

			a += skip;
			len -= skip;
		}
		nlen = chance(70) ? len : PAGE * (1 + below(len / PAGE));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to);
		break;
	case 4:	/* keep the old one too */
		if (to < 0)
			return;
		nlen = len;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
		na = slot_addr(to);
		break;
	case 5:	/* old size 0: a second mapping of a shared one (growing: EFAULT) */
		if (to < 0)
			return;
		nlen = PAGE * (1 + below(4));
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		na = slot_addr(to);
		len = 0;
		break;
	default:	/* misaligned or bad flags */
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
		/* Nothing moved; but a failed move may have unmapped the target
		 * and the DONTUNMAP/old-size-0 cases are not worth trusting. */
		if (flags & MREMAP_FIXED && to >= 0)
			self->slot[to].state = S_UNKNOWN;
		return;
	}
	judge(0, 0);
	if (s->state == S_DEV && (nlen > len || (flags & MREMAP_DONTUNMAP)))
		fail("mremap of a device mapping from %#zx to %#zx bytes (flags %#x) succeeded",
		     len, nlen, flags);
	if (!(flags & MREMAP_FIXED)) {
		if (s->state == S_DEV && (uintptr_t)m == s->addr && nlen <= s->len)
			s->len = nlen;
		else
			s->state = S_UNKNOWN;
		return;
	}
	if ((uintptr_t)m != na) {
		fail("MREMAP_FIXED moved to %p, not %#lx", m, na);
		return;
	}
	if (s->state == S_DEV && !(flags & MREMAP_DONTUNMAP) && len) {
		self->slot[to] = (struct slot){ S_DEV, na, nlen, s->off + (a - s->addr) };
		/* What is left of the old one: the part before a. */
		if (a == s->addr && nlen == len)
			s->state = S_EMPTY;
		else
			s->state = S_UNKNOWN;
		if (chance(50))
			touch(to);
	} else {
		self->slot[to].state = S_UNKNOWN;
		s->state = S_UNKNOWN;
	}
	/* An empty slot must be free of mappings: leftovers are unknown. */
	if (s->state == S_EMPTY)
		free_slot(k);
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
	a = s->state == S_DEV ? s->addr + PAGE * below(s->len / PAGE) : slot_addr(k);
	len = s->state == S_DEV ? s->addr + s->len - a : PAGE * (1 + below(8));
	begin(OP_MPROTECT, "mprotect(%#lx, %#zx, %#x) slot %d state %d", a, len, prot, k,
	      s->state);
	if (CALL(mprotect((void *)a, len, prot)) == 0) {
		if (s->state == S_DEV && (prot & (PROT_WRITE | PROT_EXEC)))
			fail("made a device mapping writable or executable");
		if (prot != PROT_READ)
			s->state = S_UNKNOWN;
	}
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
	int k = pick_used_slot(), adv = advice[below(sizeof(advice) / sizeof(advice[0]))];
	struct slot *s;
	uintptr_t a;
	size_t len;

	if (k < 0)
		return;
	s = &self->slot[k];
	a = s->state == S_DEV ? s->addr + PAGE * below(s->len / PAGE) : slot_addr(k);
	len = s->state == S_DEV ? PAGE * (1 + below((s->addr + s->len - a) / PAGE))
				: PAGE * (1 + below(8));
	begin(OP_MADVISE, "madvise(%#lx, %#zx, %d) slot %d state %d", a, len, adv, k, s->state);
	if (CALL(madvise((void *)a, len, adv)) == 0 && s->state == S_DEV) {
		/* Advice that only hints keeps the mapping as it was. */
		if (adv != MADV_NORMAL && adv != MADV_RANDOM && adv != MADV_SEQUENTIAL &&
		    adv != MADV_WILLNEED && adv != MADV_DONTDUMP && adv != MADV_DODUMP &&
		    adv != MADV_COLD && adv != MADV_PAGEOUT)
			s->state = S_UNKNOWN;
		else if (chance(50))
			touch(k);
	}
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
	a = s->state == S_DEV ? s->addr : slot_addr(k);
	len = s->state == S_DEV ? s->len : PAGE * (1 + below(8));
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
		if (s->state == S_DEV)
			touch(k);
		break;
	}
}
