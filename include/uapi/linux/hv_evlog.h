/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hv_evlog: Hyper-V hypervisor event log buffers, mapped read-only.
 *
 * The one ABI header for the module, the hv-evlog tool and the selftests.
 *
 *   fd = open("/dev/hv_evlog", O_RDONLY);          one consumer at a time
 *   (an O_WRONLY open is a control file beside it: INFO, BUFFERS, FLUSH,
 *   SET_SOURCES and RESIZE only)
 *   ioctl(fd, HV_EVLOG_IOC_INFO, &info);            geometry
 *   ioctl(fd, HV_EVLOG_IOC_BUFFERS, &table);        per-buffer table
 *   base = mmap(NULL, info.buffer_count * info.buffer_size, PROT_READ,
 *               MAP_SHARED, fd, 0);                 buffer i at i * buffer_size
 *   (PROT_READ and MAP_SHARED only; page-aligned windows of the buffers may be
 *   mapped too; the mapping stays valid after close() until munmap())
 *   poll(fd, POLLIN) / read(fd, &rec, sizeof(rec)); one record per completed buffer
 *   ... decode entries in base + rec.buffer_index * info.buffer_size ...
 *   ioctl(fd, HV_EVLOG_IOC_RELEASE, &rec.buffer_index);   hand it back
 *   poll(fd, POLLPRI): the buffer table changed (a resize); read it again,
 *   map the new buffers, munmap the retired ones
 *
 * The compatibility path, as Microsoft's driver hands buffers out (copied,
 * then released): instead of decoding the mapping and RELEASE,
 *   struct hv_evlog_copy c = { .buffer_index = rec.buffer_index,
 *                              .addr = (uintptr_t)mem, .size = sizeof(mem) };
 *   ioctl(fd, HV_EVLOG_IOC_COPY, &c);   c.bytes bytes copied, buffer released
 *
 * Every buffer starts with the hypervisor's buffer header (header_size
 * bytes); entries follow, each 8-byte aligned:
 * { __u32 context; __u16 size; __u16 type; __u64 timestamp; payload },
 * size counting the whole entry with its 16-byte header, the next entry at
 * the current one plus size rounded up to 8. The entries of a completed
 * buffer are the rec.bytes_used bytes from header_size on: bytes_used counts
 * entry bytes only, from the END of the buffer header, exactly as the
 * header's next_buffer_offset does (it is that value). Likewise the header's
 * buffer_size counts the bytes after the header.
 */
#ifndef _UAPI_LINUX_HV_EVLOG_H
#define _UAPI_LINUX_HV_EVLOG_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HV_EVLOG_ABI_VERSION	2
#define HV_EVLOG_DEVICE		"/dev/hv_evlog"

/* Free in Documentation/userspace-api/ioctl/ioctl-number.rst (0xB8: mshv). */
#define HV_EVLOG_IOC_MAGIC	0xB9

#define HV_EVLOG_MAX_BUFFERS	512
/* CPU bitmaps cover this many CPUs (16 x 64). */
#define HV_EVLOG_MAX_CPUS	1024
#define HV_EVLOG_CPU_WORDS	(HV_EVLOG_MAX_CPUS / 64)
/* HV_EVLOG_IOC_FLUSH: every CPU. */
#define HV_EVLOG_ALL_CPUS	0xFFFFFFFFu

/* Group geometry (HV_EVLOG_IOC_INFO). */
struct hv_evlog_info {
	__u32 abi_version;	/* HV_EVLOG_ABI_VERSION */
	__u32 info_size;	/* sizeof(struct hv_evlog_info) */
	__u32 type;		/* 0 global, 1 local diagnostics, 2 system diagnostics */
	__u32 mode;		/* 0 regular, 1 circular */
	__u32 time_basis;	/* 0 reference (100 ns), 1 TSC */
	__u32 buffer_count;	/* buffers in the group's rotation now */
	__u32 buffer_size;	/* bytes; a multiple of the page size */
	__u32 threshold;	/* completed buffers per notification */
	__u64 sources;		/* enabled event source group mask (bit 0 never set) */
	__u32 header_size;	/* bytes of buffer header before the entries */
	__u32 record_size;	/* sizeof(struct hv_evlog_record) */
	__u32 backend;		/* 0 Microsoft hypervisor, 1 simulated */
	__u32 completion;	/* HV_EVLOG_COMPLETION_*: what makes records appear */
	__u32 max_buffers;	/* the group maximum: every index is below it */
	__u32 generation;	/* changes whenever the buffer table changes */
};

/* info.completion: records come from a periodic scan of the headers alone. */
#define HV_EVLOG_COMPLETION_SCAN	0
/* ...from the hypervisor's completion messages at once, the scan as a safety net. */
#define HV_EVLOG_COMPLETION_MESSAGES	1

/* One buffer of the group. */
struct hv_evlog_buffer_info {
	__u32 index;
	__u32 pxm;		/* proximity domain passed at creation */
	__u32 node;		/* NUMA node of its pages */
	__u32 flags;		/* HV_EVLOG_BUFFER_* */
	__u64 mmap_offset;	/* index * buffer_size */
	__u64 cpus[HV_EVLOG_CPU_WORDS];	/* CPUs it serves */
};

