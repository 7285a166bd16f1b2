// SPDX-License-Identifier: GPL-2.0
/*
 * Leaks one allocation on purpose: the harness self-test passes only when
 * the end-of-boot kmemleak scan reports it.
 */
#include <linux/module.h>
#include <linux/slab.h>

static void *volatile leak_slot;

static int __init harness_leak_init(void)
{
	leak_slot = kmalloc(128, GFP_KERNEL);
	if (!leak_slot)
		return -ENOMEM;
	/* Forget the only reference. */
	leak_slot = NULL;
	return 0;
}
module_init(harness_leak_init);

MODULE_DESCRIPTION("hv_evlog harness self-test: leaks 128 bytes");
MODULE_LICENSE("GPL");
