// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: user pointers: the addresses ioctls and reads copy through,
 * by class, and which classes a copy must fail on.
 */
#include "hv_evlog_fuzz.h"

const char *const ptr_name[P_CLASSES] = {
	"valid", "misaligned", "straddling a guard page", "NULL", "low",
	"unmapped", "kernel", "non-canonical", "read-only", "read-only device mapping",
	"random",
};

/* Must a copy of size > 0 to (write) or from (read) this class fail? */
int must_fail(enum ptr_class c, int write)
{
	switch (c) {
	case P_STRADDLE: case P_NULL: case P_LOW: case P_GUARD: case P_KERNEL:
	case P_NONCANON:
		return 1;
	case P_ROANON: case P_DEVRO:
		return write;
	default:
		return 0;
	}
}

static const uint64_t kernel_ptrs[] = {
	0xffff888000000000ULL,	/* direct map */
	0xffffffff81000000ULL,	/* kernel text */
	0xffffffffff600000ULL,	/* vsyscall page */
	0xfffffffffffff000ULL,
	0xffffffffffffffffULL,
	0xffffc90000000000ULL,	/* vmalloc */
};

static const uint64_t noncanon_ptrs[] = {
	0x0000800000000000ULL, 0x8000000000000000ULL, 0x7fffffffffffffffULL,
	0x00007ffffffff000ULL,	/* last user page: unmapped */
};

static const struct piece *dev_piece(void)
{
	int start = below(SLOTS);

	for (int i = 0; i < SLOTS; i++) {
		const struct slot *s = &self->slot[(start + i) % SLOTS];

		if (s->state == S_DEV)
			return &s->p[below(s->n)];
	}
	return NULL;
}

/*
 * A pointer for a copy of size bytes, and its class. P_VALID and
 * P_MISALIGNED point into the arena with room for size bytes (size is at
 * most ARENA_SIZE / 2 for them).
 */
uintptr_t gen_ptr(size_t size, enum ptr_class *cls)
{
	enum ptr_class c;
	unsigned int r = below(100);
	uintptr_t a = (uintptr_t)self->arena;

	if (size > ARENA_SIZE)
		size = ARENA_SIZE;
	c = r < 55 ? P_VALID : r < 62 ? P_MISALIGNED : r < 68 ? P_STRADDLE :
	    r < 71 ? P_NULL : r < 73 ? P_LOW : r < 77 ? P_GUARD :
	    r < 83 ? P_KERNEL : r < 86 ? P_NONCANON : r < 90 ? P_ROANON :
	    r < 96 ? P_DEVRO : P_RANDOM;
	if (c == P_STRADDLE && size < 2)
		c = P_VALID;
	*cls = c;
	switch (c) {
	case P_VALID:
		return a + (below((ARENA_SIZE - size) / 8 + 1)) * 8;
	case P_MISALIGNED:
		return a + below(ARENA_SIZE - size) + (size ? 0 : 1);
	case P_STRADDLE:
		/* The last 1 to size - 1 bytes fit, the rest hit the guard. */
		return a + ARENA_SIZE - 1 - below(size - 1);
	case P_NULL:
		return 0;
	case P_LOW:
		return 0x1000 + below(0xe000);
	case P_GUARD:
		return chance(50) ? a + ARENA_SIZE + below(PAGE) : a - PAGE + below(PAGE);
	case P_KERNEL:
		return kernel_ptrs[below(ARRAY_SIZE(kernel_ptrs))] - (chance(50) ? 0 : below(PAGE));
	case P_NONCANON:
		return noncanon_ptrs[below(ARRAY_SIZE(noncanon_ptrs))];
	case P_ROANON:
		return (uintptr_t)self->ro + below(PAGE - (size < PAGE ? size : PAGE) + 1);
	case P_DEVRO: {
		const struct piece *s = dev_piece();

		if (!s || s->len < size) {
			*cls = P_ROANON;
			return (uintptr_t)self->ro;
		}
		return s->addr + below(s->len - size + 1);
	}
	default:
		return rnd();
	}
}
