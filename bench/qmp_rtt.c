/* Minimal QMP round-trip timer for bench/bench_core.py.
 *
 *   qmp_rtt SOCKET MODE N REQUEST
 *     MODE seq: N sequential round trips of REQUEST (events skipped)
 *     MODE pipe: REQUEST written N times at once, then N replies read
 *     MODE mix: REQUEST is several requests, one a line: N sequential round
 *       trips sending them in turn (a mix of different questions)
 *   prints the average microseconds per request.
 *
 * Written for qmpserver's benchmarks; the client must cost far less than the
 * servers it measures, which a Python client does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

static char buf[1 << 22];
static size_t have, start;

static int fd;

static int read_line(void) {   /* returns 1 for a non-event line, 0 for an event */
    for (;;) {
        char *nl = memchr(buf + start, '\n', have - start);
        if (nl) {
            int is_event = strncmp(buf + start, "{\"timestamp\"", 12) == 0;
            start = (size_t)(nl - buf) + 1;
            return !is_event;
        }
        if (start > 0) { memmove(buf, buf + start, have - start); have -= start; start = 0; }
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0) { perror("read"); exit(1); }
        have += (size_t)n;
    }
}

static void send_all(const char *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) { perror("write"); exit(1); }
        p += n; len -= (size_t)n;
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s SOCKET seq|pipe|mix N REQUEST\n", argv[0]); return 2; }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, argv[1], sizeof(sa.sun_path) - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { perror("connect"); return 1; }
    long n = atol(argv[3]);
    const char *req = argv[4];
    size_t len = strlen(req);
    read_line();                                    /* greeting */
    const char *neg = "{\"execute\":\"qmp_capabilities\"}";
    send_all(neg, strlen(neg));
    while (!read_line()) ;
    if (strcmp(argv[2], "mix") == 0) {
        const char *line[4096]; size_t llen[4096]; int nl = 0;
        for (const char *p = req; *p && nl < 4096;) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l) { line[nl] = p; llen[nl] = l; nl++; }
            p += l + (e ? 1 : 0);
        }
        if (!nl) { fprintf(stderr, "no request\n"); return 2; }
        for (int i = 0; i < nl; i++) { send_all(line[i], llen[i]); while (!read_line()) ; }
        double t0 = now();
        for (long i = 0; i < n; i++) { send_all(line[i % nl], llen[i % nl]); while (!read_line()) ; }
        printf("%.3f\n", (now() - t0) / n * 1e6);
        return 0;
    }
    for (int i = 0; i < 200; i++) { send_all(req, len); while (!read_line()) ; }
    double t0 = now();
    if (strcmp(argv[2], "seq") == 0) {
        for (long i = 0; i < n; i++) { send_all(req, len); while (!read_line()) ; }
    } else {
        char *all = malloc(len * (size_t)n);
        for (long i = 0; i < n; i++) memcpy(all + i * len, req, len);
        send_all(all, len * (size_t)n);
        for (long i = 0; i < n; i++) while (!read_line()) ;
    }
    printf("%.3f\n", (now() - t0) / n * 1e6);
    return 0;
}
