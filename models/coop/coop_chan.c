/* coop_chan.c: channels between cooperative tasks, with asyncio.Queue semantics.
 *
 * A ring of cap elements plus two FIFO wait queues. An element never waits on a task's
 * stack (the run stack is shared, see coop_task.c): a parked sender copies its element into
 * its task record first, and a receiver that finds a parked sender takes it from there. A
 * parked receiver is handed its element in its task record too and copies it out when it
 * resumes. Closing wakes every waiter with COOP_CLOSED; a receiver still gets the elements
 * buffered before the close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coop_int.h"

struct coop_chan {
	size_t elem, cap;
	size_t head, count;             /* ring: first element, number buffered */
	int closed;
	coop_waitq sendq;               /* parked senders, element in their xfer */
	coop_waitq recvq;               /* parked receivers */
	unsigned char *ring;
};

coop_chan *coop_chan_make(size_t elem, size_t cap)
{
	coop_chan *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->elem = elem;
	c->cap = cap;
	if (cap && !(c->ring = malloc(elem * cap))) {
		free(c);
		return NULL;
	}
	return c;
}

void coop_chan_free(coop_chan *c)
{
	if (!c)
		return;
	free(c->ring);
	free(c);
}

static unsigned char *slot(coop_chan *c, size_t i) { return c->ring + ((c->head + i) % c->cap) * c->elem; }

int coop_chan_send(coop_chan *c, const void *elem)
{
	if (c->closed)
		return COOP_CLOSED;
	coop_task *r = coop_wake_one(&c->recvq);
	if (r) { /* a receiver waits: the ring is empty, hand over directly */
		coop_xfer_reserve(r, c->elem);
		memcpy(r->xfer, elem, c->elem);
		r->wait_status = COOP_OK;
		return COOP_OK;
	}
	if (c->count < c->cap) {
		memcpy(slot(c, c->count), elem, c->elem);
		c->count++;
		return COOP_OK;
	}
	coop_task *self = coop_self();
	coop_xfer_reserve(self, c->elem);
	memcpy(self->xfer, elem, c->elem);
	coop_wait(&c->sendq); /* until a receiver took the element, or the channel closed */
	return self->wait_status;
}

/* Take one element if there is one, serving parked senders in order. */
static int take(coop_chan *c, void *elem)
{
	if (c->count) {
		memcpy(elem, slot(c, 0), c->elem);
		c->head = (c->head + 1) % c->cap;
		c->count--;
		coop_task *w = coop_wake_one(&c->sendq);
		if (w) { /* room again: the first parked sender's element joins the ring */
			memcpy(slot(c, c->count), w->xfer, c->elem);
			c->count++;
			w->wait_status = COOP_OK;
		}
		return COOP_OK;
	}
	coop_task *w = coop_wake_one(&c->sendq);
	if (w) { /* rendezvous */
		memcpy(elem, w->xfer, c->elem);
		w->wait_status = COOP_OK;
		return COOP_OK;
	}
	return c->closed ? COOP_CLOSED : COOP_EMPTY;
}

int coop_chan_try_recv(coop_chan *c, void *elem) { return take(c, elem); }

int coop_chan_recv(coop_chan *c, void *elem)
{
	int rc = take(c, elem);
	if (rc != COOP_EMPTY)
		return rc;
	coop_task *self = coop_self();
	coop_wait(&c->recvq);
	if (self->wait_status == COOP_OK)
		memcpy(elem, self->xfer, c->elem);
	return self->wait_status;
}

void coop_chan_close(coop_chan *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	coop_task *t;
	while ((t = coop_wake_one(&c->recvq)))
		t->wait_status = COOP_CLOSED;
	while ((t = coop_wake_one(&c->sendq)))
		t->wait_status = COOP_CLOSED;
}
