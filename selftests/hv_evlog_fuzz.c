// SPDX-License-Identifier: GPL-2.0
/*
 * hv_evlog_fuzz: random ioctl/mmap/read/poll traffic on /dev/hv_evlog from
 * several threads while the simulator logs events.
 *
 *   hv_evlog_fuzz [-s SEED] [-n CALLS] [-t SECONDS] [-j THREADS] [-x]
 *
 * Bounded in calls (default 10000, all threads together) and time (default
 * 60 s), whichever ends first. The seed (default: from the clock) is printed
 * first; -s SEED replays every thread's sequence of calls (thread t draws
 * from SEED and t), though not their interleaving, which the scheduler
 * decides.
 *
 * Random calls are not judged by their result, except:
 *  - every failure must carry an errno of the call's allowed set
 *    (hv_evlog_fuzz_oracle.c, from Documentation/hv_evlog.rst and the
 *    module's code for the simulated backend, plus what the kernel's own mm
 *    code returns for the mm calls);
 *  - an ioctl command the device does not define fails with ENOTTY;
 *  - a call whose user pointer cannot be written (NULL, unmapped, kernel or
 *    non-canonical addresses, read-only memory, a read-only mapping of the
 *    device, a range that runs into a guard page) or read (the same, less
 *    the read-only ones) must fail: success would mean the kernel wrote to
 *    or read from memory the caller does not own;
 *  - what succeeds returns what the ABI says: INFO and BUFFERS equal the
 *    values read at the start while the table is of the start's generation
 *    (a RESIZE changes it: then every entry is still one of an index below
 *    max_buffers, at its offset), records name buffers below max_buffers,
 *    STATS never counts more releases than completions, poll reports only
 *    POLLIN, and POLLPRI once the table changed;
 *  - mmap succeeds only for PROT_READ, MAP_SHARED and a range inside the
 *    max_buffers indices, and never grows through mremap;
 *  - RESIZE from a control file (O_WRONLY), the consumer's file or a fresh
 *    control open, 1 to the maximum per CPU, 0 and past the maximum
 *    (EINVAL); one that succeeds leaves count x CPUs buffers (unless -x);
 *  - after every mm call and every RESIZE, each page of each intact mapping
 *    of the thread shows its own buffer: the page at mapping offset o of a
 *    mapping of device offset off is buffer (off + o) / buffer_size, whose
 *    header, where it starts and is set up, names that buffer and the
 *    group's buffer size; or the read raises SIGBUS, and then the table
 *    shows that buffer retired (a RESIZE took it out while it was mapped).
 *    A buffer the table showed retired before the read never shows data,
 *    and no mapped index leaves the table;
 *  - partial munmap and mremap of any page-aligned part of a mapping (head,
 *    middle, tail; moved with MREMAP_MAYMOVE | MREMAP_FIXED, or shrunk in
 *    place without) keep what is left tracked exactly;
 *  - while the device is open, open() fails with EBUSY; when every file and
 *    mapping is gone, exactly one of the threads racing to open gets it;
 *  - no signal but the program's own SIGUSR1 (sent to interrupt blocking
 *    reads and RESIZE) arrives: memory of a mapping is only read while the
 *    mapping is known intact, so SIGSEGV is a failure, and so is SIGBUS but
 *    for a buffer that the table shows retired;
 *  - no call blocks for 30 s;
 *  - at the end, with every mapping gone, sources off and every buffer
 *    handed back: RESIZE to the most buffers a CPU had at the start
 *    succeeds at once (deleting whatever a RESIZE retired), and so do
 *    RESIZE 1 and back; each leaves that many per CPU and nothing retired
 *    (-n 0: only this).
 *
 * -x: the table also changes from outside (CPU hotplug, resizes from a
 * shell): no exact count after a RESIZE, and no end checks, which the
 * caller runs afterwards (-n 0).
 *
 * The run is split into epochs of a few hundred calls. In each, the threads
 * race to open the device (one wins), work on their own dup() of that file
 * and on their own mappings, and at the end unmap and close everything, so
 * the file's release runs once per epoch while epoll watches it.
 *
 * Mappings are placed in each thread's own address zone (slots of 16 MiB
 * far from where the kernel places mappings on its own), so that MAP_FIXED,
 * partial munmap and mremap never touch memory the program did not map
 * there. Mappings the kernel places itself are unmapped whole at once.
 *
 * Exit status: 0 passed, 1 failed, 4 skipped (no simulated group).
 */
