/*
 * Example pipe-io client in C: replies "echo: <message>" to every message and
 * exits 0 when the server stops (end of stream).
 *
 *     example [SEND_PATH RECV_PATH]     (default: $PIPE_IO_SEND, $PIPE_IO_RECV)
 */
#define _POSIX_C_SOURCE 200809L

#include "pipe_io_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "echo: "

int main(int argc, char **argv)
{
    pipe_io_client *client;
    char *line = NULL, *reply = NULL;
    size_t cap = 0, reply_cap = 0;
    ssize_t len;
    int status = 0;

    if (argc != 1 && argc != 3) {
        fprintf(stderr, "usage: %s [SEND_PATH RECV_PATH]\n", argv[0]);
        return 2;
    }
    client = pipe_io_open(argc == 3 ? argv[1] : NULL, argc == 3 ? argv[2] : NULL, -1);
    if (client == NULL) {
        if (errno == ENOENT)
            fprintf(stderr, "pipe_io_open: no pipe at the paths after 10 s: start the server first, or check the paths\n");
        else if (errno == ENXIO)
            fprintf(stderr, "pipe_io_open: the pipes exist but no server reads them (after 10 s): is the server running?\n");
        else
            perror("pipe_io_open");
        return 1;
    }
    while ((len = pipe_io_recv(client, &line, &cap)) >= 0) {
        size_t n = sizeof PREFIX - 1 + (size_t)len;
        if (n > reply_cap) {
            char *p = realloc(reply, n);
            if (p == NULL) {
                perror("realloc");
                status = 1;
                break;
            }
            reply = p;
            reply_cap = n;
        }
        memcpy(reply, PREFIX, sizeof PREFIX - 1);
        memcpy(reply + sizeof PREFIX - 1, line, (size_t)len);
        if (pipe_io_send(client, reply, n) < 0) {
            if (errno != EPIPE) { /* EPIPE: the server stopped before our reply */
                perror("pipe_io_send");
                status = 1;
            }
            break;
        }
    }
    if (len == PIPE_IO_ERROR) {
        perror("pipe_io_recv");
        status = 1;
    }
    free(line);
    free(reply);
    pipe_io_close(client);
    return status;
}
