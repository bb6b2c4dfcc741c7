/* SPDX-License-Identifier: MIT */
/*
 * vmmweb: vmmd's dashboard, Prometheus metrics, event stream and read-only
 * JSON API over HTTP (docs/dashboard.md, docs/metrics.md). A client of
 * vmmd like vmmctl; it needs the monitor role, and debug for its views of
 * the guest's own data (vmm.whoami says which it has; docs/dashboard.md).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "vmmctl/socket_path.h"
#include "vmmd/common/log.h"
#include "web/http_guard.h"
#include "web/listen.h"
#include "web/scrape.h"
#include "web/server.h"
#include "web/sse.h"
#include "web/vmmd_link.h"
#include "web/web.h"

#define WEB_STATIC_DIR "/usr/share/vmmd/web"
#define WEB_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#define WEB_VERSION "0.1.0"

#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_REQUEST_TIMEOUT_S 10
#define MAX_HEADERS_SIZE 8192      /* request line and headers */

struct options {
	const char *socket, *listen, *listen_unix, *static_dir, *chartjs, *log_level;
	unsigned max_connections, request_timeout_s;
	bool any_host;
};

static void usage(FILE *f)
{
	fputs("Usage: vmmweb [OPTION...]\n"
	      "\n"
	      "vmmd's dashboard, Prometheus metrics (/metrics), event stream (/events) and\n"
	      "read-only JSON API (/api/METHOD) over HTTP; a client of vmmd: its monitor role\n"
	      "serves the metrics, events and list, the debug role the views of guest data.\n"
	      "  --socket PATH          vmmd's socket (default: $VMMD_SOCKET, " VMMD_SYSTEM_SOCKET "\n"
	      "                         as root, else $XDG_RUNTIME_DIR/vmmd/vmmd.sock)\n"
	      "  --listen ADDR:PORT     TCP address (default " WEB_DEFAULT_LISTEN "; [IPv6]:PORT; port 0:\n"
	      "                         any free one, logged)\n"
	      "  --listen-unix PATH     a Unix socket instead (for a reverse proxy)\n"
	      "  --static-dir DIR       the dashboard's files (default: ../share/vmmd/web beside\n"
	      "                         the binary, else " WEB_STATIC_DIR ")\n"
	      "  --chartjs FILE         Chart.js (default " WEB_CHARTJS ", libjs-chart.js)\n"
	      "  --max-connections N    open HTTP connections at most (default 256)\n"
	      "  --request-timeout S    seconds a connection has for a whole request, and the\n"
	      "                         idle and write timeout (default 10)\n"
	      "  --any-host             on loopback, accept any Host header (behind a proxy)\n"
	      "  --log-level LEVEL      error, warning, notice, info (default) or debug\n"
	      "  --version, --help\n", f);
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned) v;
	return 0;
}

/* 0, 1 after --help/--version, or 2 on a usage error (message printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-unix", required_argument, NULL, 'u' },
		{ "static-dir", required_argument, NULL, 'd' },
		{ "chartjs", required_argument, NULL, 'c' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "request-timeout", required_argument, NULL, 't' },
		{ "any-host", no_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;
	*o = (struct options) { .max_connections = DEFAULT_MAX_CONNECTIONS,
				.request_timeout_s = DEFAULT_REQUEST_TIMEOUT_S, .chartjs = WEB_CHARTJS };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'u': o->listen_unix = optarg; break;
		case 'd': o->static_dir = optarg; break;
		case 'c': o->chartjs = optarg; break;
		case 'a': o->any_host = true; break;
		case 'L': o->log_level = optarg; break;
		case 'm':
			if (parse_uint(optarg, 1, 65536, &o->max_connections) < 0) {
				fprintf(stderr, "vmmweb: --max-connections takes 1..65536, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_uint(optarg, 1, 3600, &o->request_timeout_s) < 0) {
				fprintf(stderr, "vmmweb: --request-timeout takes 1..3600 seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("vmmweb %s\n", WEB_VERSION); return 1;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmweb: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->listen && o->listen_unix) {
		fputs("vmmweb: --listen and --listen-unix exclude each other\n", stderr);
		return 2;
	}
	char addr[64];
	uint16_t port;
	if (o->listen && listen_parse(o->listen, addr, sizeof(addr), &port) < 0) {
		fprintf(stderr, "vmmweb: --listen takes ADDR:PORT or [IPv6]:PORT, not '%s'\n", o->listen);
		return 2;
	}
	return 0;
}

/* Where the binary is decides: PREFIX/sbin/vmmweb uses PREFIX/share/vmmd/web
 * (make install, any PREFIX), build/vmmweb the tree's web/static. */
static char *find_static_dir(void)
{
	static const char *const beside[] = { "../share/vmmd/web", "../web/static" };
	char exe[PATH_MAX], buf[PATH_MAX + 32];
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
	if (slash) {
		*slash = '\0';
		for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
			snprintf(buf, sizeof(buf), "%s/%s/index.html", exe, beside[i]);
			if (stat(buf, &st) == 0) {
				snprintf(buf, sizeof(buf), "%s/%s", exe, beside[i]);
				return realpath(buf, NULL);
			}
		}
	}
	return strdup(WEB_STATIC_DIR);
}

static void on_connected(void *userdata)
{
	struct web *w = userdata;
	sse_link_changed(w->sse, true);
}

