/* Random tokens and their comparison. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Writes 2*nbytes hex digits and a NUL into buf (len >= 2*nbytes+1), from
 * the kernel's random pool. */
int aio_secret_hex(char *buf, size_t len, size_t nbytes);
/* SHA-256 of a token, as 64 hex digits and a NUL: how secrets are stored.
 * Tokens carry 256 random bits, so a plain hash is enough. */
#define AIO_SECRET_HASH_LEN 65
void aio_secret_hash(const char *token, char out[AIO_SECRET_HASH_LEN]);
/* Compares in time that depends only on the lengths, not the contents. */
bool aio_secret_equal(const char *a, const char *b);