/*
 * buffer_info.flags: taken out of the hypervisor's rotation by a
 * HV_EVLOG_IOC_RESIZE; it is deleted once no mapping covers it (munmap it).
 * Its pages are out of reach: touching it through a mapping raises SIGBUS.
 */
#define HV_EVLOG_BUFFER_RETIRED	0x1
/* buffer_info.flags: the CPU it serves is offline (CPU hotplug). */
#define HV_EVLOG_BUFFER_CPU_OFFLINE	0x2

/*
 * HV_EVLOG_IOC_BUFFERS: fill up to count entries, one per existing buffer,
 * in index order from index first on.
 */
struct hv_evlog_buffers {
	__u32 first;		/* in */
	__u32 count;		/* in: room in table; out: entries filled */
	__u64 table;		/* in: user pointer to struct hv_evlog_buffer_info[count] */
	__u32 generation;	/* out: info.generation the table is from */
	__u32 reserved;		/* out: 0 */
};

/* What read() returns: one record per completed buffer. */
struct hv_evlog_record {
	__u32 buffer_index;
	__u32 cpu;		/* Linux CPU id that filled it (as FLUSH takes), or HV_EVLOG_NO_CPU */
	__u64 sequence;		/* 0, 1, 2, ... from each open; a gap = records dropped */
	__u32 bytes_used;	/* entry bytes after the header (next_buffer_offset) */
	__u32 events_lost;
	__u64 timestamp;	/* buffer header time stamp, in the time basis */
	__u32 vp;		/* the header's logical_processor: the hypervisor's VP index */
	__u32 reserved;		/* 0 */
};

/* record.cpu: no Linux CPU has the header's VP index. */
#define HV_EVLOG_NO_CPU		0xFFFFFFFFu

/*
 * HV_EVLOG_IOC_STATS: counted from the open of this file.
 * HV_EVLOG_IOC_LIFETIME_STATS: the same counters summed over every open
 * since the module set the buffer group up (its load), so that they still
 * tell after a consumer closed the device what it consumed.
 */
struct hv_evlog_stats {
	__u64 completions;	/* buffers seen complete */
	__u64 releases;		/* buffers handed back */
	__u64 events_lost;	/* sum of events_lost over completions */
	__u64 records_dropped;	/* records lost to a full queue or withdrawn (circular mode) */
	__u64 flushes;
};

/*
 * HV_EVLOG_IOC_COPY: the copying (compatibility) path. Copies a completed
 * buffer whose record was read, from its header through its entries
 * (header_size + bytes_used bytes), to addr, then releases it as
 * HV_EVLOG_IOC_RELEASE does. -EINVAL when RELEASE would refuse the buffer or
 * size is too small (nothing copied, nothing released); -EFAULT when addr
 * cannot take the bytes (not released).
 */
struct hv_evlog_copy {
	__u32 buffer_index;	/* in */
	__u32 bytes;		/* out: bytes copied */
	__u64 addr;		/* in: user pointer to size bytes */
	__u64 size;		/* in */
};

#define HV_EVLOG_IOC_INFO	 _IOR(HV_EVLOG_IOC_MAGIC, 0x00, struct hv_evlog_info)
#define HV_EVLOG_IOC_BUFFERS	 _IOWR(HV_EVLOG_IOC_MAGIC, 0x01, struct hv_evlog_buffers)
/*
 * Hand a completed buffer back; -EINVAL unless it is complete and its record
 * was read (a buffer is released once per completion).
 */
#define HV_EVLOG_IOC_RELEASE	 _IOW(HV_EVLOG_IOC_MAGIC, 0x02, __u32)
/*
 * Complete early the buffer(s) one CPU is filling, or all in-use buffers
 * (HV_EVLOG_ALL_CPUS); the module flushes each such buffer by its index.
 */
#define HV_EVLOG_IOC_FLUSH	 _IOW(HV_EVLOG_IOC_MAGIC, 0x03, __u32)
#define HV_EVLOG_IOC_SET_SOURCES _IOW(HV_EVLOG_IOC_MAGIC, 0x04, __u64)
#define HV_EVLOG_IOC_STATS	 _IOR(HV_EVLOG_IOC_MAGIC, 0x05, struct hv_evlog_stats)
#define HV_EVLOG_IOC_LIFETIME_STATS _IOR(HV_EVLOG_IOC_MAGIC, 0x06, struct hv_evlog_stats)
#define HV_EVLOG_IOC_COPY	 _IOWR(HV_EVLOG_IOC_MAGIC, 0x07, struct hv_evlog_copy)
/*
 * Buffers per served CPU, 1 to what max_buffers allows. Growing creates,
 * maps and announces buffers (poll() reports POLLPRI to the consumer);
 * shrinking takes buffers out of the rotation once each is free, and
 * deletes each once no mapping covers it. See Documentation/hv_evlog.rst.
 */
#define HV_EVLOG_IOC_RESIZE	 _IOW(HV_EVLOG_IOC_MAGIC, 0x08, __u32)

#endif /* _UAPI_LINUX_HV_EVLOG_H */
