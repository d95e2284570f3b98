/* nng-echo: the ceiling no RPC over nng can pass here. A REP server with a
 * pool of contexts echoes, in a process of its own as aio-server is; N REQ
 * clients, each on its own connection, send M messages of SIZE bytes back
 * to back. Prints one JSON line.
 *   nng-echo --url tcp://127.0.0.1:PORT --clients N --messages M --size B */
#include <getopt.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL 64

struct srv_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
};

struct client {
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	size_t left;
};

static nng_socket srv;
static size_t size;
static atomic_size_t done_clients, done_msgs;

static void srv_cb(void *arg)
{
	struct srv_ctx *c = arg;

	if (nng_aio_result(c->aio) != 0)
		return;
	if (!c->sending) {
		c->sending = true;
		nng_ctx_send(c->ctx, c->aio); /* the received message goes back */
		return;
	}
	c->sending = false;
	nng_ctx_recv(c->ctx, c->aio);
}

static void send_one(struct client *c)
{
	nng_msg *m;

	nng_msg_alloc(&m, size);
	memset(nng_msg_body(m), 'x', size);
	c->sending = true;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

static void client_cb(void *arg)
{
	struct client *c = arg;

	if (nng_aio_result(c->aio) != 0) {
		done_clients++;
		return;
	}
	if (c->sending) {
		c->sending = false;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	nng_msg_free(nng_aio_get_msg(c->aio));
	done_msgs++;
	if (--c->left == 0) {
		done_clients++;
		return;
	}
	send_one(c);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "clients", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = "tcp://127.0.0.1:7799";
	size_t n_clients = 100, messages = 1000;
	struct srv_ctx pool[POOL];
	struct client *clients;
	struct rlimit rl;
	double t0, t1;
	pid_t server;
	int c;

	size = 160;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'u')
			url = optarg;
		else if (c == 'c')
			n_clients = strtoul(optarg, NULL, 10);
		else if (c == 'm')
			messages = strtoul(optarg, NULL, 10);
		else if (c == 's')
			size = strtoul(optarg, NULL, 10);
		else
			return 64;
	}
	/* one descriptor per connection on each side */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((server = fork()) < 0)
		return 1;
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nng_rep0_open(&srv) != 0 || nng_listen(srv, url, NULL, 0) != 0) {
			fprintf(stderr, "nng-echo: cannot listen on %s\n", url);
			_exit(1);
		}
		for (size_t i = 0; i < POOL; i++) {
			nng_aio_alloc(&pool[i].aio, srv_cb, &pool[i]);
			nng_ctx_open(&pool[i].ctx, srv);
			pool[i].sending = false;
			nng_ctx_recv(pool[i].ctx, pool[i].aio);
		}
		for (;;)
			pause();
	}
	clients = calloc(n_clients, sizeof(*clients));
	for (size_t i = 0; i < n_clients; i++) {
		int rv;

		nng_req0_open(&clients[i].sock);
		/* the first waits for the server to listen, for at most 10 s */
		for (int tries = 0; (rv = nng_dial(clients[i].sock, url, NULL, 0)) != 0 && i == 0 &&
		                    tries < 1000 && waitpid(server, NULL, WNOHANG) == 0;
		     tries++)
			nng_msleep(10);
		if (rv != 0) {
			fprintf(stderr, "nng-echo: cannot dial %s: %s\n", url, nng_strerror(rv));
			kill(server, SIGKILL);
			return 1;
		}
		nng_ctx_open(&clients[i].ctx, clients[i].sock);
		nng_aio_alloc(&clients[i].aio, client_cb, &clients[i]);
		clients[i].left = messages;
	}
	t0 = now_s();
	for (size_t i = 0; i < n_clients; i++)
		send_one(&clients[i]);
	while (done_clients < n_clients) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	t1 = now_s();
	printf("{\"clients\": %zu, \"messages\": %zu, \"size\": %zu, \"seconds\": %.3f, "
	       "\"per_s\": %.0f}\n",
	       n_clients, (size_t)done_msgs, size, t1 - t0, (double)done_msgs / (t1 - t0));
	fflush(stdout);
	kill(server, SIGKILL);
	_exit(0);
}
