/* coop_task.c: cooperative tasks on one thread, resumed by an event loop.
 *
 * Glossary. Loop: the code running on the thread's own stack (an epoll loop, or libuv's
 * uv_run) that decides which task runs next. Task: a stackful coroutine running a workload
 * function. Ready queue: FIFO of tasks to resume. Run stack: the one stack every task
 * executes on, above a guard wide enough that no frame can jump it (coop_guard.c).
 *
 * Problem. An event-loop model keeps very many tasks parked at once: 100k sleepers, the
 * 111,111 interior nodes of skynet waiting on their children, 1000 echo connections. A
 * private stack per task costs at least one page fault and one dirty page per task (100k
 * sleepers would spend ~100 ms faulting before they even sleep), and on kernels without guard
 * regions a second VMA for its guard page (vm.max_map_count defaults to 65530).
 * asyncio and Node pay a few hundred heap bytes per suspended coroutine, not a page.
 *
 * Chosen approach (greenlet's shared stack). Every task runs on one run stack (a wide guard
 * below it, and a fault handler naming the task that overflows it: coop_guard.c). A task
 * that parks stays on the run stack until another task needs it; only then is its live
 * part, [saved sp, top), copied to a heap buffer that grows to the deepest point it parked
 * at, and copied back before it resumes at the same addresses. A parked task thus costs its
 * real stack depth (typically a few hundred bytes), resuming the task that ran last costs nothing
 * extra, and a switch between two tasks costs two memcpy of their live frames. The context
 * switch itself is coro_switch.
 *
 * Invariant this imposes: memory on the run stack belongs to the task that owns the stack
 * right now. Nobody writes into a parked task's stack: channel elements wait in the task
 * record (xfer), results in the task record, and I/O done by other threads on a task's
 * behalf uses a bounce buffer when the task's buffer is on the run stack (coop_on_stack).
 *
 * Rejected: a private stack per task (limits above); stackless tasks (the workloads are
 * plain blocking C code written once for every backend).
 *
 * Scheduling is FIFO; coop_opts chooses what differs between asyncio and Node: draining
 * only the tasks ready at the start of a round (asyncio) or until empty (microtasks), and
 * whether spawn starts the child at once (a JS async call runs until its first await). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coop_int.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_UNDEFINED
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

#if defined(__SANITIZE_ADDRESS__)
#define COOP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COOP_ASAN 1
#endif
#endif

#ifdef COOP_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "stack copying needs coro's assembly switch: its saved sp is the lowest live byte"
#endif

static struct {
	int up;
	coop_opts o;
	coro loop;                 /* the loop's context, on the thread's own stack */
	coro_stack stack;          /* the run stack */
	unsigned char *top;        /* its highest address */
	coop_task *owner;          /* task whose frames are on the run stack, or NULL */
	coop_task *current;        /* task running now, or NULL in the loop */
	coop_task *head, *tail;    /* ready queue */
	size_t nready;
	size_t live;               /* spawned, not ended */
	coop_task *all;            /* every task not yet freed */
	uint64_t next_id;
} s;

static void oom(const char *what)
{
	fprintf(stderr, "coop: out of memory (%s)\n", what);
	abort();
}

int coop_init(const coop_opts *o)
{
	memset(&s, 0, sizeof s);
	s.o = *o;
	size_t size = o->stack_size ? o->stack_size : (size_t)1 << 20;
	if (coop_stack_alloc(&s.stack, size) != 0)
		return -1;
	if (coop_fault_install(&s.stack, o->on_overflow) != 0) {
		int e = errno;
		coro_stack_free(&s.stack);
		errno = e;
		return -1;
	}
	s.top = (unsigned char *)s.stack.lo + s.stack.size;
	coro_init_thread(&s.loop);
	s.up = 1;
	return 0;
}

static void task_free(coop_task *t)
{
	if (t->all_prev)
		t->all_prev->all_next = t->all_next;
	else
		s.all = t->all_next;
	if (t->all_next)
		t->all_next->all_prev = t->all_prev;
	if (t->started && !t->done)
		coro_destroy(&t->ctx);
	free(t->save);
	free(t->xfer);
	free(t);
}

void coop_fini(void)
{
	if (!s.up)
		return;
	while (s.all)
		task_free(s.all);
	coop_fault_remove();
	coro_stack_free(&s.stack);
	s.up = 0;
}

