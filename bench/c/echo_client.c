/*
 * echo_client TARGET M [WARMUP]
 *   TARGET  fifo:IN_PATH,OUT_PATH   (client writes IN, reads OUT)
 *           unix:PATH
 *   Sends one 64-byte line with one write() and waits for the reply line,
 *   WARMUP times untimed (default 2000) and then M times timed with
 *   clock_gettime(CLOCK_MONOTONIC). Each line carries a sequence number and
 *   every reply is checked against what was sent.
 *   For FIFOs the read end (OUT) is opened first, O_NONBLOCK then blocking, so
 *   the open never waits and a server may open its write end lazily.
 * Prints {"rounds":M,"rtps":...,"p50_us":...,"p99_us":...,"max_us":...,"mean_us":...}.
 */
#include "chan.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static char rbuf[1 << 16];
static size_t rlen = 0; /* bytes buffered in rbuf */

/* Reads until one full line is buffered; copies it into out; returns its length. */
static size_t read_line(int fd, int is_fifo, char *out, size_t cap) {
    for (;;) {
        char *nl = memchr(rbuf, '\n', rlen);
        if (nl) {
            size_t len = (size_t)(nl - rbuf) + 1;
            if (len > cap) die_msg("reply line too long");
            memcpy(out, rbuf, len);
            memmove(rbuf, rbuf + len, rlen - len);
            rlen -= len;
            return len;
        }
        if (rlen == sizeof rbuf) die_msg("reply line too long");
        ssize_t r = chan_read(fd, rbuf + rlen, sizeof rbuf - rlen, is_fifo);
        if (r == 0) die_msg("echo_client: EOF from server");
        rlen += (size_t)r;
    }
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) die_msg("usage: echo_client fifo:IN,OUT|unix:PATH M [WARMUP]");
    signal(SIGPIPE, SIG_IGN);
    long m = atol(argv[2]);
    long warm = argc == 4 ? atol(argv[3]) : 2000;
    if (m < 1) die_msg("M must be >= 1");
    int rfd, wfd, is_fifo;
    if (is_prefix(argv[1], "fifo:")) {
        char *spec = strdup(argv[1] + 5);
        char *comma = strchr(spec, ',');
        if (!comma) die_msg("fifo:IN,OUT");
        *comma = 0;
        rfd = fifo_open_read(comma + 1);
        wfd = fifo_open_write(spec);
        is_fifo = 1;
    } else if (is_prefix(argv[1], "unix:")) {
        rfd = wfd = unix_connect(argv[1] + 5);
        is_fifo = 0;
    } else die_msg("TARGET must be fifo:IN,OUT or unix:PATH");

    uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)m);
    if (!lat) die("malloc");
    char line[LINE_LEN], reply[LINE_LEN + 1];
    memset(line, 'e', LINE_LEN);
    line[LINE_LEN - 1] = '\n';
    uint64_t start = 0;
    for (long i = -warm; i < m; i++) {
        if (i == 0) start = now_ns();
        snprintf(line, 16, "%015ld", i + warm); /* overwrites the NUL below */
        line[15] = '-';
        uint64_t t0 = now_ns();
        write_all(wfd, line, LINE_LEN);
        size_t len = read_line(rfd, is_fifo, reply, sizeof reply);
        uint64_t t1 = now_ns();
        if (len != LINE_LEN || memcmp(reply, line, LINE_LEN) != 0) {
            fprintf(stderr, "echo_client: round %ld: reply differs from request\n", i + warm);
            return 1;
        }
        if (i >= 0) lat[i] = t1 - t0;
    }
    uint64_t total = now_ns() - start;
    double sum = 0;
    for (long i = 0; i < m; i++) sum += (double)lat[i];
    qsort(lat, (size_t)m, sizeof *lat, cmp_u64);
    long i50 = (m - 1) * 50 / 100, i99 = (m - 1) * 99 / 100;
    printf("{\"rounds\":%ld,\"rtps\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f}\n", m,
           (double)m / ((double)total / 1e9), lat[i50] / 1e3, lat[i99] / 1e3, lat[m - 1] / 1e3, sum / m / 1e3);
    fflush(stdout);
    return 0;
}
