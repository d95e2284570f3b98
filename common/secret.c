#include "secret.h"

#include <errno.h>
#include <mbedtls/sha256.h>
#include <string.h>
#include <sys/random.h>

#define SECRET_MAX_BYTES 64

int aio_secret_hex(char *buf, size_t len, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[SECRET_MAX_BYTES];

	if (nbytes > SECRET_MAX_BYTES || len < nbytes * 2 + 1)
		return -EINVAL;
	if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0xf];
	}
	buf[nbytes * 2] = '\0';
	return 0;
}

void aio_secret_hash(const char *token, char out[AIO_SECRET_HASH_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[32];

	mbedtls_sha256_ret((const unsigned char *)token, strlen(token), digest, 0);
	for (size_t i = 0; i < sizeof(digest); i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[64] = '\0';
}

bool aio_secret_equal(const char *a, const char *b)
{
	size_t la, lb;
	unsigned char diff = 0;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}
