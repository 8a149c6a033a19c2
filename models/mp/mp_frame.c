/* mp_frame.c: frame header, typed payload codecs and the strict decoder (see mp_frame.h). */
#include <stdlib.h>
#include <string.h>

#include "mp.h"
#include "mp_frame.h"

uint32_t mp_frame_type_max(int type)
{
	switch (type) {
	case MP_F_TASK: return MP_FRAME_MAX;
	case MP_F_RESULT: return MP_RESULT_FIXED + 8u * MP_CHUNK_MAX;
	case MP_F_ITEM:
	case MP_F_CLOSE: return MP_QUEUE_ITEM_MAX;
	case MP_F_START: return MP_FRAME_MAX;
	case MP_F_VALUE: return 8;
	case MP_F_MSG: return MP_FRAME_MAX;
	default: return 0;
	}
}

void mp_frame_hdr_put(uint8_t out[MP_FRAME_HDR], int type, uint32_t len)
{
	out[0] = MP_FRAME_MAGIC & 0xff;
	out[1] = MP_FRAME_MAGIC >> 8;
	out[2] = MP_FRAME_VERSION;
	out[3] = (uint8_t)type;
	mp_put32(out + 4, len);
}

long mp_frame_parse(const uint8_t *buf, size_t n, mp_frame *f)
{
	/* Reject as early as the first bad byte, so a reader never waits on garbage. */
	static const uint8_t lead[3] = {MP_FRAME_MAGIC & 0xff, MP_FRAME_MAGIC >> 8,
	                                MP_FRAME_VERSION};
	for (size_t i = 0; i < 3 && i < n; i++)
		if (buf[i] != lead[i])
			return MP_EPROTO;
	if (n >= 4 && (buf[3] == 0 || buf[3] >= MP_F_TYPE_END))
		return MP_EPROTO;
	if (n < MP_FRAME_HDR)
		return 0;
	uint32_t len = mp_get32(buf + 4);
	if (len > mp_frame_type_max(buf[3]))
		return MP_EPROTO;
	if (buf[3] == MP_F_VALUE && len != 8)
		return MP_EPROTO;
	if (n - MP_FRAME_HDR < len)
		return 0;
	f->type = buf[3];
	f->len = len;
	f->payload = buf + MP_FRAME_HDR;
	if (f->type == MP_F_CLOSE) /* padding must be zeros: nothing else hides in a marker */
		for (uint32_t i = 0; i < len; i++)
			if (f->payload[i])
				return MP_EPROTO;
	return (long)(MP_FRAME_HDR + (size_t)len);
}

int mp_task_decode(const mp_frame *f, mp_task_view *v)
{
	if (f->type != MP_F_TASK || f->len < MP_TASK_FIXED)
		return MP_EPROTO;
	const uint8_t *p = f->payload;
	v->id = mp_get64(p);
	v->fn = mp_get64(p + 8);
	v->count = mp_get32(p + 16);
	if (v->count == 0 || v->count > MP_CHUNK_MAX)
		return MP_EPROTO;
	v->items = p + MP_TASK_FIXED;
	v->items_len = f->len - MP_TASK_FIXED;
	/* Walk the items once: their lengths must tile the payload exactly. */
	size_t pos = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		if (v->items_len - pos < 4)
			return MP_EPROTO;
		uint32_t len = mp_get32(v->items + pos);
		pos += 4;
		if (v->items_len - pos < len)
			return MP_EPROTO;
		pos += len;
	}
	return pos == v->items_len ? MP_OK : MP_EPROTO;
}

const uint8_t *mp_task_item(const mp_task_view *v, size_t *pos, uint32_t *len)
{
	*len = mp_get32(v->items + *pos);
	const uint8_t *data = v->items + *pos + 4;
	*pos += 4 + (size_t)*len;
	return data;
}

void mp_task_fixed_put(uint8_t out[MP_TASK_FIXED], uint64_t id, uint64_t fn, uint32_t count)
{
	mp_put64(out, id);
	mp_put64(out + 8, fn);
	mp_put32(out + 16, count);
}

