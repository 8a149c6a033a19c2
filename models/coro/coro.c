/* coro.c: stacks, first-run setup and sanitizer bookkeeping around the assembly switch.
 *
 * Stacks are reserved with MAP_NORESERVE and committed by the kernel page by page on first
 * touch, so a 64 KiB stack that never goes deeper than one page costs one page. The guard
 * below each stack (one page, or what the caller asks for) is a "guard region"
 * (MADV_GUARD_INSTALL, Linux 6.13+) when the
 * kernel has them: it does not split the mapping, so a million stacks stay a handful of
 * VMAs instead of two million (vm.max_map_count is 65530 by default). Older kernels get a
 * PROT_NONE mprotect, which works the same but costs a VMA per stack.
 *
 * Every switch tells AddressSanitizer which stack is about to run (so it neither reports
 * false stack-buffer overflows nor loses fake frames) and ThreadSanitizer which fiber runs
 * (so it tracks happens-before per coroutine, not per thread). */
#include "coro.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#ifdef CORO_ASM
void coro__trampoline(void);
#else
#include <ucontext.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

void coro__start(coro *c);

static size_t coro_page(void)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* iovecs per process_madvise call: 64 (1 KiB of frame) keeps this helper cheap to call
 * from a deep stack; a batch of mn's stacks is 64, so that is still one call per batch. */
#define CORO_MADV_BATCH 64

/* Apply advice to n ranges of len bytes, the i-th at at(ctx, i): one process_madvise per
 * CORO_MADV_BATCH ranges where the kernel allows it on the calling process, else one
 * madvise each. Returns how many ranges took the advice (counting from the first): older
 * kernels refuse process_madvise on self (EPERM/ENOSYS) or the advice itself (EINVAL). */
static size_t coro_madvise_ranges(size_t n, char *(*at)(const void *ctx, size_t i), const void *ctx,
				 size_t len, int advice)
{
	size_t done = 0;
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	while (pidfd >= 0 && done < n) {
		struct iovec iov[CORO_MADV_BATCH];
		size_t k = n - done < CORO_MADV_BATCH ? n - done : CORO_MADV_BATCH;
		for (size_t i = 0; i < k; i++)
			iov[i] = (struct iovec){at(ctx, done + i), len};
		if (syscall(SYS_process_madvise, pidfd, iov, k, advice, 0) != (long)(k * len))
			break;
		done += k;
	}
	if (pidfd >= 0)
		close(pidfd);
	for (; done < n; done++)
		if (madvise(at(ctx, done), len, advice) != 0)
			break;
	return done;
}

typedef struct coro_grid {
	char *base;
	size_t stride;
} coro_grid;

static char *coro_grid_at(const void *ctx, size_t i)
{
	const coro_grid *g = ctx;
	return g->base + i * g->stride;
}

/* Guards of guard bytes for n stacks laid out every stride bytes from base: guard regions
 * in bulk where the kernel has them, else one mprotect each. */
static int coro_guard_install(char *base, size_t n, size_t stride, size_t guard)
{
	static int no_guard_regions;
	if (!no_guard_regions) {
		coro_grid g = {base, stride};
		size_t done = coro_madvise_ranges(n, coro_grid_at, &g, guard, MADV_GUARD_INSTALL);
		if (done == n)
			return 0;
		no_guard_regions = 1; /* fall back for good */
		base += done * stride;
		n -= done;
	}
	for (size_t i = 0; i < n; i++)
		if (mprotect(base + i * stride, guard, PROT_NONE) != 0)
			return -1;
	return 0;
}

