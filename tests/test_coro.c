/* test_coro.c: the coroutine layer alone: switches keep state, many coroutines coexist,
 * and running off the bottom of a stack lands in its guard page. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro/coro.h"

static coro main_co, ping_co, pong_co;
static long ping_count, pong_count;

static void ping(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (long i = 0; i < n; i++) {
		ping_count++;
		coro_switch(&ping_co, &pong_co);
	}
	coro_switch_final(&ping_co, &main_co);
}

static int misaligned;

static void pong(void *arg)
{
	(void)arg;
	/* the ABI's 16-byte alignment at function entry: with the return address pushed and
	 * the frame pointer saved, the frame address is 16-byte aligned */
	misaligned |= (int)((uintptr_t)__builtin_frame_address(0) & 15);
	for (;;) {
		pong_count++;
		/* callee-saved registers survive: a local kept across the switch */
		volatile double keep = (double)pong_count * 1.5;
		coro_switch(&pong_co, &ping_co);
		cr_assert_eq(keep, (double)pong_count * 1.5);
	}
}

Test(coro, ping_pong, .timeout = 20)
{
	coro_stack s1, s2;
	cr_assert_eq(coro_stack_alloc(&s1, 64 * 1024), 0);
	cr_assert_eq(coro_stack_alloc(&s2, 64 * 1024), 0);
	coro_init_thread(&main_co);
	coro_init(&ping_co, &s1, ping, (void *)(intptr_t)100000);
	coro_init(&pong_co, &s2, pong, NULL);
	coro_switch(&main_co, &ping_co);
	cr_assert_eq(ping_count, 100000);
	cr_assert_eq(pong_count, 100000);
	cr_assert_eq(misaligned, 0);
	coro_destroy(&ping_co);
	coro_destroy(&pong_co);
	coro_stack_free(&s1);
	coro_stack_free(&s2);
}

/* Many coroutines, each summing its own numbers across switches back to main. */
#define MANY 10000
static coro many_main, many_co[MANY];
static uint64_t many_sum[MANY];

static void many_body(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t acc = 0;
	for (int round = 0; round < 3; round++) {
		acc += (uint64_t)id * 3 + (uint64_t)round;
		coro_switch(&many_co[id], &many_main);
	}
	many_sum[id] = acc;
	coro_switch_final(&many_co[id], &many_main);
}

Test(coro, many, .timeout = 30)
{
	static coro_stack st[MANY];
	void *region;
	size_t region_size;
	cr_assert_eq(coro_stack_alloc_many(st, MANY, 16 * 1024, 0, &region, &region_size), 0);
	coro_init_thread(&many_main);
	for (int i = 0; i < MANY; i++)
		coro_init(&many_co[i], &st[i], many_body, (void *)(intptr_t)i);
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < MANY; i++)
			coro_switch(&many_main, &many_co[i]);
	for (int i = 0; i < MANY; i++) {
		cr_assert_eq(many_sum[i], (uint64_t)i * 9 + 3);
		coro_destroy(&many_co[i]);
	}
	cr_assert_eq(munmap(region, region_size), 0);
}

/* Overflow: recurse on a small stack until the guard page is hit; the SIGSEGV handler,
 * on an alternate stack, recognises the guard page and exits with a distinctive code. */
static coro ov_main, ov_co;
static coro_stack ov_stack;

static void ov_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	_exit(coro_stack_guard_hit(&ov_stack, si->si_addr) ? 42 : 43);
}

static volatile int ov_limit = 1 << 30; /* never reached: keeps the compiler quiet */

static int ov_recurse(int depth)
{
	volatile char buf[512];
	buf[0] = (char)depth;
	if (depth > ov_limit)
		return 0;
	return ov_recurse(depth + 1) + buf[0];
}

static void ov_body(void *arg)
{
	(void)arg;
	ov_recurse(0);
	coro_switch_final(&ov_co, &ov_main);
}

Test(coro, guard_page_hit, .timeout = 20, .exit_code = 42)
{
	static char alt[64 * 1024];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	cr_assert_eq(sigaltstack(&ss, NULL), 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = ov_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	cr_assert_eq(coro_stack_alloc(&ov_stack, 32 * 1024), 0);
	coro_init_thread(&ov_main);
	coro_init(&ov_co, &ov_stack, ov_body, NULL);
	coro_switch(&ov_main, &ov_co);
	cr_assert_fail("overflow not detected");
}