#include "hv_evlog_fuzz.h"

static struct thread threads[MAX_THREADS];
static int nthreads = 4;
static uint64_t seed;
static uint64_t max_calls = 10000;
static unsigned int max_seconds = 60;
static struct timespec t_start;

/* Geometry and buffer table read at the start: the answers to compare. */
struct hv_evlog_info info0;
struct hv_evlog_buffer_info *table0;
uint32_t table0_count;
uint64_t group_size;
long ncpus;
/* Buffers per served CPU at the start, and the served CPUs. */
uint32_t per_cpu0, served;
int outside;

_Atomic uint64_t total_calls;
static _Atomic int stop;
static _Atomic int failed;
static _Atomic int done;
static _Atomic uint64_t epochs;

/* The epoch's file: the fd of the thread that won the open race. */
_Atomic int epoch_fd = -1;
static _Atomic int epoch_owner = -1;
static _Atomic int64_t epoch_budget;
static int go_on = 1;
static pthread_barrier_t barrier;

__thread struct thread *self;

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* splitmix64: seeds each thread's xorshift from the run's seed. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rnd(void)
{
	uint64_t x = self->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	self->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

int chance(unsigned int percent)
{
	return below(100) < percent;
}

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(STDOUT_FILENO, line, n) < 0)
		_exit(1);
}

void fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first few failures are enough to act on. */
	if (atomic_fetch_add(&failed, 1) < 10)
		say("# FAIL (seed %" PRIu64 ", thread %d, call %" PRIu64 "): %s: %s\n",
		    seed, self ? self->id : -1, self ? self->calls : 0,
		    self ? self->what : "", msg);
	atomic_store(&stop, 1);
}

