// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_load MODULE [PARAMS...]: load a module with finit_module(2) and
 * report the exact errno, which busybox insmod only gives as text.
 * Prints "errno=N" and exits 0 when the call's outcome was reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char params[4096] = "";
	size_t used = 0;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODULE [PARAM=VALUE...]\n", argv[0]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		int n = snprintf(params + used, sizeof(params) - used, "%s%s",
				 i > 2 ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(params) - used) {
			fprintf(stderr, "parameters too long\n");
			return 2;
		}
		used += n;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[1]);
		return 2;
	}
	if (syscall(SYS_finit_module, fd, params, 0))
		printf("errno=%d\n", errno);
	else
		printf("errno=0\n");
	close(fd);
	return 0;
}
