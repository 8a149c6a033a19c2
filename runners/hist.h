/* hist.h: latency histogram with log-linear buckets (relative error below 1/64), fixed size,
 * no allocation: cheap enough to record every sample of a probe or a load generator. */
#ifndef CB_HIST_H
#define CB_HIST_H

#include <stdint.h>

#define CB_HIST_SUB 64                 /* linear sub-buckets per power of two */
#define CB_HIST_BUCKETS (64 * CB_HIST_SUB)

typedef struct cb_hist {
	uint64_t count, max, min, sum;
	uint32_t b[CB_HIST_BUCKETS];
} cb_hist;

void cb_hist_init(cb_hist *h);
void cb_hist_add(cb_hist *h, uint64_t v);
void cb_hist_merge(cb_hist *into, const cb_hist *from);
/* Value at quantile q (0..1): the upper edge of its bucket, clamped to max. 0 if empty. */
uint64_t cb_hist_quantile(const cb_hist *h, double q);

#endif
