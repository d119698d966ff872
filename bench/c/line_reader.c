/*
 * line_reader SOURCE N
 *   Opens SOURCE (fifo:PATH, fifo-rw:PATH or unix:PATH), prints OPEN, then reads and counts
 *   lines until N have arrived. Timed at the receiver: from the read that
 *   delivered the first line to the read that completed line N; the rate is
 *   (N-1) / that interval (the same definition the Node receivers use).
 *   Checks every line is 64 bytes. fifo-rw opens the FIFO O_RDWR, the usual
 *   idiom for a FIFO with many writers: holding a write end itself, the reader
 *   never sees end of file when all writers happen to be closed at once.
 * Prints {"lines":N,"bytes":...,"bad":...,"ns":...,"rate":...} on stdout.
 */
#include "chan.h"

int main(int argc, char **argv) {
    if (argc != 3) die_msg("usage: line_reader fifo:PATH|fifo-rw:PATH|unix:PATH N");
    long long n = atoll(argv[2]);
    int fd, is_fifo;
    if (is_prefix(argv[1], "fifo:")) { fd = fifo_open_read(argv[1] + 5); is_fifo = 1; }
    else if (is_prefix(argv[1], "fifo-rw:")) {
        fd = open(argv[1] + 8, O_RDWR | O_CLOEXEC);
        if (fd < 0) die("open fifo read-write");
        is_fifo = 1;
    }
    else if (is_prefix(argv[1], "unix:")) { fd = unix_connect(argv[1] + 5); is_fifo = 0; }
    else die_msg("SOURCE must be fifo:PATH, fifo-rw:PATH or unix:PATH");
    say("OPEN");

    static char buf[1 << 16];
    long long lines = 0, bad = 0, bytes = 0, cur = 0; /* cur: bytes of the line in progress */
    uint64_t t0 = 0, t1 = 0;
    while (lines < n) {
        ssize_t r = chan_read(fd, buf, sizeof buf, is_fifo);
        if (r == 0) break;
        if (t0 == 0) t0 = now_ns();
        bytes += r;
        char *p = buf, *end = buf + r;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) { cur += end - p; break; }
            cur += nl - p + 1;
            if (cur != LINE_LEN) bad++;
            cur = 0;
            lines++;
            p = nl + 1;
        }
    }
    t1 = now_ns();
    double secs = (double)(t1 - t0) / 1e9;
    printf("{\"lines\":%lld,\"bytes\":%lld,\"bad\":%lld,\"ns\":%llu,\"rate\":%.1f}\n", lines, bytes, bad,
           (unsigned long long)(t1 - t0), secs > 0 && lines > 1 ? (double)(lines - 1) / secs : 0.0);
    fflush(stdout);
    if (lines < n) { fprintf(stderr, "line_reader: EOF after %lld of %lld lines\n", lines, n); return 1; }
    return bad ? 1 : 0;
}
