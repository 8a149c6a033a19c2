/* coro.h: stackful coroutines shared by every model that runs tasks on its own stacks
 * (mn, aloop, uv): a context switch that saves callee-saved registers only (assembly for
 * x86-64 and aarch64, ucontext elsewhere), guarded lazily-committed stacks, and the
 * AddressSanitizer / ThreadSanitizer fiber annotations every switch needs. */
#ifndef CORO_H
#define CORO_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CORO_ASAN)
#define CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORO_TSAN)
#define CORO_TSAN 1
#endif
/* CORO_FORCE_UCONTEXT builds the portable path on any target (to test it). */
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(CORO_FORCE_UCONTEXT)
#define CORO_ASM 1
void coro__swap(void **save_sp, void *new_sp);
#endif
/* Without sanitizer bookkeeping a switch is the assembly routine alone: inline it, one
 * call (and one mispredicted return) less on every switch. */
#if defined(CORO_ASM) && !defined(CORO_ASAN) && !defined(CORO_TSAN)
#define CORO_SWITCH_INLINE 1
#endif

typedef struct coro_stack {
	void *lo;          /* lowest usable address (just above the guard) */
	size_t size;       /* usable bytes */
	void *map;         /* mmap base (guard included) */
	size_t map_size;
} coro_stack;

typedef struct coro {
	void *sp;          /* saved stack pointer while switched out */
	coro_stack stack;  /* zeroed for a coroutine that runs on a thread's own stack */
	void *tsan_fiber;  /* ThreadSanitizer fiber, when built with -fsanitize=thread */
	const void *asan_fake; /* AddressSanitizer fake stack save slot */
	void (*entry)(void *);
	void *arg;
} coro;

/* Allocate a stack of size bytes (rounded to pages) below a PROT_NONE guard page.
 * Memory is committed by the kernel on first touch. Returns 0 or -1 with errno. */
int coro_stack_alloc(coro_stack *s, size_t size);
void coro_stack_free(coro_stack *s);
/* Carve n stacks of size bytes each out of one mapping, each below a guard of guard bytes
 * (rounded to pages; 0: one page), installing the guards in bulk: the cheap way to get
 * many stacks. The layout is stack i's guard at region + i * stride, its usable bytes right
 * above, stride = out[i].map_size. Each out[i] may still be released alone with
 * coro_stack_free; region and region_size describe the whole mapping for one munmap.
 * Returns 0 or -1 with errno. */
int coro_stack_alloc_many(coro_stack *out, size_t n, size_t size, size_t guard, void **region,
			  size_t *region_size);
/* Commit the top page of each of n stacks now, in one system call where the kernel allows
 * (MADV_POPULATE_WRITE): the page every coroutine touches first, faulted in bulk instead of
 * one trap each. The rest of each stack stays lazily committed. Best effort. */
void coro_stack_populate_top(const coro_stack *s, size_t n);
/* Does addr fall in the guard of s? (stack-overflow reporting) */
int coro_stack_guard_hit(const coro_stack *s, const void *addr);

/* Make c the coroutine that represents the calling thread's own stack. */
void coro_init_thread(coro *c);
/* Prepare c to run entry(arg) on stack s at its first switch. entry must never return:
 * it ends by switching away for the last time. */
void coro_init(coro *c, const coro_stack *s, void (*entry)(void *), void *arg);
/* Save the current context into from and resume to. */
#ifdef CORO_SWITCH_INLINE
static inline void coro_switch(coro *from, coro *to)
{
	coro__swap(&from->sp, to->sp);
}
#else
void coro_switch(coro *from, coro *to);
#endif
/* Last switch out of a coroutine whose entry has finished: from is never resumed, so the
 * sanitizers may drop its state (ASan frees its fake stack). Then coro_destroy(from) from
 * another coroutine before reusing its stack. */
_Noreturn void coro_switch_final(coro *from, coro *to);
/* Release the sanitizer state of a finished coroutine (not its stack). */
void coro_destroy(coro *c);

#endif
