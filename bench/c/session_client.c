/*
 * session_client: the session bench's client, on the C client library (clients/c).
 *   session_client connect DIR N      open and close N sessions one after the other;
 *                                     prints {"n":N,"ms":...}
 *   session_client echo DIR M WARMUP  one session; WARMUP untimed then M timed round trips of a
 *                                     64-byte line; prints {"rtps","p50_us","p99_us","max_us"}
 *   session_client hold DIR N         opens N sessions, prints OPEN, closes them at end of stdin
 *   session_client flood DIR          one session; sends 64-byte lines as fast as it can, never
 *                                     reading, until killed; prints OPEN once connected
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pipe_io_client.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pipe_io_client *open_or_die(const char *dir) {
    pipe_io_client *c = pipe_io_session_open(dir, 30000);
    if (c == NULL) {
        fprintf(stderr, "session_client: cannot open a session in %s: %s %s\n", dir, strerror(errno), pipe_io_refusal());
        exit(1);
    }
    return c;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: session_client connect|echo|hold|flood DIR ...\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    if (strcmp(mode, "connect") == 0 && argc == 4) {
        long n = atol(argv[3]), i;
        uint64_t t0 = now_ns();
        for (i = 0; i < n; i++) pipe_io_close(open_or_die(dir));
        printf("{\"n\":%ld,\"ms\":%.3f}\n", n, (double)(now_ns() - t0) / 1e6);
        return 0;
    }
    if (strcmp(mode, "echo") == 0 && argc == 5) {
        long m = atol(argv[3]), warm = atol(argv[4]), i;
        pipe_io_client *c = open_or_die(dir);
        uint64_t *rt = malloc(sizeof *rt * (size_t)m), t0 = 0;
        char msg[64], *line = NULL;
        size_t cap = 0;
        for (i = -warm; i < m; i++) {
            int len = snprintf(msg, sizeof msg, "%063ld", i < 0 ? -i : i);
            uint64_t t = now_ns();
            if (i == 0) t0 = t;
            if (pipe_io_send(c, msg, (size_t)len) < 0 || pipe_io_recv(c, &line, &cap) != len || memcmp(line, msg, (size_t)len) != 0) {
                fprintf(stderr, "session_client: echo failed at %ld\n", i);
                return 1;
            }
            if (i >= 0) rt[i] = now_ns() - t;
        }
        double secs = (double)(now_ns() - t0) / 1e9;
        qsort(rt, (size_t)m, sizeof *rt, cmp_u64);
        printf("{\"rounds\":%ld,\"rtps\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n", m, (double)m / secs, rt[m / 2] / 1e3,
               rt[(size_t)((double)m * 0.99)] / 1e3, rt[m - 1] / 1e3);
        pipe_io_close(c);
        return 0;
    }
    if (strcmp(mode, "hold") == 0 && argc == 4) {
        long n = atol(argv[3]), i;
        pipe_io_client **all = malloc(sizeof *all * (size_t)n);
        char buf[256];
        for (i = 0; i < n; i++) all[i] = open_or_die(dir);
        printf("OPEN\n");
        fflush(stdout);
        while (read(0, buf, sizeof buf) > 0) {
        }
        for (i = 0; i < n; i++) pipe_io_close(all[i]);
        return 0;
    }
    if (strcmp(mode, "flood") == 0 && argc == 3) {
        pipe_io_client *c = open_or_die(dir);
        const char *msg = "flood flood flood flood flood flood flood flood flood flood flood";
        printf("OPEN\n");
        fflush(stdout);
        while (pipe_io_send(c, msg, 63) == 0) {
        }
        return 0;
    }
    fprintf(stderr, "session_client: bad arguments\n");
    return 2;
}
