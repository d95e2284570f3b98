/* The connections of one listener: at most max at a time (past it a new
 * one is closed at once, logged once in 10 s), and a connection with no
 * call under way for idle_ms is closed. nng itself closes a connection
 * that has not finished its handshake after 10 s.
 *
 * nng calls the add and remove hooks from its own threads; the RPC server
 * marks calls begun and ended on a connection. */
#pragma once

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

struct aio_pipes;

/* max 0: no cap; idle_ms 0: no idle timeout. what names the listener in
 * the log ("agents"). Must be called before the listener starts. */
int aio_pipes_start(nng_socket sock, const char *what, size_t max, uint64_t idle_ms,
                    struct aio_pipes **ret);
/* Stops the idle sweep and frees (after the socket is closed). NULL: no-op. */
void aio_pipes_free(struct aio_pipes *p);
/* A call began or ended on pipe. */
void aio_pipes_call_begin(struct aio_pipes *p, nng_pipe pipe);
void aio_pipes_call_end(struct aio_pipes *p, nng_pipe pipe);
struct aio_pipes_counts {
	size_t open;      /* now */
	uint64_t refused; /* ever, at the cap */
	uint64_t idled;   /* ever, closed idle */
};

void aio_pipes_counts(struct aio_pipes *p, struct aio_pipes_counts *ret);
