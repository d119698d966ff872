/*
 * Shared helpers for the benchmark's C programs (header-only; each program is
 * compiled on its own with `cc -O2`).
 *
 * A channel end is named on the command line as
 *   fifo:PATH            a FIFO (one direction)
 *   unix:PATH            a connected Unix stream socket (both directions)
 *
 * FIFO rules followed here (see /work/shared/fifo-facts/README.md):
 *  - The read end is opened O_RDONLY|O_NONBLOCK (never blocks, whatever the
 *    writer side is doing) and then switched back to blocking reads.
 *  - read() on a FIFO that has never had a writer returns 0 at once, so a 0 is
 *    only EOF if poll() reports POLLHUP without POLLIN. Before the first writer
 *    poll() reports nothing and simply waits.
 *  - The write end is opened O_WRONLY (blocking): it waits for a reader.
 */
#ifndef BENCH_CHAN_H
#define BENCH_CHAN_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_LEN 64 /* bytes per line, newline included */

static inline void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(2);
}

static inline void die_msg(const char *what) {
    fprintf(stderr, "%s\n", what);
    exit(2);
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int is_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static inline int unix_connect(const char *path) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) die_msg("socket path too long");
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    return fd;
}

/* Read end of a FIFO: never blocks in open(). */
static inline int fifo_open_read(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open fifo for reading");
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) die("fcntl");
    return fd;
}

/* Write end of a FIFO: blocks until a reader exists. */
static inline int fifo_open_write(const char *path) {
    int fd;
    do fd = open(path, O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) die("open fifo for writing");
    return fd;
}

/*
 * read() that tells "no writer has opened yet" (returns 0, poll reports
 * nothing: keep waiting) from EOF (POLLHUP without POLLIN). Returns bytes read,
 * or 0 on EOF. is_fifo=0 for sockets, where 0 is always EOF.
 */
static inline ssize_t chan_read(int fd, void *buf, size_t n, int is_fifo) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r > 0) return r;
        if (r < 0) {
            if (errno == EINTR) continue;
            die("read");
        }
        if (!is_fifo) return 0;
        struct pollfd p = { fd, POLLIN, 0 };
        int k = poll(&p, 1, 60000);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die("poll");
        if (k == 0) die_msg("no data for 60 s");
        if (p.revents & POLLIN) continue;
        return 0; /* POLLHUP / POLLERR without data: EOF */
    }
}

static inline void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

static inline void say(const char *line) {
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

#endif
