/* faults.c: test-only workloads that misbehave on purpose, so the tests can show that a
 * crash or a hang costs one row and nothing else. Hidden from bench list and the suite. */
#include <signal.h>
#include <unistd.h>

#include "common.h"

static uint64_t crash_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	raise(SIGSEGV);
	return 0;
}

static _Noreturn uint64_t hang_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	for (;;)
		pause();
}

static int fault_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = 1;
	return 0;
}

const cb_workload cb_wl_test_crash = {
	.name = "test.crash", .unit = "tasks", .summary = "test only: the root task dies of SIGSEGV",
	.tasks_doc = "unused", .tasks_def = 1, .tasks_max = 1, .size_doc = "unused", .size_def = 1,
	.size_max = 1, .hidden = 1, .root = crash_root, .finish = fault_finish,
};

const cb_workload cb_wl_test_hang = {
	.name = "test.hang", .unit = "tasks", .summary = "test only: the root task never returns",
	.tasks_doc = "unused", .tasks_def = 1, .tasks_max = 1, .size_doc = "unused", .size_def = 1,
	.size_max = 1, .hidden = 1, .root = hang_root, .finish = fault_finish,
};
