/*
 * pipe_io_client: talk to a pipe-io-server from C (C99 + POSIX, Linux).
 *
 * A message is one line: UTF-8 text, or any bytes but '\n' for a server with
 * codec 'buffer' (lengths, not C strings: NUL bytes are kept); on the wire it
 * ends with '\n'.
 *
 *     pipe_io_client *c = pipe_io_open(NULL, NULL, -1);   // PIPE_IO_SEND, PIPE_IO_RECV
 *     char *line = NULL;
 *     size_t cap = 0;
 *     ssize_t len;
 *     while ((len = pipe_io_recv(c, &line, &cap)) >= 0)   // PIPE_IO_EOF when the server stops
 *         pipe_io_send(c, line, (size_t)len);
 *     free(line);
 *     pipe_io_close(c);
 *
 * Not thread-safe: use one client per thread, or lock around each call.
 */
#ifndef PIPE_IO_CLIENT_H
#define PIPE_IO_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

/* pipe_io_recv results besides a length. */
#define PIPE_IO_EOF (-1)   /* the server stopped; every message before that was returned */
#define PIPE_IO_ERROR (-2) /* errno says why: ETIMEDOUT, ENOMEM, EBADF, ... */

typedef struct pipe_io_client pipe_io_client;

/*
 * Connects to a server: send_path is the server's in pipe, recv_path its out
 * pipe; NULL takes $PIPE_IO_SEND / $PIPE_IO_RECV. While a pipe does not exist
 * yet, or no server reads the in pipe, it waits (never blocking in open()) up
 * to timeout_ms, or 10 s if timeout_ms is negative. timeout_ms also bounds
 * every later send and recv (negative: no limit). Returns NULL with errno set:
 * after the wait, ENOENT (a pipe never appeared) or ENXIO (the FIFOs exist but
 * no server reads them); EINVAL if a path is not given or not a FIFO; ...
 *
 * If the server's out pipe is deleted and the server makes it again,
 * pipe_io_recv follows it (a FIFO owned by the same user, not a symlink),
 * keeping any unfinished line. Sends keep going to the in pipe opened here,
 * which the server goes on reading while the client holds it.
 */
pipe_io_client *pipe_io_open(const char *send_path, const char *recv_path, int timeout_ms);

/*
 * Opens a session with the session server (PipeSessionServer) of the folder
 * dir: makes a private folder and FIFO pair in it, asks on dir/connect, opens
 * the pair (never blocking in open()) and reads the server's answer, all within
 * timeout_ms (10 s if negative; it then bounds sends and recvs like
 * pipe_io_open's). pipe_io_close ends the session and removes the folder.
 * Returns NULL with errno: ECONNREFUSED when the server refused (its reason is
 * in pipe_io_refusal()), EACCES when this user may not connect, ENOENT when
 * there is no sessions folder, ETIMEDOUT when no server answered in time.
 */
pipe_io_client *pipe_io_session_open(const char *dir, int timeout_ms);

/* The id the server gave the session (pipe_io_session_open); -1 otherwise. */
long pipe_io_session_id(const pipe_io_client *client);

/*
 * The reason the last refused pipe_io_session_open was given by the server,
 * or "" if none. A static buffer, overwritten by the next refusal.
 */
const char *pipe_io_refusal(void);

/* Changes the timeout given to pipe_io_open. */
void pipe_io_set_timeout(pipe_io_client *client, int timeout_ms);

/*
 * Sends msg[0..len) plus '\n' as one write(), which the kernel keeps whole up
 * to PIPE_BUF (4096 bytes, newline included); longer lines cannot be atomic.
 * Returns 0, or -1 with errno: EINVAL if msg contains '\n', EPIPE if the server
 * has stopped (SIGPIPE is held off, never delivered), ETIMEDOUT. After a
 * timeout halfway through a line longer than 4096 bytes the client stops
 * sending (EBADF) so that no later message is glued to the partial line.
 */
int pipe_io_send(pipe_io_client *client, const char *msg, size_t len);

/*
 * Receives the next message into *line, like POSIX getline(): *line is a
 * malloc'd buffer of *cap bytes (or NULL and 0), grown with realloc as needed;
 * the caller owns it and frees it with free(), also after EOF or an error.
 * The message is NUL-terminated without its '\n'; it has no length limit.
 * Returns its length, PIPE_IO_EOF once the server has stopped (bytes after the
 * last '\n' are not a whole message), or PIPE_IO_ERROR with errno set.
 */
ssize_t pipe_io_recv(pipe_io_client *client, char **line, size_t *cap);

/* Closes both pipes (ending a session) and frees the client; NULL is allowed. 0, or -1 with errno. */
int pipe_io_close(pipe_io_client *client);

#endif
