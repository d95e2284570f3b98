#include "jsonw.h"

#include <math.h>
#include <string.h>

#include "clock.h"
#include "names.h"

void cli_jw_init(struct cli_jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

static void put(struct cli_jw *w, const char *s, size_t n)
{
	fwrite_unlocked(s, 1, n, w->f);
}

/* bytes written as they are without a look at what follows */
static const bool plain[256] = {
	[' '] = true, ['!'] = true, ['#' ... '['] = true, [']' ... 0x7e] = true, [0x7f] = true,
};

static void string(struct cli_jw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	size_t n;

	putc_unlocked('"', w->f);
	for (; *p; p += n) {
		const char *esc = NULL;
		char u[8];

		n = 1;
		if (plain[*p])
			continue;
		if (*p >= 0x80 && (n = aio_utf8_len(p)))
			continue;
		put(w, (const char *)run, (size_t)(p - run));
		switch (*p) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			if (*p < 0x20)
				snprintf(u, sizeof(u), "\\u%04X", *p);
			else
				memcpy(u, "\xef\xbf\xbd", 4); /* not UTF-8 */
			esc = u;
		}
		n = 1;
		put(w, esc, strlen(esc));
		run = p + 1;
	}
	put(w, (const char *)run, (size_t)(p - run));
	putc_unlocked('"', w->f);
}

static void key(struct cli_jw *w, const char *k)
{
	if (w->more[w->depth])
		putc_unlocked(',', w->f);
	w->more[w->depth] = true;
	if (k) {
		string(w, k);
		putc_unlocked(':', w->f);
	}
}

static void open(struct cli_jw *w, const char *k, char c)
{
	key(w, k);
	putc_unlocked(c, w->f);
	if (w->depth + 1 < CLI_JW_DEPTH)
		w->more[++w->depth] = false;
}

void cli_jw_object(struct cli_jw *w, const char *k)
{
	open(w, k, '{');
}

void cli_jw_array(struct cli_jw *w, const char *k)
{
	open(w, k, '[');
}

void cli_jw_end(struct cli_jw *w, char close)
{
	putc_unlocked(close, w->f);
	if (w->depth)
		w->depth--;
}

void cli_jw_null(struct cli_jw *w, const char *k)
{
	key(w, k);
	put(w, "null", 4);
}

void cli_jw_text(struct cli_jw *w, const char *k, const char *s)
{
	if (!s) {
		cli_jw_null(w, k);
		return;
	}
	key(w, k);
	string(w, s);
}

/* Decimal digits, without printf's format parsing: ten numbers a host. */
static void digits(struct cli_jw *w, bool minus, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10));
	if (minus)
		*--p = '-';
	put(w, p, (size_t)(buf + sizeof(buf) - p));
}

void cli_jw_uint(struct cli_jw *w, const char *k, bool has, uint64_t v)
{
	if (!has) {
		cli_jw_null(w, k);
		return;
	}
	key(w, k);
	/* jansson's integers are signed 64-bit */
	digits(w, (int64_t)v < 0, (int64_t)v < 0 ? -(uint64_t)v : v);
}

void cli_jw_int(struct cli_jw *w, const char *k, int64_t v)
{
	cli_jw_uint(w, k, true, (uint64_t)v);
}

/* As jansson: %.17g, ".0" when it would read back as an integer, the
 * exponent without '+' or leading zeros; no value for NaN or infinity. */
void cli_jw_real(struct cli_jw *w, const char *k, bool has, double v)
{
	char buf[40], *e;
	int n;

	if (!has || !isfinite(v)) {
		cli_jw_null(w, k);
		return;
	}
	n = snprintf(buf, sizeof(buf) - 2, "%.17g", v);
	if (!strchr(buf, '.') && !strchr(buf, 'e'))
		memcpy(buf + n, ".0", 3);
	if ((e = strchr(buf, 'e'))) {
		char *from = ++e;

		if (*e == '-')
			from = ++e;
		if (*from == '+')
			from++;
		while (*from == '0' && from[1])
			from++;
		memmove(e, from, strlen(from) + 1);
	}
	key(w, k);
	put(w, buf, strlen(buf));
}

void cli_jw_bool(struct cli_jw *w, const char *k, bool v)
{
	key(w, k);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void cli_jw_time(struct cli_jw *w, const char *k, uint64_t unix_ms)
{
	char buf[40];

	if (!unix_ms) {
		cli_jw_null(w, k);
		return;
	}
	aio_time_format_rfc3339(unix_ms, buf, sizeof(buf));
	cli_jw_text(w, k, buf);
}
