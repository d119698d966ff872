#define _POSIX_C_SOURCE 200809L

#include "pipe_io_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
/*
 * How long pipe_io_open waits for the server when timeout_ms is negative: long
 * enough for a server started at the same moment, short enough that a client
 * with no server fails instead of hanging.
 */
#define CONNECT_TIMEOUT_MS 10000

struct pipe_io_client {
    int send_fd;
    int recv_fd;
    int timeout_ms;
    int eof;
    char *recv_path;   /* kept to follow a recreated out pipe */
    dev_t recv_dev;    /* the out pipe being read */
    ino_t recv_ino;
    uid_t owner;       /* its owner: a recreated pipe must have the same */
    char *in;          /* received bytes not yet returned: in[start..end) */
    size_t start, end, in_cap;
    size_t scanned;    /* bytes after start known to hold no '\n' */
    char *out;         /* reused to build each outgoing line */
    size_t out_cap;
    char *session;     /* the session folder this client made, removed at close; or NULL */
    long session_id;
};

static char refusal[512];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long deadline_for(const pipe_io_client *c)
{
    return c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
}

/* Milliseconds left for poll(): -1 = no limit, 0 = expired. */
static int remaining_ms(long long deadline)
{
    long long left;
    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Returns 0 when fd is ready, or on POLLHUP/POLLERR: the read() or write()
 * that follows then reports end of stream or EPIPE.
 */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p;
    p.fd = fd;
    p.events = events;
    for (;;) {
        int left = remaining_ms(deadline);
        int r;
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        r = poll(&p, 1, left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int open_fifo(const char *path, int flags)
{
    struct stat st;
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/*
 * Opens both pipes, waiting for the server until the deadline. Both opens are
 * O_NONBLOCK, so neither can hang: a missing pipe is ENOENT and an in pipe
 * nobody reads is ENXIO; both are retried with a short backoff. On timeout
 * errno says what was missing: ENOENT (a pipe) or ENXIO (a server reading it).
 * The out pipe is opened first and kept for the client's lifetime: a reader
 * before the server writes misses nothing, and a reader that closes the pipe
 * loses what it read ahead past the last line. poll() stays silent (no false
 * end of stream) until the server's writer shows up.
 */
static int connect_pipes(pipe_io_client *c, const char *send_path, long long deadline)
{
    long delay_ms = 5;
    for (;;) {
        int left;
        if (c->recv_fd < 0) {
            c->recv_fd = open_fifo(c->recv_path, O_RDONLY | O_NONBLOCK);
            if (c->recv_fd >= 0) {
                struct stat st;
                if (fstat(c->recv_fd, &st) < 0)
                    return -1;
                c->recv_dev = st.st_dev;
                c->recv_ino = st.st_ino;
                c->owner = st.st_uid;
            } else if (errno != ENOENT) {
                return -1;
            }
        }
        if (c->recv_fd >= 0) {
            c->send_fd = open_fifo(send_path, O_WRONLY | O_NONBLOCK);
            if (c->send_fd >= 0)
                return 0;
            if (errno != ENOENT && errno != ENXIO)
                return -1;
        }
        left = remaining_ms(deadline);
        if (left == 0)
            return -1; /* errno: ENOENT or ENXIO from the last try */
        sleep_ms(left < delay_ms ? left : delay_ms);
        if (delay_ms < 100)
            delay_ms *= 2;
    }
}

pipe_io_client *pipe_io_open(const char *send_path, const char *recv_path, int timeout_ms)
{
    pipe_io_client *c;
    int saved;
    if (send_path == NULL)
        send_path = getenv("PIPE_IO_SEND");
    if (recv_path == NULL)
        recv_path = getenv("PIPE_IO_RECV");
    if (send_path == NULL || recv_path == NULL || !*send_path || !*recv_path) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->send_fd = -1;
    c->recv_fd = -1;
    c->timeout_ms = timeout_ms;
    c->recv_path = malloc(strlen(recv_path) + 1);
    if (c->recv_path != NULL)
        strcpy(c->recv_path, recv_path);
    if (c->recv_path == NULL
            || connect_pipes(c, send_path, now_ms() + (timeout_ms < 0 ? CONNECT_TIMEOUT_MS : timeout_ms)) < 0) {
        saved = errno;
        pipe_io_close(c);
        errno = saved;
        return NULL;
    }
    return c;
}

const char *pipe_io_refusal(void)
{
    return refusal;
}

long pipe_io_session_id(const pipe_io_client *client)
{
    return client->session == NULL ? -1 : client->session_id;
}

/* Opens path with flags (O_NONBLOCK among them), retrying on the errnos in
 * retry[] with a short backoff until the deadline; then ETIMEDOUT. */
static int open_retrying(const char *path, int flags, long long deadline, int retry1, int retry2)
{
    /* From 20 µs, doubling up to 50 ms: a server that is there answers within microseconds. */
    long delay_us = 20;
    for (;;) {
        int fd = open_fifo(path, flags);
        struct timespec ts;
        if (fd >= 0 || (errno != retry1 && errno != retry2))
            return fd;
        if (remaining_ms(deadline) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = delay_us * 1000L;
        nanosleep(&ts, NULL);
        if (delay_us < 50000)
            delay_us *= 2;
    }
}

/* One write() of the request into dir/connect (atomic: far below PIPE_BUF),
 * waiting while no server reads it or the pipe is full. */
static int request_session(const char *connect, const char *name, long long deadline)
{
    char line[300];
    int len = snprintf(line, sizeof line, "pipe-io-session 1 %s\n", name);
    for (;;) {
        int fd = open_retrying(connect, O_WRONLY | O_NONBLOCK | O_NOFOLLOW, deadline, ENOENT, ENXIO);
        ssize_t n;
        if (fd < 0)
            return -1;
        n = write(fd, line, (size_t)len);
        close(fd);
        if (n == len)
            return 0;
        if (n >= 0 || errno != EAGAIN)
            return -1;
        if (remaining_ms(deadline) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        sleep_ms(2);
    }
}

pipe_io_client *pipe_io_session_open(const char *dir, int timeout_ms)
{
    long long deadline = now_ms() + (timeout_ms < 0 ? CONNECT_TIMEOUT_MS : timeout_ms);
    size_t n;
    char *folder, *in = NULL, *connect = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    pipe_io_client *c;
    struct stat st;
    int saved;
    if (dir == NULL || !*dir) {
        errno = EINVAL;
        return NULL;
    }
    n = strlen(dir);
    c = calloc(1, sizeof *c);
    folder = malloc(n + 16);
    if (c == NULL || folder == NULL) {
        free(c);
        free(folder);
        errno = ENOMEM;
        return NULL;
    }
    c->send_fd = -1;
    c->recv_fd = -1;
    c->timeout_ms = timeout_ms;
    sprintf(folder, "%s/s.XXXXXX", dir);
    if (mkdtemp(folder) == NULL) { /* mode 0700 */
        saved = errno;
        free(folder);
        free(c);
        errno = saved;
        return NULL;
    }
    c->session = folder;
    in = malloc(n + 24);
    connect = malloc(n + 16);
    c->recv_path = malloc(n + 24);
    if (in == NULL || connect == NULL || c->recv_path == NULL) {
        errno = ENOMEM;
        goto fail;
    }
    sprintf(in, "%s/in", folder);
    sprintf(c->recv_path, "%s/out", folder);
    sprintf(connect, "%s/connect", dir);
    if (mkfifo(in, 0600) < 0 || mkfifo(c->recv_path, 0600) < 0)
        goto fail;
    if (request_session(connect, strrchr(folder, '/') + 1, deadline) < 0)
        goto fail;
    /* The protocol's order: in first (ENXIO until the server reads it), then out. */
    c->send_fd = open_retrying(in, O_WRONLY | O_NONBLOCK | O_NOFOLLOW, deadline, ENXIO, ENXIO);
    if (c->send_fd < 0)
        goto fail;
    c->recv_fd = open_fifo(c->recv_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    if (c->recv_fd < 0 || fstat(c->recv_fd, &st) < 0)
        goto fail;
    c->recv_dev = st.st_dev;
    c->recv_ino = st.st_ino;
    c->owner = st.st_uid;
    c->timeout_ms = remaining_ms(deadline) > 0 ? remaining_ms(deadline) : 1;
    len = pipe_io_recv(c, &line, &cap);
    c->timeout_ms = timeout_ms;
    if (len == PIPE_IO_EOF) {
        snprintf(refusal, sizeof refusal, "the server ended the session without answering");
        errno = ECONNREFUSED;
        goto fail;
    }
    if (len < 0)
        goto fail;
    if (strncmp(line, "ok 1 ", 5) == 0) {
        c->session_id = strtol(line + 5, NULL, 10);
        free(line);
        free(in);
        free(connect);
        return c;
    }
    snprintf(refusal, sizeof refusal, "%s", strncmp(line, "refused ", 8) == 0 ? line + 8 : line);
    errno = ECONNREFUSED;
fail:
    saved = errno;
    free(line);
    free(in);
    free(connect);
    pipe_io_close(c);
    errno = saved;
    return NULL;
}

void pipe_io_set_timeout(pipe_io_client *client, int timeout_ms)
{
    client->timeout_ms = timeout_ms;
}

static int write_all(pipe_io_client *c, const char *buf, size_t len)
{
    long long deadline = deadline_for(c);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(c->send_fd, buf + done, len - done);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (wait_fd(c->send_fd, POLLOUT, deadline) < 0) {
            if (done > 0) {
                /* Half a line is in the pipe; anything after it would be glued on. */
                close(c->send_fd);
                c->send_fd = -1;
                errno = ETIMEDOUT;
            }
            return -1;
        }
    }
    return 0;
}

int pipe_io_send(pipe_io_client *c, const char *msg, size_t len)
{
    sigset_t pipe_set, old_set, pending;
    int was_pending, rc, saved;

    if (len > 0 && memchr(msg, '\n', len) != NULL) {
        errno = EINVAL;
        return -1;
    }
    if (c->send_fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (len == (size_t)-1) {
        errno = EOVERFLOW;
        return -1;
    }
    if (len + 1 > c->out_cap) {
        char *p = realloc(c->out, len + 1);
        if (p == NULL)
            return -1;
        c->out = p;
        c->out_cap = len + 1;
    }
    if (len > 0)
        memcpy(c->out, msg, len);
    c->out[len] = '\n';

    /*
     * Writing to a pipe nobody reads raises SIGPIPE, which kills the process
     * by default. Rather than change the process's signal setup, hold SIGPIPE
     * off around the write and discard the one it raised: the caller gets EPIPE.
     */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);

    /* One write() of the whole line: atomic up to PIPE_BUF (4096 bytes). */
    rc = write_all(c, c->out, len + 1);

    saved = errno;
    if (rc < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    errno = saved;
    return rc;
}

/*
 * At end of stream on the out pipe: 1 if the server moved to a new out pipe at
 * the same path (now being read), 0 if it stopped.
 *
 * The server closes its old out pipe only once the new one is at the path, so
 * a FIFO there with another inode is where it goes on; a path that is gone or
 * names the same inode means the server stopped. The unfinished text in the
 * buffer stays: the server moves what nobody read of the old pipe into the new
 * one, so the line continues there. Only a FIFO owned by the old pipe's owner
 * is followed (O_NOFOLLOW: no symlink), so another user cannot plant a pipe.
 */
static int follow(pipe_io_client *c)
{
    struct stat st;
    int fd = open(c->recv_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != c->owner
            || (st.st_dev == c->recv_dev && st.st_ino == c->recv_ino)) {
        close(fd);
        return 0;
    }
    close(c->recv_fd);
    c->recv_fd = fd;
    c->recv_dev = st.st_dev;
    c->recv_ino = st.st_ino;
    return 1;
}

/* Makes room for at least one more read() at in[end..]. */
static int make_room(pipe_io_client *c)
{
    size_t cap;
    char *p;
    if (c->in_cap - c->end >= READ_CHUNK / 4)
        return 0;
    if (c->start > 0) {
        memmove(c->in, c->in + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
        if (c->in_cap - c->end >= READ_CHUNK / 4)
            return 0;
    }
    cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
    if (cap < c->in_cap) {
        errno = ENOMEM;
        return -1;
    }
    p = realloc(c->in, cap);
    if (p == NULL)
        return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

ssize_t pipe_io_recv(pipe_io_client *c, char **line, size_t *cap)
{
    long long deadline = deadline_for(c);
    if (c->recv_fd < 0) {
        errno = EBADF;
        return PIPE_IO_ERROR;
    }
    for (;;) {
        char *first = c->in + c->start;
        size_t avail = c->end - c->start;
        char *nl = avail > c->scanned ? memchr(first + c->scanned, '\n', avail - c->scanned) : NULL;
        ssize_t n;
        if (nl != NULL) {
            size_t len = (size_t)(nl - first);
            if (len > SSIZE_MAX - 1) {
                errno = EOVERFLOW;
                return PIPE_IO_ERROR;
            }
            if (*line == NULL || *cap < len + 1) {
                char *p = realloc(*line, len + 1);
                if (p == NULL)
                    return PIPE_IO_ERROR;
                *line = p;
                *cap = len + 1;
            }
            memcpy(*line, first, len);
            (*line)[len] = '\0';
            c->start += len + 1;
            c->scanned = 0;
            if (c->start == c->end)
                c->start = c->end = 0;
            return (ssize_t)len;
        }
        c->scanned = avail;
        if (c->eof) {
            errno = 0;
            return PIPE_IO_EOF;
        }
        if (make_room(c) < 0 || wait_fd(c->recv_fd, POLLIN, deadline) < 0)
            return PIPE_IO_ERROR;
        n = read(c->recv_fd, c->in + c->end, c->in_cap - c->end);
        if (n > 0)
            c->end += (size_t)n;
        else if (n == 0)
            c->eof = !follow(c);
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return PIPE_IO_ERROR;
    }
}

int pipe_io_close(pipe_io_client *c)
{
    int rc = 0;
    int saved = 0;
    if (c == NULL)
        return 0;
    if (c->send_fd >= 0 && close(c->send_fd) < 0) {
        rc = -1;
        saved = errno;
    }
    if (c->recv_fd >= 0 && close(c->recv_fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (c->session != NULL) {
        /* The server removes them too, whoever is first. */
        size_t n = strlen(c->session);
        char *pipe = malloc(n + 8);
        if (pipe != NULL) {
            sprintf(pipe, "%s/in", c->session);
            unlink(pipe);
            sprintf(pipe, "%s/out", c->session);
            unlink(pipe);
            free(pipe);
        }
        rmdir(c->session);
        free(c->session);
    }
    free(c->in);
    free(c->out);
    free(c->recv_path);
    free(c);
    if (rc < 0)
        errno = saved;
    return rc;
}
