/*
 * echo_peer IN_PATH OUT_PATH
 *   The C-limit echo server: reads lines from the IN FIFO with stdio and writes
 *   each back to the OUT FIFO with a flush per line, until EOF on IN.
 *   Opens IN O_NONBLOCK (never blocks) and prints READY; opens OUT once the
 *   first data has arrived (a client opens its read end before writing).
 */
#include "chan.h"

int main(int argc, char **argv) {
    if (argc != 3) die_msg("usage: echo_peer IN_PATH OUT_PATH");
    signal(SIGPIPE, SIG_IGN);
    int rfd = fifo_open_read(argv[1]);
    say("READY");
    /* Wait for the first writer's data: read() would return 0 before that. */
    struct pollfd p = { rfd, POLLIN, 0 };
    for (;;) {
        int k = poll(&p, 1, -1);
        if (k > 0 && (p.revents & POLLIN)) break;
        if (k < 0 && errno != EINTR) die("poll");
        if (k > 0) return 0; /* HUP without data */
    }
    int wfd = fifo_open_write(argv[2]);
    FILE *in = fdopen(rfd, "r"), *out = fdopen(wfd, "w");
    if (!in || !out) die("fdopen");
    char line[1 << 12];
    while (fgets(line, sizeof line, in)) {
        if (fputs(line, out) == EOF || fflush(out) == EOF) die("write");
    }
    return 0;
}