int mp_result_decode(const mp_frame *f, mp_result_view *v)
{
	if (f->type != MP_F_RESULT || f->len < MP_RESULT_FIXED)
		return MP_EPROTO;
	const uint8_t *p = f->payload;
	v->id = mp_get64(p);
	v->status = (int32_t)mp_get32(p + 8);
	v->count = mp_get32(p + 12);
	v->elapsed_ns = mp_get64(p + 16);
	v->values = p + MP_RESULT_FIXED;
	if (v->count > MP_CHUNK_MAX || f->len != MP_RESULT_FIXED + 8ull * v->count)
		return MP_EPROTO;
	if (v->status > 0 || (v->status == 0 && v->count == 0) || (v->status < 0 && v->count))
		return MP_EPROTO; /* success carries values, an error carries none */
	return MP_OK;
}

size_t mp_result_encode(uint8_t *out, uint64_t id, int32_t status, uint64_t elapsed_ns,
                        const uint64_t *values, uint32_t count)
{
	uint32_t len = MP_RESULT_FIXED + 8 * count;
	mp_frame_hdr_put(out, MP_F_RESULT, len);
	uint8_t *p = out + MP_FRAME_HDR;
	mp_put64(p, id);
	mp_put32(p + 8, (uint32_t)status);
	mp_put32(p + 12, count);
	mp_put64(p + 16, elapsed_ns);
	for (uint32_t i = 0; i < count; i++)
		mp_put64(p + MP_RESULT_FIXED + 8 * i, values[i]);
	return MP_FRAME_HDR + len;
}

int mp_start_decode(const mp_frame *f, mp_start_view *v)
{
	if (f->type != MP_F_START || f->len < MP_START_FIXED + 8)
		return MP_EPROTO;
	const uint8_t *p = f->payload, *end = p + f->len;
	v->fn = mp_get64(p);
	v->boot_fn = mp_get64(p + 8);
	v->result_fd = (int32_t)mp_get32(p + 16);
	v->arena_fd = (int32_t)mp_get32(p + 20);
	if (v->result_fd < -1 || v->arena_fd < -1)
		return MP_EPROTO;
	p += MP_START_FIXED;
	v->boot_len = mp_get32(p);
	p += 4;
	if ((size_t)(end - p) < v->boot_len)
		return MP_EPROTO;
	v->boot = p;
	p += v->boot_len;
	if (end - p < 4)
		return MP_EPROTO;
	v->arg_len = mp_get32(p);
	p += 4;
	if ((size_t)(end - p) != v->arg_len)
		return MP_EPROTO;
	v->arg = p;
	return MP_OK;
}

size_t mp_start_encode(uint8_t **out, const mp_start_view *v)
{
	size_t len = MP_START_FIXED + 8 + (size_t)v->boot_len + v->arg_len;
	if (len > MP_FRAME_MAX)
		return 0;
	uint8_t *b = malloc(MP_FRAME_HDR + len);
	if (!b)
		return 0;
	mp_frame_hdr_put(b, MP_F_START, (uint32_t)len);
	uint8_t *p = b + MP_FRAME_HDR;
	mp_put64(p, v->fn);
	mp_put64(p + 8, v->boot_fn);
	mp_put32(p + 16, (uint32_t)v->result_fd);
	mp_put32(p + 20, (uint32_t)v->arena_fd);
	p += MP_START_FIXED;
	mp_put32(p, v->boot_len);
	if (v->boot_len)
		memcpy(p + 4, v->boot, v->boot_len);
	p += 4 + v->boot_len;
	mp_put32(p, v->arg_len);
	if (v->arg_len)
		memcpy(p + 4, v->arg, v->arg_len);
	*out = b;
	return MP_FRAME_HDR + len;
}

int mp_frame_check_stream(const uint8_t *buf, size_t n, size_t *frames)
{
	size_t off = 0, k = 0;
	while (off < n) {
		mp_frame f;
		long got = mp_frame_parse(buf + off, n - off, &f);
		if (got <= 0) /* malformed, or the stream ends inside a frame */
			return MP_EPROTO;
		int rc = MP_OK;
		union { mp_task_view t; mp_result_view r; mp_start_view s; } v;
		switch (f.type) {
		case MP_F_TASK: rc = mp_task_decode(&f, &v.t); break;
		case MP_F_RESULT: rc = mp_result_decode(&f, &v.r); break;
		case MP_F_START: rc = mp_start_decode(&f, &v.s); break;
		default: break;
		}
		if (rc != MP_OK)
			return rc;
		off += (size_t)got;
		k++;
	}
	if (frames)
		*frames = k;
	return MP_OK;
}