/* Records the call about to be made, for the reports. */
void begin(enum op op, const char *fmt, ...)
{
	va_list ap;

	self->op = op;
	va_start(ap, fmt);
	vsnprintf(self->what, sizeof(self->what), fmt, ap);
	va_end(ap);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* A read of a mapping that a retired buffer may make fault. */
	if (sig == SIGBUS && self && self->probing) {
		self->probing = 0;
		siglongjmp(self->probe_jump, 1);
	}
	say("# FAIL (seed %" PRIu64 ", thread %d, call %" PRIu64 "): signal %d (%s) at %p during %s\n",
	    seed, self ? self->id : -1, self ? self->calls : 0, sig, strsignal(sig),
	    si->si_addr, self ? self->what : "?");
	_exit(1);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* ---------------------------------------------------------------------- */
/* Threads and epochs                                                     */
/* ---------------------------------------------------------------------- */

static void one_call(void)
{
	unsigned int r = below(1000);

	if (r < 60)
		do_info();
	else if (r < 120)
		do_buffers();
	else if (r < 180)
		do_release();
	else if (r < 230)
		do_flush();
	else if (r < 260)
		do_sources();
	else if (r < 285)
		do_stats();
	else if (r < 300)
		do_copy();
	else if (r < 380)
		do_ioctl_other();
	else if (r < 500)
		do_read();
	else if (r < 550)
		do_poll();
	else if (r < 580)
		do_epoll();
	else if (r < 720)
		do_mmap();
	else if (r < 780)
		do_munmap();
	else if (r < 840)
		do_mremap();
	else if (r < 870)
		do_mprotect();
	else if (r < 910)
		do_madvise();
	else if (r < 950)
		do_misc_mm();
	else if (r < 965)
		do_open();
	else if (r < 975)
		do_resize();
	else
		do_file_misc();
}

static int out_of_budget(void)
{
	return atomic_load(&stop) || atomic_load(&total_calls) >= max_calls ||
	       elapsed() >= max_seconds;
}

/* All threads race to open the device; exactly one may win. */
static void open_race(void)
{
	double t0 = elapsed();
	int fd;

	for (;;) {
		begin(OP_OPEN, "open(%s) racing the other threads", HV_EVLOG_DEVICE);
		fd = CALL(open(HV_EVLOG_DEVICE, (chance(50) ? O_RDONLY : O_RDWR) | O_CLOEXEC));
		if (fd >= 0) {
			int none = -1;

			if (!atomic_compare_exchange_strong(&epoch_owner, &none, self->id)) {
				fail("two threads hold the device: thread %d and this one", none);
				close(fd);
				return;
			}
			atomic_store(&epoch_fd, fd);
			atomic_store(&epoch_budget, 50 + below(800));
			return;
		}
		if (atomic_load(&epoch_owner) >= 0 || atomic_load(&stop))
			return;
		if (elapsed() - t0 > 5) {
			fail("the device stayed busy 5 s after every file and mapping was gone");
			return;
		}
		sched_yield();
	}
}

static void *worker(void *arg)
{
	struct thread *t = arg;

	self = t;
	for (;;) {
		pthread_barrier_wait(&barrier);
		if (!go_on)
			break;
		open_race();
		pthread_barrier_wait(&barrier);
		if (atomic_load(&epoch_fd) >= 0) {
			redup();
			/*
			 * Every epoch's file goes to the same epoll set; the
			 * entry of the previous file went with its release.
			 */
			begin(OP_EPOLL_CTL, "epoll_ctl(%d, ADD, %d)", t->epfd, t->fd);
			struct epoll_event ev = { .events = EPOLLIN };

			CALL(epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->fd, &ev));
			while (atomic_fetch_sub(&epoch_budget, 1) > 0 && !out_of_budget())
				one_call();
		}
		/* The end of the epoch: every mapping and file of this thread. */
		for (int k = 0; k < SLOTS; k++)
			if (t->slot[k].state != S_EMPTY)
				free_slot(k);
		if (t->fd >= 0) {
			begin(OP_DUP, "close(%d) at the end of the epoch", t->fd);
			CALL(close(t->fd));
			t->fd = -1;
		}
		if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
			int fd = atomic_exchange(&epoch_fd, -1);

			if (fd >= 0)
				close(fd);
			atomic_store(&epoch_owner, -1);
			atomic_fetch_add(&epochs, 1);
			go_on = !out_of_budget();
		}
	}
	atomic_fetch_add(&done, 1);
	return NULL;
}

static int setup_thread(struct thread *t, int id)
{
	uint64_t x = seed + (uint64_t)id * 0x1000193;
	char *g;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->fd = -1;
	t->rng = splitmix(&x) | 1;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->ctl = open(HV_EVLOG_DEVICE, O_WRONLY | O_CLOEXEC);
	t->tab = calloc(info0.max_buffers, sizeof(*t->tab));
	g = mmap(NULL, ARENA_SIZE + 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->epfd < 0 || t->ctl < 0 || !t->tab || g == MAP_FAILED)
		return -1;
	t->arena = g + PAGE;
	t->ro = g + ARENA_SIZE + 2 * PAGE;
	if (mprotect(t->arena, ARENA_SIZE, PROT_READ | PROT_WRITE) ||
	    mprotect(t->ro, PAGE, PROT_READ))
		return -1;
	return 0;
}