static void on_disconnected(void *userdata)
{
	struct web *w = userdata;
	sse_link_changed(w->sse, false);
}

static void on_event(void *userdata, struct json_object *params)
{
	struct web *w = userdata;
	sse_event(w->sse, params);
}

static const struct vmmd_link_ops link_ops = {
	.connected = on_connected, .disconnected = on_disconnected, .event = on_event,
};

static void on_signal(evutil_socket_t sig, short what, void *userdata)
{
	struct web *w = userdata;
	log_info("Got %s, exiting", strsignal((int) sig));
	event_base_loopbreak(w->base);
}

static void web_free(struct web *w)
{
	vmmd_link_free(w->link);     /* first: it fails what is in flight while the rest exists */
	scraper_free(w->scraper);
	if (w->http)
		evhttp_free(w->http);    /* closes every connection: the guard and the hub hear of it */
	sse_hub_free(w->sse);
	http_guard_free(w->guard);
	free(w->static_dir);
	free(w->chartjs);
}

int main(int argc, char **argv)
{
	struct options o;
	struct web w = { 0 };
	struct event *sigs[2] = { NULL, NULL };
	char *socket_path = NULL;
	int r, rc = 1;

	r = parse_args(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : 2;
	log_set_ident("vmmweb");
	if (o.log_level) {
		int level = log_parse_level(o.log_level);
		if (level < 0) {
			fprintf(stderr, "vmmweb: unknown log level '%s'\n", o.log_level);
			return 2;
		}
		log_set_level((enum log_level) level);
	}
	r = socket_path_resolve(o.socket, getenv("VMMD_SOCKET"), getenv("XDG_RUNTIME_DIR"), geteuid(), &socket_path);
	if (r < 0) {
		log_error("No vmmd socket: XDG_RUNTIME_DIR is not set; use --socket PATH or VMMD_SOCKET");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Each scrape builds megabytes (the parsed batch, the samples, the page)
	 * and frees them: glibc gave that back to the kernel at every scrape
	 * and faulted it in again at the next (bench B14). Keep up to 32 MiB
	 * free for the next one; what vmmd may send bounds a scrape anyway. */
	(void) mallopt(M_MMAP_THRESHOLD, 4 << 20);
	(void) mallopt(M_TRIM_THRESHOLD, 32 << 20);
	w.static_dir = o.static_dir ? realpath(o.static_dir, NULL) : find_static_dir();
	w.chartjs = strdup(o.chartjs);
	if (!w.static_dir) {
		log_error_errno(-errno, "--static-dir %s: %m", o.static_dir);
		goto out;
	}
	w.base = event_base_new();
	w.http = w.base ? evhttp_new(w.base) : NULL;
	if (!w.http || !w.chartjs) {
		log_error("Out of memory");
		goto out;
	}
	/* Every method reaches on_request, which answers 405 but to GET and HEAD
	 * (evhttp's own refusal would be 501). */
	evhttp_set_allowed_methods(w.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(w.http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(w.http, 0);   /* GET and HEAD carry no body */
	evhttp_set_timeout(w.http, (int) o.request_timeout_s);
	if (http_guard_new(w.http, w.base, o.max_connections, o.request_timeout_s * 1000, &w.guard) < 0 ||
	    sse_hub_new(&w, o.request_timeout_s, &w.sse) < 0 || scraper_new(&w, &w.scraper) < 0 ||
	    vmmd_link_new(w.base, socket_path, &link_ops, &w, &w.link) < 0) {
		log_error("Out of memory");
		goto out;
	}
	server_routes(&w);
	/* Before the socket exists: whoever sees it may already send SIGTERM. */
	sigs[0] = evsignal_new(w.base, SIGTERM, on_signal, &w);
	sigs[1] = evsignal_new(w.base, SIGINT, on_signal, &w);
	for (int i = 0; i < 2; i++)
		if (!sigs[i] || evsignal_add(sigs[i], NULL) < 0) {
			log_error("Cannot watch signals");
			goto out;
		}

	if (o.listen_unix) {
		r = listen_unix(w.http, o.listen_unix);
		if (r < 0) {
			log_error_errno(r, "Cannot listen on %s: %m", o.listen_unix);
			goto out;
		}
		log_info("Listening on unix:%s", o.listen_unix);
	} else {
		const char *spec = o.listen ? o.listen : WEB_DEFAULT_LISTEN;
		char addr[64];
		uint16_t port, bound;
		r = listen_tcp(w.http, spec, &bound);
		if (r < 0) {
			log_error_errno(r, "Cannot listen on %s: %m", spec);
			goto out;
		}
		(void) listen_parse(spec, addr, sizeof(addr), &port);
		w.check_host = !o.any_host && listen_is_loopback(addr);
		/* Tests and scripts read the port from this line when they asked for port 0. */
		log_info("Listening on http://%s%s%s:%u/", strchr(addr, ':') ? "[" : "", addr,
			 strchr(addr, ':') ? "]" : "", (unsigned) bound);
	}
	log_info("Dashboard files from %s; vmmd at %s", w.static_dir, socket_path);

	vmmd_link_start(w.link);
	(void) sd_notify(0, "READY=1\nSTATUS=Serving");
	event_base_dispatch(w.base);
	(void) sd_notify(0, "STOPPING=1");
	rc = 0;
out:
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	web_free(&w);
	if (w.base)
		event_base_free(w.base);
	free(socket_path);
	return rc;
}