static void push_back(coop_task *t)
{
	t->next = NULL;
	if (s.tail)
		s.tail->next = t;
	else
		s.head = t;
	s.tail = t;
	s.nready++;
}

static void push_front(coop_task *t)
{
	t->next = s.head;
	s.head = t;
	if (!s.tail)
		s.tail = t;
	s.nready++;
}

static coop_task *pop(void)
{
	coop_task *t = s.head;
	s.head = t->next;
	if (!s.head)
		s.tail = NULL;
	s.nready--;
	return t;
}

void coop_wake(coop_task *t) { push_back(t); }
coop_task *coop_self(void) { return s.current; }
int coop_ready_empty(void) { return s.head == NULL; }
size_t coop_live(void) { return s.live; }
uint64_t coop_task_id(const coop_task *t) { return t->id; }
coop_fn coop_task_fn(const coop_task *t) { return t->fn; }

int coop_on_stack(const void *p, size_t n)
{
	const unsigned char *b = p, *lo = s.stack.lo;
	return b < s.top && b + n > lo;
}

void coop_xfer_reserve(coop_task *t, size_t n)
{
	if (t->xfer_cap >= n)
		return;
	unsigned char *x = realloc(t->xfer, n);
	if (!x)
		oom("channel element");
	t->xfer = x;
	t->xfer_cap = n;
}

/* ASan's detect_stack_use_after_return moves every local with its address taken to a
 * "fake stack" on the heap: the tasks would then keep their buffers in memory nobody
 * copies, coop_on_stack would answer no for them, and what runs is not the shared stack this
 * model is about. Refuse loudly rather than measure or test something else. */
static void check_locals_on_run_stack(void)
{
#ifdef COOP_ASAN
	volatile char here = 0;
	if (!coop_on_stack((const void *)&here, 1)) {
		fprintf(stderr, "coop: AddressSanitizer put a task's locals off the run stack "
				"(detect_stack_use_after_return); run with "
				"ASAN_OPTIONS=detect_stack_use_after_return=0\n");
		abort();
	}
#endif
}

static void task_entry(void *p)
{
	coop_task *t = p;
	check_locals_on_run_stack();
	t->result = t->fn(t->arg, t->len);
	t->done = 1;
	s.live--;
	if (t->joiner)
		push_back(t->joiner);
	coro_switch_final(&t->ctx, &s.loop);
}

coop_task *coop_spawn(coop_fn fn, const void *arg, size_t len)
{
	coop_task *t = malloc(sizeof *t + len);
	if (!t)
		return NULL;
	memset(t, 0, sizeof *t);
	t->id = ++s.next_id;
	t->fn = fn;
	t->len = len;
	if (len)
		memcpy(t->arg, arg, len);
	t->all_next = s.all;
	if (s.all)
		s.all->all_prev = t;
	s.all = t;
	s.live++;
	coop_task *self = s.current;
	if (s.o.eager_spawn && self) {
		push_front(self);
		push_front(t);
		coop_park();
	} else {
		push_back(t);
	}
	return t;
}

void coop_park(void)
{
	coop_task *t = s.current;
	coro_switch(&t->ctx, &s.loop);
}

void coop_wait(coop_waitq *q)
{
	coop_task *t = s.current;
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	coop_park();
}

coop_task *coop_wake_one(coop_waitq *q)
{
	coop_task *t = q->head;
	if (t) {
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
		push_back(t);
	}
	return t;
}

size_t coop_wake_all(coop_waitq *q)
{
	size_t n = 0;
	while (coop_wake_one(q))
		n++;
	return n;
}

void coop_yield(void)
{
	push_back(s.current);
	coop_park();
}

/* Copies of live frames. AddressSanitizer poisons the red zones between a frame's locals
 * and valgrind marks what lies below the last stack pointer it saw as dead; both are right
 * about ordinary stacks and wrong about frames being moved, so the copy is done bytewise
 * without instrumentation and the destination declared writable first. */
__attribute__((no_sanitize_address)) static void bytes_copy(unsigned char *dst,
							    const unsigned char *src, size_t n)
{
#ifdef COOP_ASAN
	volatile unsigned char *d = dst; /* not turned back into an intercepted memcpy */
	for (size_t i = 0; i < n; i++)
		d[i] = src[i];
#else
	memcpy(dst, src, n);
#endif
}

