// SPDX-License-Identifier: GPL-2.0
/*
 * Leaks allocations on purpose: the harness self-test passes only when the
 * end-of-boot kmemleak scan reports them. kmemleak can miss one object
 * whose address survives in some stale stack slot, so 32 are leaked; the
 * harness needs at least one report.
 */
#include <linux/module.h>
#include <linux/slab.h>

#define LEAKS 32

/* Each allocation's only reference passes through here, every store done. */
static void *leak_slot;

static noinline int leak_one(size_t size)
{
	WRITE_ONCE(leak_slot, kmalloc(size, GFP_KERNEL));
	if (!READ_ONCE(leak_slot))
		return -ENOMEM;
	/* Forget the only reference. */
	WRITE_ONCE(leak_slot, NULL);
	return 0;
}

static int __init harness_leak_init(void)
{
	int i, err;

	for (i = 0; i < LEAKS; i++) {
		err = leak_one(128 + 8 * i);
		if (err)
			return err;
	}
	return 0;
}
module_init(harness_leak_init);

MODULE_DESCRIPTION("hv_evlog harness self-test: leaks 32 allocations");
MODULE_LICENSE("GPL");
