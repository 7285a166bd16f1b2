// SPDX-License-Identifier: GPL-2.0
/*
 * Hits WARN_ON at load on purpose: the harness self-test passes only when
 * the console check reports it.
 */
#include <linux/module.h>

static int __init harness_warn_init(void)
{
	WARN_ON(1);
	return 0;
}
module_init(harness_warn_init);

MODULE_DESCRIPTION("hv_evlog harness self-test: one WARN_ON");
MODULE_LICENSE("GPL");
