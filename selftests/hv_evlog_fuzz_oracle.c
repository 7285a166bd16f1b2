// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: the oracle: the names of the calls, the errnos each may fail
 * with, and the judging of every call's result.
 */
#include "hv_evlog_fuzz.h"

const char *const op_name[OP_COUNT] = {
	"ioctl INFO", "ioctl BUFFERS", "ioctl RELEASE", "ioctl FLUSH",
	"ioctl SET_SOURCES", "ioctl STATS", "ioctl other", "read", "poll",
	"epoll_ctl", "epoll_wait", "mmap", "munmap", "mremap", "mprotect",
	"madvise", "mlock", "msync", "mincore", "open", "dup/close", "fcntl",
	"lseek/pread", "write", "bad fd", "ioctl LIFETIME_STATS", "ioctl COPY",
	"ioctl RESIZE",
};

/*
 * Allowed errnos per call. The device's (simulated backend): ioctls fail
 * with EFAULT for a bad pointer, EINVAL for a bad index, CPU, mask or
 * BUFFERS.first (the simulator's refusals of release and set sources map to
 * EINVAL; a flush that races a completion is not an error), ENOTTY for an
 * unknown command; read() with EINVAL (room for less than a record), EAGAIN
 * (O_NONBLOCK), EFAULT, EINTR (this program's SIGUSR1); open() with EBUSY.
 * The mm calls' sets are the kernel's for these arguments on a VM_PFNMAP |
 * VM_IO | VM_DONTEXPAND mapping without VM_MAYWRITE/VM_MAYEXEC.
 */
static const int allowed[OP_COUNT][10] = {
	[OP_INFO] = { EFAULT },
	[OP_BUFFERS] = { EFAULT, EINVAL },
	[OP_RELEASE] = { EFAULT, EINVAL },
	[OP_FLUSH] = { EFAULT, EINVAL },
	[OP_SOURCES] = { EFAULT, EINVAL },
	[OP_STATS] = { EFAULT },
	[OP_LIFETIME] = { EFAULT },
	[OP_COPY] = { EFAULT, EINVAL },
	/*
	 * EINVAL: 0 or past the maximum. EBUSY: a buffer to take out stayed
	 * mapped or unreleased for 5 s. EINTR: this program's SIGUSR1 came
	 * while it waited (what it did stays done).
	 */
	[OP_RESIZE] = { EFAULT, EINVAL, EBUSY, EINTR },
	[OP_IOCTL_OTHER] = { ENOTTY },
	[OP_READ] = { EINVAL, EAGAIN, EFAULT, EINTR },
	[OP_POLL] = { EINTR },
	[OP_EPOLL_CTL] = { EEXIST, ENOENT, EBADF },
	[OP_EPOLL_WAIT] = { EINTR },
	/*
	 * EBADF, ENODEV: the fd is -1 or the epoll file. EEXIST:
	 * MAP_FIXED_NOREPLACE on an occupied slot. EOPNOTSUPP:
	 * MAP_SHARED_VALIDATE with a flag it does not know or MAP_SYNC.
	 * EOVERFLOW: offset plus length past the file offset range.
	 */
	[OP_MMAP] = { EINVAL, EACCES, EPERM, ENOMEM, EOVERFLOW, EEXIST, EOPNOTSUPP, EBADF,
		      ENODEV },
	/* ENOMEM: splitting a mapping needs memory and a free map count. */
	[OP_MUNMAP] = { EINVAL, ENOMEM },
	[OP_MREMAP] = { EFAULT, EINVAL, ENOMEM },
	[OP_MPROTECT] = { EACCES, EINVAL, ENOMEM },
	/*
	 * EFAULT: MADV_POPULATE_* on a VM_PFNMAP/VM_IO range. EACCES:
	 * MADV_REMOVE without VM_MAYWRITE. EBADF: MADV_WILLNEED on an
	 * anonymous mapping without CONFIG_SWAP (mm/madvise.c). EAGAIN: a
	 * split that found no memory.
	 */
	[OP_MADVISE] = { EINVAL, EACCES, ENOMEM, EFAULT, EBADF, EAGAIN },
	/* EAGAIN: some pages could not be locked. */
	[OP_MLOCK] = { ENOMEM, EINVAL, EAGAIN },
	[OP_MSYNC] = { EBUSY, EINVAL, ENOMEM },
	[OP_MINCORE] = { ENOMEM, EINVAL },
	[OP_OPEN] = { EBUSY },
	[OP_LSEEK] = { ESPIPE },
	/* EBADF: opened O_RDONLY; EINVAL: O_RDWR, the device has no write. */
	[OP_WRITE] = { EBADF, EINVAL },
	[OP_BADFD] = { EBADF },
};

static int is_allowed(enum op op, int err)
{
	for (int i = 0; i < 10 && allowed[op][i]; i++)
		if (allowed[op][i] == err)
			return 1;
	return 0;
}

/*
 * Counts a call's result; a failure must have an allowed errno. Returns
 * ret unchanged (errno is kept).
 */
long judge(long ret, int err)
{
	enum op op = self->op;

	self->count[op]++;
	self->calls++;
	atomic_fetch_add(&total_calls, 1);
	if (ret >= 0) {
		self->ok[op]++;
	} else {
		self->err[op][err < 134 ? err : 0]++;
		if (!is_allowed(op, err))
			fail("errno %d (%s) is not one %s may return", err,
			     strerror(err), op_name[op]);
	}
	errno = err;
	return ret;
}