/* The answers to compare with: geometry and buffer table, read once. */
static int baseline(void)
{
	struct hv_evlog_buffers req;
	int fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		say("# cannot open %s: %s\n", HV_EVLOG_DEVICE, strerror(errno));
		return -1;
	}
	table0 = calloc(HV_EVLOG_MAX_BUFFERS, sizeof(*table0));
	req = (struct hv_evlog_buffers){ .count = HV_EVLOG_MAX_BUFFERS,
					 .table = (uintptr_t)table0 };
	if (!table0 || ioctl(fd, HV_EVLOG_IOC_INFO, &info0) ||
	    ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req)) {
		say("# INFO/BUFFERS failed: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	table0_count = req.count;
	group_size = (uint64_t)info0.buffer_count * info0.buffer_size;
	/*
	 * The served CPUs (each buffer in the rotation serves one) and the
	 * most buffers one has: after a RESIZE that a signal interrupted
	 * some may have more than others, and retired ones may be listed.
	 */
	for (uint32_t i = 0; i < req.count; i++) {
		const struct hv_evlog_buffer_info *b = &table0[i];
		uint32_t same = 0, before = 0;

		if (b->flags & HV_EVLOG_BUFFER_RETIRED)
			continue;
		for (uint32_t j = 0; j < req.count; j++) {
			if ((table0[j].flags & HV_EVLOG_BUFFER_RETIRED) ||
			    memcmp(table0[j].cpus, b->cpus, sizeof(b->cpus)))
				continue;
			same++;
			before += j < i;
		}
		served += !before;
		if (same > per_cpu0)
			per_cpu0 = same;
	}
	if (!served) {
		say("# no buffer in the rotation\n");
		return -1;
	}
	return 0;
}

/* The non-retired buffers of the table now, and whether any is retired. */
static uint32_t live_buffers(int fd, int *retired)
{
	struct hv_evlog_buffers req = { .count = info0.max_buffers,
					.table = (uintptr_t)self->tab };
	uint32_t live = 0;

	*retired = 0;
	if (ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req))
		return UINT32_MAX;
	for (uint32_t i = 0; i < req.count; i++) {
		*retired += !!(self->tab[i].flags & HV_EVLOG_BUFFER_RETIRED);
		live += !(self->tab[i].flags & HV_EVLOG_BUFFER_RETIRED);
	}
	return live;
}

/*
 * RESIZE to per_cpu: at once (within a second: no wait for a mapping),
 * then per_cpu buffers per served CPU, none retired.
 */
static void end_resize(int fd, uint32_t per_cpu)
{
	double t0 = elapsed(), took;
	uint32_t live;
	int retired, r;

	begin(OP_RESIZE, "end: ioctl(%d, RESIZE, {%u}) with nothing mapped", fd, per_cpu);
	r = ioctl(fd, HV_EVLOG_IOC_RESIZE, &per_cpu);
	took = elapsed() - t0;
	if (r)
		fail("failed: %s", strerror(errno));
	else if (took > 1)
		fail("took %.1f s", took);
	live = live_buffers(fd, &retired);
	if (live != per_cpu * served || retired)
		fail("then %u buffers in the rotation, %d retired; expected %u, 0", live, retired,
		     per_cpu * served);
	say("# end: RESIZE %u: %s in %.2f s, %u buffers, %d retired\n", per_cpu,
	    r ? strerror(errno) : "ok", took, live, retired);
}

/*
 * What a resize left behind once every mapping is gone: sources off, every
 * buffer completed, read and released (as a consumer), then RESIZE to the
 * most buffers a CPU had at the start (a RESIZE that a signal interrupted
 * may leave CPUs uneven) deletes every buffer a RESIZE retired and takes
 * out or adds the rest at once; RESIZE 1 and back then work at once too.
 */
static void end_checks(void)
{
	struct hv_evlog_record rec[HV_EVLOG_MAX_BUFFERS];
	uint32_t all = HV_EVLOG_ALL_CPUS;
	uint64_t none = 0;
	double t0 = elapsed();
	ssize_t got;
	int fd;

	self = &threads[0];
	while ((fd = open(HV_EVLOG_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno != EBUSY || elapsed() - t0 > 5) {
			fail("end: open: %s", strerror(errno));
			return;
		}
		sched_yield();
	}
	if (ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &none) || ioctl(fd, HV_EVLOG_IOC_FLUSH, &all))
		fail("end: sources off and FLUSH: %s", strerror(errno));
	for (int pass = 0; pass < 2; pass++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		while ((got = read(fd, rec, sizeof(rec))) > 0)
			for (size_t i = 0; i < got / sizeof(rec[0]); i++)
				ioctl(fd, HV_EVLOG_IOC_RELEASE, &rec[i].buffer_index);
	}
	end_resize(fd, per_cpu0);
	end_resize(fd, 1);
	end_resize(fd, per_cpu0);
	if (ioctl(fd, HV_EVLOG_IOC_SET_SOURCES, &info0.sources))
		fail("end: sources back to %#llx: %s", (unsigned long long)info0.sources,
		     strerror(errno));
	close(fd);
}

