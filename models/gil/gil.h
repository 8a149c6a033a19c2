/* gil.h: CPython's global interpreter lock (the "new GIL" of CPython 3.2+) as a small C
 * library. Threads identify themselves with any non-NULL pointer that is unique per thread
 * (CPython uses the PyThreadState). The design is at the top of gil.c. */
#ifndef GIL_H
#define GIL_H

#include <stdatomic.h>
#include <stdint.h>

#define GIL_DEFAULT_INTERVAL_US 5000 /* sys.getswitchinterval() == 0.005 */

typedef struct gil gil;

/* Counters, for tests and notes; read with gil_stats at any time. */
typedef struct gil_stats {
	uint64_t switches;      /* times the GIL went to a thread other than its last holder */
	uint64_t drop_requests; /* times a waiter timed out and asked the holder to drop */
	uint64_t forced_waits;  /* times a dropping thread waited for another to take over */
} gil_stats;

/* Make an unlocked GIL. breaker is the eval-breaker word the holder polls at its safe
 * points: the GIL stores 1 there with a drop request and 0 when the request is served
 * (NULL: the GIL keeps a private one). Returns NULL with errno on failure. */
gil *gil_create(uint64_t interval_us, atomic_int *breaker);
void gil_destroy(gil *g); /* nobody may hold or wait for it */

void gil_set_interval(gil *g, uint64_t interval_us); /* sys.setswitchinterval, in us */
uint64_t gil_interval(const gil *g);

/* take_gil: block until the calling thread holds the GIL. */
void gil_take(gil *g, const void *who);
/* drop_gil: release it (who must hold it). If a drop request is pending and no other
 * thread has taken the GIL yet, wait until one has (forced switching). */
void gil_drop(gil *g, const void *who);
/* The eval-breaker handler: if a drop request is pending and who holds the GIL, drop it
 * and take it again, letting the waiter that asked run first. Returns 1 if it switched. */
int gil_yield(gil *g, const void *who);

int gil_held_by(const gil *g, const void *who); /* does who hold it now? */
gil_stats gil_get_stats(gil *g);

#endif