static void frames_copy(unsigned char *dst, const unsigned char *src, size_t n)
{
#ifdef COOP_ASAN
	/* the run stack still carries the poisoning of whichever frames were there last */
	__asan_unpoison_memory_region(dst, n);
#endif
	bytes_copy(dst, src, n);
}

/* Under ASan the red zones around a parked task's arrays travel with its frames: the shadow
 * bytes of [sp, top) (one per 8-byte granule; sp is 8-aligned, top page-aligned) are kept
 * after the frame bytes in the task's save buffer and written back when the frames are, so
 * an overflow of a stack array is reported after the task was evicted and resumed as it is
 * before. Without them the restored frames would be unpoisoned from end to end. */
#ifdef COOP_ASAN
static unsigned char *shadow_of(const void *p)
{
	size_t scale, offset;
	__asan_get_shadow_mapping(&scale, &offset);
	return (unsigned char *)(((uintptr_t)p >> scale) + offset);
}
#define SHADOW_BYTES(n) (((n) + 7) / 8)
#else
#define SHADOW_BYTES(n) ((size_t)0)
#endif

/* Frames leave the run stack without returning (parked, then evicted; or finished): under
 * ASan, clear the red-zone poisoning their locals left, or the next task's frames at those
 * addresses would be reported as overflows. */
static void stack_forget(const void *sp)
{
#ifdef COOP_ASAN
	__asan_unpoison_memory_region((void *)sp, (size_t)(s.top - (const unsigned char *)sp));
#else
	(void)sp;
#endif
}

/* Put the owner's live frames aside so that t can use the run stack. */
static void stack_evict(coop_task *o)
{
	unsigned char *sp = o->ctx.sp;
	size_t used = (size_t)(s.top - sp);
	if (o->save_cap < used) {
		size_t cap = o->save_cap ? o->save_cap : (used + 63) & ~(size_t)63;
		while (cap < used)
			cap *= 2;
		unsigned char *b = realloc(o->save, cap + SHADOW_BYTES(cap));
		if (!b)
			oom("saved stack");
		o->save = b;
		o->save_cap = cap;
	}
	frames_copy(o->save, sp, used);
#ifdef COOP_ASAN
	bytes_copy(o->save + o->save_cap, shadow_of(sp), SHADOW_BYTES(used));
#endif
	o->save_len = used;
	stack_forget(sp);
}

/* Put t's frames back where they were. */
static void stack_restore(coop_task *t)
{
	unsigned char *sp = s.top - t->save_len;
	VALGRIND_MAKE_MEM_UNDEFINED(sp, t->save_len);
	frames_copy(sp, t->save, t->save_len);
#ifdef COOP_ASAN
	bytes_copy(shadow_of(sp), t->save + t->save_cap, SHADOW_BYTES(t->save_len));
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void resume(coop_task *t)
{
	if (s.owner != t) {
		if (s.owner)
			stack_evict(s.owner);
		if (t->started) {
			stack_restore(t);
		} else {
			coro_init(&t->ctx, &s.stack, task_entry, t);
			t->started = 1;
		}
		s.owner = t;
	}
	s.current = t;
	uint64_t t0 = s.o.slow_ns ? now_ns() : 0;
	coro_switch(&s.loop, &t->ctx);
	s.current = NULL;
	if (s.o.slow_ns) {
		uint64_t ran = now_ns() - t0;
		if (ran >= s.o.slow_ns && s.o.on_slow)
			s.o.on_slow(t, ran);
	}
	if (t->done) {
		stack_forget(t->ctx.sp);
		s.owner = NULL;
		coro_destroy(&t->ctx);
		free(t->save);
		t->save = NULL;
		t->save_cap = t->save_len = 0;
	}
}

size_t coop_run_ready(void)
{
	size_t n = s.o.drain ? SIZE_MAX : s.nready, ran = 0;
	while (s.head && ran < n) {
		resume(pop());
		ran++;
	}
	return ran;
}

int coop_done(const coop_task *t) { return t->done; }

uint64_t coop_reap(coop_task *t)
{
	uint64_t r = t->result;
	task_free(t);
	return r;
}

uint64_t coop_join(coop_task *t)
{
	if (!t->done) {
		t->joiner = s.current;
		coop_park();
	}
	return coop_reap(t);
}