int coro_stack_alloc_many(coro_stack *out, size_t n, size_t size, size_t guard, void **region,
			  size_t *region_size)
{
	size_t page = coro_page();
	size = (size + page - 1) & ~(page - 1);
	guard = guard ? (guard + page - 1) & ~(page - 1) : page;
	size_t stride = size + guard;
	if (n == 0 || size == 0) {
		errno = EINVAL;
		return -1;
	}
	char *base = mmap(NULL, stride * n, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	if (coro_guard_install(base, n, stride, guard) != 0) {
		int e = errno;
		munmap(base, stride * n);
		errno = e;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (coro_stack){.lo = base + i * stride + guard, .size = size,
				      .map = base + i * stride, .map_size = stride};
	if (region)
		*region = base;
	if (region_size)
		*region_size = stride * n;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static char *coro_top_page(const void *ctx, size_t i)
{
	const coro_stack *s = (const coro_stack *)ctx + i;
	return (char *)s->lo + s->size - coro_page();
}

void coro_stack_populate_top(const coro_stack *s, size_t n)
{
	coro_madvise_ranges(n, coro_top_page, s, coro_page(), MADV_POPULATE_WRITE); /* best effort */
}

int coro_stack_alloc(coro_stack *s, size_t size)
{
	return coro_stack_alloc_many(s, 1, size, 0, NULL, NULL);
}

void coro_stack_free(coro_stack *s)
{
	if (s->map)
		munmap(s->map, s->map_size);
	memset(s, 0, sizeof *s);
}

int coro_stack_guard_hit(const coro_stack *s, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)s->lo;
	return s->map && a >= (uintptr_t)s->map && a < lo;
}

void coro_init_thread(coro *c)
{
	memset(c, 0, sizeof *c);
#ifdef CORO_TSAN
	c->tsan_fiber = __tsan_get_current_fiber();
#endif
#ifdef CORO_ASAN
	/* ASan needs the bounds of the stack it switches back to. */
	pthread_attr_t at;
	if (pthread_getattr_np(pthread_self(), &at) == 0) {
		void *lo;
		size_t sz;
		if (pthread_attr_getstack(&at, &lo, &sz) == 0) {
			c->stack.lo = lo;
			c->stack.size = sz;
		}
		pthread_attr_destroy(&at);
	}
#endif
}

#ifndef CORO_ASM
/* Portable fallback: the ucontext lives at the top of the coroutine's stack, or in
 * thread-local storage for a thread's own coroutine. swapcontext also saves the signal
 * mask (a system call), which is why the assembly paths exist. */
static _Thread_local ucontext_t coro_thread_uc;
static void coro__uc_start(unsigned hi, unsigned lo)
{
	coro__start((coro *)(((uintptr_t)hi << 32) | lo));
}
#endif

void coro_init(coro *c, const coro_stack *s, void (*entry)(void *), void *arg)
{
	memset(c, 0, sizeof *c);
	c->stack = *s;
	c->entry = entry;
	c->arg = arg;
#ifdef CORO_ASAN
	__asan_unpoison_memory_region(s->lo, s->size); /* a reused stack's old frames */
#endif
#ifdef CORO_TSAN
	c->tsan_fiber = __tsan_create_fiber(0);
#endif
	uintptr_t top = ((uintptr_t)s->lo + s->size) & ~(uintptr_t)15;
#if defined(CORO_ASM) && defined(__x86_64__)
	/* Frame popped by coro__swap: r15 r14 r13 r12 rbx rbp, then the return address.
	 * After the ret, rsp = top, 16-byte aligned, so the trampoline's call enters
	 * coro__start with the alignment the ABI promises a function entry. */
	void **sp = (void **)top;
	*--sp = (void *)coro__trampoline;
	*--sp = NULL;      /* rbp */
	*--sp = (void *)c; /* rbx */
	*--sp = NULL;      /* r12 */
	*--sp = NULL;      /* r13 */
	*--sp = NULL;      /* r14 */
	*--sp = NULL;      /* r15 */
	c->sp = sp;
#elif defined(CORO_ASM) && defined(__aarch64__)
	void **sp = (void **)(top - 176);
	memset(sp, 0, 176);
	sp[0] = (void *)c;                 /* x19 */
	sp[11] = (void *)coro__trampoline; /* x30 */
	c->sp = sp;
#else
	ucontext_t *uc = (ucontext_t *)((top - sizeof(ucontext_t)) & ~(uintptr_t)63);
	getcontext(uc);
	uc->uc_stack.ss_sp = s->lo;
	uc->uc_stack.ss_size = (size_t)((uintptr_t)uc - (uintptr_t)s->lo);
	uc->uc_link = NULL;
	makecontext(uc, (void (*)(void))coro__uc_start, 2, (unsigned)((uintptr_t)c >> 32),
		    (unsigned)(uintptr_t)c);
	c->sp = uc;
#endif
}

static inline void coro__raw_switch(coro *from, coro *to)
{
#ifdef CORO_ASM
	coro__swap(&from->sp, to->sp);
#else
	if (!from->sp)
		from->sp = &coro_thread_uc;
	swapcontext((ucontext_t *)from->sp, (ucontext_t *)to->sp);
#endif
}

#ifndef CORO_SWITCH_INLINE
void coro_switch(coro *from, coro *to)
{
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber((void **)&from->asan_fake, to->stack.lo, to->stack.size);
#endif
#ifdef CORO_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	coro__raw_switch(from, to);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber((void *)from->asan_fake, NULL, NULL);
#endif
}
#endif

_Noreturn void coro_switch_final(coro *from, coro *to)
{
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(NULL, to->stack.lo, to->stack.size);
#endif
#ifdef CORO_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	coro__raw_switch(from, to);
	abort(); /* a finished coroutine was resumed */
}

void coro_destroy(coro *c)
{
#ifdef CORO_TSAN
	if (c->stack.map && c->tsan_fiber)
		__tsan_destroy_fiber(c->tsan_fiber);
#endif
	c->tsan_fiber = NULL;
	c->asan_fake = NULL;
}

void coro__start(coro *c)
{
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	c->entry(c->arg);
	fprintf(stderr, "coro: entry function returned\n");
	abort();
}
