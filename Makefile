# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of hv_evlog.
#   make              build hv_evlog.ko against KDIR
#   make CLIPPY=1     the same, with clippy as the Rust compiler driver
#   make clean
# KDIR defaults to the cached test kernel built by scripts/build-kernel.sh,
# else to the running kernel's build tree.

HV_EVLOG_CACHE ?= /var/cache/hv-evlog
KDIR ?= $(if $(wildcard $(HV_EVLOG_CACHE)/kbuild-current/.hv-evlog-built),$(HV_EVLOG_CACHE)/kbuild-current,/lib/modules/$(shell uname -r)/build)

all modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

modules_install install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

.PHONY: all modules clean modules_install install
