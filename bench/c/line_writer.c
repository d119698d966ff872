/*
 * line_writer MODE TARGET N
 *   Writes N lines of 64 bytes (63 characters + '\n') to TARGET and exits.
 *   MODE  stdio  buffered stdio, one fwrite() per line (the one-way C limit)
 *         bulk   write() calls of whole lines, 1024 lines (64 KiB) per call
 *                (the feeder used for the servers' "in" test)
 *         lines  one write() per line, as real clients write (the "in16" test
 *                runs 16 of these at once)
 *   TARGET fifo:PATH | unix:PATH
 * Prints {"lines":N,"ns":...} (writer-side time, for information) on stdout.
 */
#include "chan.h"

#define BULK_LINES 1024

int main(int argc, char **argv) {
    if (argc != 4) die_msg("usage: line_writer stdio|bulk|lines fifo:PATH|unix:PATH N");
    signal(SIGPIPE, SIG_IGN);
    int bulk = strcmp(argv[1], "bulk") == 0;
    int lines = strcmp(argv[1], "lines") == 0;
    if (!bulk && !lines && strcmp(argv[1], "stdio") != 0) die_msg("MODE must be stdio, bulk or lines");
    long long n = atoll(argv[3]);
    int fd;
    if (is_prefix(argv[2], "fifo:")) fd = fifo_open_write(argv[2] + 5);
    else if (is_prefix(argv[2], "unix:")) fd = unix_connect(argv[2] + 5);
    else die_msg("TARGET must be fifo:PATH or unix:PATH");

    char line[LINE_LEN];
    for (int i = 0; i < LINE_LEN - 1; i++) line[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
    line[LINE_LEN - 1] = '\n';

    uint64_t t0 = now_ns();
    if (bulk) {
        static char buf[BULK_LINES * LINE_LEN];
        for (int i = 0; i < BULK_LINES; i++) memcpy(buf + (size_t)i * LINE_LEN, line, LINE_LEN);
        long long left = n;
        while (left > 0) {
            long long k = left < BULK_LINES ? left : BULK_LINES;
            write_all(fd, buf, (size_t)k * LINE_LEN);
            left -= k;
        }
    } else if (lines) {
        for (long long i = 0; i < n; i++) write_all(fd, line, LINE_LEN);
    } else {
        FILE *f = fdopen(fd, "w");
        if (!f) die("fdopen");
        static char sbuf[1 << 16];
        setvbuf(f, sbuf, _IOFBF, sizeof sbuf);
        for (long long i = 0; i < n; i++)
            if (fwrite(line, 1, LINE_LEN, f) != LINE_LEN) die("fwrite");
        if (fflush(f) != 0) die("fflush");
    }
    uint64_t t1 = now_ns();
    printf("{\"lines\":%lld,\"ns\":%llu}\n", n, (unsigned long long)(t1 - t0));
    fflush(stdout);
    close(fd);
    return 0;
}
