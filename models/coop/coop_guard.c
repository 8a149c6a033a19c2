/* coop_guard.c: the run stack's guard, and the fault handler that names the task which ran
 * past it.
 *
 * Problem. Every task runs on the one run stack (coop_task.c); below it lies whatever the
 * kernel maps next, and once the file executor or libuv's pool has started, that is a pool
 * thread's 8 MiB stack. One guard page stops only a frame that touches it. A frame larger
 * than a page whose first write is at its bottom (a call pushes its return address there;
 * locals above may stay untouched) jumps the page and lands in the pool thread's stack: its
 * locals and thread control block are overwritten and the run goes on, or dies later in the
 * wrong thread, naming nobody.
 *
 * Guard. -fstack-clash-protection would make every frame probe its pages in order, so that a
 * single page could not be jumped; but the code that runs on the run stack (workloads, libc,
 * libuv) is not built with it here (Debian's gcc leaves it off, and the run stack cannot
 * choose its callers' flags). So the guard is made wider than any frame a thread could have:
 * COOP_GUARD_BYTES of PROT_NONE, reserved in the same mapping as the stack so that nothing
 * else can be placed in between. It is address space only: no memory, no commit charge, one
 * VMA. A frame larger than a default thread stack (alloca or a VLA of megabytes) could still
 * jump it; no thread could run that frame either.
 *
 * Report. A SIGSEGV/SIGBUS handler on an alternate stack (the faulting stack has no room
 * left), installed while the loop runs: a fault the kernel reports inside the guard while a
 * task runs is that task's overflow, and coop_opts.on_overflow gets a message naming it (id
 * and entry function). Any other fault goes back to the handler that was installed before
 * (a sanitizer's, or the default: killed by the signal). mn's G stacks have the same kind of
 * handler (mn__sigsegv, models/mn/mn_stack.c); they differ in how the running task and its
 * stack are found. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coop_int.h"

/* Wider than a default thread stack (ulimit -s, 8 MiB): see above. */
#define COOP_GUARD_BYTES ((size_t)16 << 20)
/* The handler formats a message and looks up a symbol table (coop_sym.c): a few KiB. */
#define COOP_ALTSTACK_BYTES ((size_t)64 << 10)

static struct {
	const coro_stack *stack;      /* the run stack; its guard is [map, lo) */
	void (*on_overflow)(const char *msg);
	void *alt;                    /* the alternate signal stack, while installed */
	stack_t old_alt;
	struct sigaction old_segv, old_bus;
} g;

int coop_stack_alloc(coro_stack *st, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size = (size + page - 1) & ~(page - 1);
	size_t total = COOP_GUARD_BYTES + size;
	char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	if (mprotect(base + COOP_GUARD_BYTES, size, PROT_READ | PROT_WRITE) != 0) {
		int e = errno;
		munmap(base, total);
		errno = e;
		return -1;
	}
	/* coro_stack_free unmaps it all; coro_stack_guard_hit tests [map, lo) */
	*st = (coro_stack){.lo = base + COOP_GUARD_BYTES, .size = size, .map = base, .map_size = total};
	return 0;
}

static void coop_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	const coro_stack *st = g.stack;
	coop_task *t = coop_self();
	/* si_code > 0: the kernel's report of a bad access, so si_addr is the address */
	if (si->si_code > 0 && t && st && coro_stack_guard_hit(st, si->si_addr)) {
		char name[256], msg[512];
		coop_fn_name((const void *)(uintptr_t)coop_task_fn(t), name, sizeof name);
		snprintf(msg, sizeof msg,
			 "task stack overflow: task %llu (%s) ran past the %zu KiB run stack "
			 "(fault %zu bytes below it, inside its %zu KiB guard)",
			 (unsigned long long)coop_task_id(t), name, st->size / 1024,
			 (size_t)((uintptr_t)st->lo - (uintptr_t)si->si_addr), COOP_GUARD_BYTES / 1024);
		if (g.on_overflow)
			g.on_overflow(msg);
		dprintf(2, "coop: %s\n", msg);
	}
	/* Whoever handled the signal before handles it now: a returning handler re-executes
	 * the access (a kernel fault), a sent signal is sent again. */
	sigaction(sig, sig == SIGBUS ? &g.old_bus : &g.old_segv, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

int coop_fault_install(const coro_stack *st, void (*on_overflow)(const char *msg))
{
	g.alt = mmap(NULL, COOP_ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	if (g.alt == MAP_FAILED) {
		g.alt = NULL;
		return -1;
	}
	stack_t ss = {.ss_sp = g.alt, .ss_size = COOP_ALTSTACK_BYTES};
	if (sigaltstack(&ss, &g.old_alt) != 0) {
		int e = errno;
		munmap(g.alt, COOP_ALTSTACK_BYTES);
		g.alt = NULL;
		errno = e;
		return -1;
	}
	g.stack = st;
	g.on_overflow = on_overflow;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = coop_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &g.old_segv);
	sigaction(SIGBUS, &sa, &g.old_bus);
	return 0;
}

void coop_fault_remove(void)
{
	if (!g.alt)
		return;
	sigaction(SIGSEGV, &g.old_segv, NULL);
	sigaction(SIGBUS, &g.old_bus, NULL);
	sigaltstack(&g.old_alt, NULL);
	munmap(g.alt, COOP_ALTSTACK_BYTES);
	memset(&g, 0, sizeof g);
}
