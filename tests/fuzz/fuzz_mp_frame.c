/* fuzz_mp_frame.c: libFuzzer target for the mp frame decoder (models/mp/mp_frame.c).
 * Any byte string must be either a whole number of well-formed frames or rejected, without
 * reading out of bounds; what is accepted must stay consistent when decoded piecewise.
 * Also compiled into tests/test_mp.c to replay the kept corpus in make test. */
#include <stdlib.h>
#include <string.h>

#include "mp/mp.h"
#include "mp/mp_frame.h"

int cb_fuzz_mp_frame_one(const uint8_t *data, size_t size)
{
	/* Copy so that ASan sees the exact bounds of the input. */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t frames = 0;
	int rc = mp_frame_check_stream(buf, size, &frames);
	if (rc == MP_OK) {
		size_t off = 0, k = 0;
		while (off < size) {
			mp_frame f;
			long got = mp_frame_parse(buf + off, size - off, &f);
			if (got <= 0)
				abort(); /* accepted as a whole, rejected piecewise */
			if (f.type == MP_F_TASK) {
				mp_task_view v;
				if (mp_task_decode(&f, &v) != MP_OK)
					abort();
				size_t pos = 0, sum = 0;
				for (uint32_t i = 0; i < v.count; i++) {
					uint32_t len;
					mp_task_item(&v, &pos, &len);
					sum += 4 + (size_t)len;
				}
				if (sum != v.items_len)
					abort();
			}
			/* A frame cut short must never be accepted. */
			if (mp_frame_check_stream(buf + off, (size_t)got - 1, NULL) == MP_OK && got > 1 &&
			    mp_frame_parse(buf + off, (size_t)got - 1, &f) > 0)
				abort();
			off += (size_t)got;
			k++;
		}
		if (k != frames)
			abort();
	}
	free(buf);
	return 0;
}

#ifdef CB_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return cb_fuzz_mp_frame_one(data, size);
}
#endif
