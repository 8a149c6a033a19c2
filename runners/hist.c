/* hist.c: log-linear histogram (see hist.h). A value v >= CB_HIST_SUB lands in the power of
 * two e = floor(log2 v) and, within it, in one of CB_HIST_SUB equal slices; below that,
 * values are exact. */
#include "hist.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
	if (v < CB_HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);        /* >= 6 */
	unsigned sub = (unsigned)(v >> (e - 6)) & (CB_HIST_SUB - 1); /* next 6 bits */
	return (e - 5) * CB_HIST_SUB + sub;
}

static uint64_t bucket_upper(unsigned b)
{
	if (b < CB_HIST_SUB)
		return b;
	unsigned e = b / CB_HIST_SUB + 5, sub = b % CB_HIST_SUB;
	uint64_t lo = ((uint64_t)(CB_HIST_SUB + sub)) << (e - 6);
	return lo + (((uint64_t)1 << (e - 6)) - 1);
}

void cb_hist_init(cb_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void cb_hist_add(cb_hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void cb_hist_merge(cb_hist *into, const cb_hist *from)
{
	for (unsigned i = 0; i < CB_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
	if (from->min < into->min)
		into->min = from->min;
}

uint64_t cb_hist_quantile(const cb_hist *h, double q)
{
	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < CB_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t u = bucket_upper(i);
			return u > h->max ? h->max : u;
		}
	}
	return h->max;
}
