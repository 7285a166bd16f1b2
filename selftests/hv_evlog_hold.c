// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_hold PER_CPU [FILE VALUE]: open /dev/hv_evlog as its consumer,
 * map every buffer, ask for PER_CPU buffers per CPU (HV_EVLOG_IOC_RESIZE),
 * then, if given, write VALUE to FILE (e.g. a CPU's sysfs online file),
 * and keep the mapping until standard input ends. Prints, one line each:
 *   resize errno=N
 *   write errno=N ms=M     (the write's time, CLOCK_MONOTONIC)
 * so that a test can change the group while buffers that a resize retires
 * stay mapped. Exits 0 when it got as far as holding the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../include/uapi/linux/hv_evlog.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct hv_evlog_info info = { 0 };
	__u32 per_cpu;
	size_t len;
	char buf[64];
	void *p;
	int fd;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s PER_CPU [FILE VALUE]\n", argv[0]);
		return 2;
	}
	per_cpu = strtoul(argv[1], NULL, 0);
	fd = open("/dev/hv_evlog", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, HV_EVLOG_IOC_INFO, &info)) {
		perror("/dev/hv_evlog");
		return 1;
	}
	len = (size_t)info.buffer_count * info.buffer_size;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("resize errno=%d\n", ioctl(fd, HV_EVLOG_IOC_RESIZE, &per_cpu) ? errno : 0);
	fflush(stdout);
	if (argc == 4) {
		long long t0 = now_ms(), ms;
		int wfd = open(argv[2], O_WRONLY | O_CLOEXEC), err = 0;

		if (wfd < 0 || write(wfd, argv[3], strlen(argv[3])) < 0)
			err = errno;
		ms = now_ms() - t0;
		if (wfd >= 0)
			close(wfd);
		printf("write errno=%d ms=%lld\n", err, ms);
		fflush(stdout);
	}
	while (read(0, buf, sizeof(buf)) > 0)
		;
	munmap(p, len);
	close(fd);
	return 0;
}