static void summary(void)
{
	uint64_t count[OP_COUNT] = { 0 }, ok[OP_COUNT] = { 0 }, err[OP_COUNT][134] = { { 0 } };

	for (int t = 0; t < nthreads; t++)
		for (int o = 0; o < OP_COUNT; o++) {
			count[o] += threads[t].count[o];
			ok[o] += threads[t].ok[o];
			for (int e = 0; e < 134; e++)
				err[o][e] += threads[t].err[o][e];
		}
	for (int o = 0; o < OP_COUNT; o++) {
		char line[400];
		int n = snprintf(line, sizeof(line), "#   %-17s %8" PRIu64 " calls %8" PRIu64 " ok",
				 op_name[o], count[o], ok[o]);

		for (int e = 0; e < 134 && n < (int)sizeof(line) - 40; e++)
			if (err[o][e])
				n += snprintf(line + n, sizeof(line) - n, ", %s %" PRIu64,
					      strerrorname_np(e) ? strerrorname_np(e) : "?", err[o][e]);
		say("%s\n", line);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct sigaction su = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	uint64_t last = 0;
	double last_t = 0, last_report = 0;
	int opt;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((opt = getopt(argc, argv, "s:n:t:j:x")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			max_calls = strtoull(optarg, NULL, 0);
			break;
		case 't':
			max_seconds = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			nthreads = atoi(optarg);
			break;
		case 'x':
			outside = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n CALLS] [-t SECONDS] [-j THREADS] [-x]\n",
				argv[0]);
			return 64;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 4;
	setvbuf(stdout, NULL, _IONBF, 0);
	/* First, so that any failure can be replayed. */
	say("# seed %" PRIu64 " (replay: %s -s %" PRIu64 " -n %" PRIu64 " -t %u -j %d)\n", seed,
	    argv[0], seed, max_calls, max_seconds, nthreads);
	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (baseline())
		return 1;
	if (info0.backend != 1) {
		say("# SKIP: the allowed errnos are the simulated backend's (backend %u)\n",
		    info0.backend);
		return 4;
	}
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGUSR1, &su, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_barrier_init(&barrier, NULL, nthreads);
	for (int i = 0; i < nthreads; i++)
		if (setup_thread(&threads[i], i)) {
			say("# thread set-up failed: %s\n", strerror(errno));
			return 1;
		}
	for (int i = 0; i < nthreads; i++)
		pthread_create(&threads[i].tid, NULL, worker, &threads[i]);

	/* Interrupt blocking reads and polls every 20 ms; watch for hangs. */
	while (atomic_load(&done) < nthreads) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		uint64_t now_calls = atomic_load(&total_calls);
		double now = elapsed();

		nanosleep(&ts, NULL);
		for (int i = 0; i < nthreads; i++)
			pthread_kill(threads[i].tid, SIGUSR1);
		if (now_calls != last) {
			last = now_calls;
			last_t = now;
		} else if (now - last_t > HANG_SECONDS) {
			say("# FAIL (seed %" PRIu64 "): no call returned for %d s\n", seed, HANG_SECONDS);
			for (int i = 0; i < nthreads; i++)
				say("#   thread %d in: %s\n", i, threads[i].what);
			_exit(1);
		}
		if (now - last_report >= 10) {
			last_report = now;
			say("# %.0f s: %" PRIu64 " calls, %" PRIu64 " epochs\n", now, now_calls,
			    atomic_load(&epochs));
		}
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);

	double secs = elapsed();
	uint64_t calls = atomic_load(&total_calls);

	if (!outside)
		end_checks();
	summary();
	say("# fuzz: seed %" PRIu64 " calls %" PRIu64 " epochs %" PRIu64 " threads %d seconds %.1f calls/s %.0f failures %d\n",
	    seed, calls, atomic_load(&epochs), nthreads, secs, calls / (secs > 0 ? secs : 1),
	    atomic_load(&failed));
	return atomic_load(&failed) ? 1 : 0;
}
