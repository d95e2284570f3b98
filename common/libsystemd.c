#include "libsystemd.h"

#include <dlfcn.h>
#include <pthread.h>

#include <stdio.h>

static struct aio_libsystemd lib;
static const struct aio_libsystemd *loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[256];

static void load(void)
{
	void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(why, sizeof(why), "%s", dlerror());
		return;
	}
#define AIO_LIBSYSTEMD_LOAD(name)                                                           \
	if (!(*(void **)&lib.name = dlsym(h, "sd_" #name))) {                               \
		snprintf(why, sizeof(why), "libsystemd.so.0 has no sd_%s: too old", #name); \
		return;                                                                     \
	}
	AIO_LIBSYSTEMD_SYMBOLS(AIO_LIBSYSTEMD_LOAD)
#undef AIO_LIBSYSTEMD_LOAD
	loaded = &lib;
}

const struct aio_libsystemd *aio_libsystemd(void)
{
	pthread_once(&once, load);
	return loaded;
}

const char *aio_libsystemd_error(void)
{
	pthread_once(&once, load);
	return loaded ? NULL : why;
}
