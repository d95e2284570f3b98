/* Test helper: holds AIO contexts so fs.aio-nr moves for real.
 *   aio-hold EVENTS [CONTEXTS] [ignored...]
 * Creates CONTEXTS (default 1) contexts of EVENTS events each with
 * io_setup(), prints "ready" and waits until stdin closes. Extra arguments
 * are ignored so the process can look like QEMU (-name guest=NAME). */
#include <errno.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long events, contexts = 1;
	char buf[64];

	if (argc < 2 || (events = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: aio-hold EVENTS [CONTEXTS]\n");
		return 64;
	}
	if (argc > 2)
		contexts = strtoul(argv[2], NULL, 10);
	for (unsigned long i = 0; i < contexts; i++) {
		aio_context_t ctx = 0;

		if (syscall(SYS_io_setup, events, &ctx) < 0) {
			fprintf(stderr, "aio-hold: io_setup(%lu): %s\n", events, strerror(errno));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
