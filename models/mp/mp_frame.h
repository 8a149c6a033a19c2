/* mp_frame.h: the wire format of the mp model (internal to models/mp and its fuzzer).
 *
 * Everything that crosses a pipe is a frame: an 8-byte header (magic "MP", version, type,
 * payload length, little-endian) followed by the payload. The decoder is strict: a wrong
 * magic, version or type, a length beyond what the type allows, a payload whose inner
 * lengths do not add up exactly, or a stream that ends inside a frame is an error, never
 * a guess. Workers and the parent treat such an error as a protocol failure (MP_EPROTO).
 */
#ifndef MP_FRAME_H
#define MP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MP_FRAME_HDR 8
#define MP_FRAME_MAGIC 0x504d /* "MP" little-endian */
#define MP_FRAME_VERSION 1
#define MP_FRAME_MAX (1u << 30)   /* largest payload, bytes */
#define MP_CHUNK_MAX 65536        /* most tasks in one TASK frame */

enum mp_frame_type {
	MP_F_TASK = 1,   /* pool task chunk: id, fn token, count, count x (len, bytes) */
	MP_F_RESULT = 2, /* pool result: id, status, count, elapsed_ns, count x u64 */
	MP_F_ITEM = 3,   /* queue item: raw bytes */
	MP_F_CLOSE = 4,  /* queue shutdown marker: zero padding */
	MP_F_START = 5,  /* spawn start: fn token, fds, boot bytes, argument bytes */
	MP_F_VALUE = 6,  /* a Process's result: u64 */
	MP_F_MSG = 7,    /* Connection message: raw bytes */
	MP_F_TYPE_END
};

typedef struct mp_frame {
	uint8_t type;
	uint32_t len;            /* payload length */
	const uint8_t *payload;  /* points into the parsed buffer */
} mp_frame;

/* Parse one frame at buf[0..n). Returns its total size (header + payload) when complete,
 * 0 when the bytes so far are a valid prefix and more are needed, MP_EPROTO if malformed. */
long mp_frame_parse(const uint8_t *buf, size_t n, mp_frame *f);
void mp_frame_hdr_put(uint8_t out[MP_FRAME_HDR], int type, uint32_t len);
/* Largest payload a frame type may carry. */
uint32_t mp_frame_type_max(int type);

/* Little-endian field access (unaligned-safe). */
static inline void mp_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void mp_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t mp_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
	return v;
}
static inline uint64_t mp_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* TASK payload. */
#define MP_TASK_FIXED 20 /* id u64, fn u64, count u32 */
typedef struct mp_task_view {
	uint64_t id, fn;
	uint32_t count;
	const uint8_t *items; /* count x (u32 len, bytes), validated */
	size_t items_len;
} mp_task_view;
int mp_task_decode(const mp_frame *f, mp_task_view *v);
/* Iterate the items of a decoded view: *pos starts at 0. */
const uint8_t *mp_task_item(const mp_task_view *v, size_t *pos, uint32_t *len);
void mp_task_fixed_put(uint8_t out[MP_TASK_FIXED], uint64_t id, uint64_t fn, uint32_t count);

/* RESULT payload. */
#define MP_RESULT_FIXED 24 /* id u64, status i32, count u32, elapsed_ns u64 */
typedef struct mp_result_view {
	uint64_t id, elapsed_ns;
	int32_t status;
	uint32_t count;
	const uint8_t *values; /* count x u64 */
} mp_result_view;
int mp_result_decode(const mp_frame *f, mp_result_view *v);
size_t mp_result_encode(uint8_t *out, uint64_t id, int32_t status, uint64_t elapsed_ns,
                        const uint64_t *values, uint32_t count);

/* START payload (spawn): fn u64, boot_fn u64 (0: none), result_fd i32 (-1: none),
 * arena_fd i32 (-1: none), boot (u32 len, bytes), arg (u32 len, bytes). */
typedef struct mp_start_view {
	uint64_t fn, boot_fn;
	int32_t result_fd, arena_fd;
	const uint8_t *boot, *arg;
	uint32_t boot_len, arg_len;
} mp_start_view;
#define MP_START_FIXED 24
int mp_start_decode(const mp_frame *f, mp_start_view *v);
/* Encodes header + payload into a malloc'd buffer; returns its size (0 on ENOMEM). */
size_t mp_start_encode(uint8_t **out, const mp_start_view *v);

/* Decode every frame of a complete byte stream (what a reader sees up to EOF): MP_OK if
 * it is a whole number of well-formed frames, MP_EPROTO otherwise (including a truncated
 * last frame). The fuzzer's entry point and the regression test's. */
int mp_frame_check_stream(const uint8_t *buf, size_t n, size_t *frames);

#endif
